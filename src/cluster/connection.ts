import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core';
import { AuthorizationError, InvalidArgumentError, nkeys } from '@nats-io/nats-core';
import type { Env } from '../env/env.ts';
import type { NatsConnectOptions } from '../env/nats.ts';
import { isTransportError, type ClusterTransport, type TransportStatus } from '../env/transport.ts';
import { CLUSTER_DEFAULTS, type NatsConfig } from './config.ts';
import {
  type ClusterError,
  NatsAuthError,
  NatsTlsError,
  NatsFeatureError,
  NatsNoConnectorError,
  NatsNoJetStreamError,
  JetStreamUnavailableError,
  NatsUnreachableError,
  ClusterConfigError,
} from './errors.ts';
import { missingFeatures, parseVersion } from './serverFeatures.ts';

// The cluster layer registers the NATS client's types with the Env's connector seam (see
// NatsClientTypes in src/env/nats.ts): the Env stays free of nats.js's declarations.
declare module '../env/nats.ts' {
  interface NatsClientTypes {
    connection: NatsConnection;
    options: ConnectionOptions;
  }
}

/** JetStream's "JetStream system temporarily unavailable" (no meta leader). */
const JS_CLUSTER_NOT_AVAILABLE = 10008;

/** No answer, or 503 "temporarily unavailable": JetStream is on but has no meta leader now. */
const noMetaLeader = (e: unknown): boolean => isTransportError(e, 'timeout') || isTransportError(e, 'api', JS_CLUSTER_NOT_AVAILABLE);

/** A NATS status event, as a runtime event (`nats.disconnect`, `nats.reconnect`, …). */
export type NatsRuntimeEvent =
  | { type: 'nats.disconnect'; server: string }
  | { type: 'nats.reconnecting' }
  | { type: 'nats.reconnect'; server: string }
  | { type: 'nats.error'; error: string }
  | { type: 'nats.ldm'; server: string }
  | { type: 'nats.stale' }
  | { type: 'nats.update'; added: string[]; deleted: string[] }
  | { type: 'nats.close' };

/** An open, checked connection to NATS. */
export interface ClusterConnection {
  /** Everything the cluster does over NATS goes through this narrow seam (real or simulated). */
  readonly transport: ClusterTransport;
  /**
   * The nats.js connection underneath, when the transport is the real one (tools and tests
   * that need the client itself); `undefined` on the simulated NATS.
   */
  readonly nc: NatsConnection | undefined;
  /** The server's version string (`nc.info.version`) at connect. */
  readonly serverVersion: string;
  readonly jetstream: boolean;
  /** `connected` until a disconnect, `reconnecting` during an outage, `closed` at the end. */
  readonly state: () => 'connected' | 'reconnecting' | 'closed';
  /** Subscribe to runtime events; returns an unsubscribe function. */
  on(listener: (e: NatsRuntimeEvent) => void): () => void;
  /** Drains and closes the connection. */
  close(): Promise<void>;
}

const SCHEMES = new Set(['nats:', 'tls:']);

/**
 * Checks one server entry as nats.js will read it (`host:port`, `nats://…`, `tls://…`): a
 * bad one is a {@link ClusterConfigError} naming it — never "unreachable", never retried.
 */
