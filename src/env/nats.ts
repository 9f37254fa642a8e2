import type { ConnectionOptions } from '@nats-io/nats-core';
import type { ClusterTransport } from './transport.ts';

/**
 * The NATS client's types, registered by the cluster layer: `ordo/cluster` augments this
 * interface with nats.js's `NatsConnection` and `ConnectionOptions`. A program that does not
 * import `ordo/cluster` sees them as opaque ({@link NatsConnectionOf}), so importing `ordo`,
 * `ordo/env` or the other subpaths never loads nats.js's declarations (whose own classes do not
 * type-check under `exactOptionalPropertyTypes` without `skipLibCheck` — README, "TypeScript").
 */
export interface NatsClientTypes {}

/** nats.js's `NatsConnection` once `ordo/cluster` is in the program (else opaque). */
export type NatsConnectionOf = NatsClientTypes extends { connection: infer C } ? C : { close(): Promise<void> };

/**
 * Options for opening a NATS connection through the Env: nats.js's `ConnectionOptions` (once
 * `ordo/cluster` is in the program) plus `nkeySeed`, which the real connector turns into an
 * nkey authenticator (so `src/cluster` never needs the nkeys module).
 */
export type NatsConnectOptions = (NatsClientTypes extends { options: infer O } ? O : { servers?: string | string[] }) & {
  /** An nkey user seed (`SU…`); signs the server's nonce. */
  nkeySeed?: string;
};

/**
 * The seam between Ordo's cluster layer and the network: opening a connection to NATS, handed
 * out as the narrow {@link ClusterTransport}. The real one calls `@nats-io/transport-node`; the
 * chaos engine's simulated NATS (`src/chaos/simNats.ts`) provides another.
 */
export interface NatsConnector {
  connect(options: NatsConnectOptions): Promise<ClusterTransport>;
}

/**
 * The real NATS connector (`@nats-io/transport-node`).
 *
 * @example
 * // no-run: needs a nats-server
 * import { createRealNatsConnector } from 'ordo/env';
 *
 * const t = await createRealNatsConnector().connect({ servers: ['nats://127.0.0.1:4222'] });
 * await t.close();
 */
export function createRealNatsConnector(): NatsConnector {
  return {
    async connect(options) {
      // Loaded on first use: importing Ordo (or building an Env) never loads the NATS client.
      const [{ connect }, { nkeyAuthenticator }, { natsTransport }] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/nats-core'), import('./natsTransport.ts')]);
      const { nkeySeed, ...rest } = options;
      const opts: ConnectionOptions = { ...rest };
      if (nkeySeed !== undefined) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(nkeySeed));
      return natsTransport(await connect(opts));
    },
  };
}
