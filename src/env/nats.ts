import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core';

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
 * The seam between Ordo's cluster layer and the network: opening a NATS connection.
 * The real one calls `@nats-io/transport-node`; a simulated Env may provide another.
 */
export interface NatsConnector {
  connect(options: NatsConnectOptions): Promise<NatsConnection>;
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
    async connect(options) {
      // Loaded on first use: importing Ordo (or building an Env) never loads the NATS client.
      const [{ connect }, { nkeyAuthenticator }] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/nats-core')]);
      const { nkeySeed, ...rest } = options;
      const opts: ConnectionOptions = { ...rest };
      if (nkeySeed !== undefined) opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(nkeySeed));
      return connect(opts);
    },
  };
}