export function validateServerUrl(server: unknown, index: number): string {
  // never echo credentials written into a URL
  const shown = typeof server === 'string' ? server.replace(/\/\/[^/@]*@/, '//***@') : server;
  const bad = (why: string): never => {
    throw new ClusterConfigError(`nats.servers[${index}] ${JSON.stringify(shown)}: ${why}`, { value: shown });
  };
  if (typeof server !== 'string') return bad('is not a string');
  if (server.trim() === '') return bad('is empty');
  if (server !== server.trim() || /\s/.test(server)) return bad('contains whitespace');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `nats://${server}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return bad('is not a URL');
  }
  if (!SCHEMES.has(url.protocol)) return bad(`scheme ${url.protocol.slice(0, -1)} is not nats or tls`);
  if (url.hostname === '') return bad('has no host');
  // URL drops the default port of known schemes only; nats:// has none, so a port we can read is the one written
  const port = /:(\d+)$/.exec(url.host)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return bad(`port ${port} is outside 1–65535`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') return bad('has a path, query or fragment');
  return server;
}

function checkString(field: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'string') throw new ClusterConfigError(`nats.${field} must be a string`, { value: v === undefined ? v : typeof v });
}

function checkPositive(field: string, v: unknown, allowMinusOne = false): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || (v < 0 && !(allowMinusOne && v === -1))) throw new ClusterConfigError(`nats.${field} must be a non-negative number${allowMinusOne ? ' (or -1)' : ''}`, { value: v });
}

/**
 * Validates a NATS config at the boundary, before any connection is tried: every server URL,
 * the credentials' types, an nkey seed that decodes to a *user* seed (`SU…`), the timeouts.
 * Each bad field is a {@link ClusterConfigError} carrying the bad value (a seed is never echoed).
 * Configuration errors are final: discovery ends with them instead of retrying.
 */
export function validateNatsConfig(config: NatsConfig): void {
  if (typeof config !== 'object' || config === null) throw new ClusterConfigError('nats config must be an object', { value: config });
  const servers: unknown = config.servers;
  if (servers !== undefined && !Array.isArray(servers)) throw new ClusterConfigError('nats.servers must be an array of URLs', { value: servers });
  (servers as unknown[] | undefined)?.forEach((s, i) => validateServerUrl(s, i));
  for (const f of ['user', 'password', 'token', 'nkeySeed'] as const) checkString(f, config[f]);
  if (config.password !== undefined && config.user === undefined) throw new ClusterConfigError('nats.password is set without nats.user', { value: 'password' });
  const auth = [config.user !== undefined && 'user', config.token !== undefined && 'token', config.nkeySeed !== undefined && 'nkeySeed'].filter(Boolean);
  if (auth.length > 1) throw new ClusterConfigError(`nats: set one of user/password, token or nkeySeed, not ${auth.join(' and ')}`, { value: auth });
  if (config.nkeySeed !== undefined) {
    let kind: string | undefined;
    try {
      kind = nkeys.fromSeed(new TextEncoder().encode(config.nkeySeed)).getPublicKey()[0];
    } catch (e) {
      throw new ClusterConfigError(`nats.nkeySeed is not a valid nkey seed (${e instanceof Error ? e.message : 'unreadable'})`, { value: `${config.nkeySeed.slice(0, 2)}…`, cause: e });
    }
    if (kind !== 'U') throw new ClusterConfigError(`nats.nkeySeed is not a user seed (its public key starts with ${kind ?? '?'}, a user's with U)`, { value: `${config.nkeySeed.slice(0, 2)}…` });
  }
  checkPositive('connectTimeoutMs', config.connectTimeoutMs);
  if (config.connectTimeoutMs === 0) throw new ClusterConfigError('nats.connectTimeoutMs must be positive', { value: 0 });
  checkPositive('reconnect.maxAttempts', config.reconnect?.maxAttempts, true);
  checkPositive('reconnect.waitMs', config.reconnect?.waitMs);
  checkPositive('reconnect.jitterMs', config.reconnect?.jitterMs);
}

/** Builds the nats.js connect options from Ordo's config (validated first; exported for tests). */
export function toConnectOptions(config: NatsConfig, name: string): NatsConnectOptions {
  validateNatsConfig(config);
  const servers = config.servers ?? [];
  if (servers.length === 0) throw new ClusterConfigError('no NATS servers configured', { value: servers });
  const r = config.reconnect ?? {};
  const opts: NatsConnectOptions = {
    servers,
    name,
    timeout: config.connectTimeoutMs ?? CLUSTER_DEFAULTS.connectTimeoutMs,
    reconnect: r.enabled ?? true,
    maxReconnectAttempts: r.maxAttempts ?? -1,
    reconnectTimeWait: r.waitMs ?? CLUSTER_DEFAULTS.reconnectWaitMs,
    reconnectJitter: r.jitterMs ?? CLUSTER_DEFAULTS.reconnectJitterMs,
    waitOnFirstConnect: false,
    // nats.js builds an Error (with a stack) per request for async traces unless told not to:
    // the largest single CPU cost of a replicated commit when profiled
    noAsyncTraces: !(config.asyncTraces ?? false),
  };
  if (config.user !== undefined) {
    opts.user = config.user;
    opts.pass = config.password ?? '';
  }
  if (config.token !== undefined) opts.token = config.token;
  if (config.nkeySeed !== undefined) opts.nkeySeed = config.nkeySeed;
  if (config.tls) opts.tls = { ...config.tls };
  return opts;
}

/** Maps a nats.js connect failure to a typed cluster error. */
export function classifyConnectError(e: unknown, servers: string[]): ClusterError {
  const msg = e instanceof Error ? e.message : String(e);
  // nats.js refusing an argument is a configuration error: retrying cannot fix it
  if (e instanceof InvalidArgumentError) return new ClusterConfigError(`NATS refused the connection options (${msg})`, { servers, cause: e });
  if (e instanceof AuthorizationError || /authoriz|authentic/i.test(msg)) {
    return new NatsAuthError(`NATS rejected the credentials (${msg})`, { servers, cause: e });
  }
  const causeMsg = e instanceof Error && e.cause instanceof Error ? e.cause.message : '';
  if (/certificate|tls|ssl|self.signed/i.test(`${msg} ${causeMsg}`)) {
    return new NatsTlsError(`TLS with the NATS server failed (${msg}${causeMsg ? `: ${causeMsg}` : ''})`, { servers, cause: e });
  }
  return new NatsUnreachableError(`no NATS server reachable (${msg})`, { servers, cause: e });
}

function toRuntimeEvent(s: TransportStatus): NatsRuntimeEvent {
  switch (s.type) {
    case 'disconnect':
      return { type: 'nats.disconnect', server: s.server };
    case 'reconnecting':
      return { type: 'nats.reconnecting' };
    case 'reconnect':
      return { type: 'nats.reconnect', server: s.server };
    case 'error':
      return { type: 'nats.error', error: s.error };
    case 'ldm':
      return { type: 'nats.ldm', server: s.server };
    case 'stale':
      return { type: 'nats.stale' };
    case 'update':
      return { type: 'nats.update', added: s.added, deleted: s.deleted };
  }
}

