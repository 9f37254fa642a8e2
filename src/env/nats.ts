import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core';

/**
 * The NATS client's types, registered by the cluster layer: `ordo/cluster` augments this
 * interface with nats.js's `NatsConnection` and `ConnectionOptions`. A program that does not
 * import `ordo/cluster` sees the connection as opaque ({@link NatsConnectionOf}), so importing
 * `ordo` or `ordo/env` never loads nats.js's declarations (whose own classes do not type-check
 * under `exactOptionalPropertyTypes` without `skipLibCheck` — see the README, "TypeScript").
 */
export interface NatsClientTypes {}

/** What a {@link NatsConnector} opens: nats.js's `NatsConnection` once `ordo/cluster` is in the program. */
export type NatsConnectionOf = NatsClientTypes extends { connection: infer C } ? C : { close(): Promise<void> };

/**
 * Options for opening a NATS connection through the Env: nats.js's `ConnectionOptions`
 * (once `ordo/cluster` is in the program) plus `nkeySeed`, which the real connector turns into
 * an nkey authenticator (so `src/cluster` never needs the nkeys module).
 */
export type NatsConnectOptions = (NatsClientTypes extends { options: infer O } ? O : { servers?: string | string[] }) & {
  /** An nkey user seed (`SU…`); signs the server's nonce. */
  nkeySeed?: string;
};

/**
 * The seam between Ordo's cluster layer and the network: opening a NATS connection.
 * The real one calls `@nats-io/transport-node`; a simulated Env may provide another.
 */
export interface NatsConnector {
  connect(options: NatsConnectOptions): Promise<NatsConnectionOf>;
}

/**
 * The real NATS connector (`@nats-io/transport-node`).
 *
 * @example
 * // no-run: needs a nats-server
 * import { createRealNatsConnector } from 'ordo/env';
 *
 * const nc = await createRealNatsConnector().connect({ servers: ['nats://127.0.0.1:4222'] });
 * await nc.close();
 */
export function createRealNatsConnector(): NatsConnector {
  return {
    async connect(options): Promise<NatsConnection> {
      // Loaded on first use: importing Ordo (or building an Env) never loads the NATS client.
      const [{ connect }, { nkeyAuthenticator }] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/nats-core')]);
      const { nkeySeed, ...rest } = options;
      const opts: ConnectionOptions = { ...rest };
      if (nkeySeed !== undefined) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(nkeySeed));
      return connect(opts);
    },
  };
}
