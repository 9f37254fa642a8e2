import type { ConnectionOptions } from '@nats-io/nats-core';
import type { ClusterTransport } from './transport.ts';

/**
 * Options for opening a NATS connection through the Env. A subset of nats.js's
 * `ConnectionOptions` plus `nkeySeed`, which the real connector turns into an
 * nkey authenticator (so `src/cluster` never needs the nkeys module).
 */
export type NatsConnectOptions = ConnectionOptions & {
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
 * const t = await createRealNatsConnector().connect({ servers: ['nats://127.0.0.1:4222'] });
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