/**
 * Opens the cluster's NATS connection and checks the server at boot: version parsed, JetStream
 * present (when required), every required feature supported — else a typed error
 * ({@link NatsNoJetStreamError}, {@link NatsFeatureError}) and the connection is closed.
 * Unreachable servers give {@link NatsUnreachableError} (transient), bad credentials
 * {@link NatsAuthError} (permanent).
 *
 * Status events of nats.js become {@link NatsRuntimeEvent}s and are logged with
 * `{ report: 'nats_<event>' }` (`nats_disconnect`, `nats_reconnect`, …).
 *
 * @example
 * // no-run: needs a nats-server (test/cluster/connection.test.ts runs against one)
 * import { createRealEnv } from 'ordo';
 * import { connectCluster } from 'ordo/cluster';
 *
 * const env = createRealEnv();
 * const conn = await connectCluster(env, { servers: ['nats://127.0.0.1:4222'] }, 'node-a');
 * conn.on((e) => { if (e.type === 'nats.disconnect') env.logger.warn({ server: e.server }, 'NATS lost'); });
 * await conn.close();
 */
export async function connectCluster(env: Env, config: NatsConfig, nodeName: string): Promise<ClusterConnection> {
  const connector = env.io.nats;
  if (!connector) throw new NatsNoConnectorError('env.io.nats is not set: this Env cannot open NATS connections', { node: nodeName });
  const opts = toConnectOptions(config, `ordo:${nodeName}`);
  const servers = config.servers ?? [];
  let nc: ClusterTransport;
  try {
    nc = await connector.connect(opts);
  } catch (e) {
    throw classifyConnectError(e, servers);
  }
  const log = env.logger.child({ component: 'nats', node: nodeName });
  const fail = async (err: ClusterError): Promise<never> => {
    await nc.close().catch((e: unknown) => log.warn({ report: 'nats_close_failed', err: e }, 'close after boot check failed'));
    throw err;
  };
  const version = nc.info.version;
  if (!parseVersion(version)) await fail(new NatsFeatureError(`cannot parse the server version "${version}"`, { node: nodeName, servers, value: version }));
  const requireJs = config.requireJetStream ?? true;
  let jetstream = nc.info.jetstream;
  if (requireJs) {
    if (!jetstream) await fail(new NatsNoJetStreamError(`nats-server ${version} has JetStream disabled (start it with -js)`, { node: nodeName, servers, value: version }));
    try {
      await nc.checkJetStream(opts.timeout ?? CLUSTER_DEFAULTS.connectTimeoutMs);
    } catch (e) {
      jetstream = false;
      // No answer, or "temporarily unavailable" (10008): JetStream is on but has no meta leader
      // right now (a cluster that lost its quorum) — retryable, not "no JetStream".
      if (noMetaLeader(e)) {
        await fail(new JetStreamUnavailableError(`JetStream on nats-server ${version} did not answer (no meta leader?): ${(e as Error).message}`, { node: nodeName, servers, cause: e }));
      }
      await fail(new NatsNoJetStreamError(`JetStream is not available to this account on nats-server ${version}`, { node: nodeName, servers, value: version, cause: e }));
    }
  }
  const missing = missingFeatures(version, config.requireFeatures ?? []);
  if (missing.length > 0) {
    await fail(new NatsFeatureError(`nats-server ${version} lacks ${missing.join(', ')}`, { node: nodeName, servers, value: missing }));
  }
  log.info({ report: 'nats_connected', server: nc.server(), version, jetstream }, 'connected to NATS');

  let state: 'connected' | 'reconnecting' | 'closed' = 'connected';
  const listeners = new Set<(e: NatsRuntimeEvent) => void>();
  const emit = (e: NatsRuntimeEvent): void => {
    if (e.type === 'nats.disconnect' || e.type === 'nats.reconnecting') state = 'reconnecting';
    else if (e.type === 'nats.reconnect') state = 'connected';
    else if (e.type === 'nats.close') state = 'closed';
    log.info({ report: `nats_${e.type.slice('nats.'.length)}`, ...('server' in e ? { server: e.server } : {}) }, e.type);
    for (const l of [...listeners]) l(e);
  };
  nc.onStatus((s) => emit(toRuntimeEvent(s)));
  void nc.closed().then((err) => {
    if (err) log.warn({ report: 'nats_closed_with_error', err }, 'connection closed with an error');
    if (state !== 'closed') emit({ type: 'nats.close' });
  });
  return {
    transport: nc,
    nc: nc.nc,
    serverVersion: version,
    jetstream,
    state: () => state,
    on(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async close() {
      if (nc.isClosed()) return;
      await nc.drain().catch(async (e: unknown) => {
        log.warn({ report: 'nats_drain_failed', err: e }, 'drain failed; closing');
        await nc.close();
      });
    },
  };
}
