import type { Logger } from '../env/logger.ts';
import { JS_API_CODES, isTransportError, type ClusterTransport } from '../env/transport.ts';
import { ClusterConfigError, JetStreamReplicasError, JetStreamUnavailableError, NatsUnreachableError, type ClusterError, type ClusterErrorDetails } from './errors.ts';

/**
 * How many copies of each stream, KV bucket and object store Ordo creates: a number (1–5), or
 * `'auto'` (the default) — 3 when the connected NATS cluster has at least 3 servers, else 1.
 */
export type ReplicasSetting = number | 'auto';

/** What the server's INFO says about the cluster it belongs to (nats.js `nc.info`). */
export interface ServerClusterInfo {
  /** The NATS cluster name; absent on a server without routes. */
  cluster?: string;
  /** Client URLs of the cluster's servers currently routed (this one included). */
  connect_urls?: string[];
}

/**
 * Resolves a replica setting against the connected server: an explicit count is validated
 * (integer 1–5, else {@link ClusterConfigError}); `'auto'` is 3 on a cluster that advertises at
 * least 3 servers, 1 otherwise (one server, or a cluster with fewer routed servers at boot — a
 * later boot reconciles upward).
 *
 * Gotcha: a cluster with `no_advertise` reports no `connect_urls`; `'auto'` then gives 1 — set
 * `replicas` explicitly there.
 *
 * @example
 * import { resolveReplicas } from 'ordo/cluster';
 *
 * console.log(resolveReplicas({ cluster: 'c', connect_urls: ['a:4222', 'b:4222', 'c:4222'] }, 'auto')); // 3
 * console.log(resolveReplicas(undefined, 'auto')); // 1
 */
export function resolveReplicas(info: ServerClusterInfo | undefined, setting: ReplicasSetting = 'auto'): number {
  if (setting === 'auto') return info?.cluster && (info.connect_urls?.length ?? 0) >= 3 ? 3 : 1;
  if (!Number.isInteger(setting) || setting < 1 || setting > 5) throw new ClusterConfigError('replicas must be an integer from 1 to 5, or "auto"', { value: setting });
  return setting;
}

/**
 * Gives an existing stream (a KV bucket is `KV_<bucket>`, an object store `OBJ_<bucket>`) the
 * replica count `want`, updating it in place when it differs — JetStream moves the data.
 * Under `'auto'` (`explicit` false) a stream with more replicas than `want` is left as it is
 * (a server that is down at boot never shrinks a stream). Returns the count the stream has
 * (`want` without asking when `'auto'` resolved to 1: there is nothing to grow).
 * Refused updates become {@link JetStreamReplicasError} with `{ want, have }`.
 */
export async function reconcileReplicas(t: ClusterTransport, stream: string, want: number, explicit: boolean, log: Logger, details: ClusterErrorDetails = {}): Promise<number> {
  // 'auto' resolved to 1 can only keep what exists: no request at all.
  if (!explicit && want === 1) return want;
  const info = await t.streams.info(stream);
  const have = info.config.replicas;
  if (have === want || (!explicit && have > want)) return have;
  try {
    await t.streams.update(stream, { replicas: want });
  } catch (e) {
    throw new JetStreamReplicasError(`stream ${stream} has ${have} replica(s) and could not be given ${want}: ${e instanceof Error ? e.message : String(e)}`, { ...details, stream, value: { want, have }, cause: e });
  }
  log.info({ report: 'cluster_replicas_changed', stream, from: have, to: want }, `stream ${stream}: ${have} → ${want} replicas`);
  return want;
}

/** JetStream's answers to a replica count it cannot place: no suitable peers (10005), replicas > 1 on a non-clustered server (10074). */
const PLACEMENT_CODES = new Set<number>([JS_API_CODES.noSuitablePeers, JS_API_CODES.replicasNotSupported]);

/**
 * Runs `create` (a stream, KV bucket or object store with `want` replicas); a placement
 * refusal becomes {@link JetStreamReplicasError} (`{ want, have: undefined }`), other errors pass.
 */
export async function createWithReplicas<T>(stream: string, want: number, create: () => Promise<T>, details: ClusterErrorDetails = {}): Promise<T> {
  try {
    return await create();
  } catch (e) {
    if (isTransportError(e, 'api') && e.apiCode !== undefined && PLACEMENT_CODES.has(e.apiCode)) {
      throw new JetStreamReplicasError(`stream ${stream} cannot be created with ${want} replica(s): ${e.message}`, { ...details, stream, value: { want, have: undefined }, cause: e });
    }
    throw e;
  }
}

/** Nobody subscribed to the subject — for a stream, no leader right now (a `no_responders` transport error). */
export function isNoResponders(e: unknown): boolean {
  return isTransportError(e, 'no_responders');
}

/** True when the error shows the request never reached a stream (the server answered with an error, nobody listened, or nothing was sent). */
export function refusedBeforeStored(e: unknown): boolean {
  return isTransportError(e, 'api') || isTransportError(e, 'no_responders') || isTransportError(e, 'closed');
}

/**
 * Classifies a failed JetStream request: NATS down → {@link NatsUnreachableError}; NATS up but
 * no JetStream answer (no responders, timeout, 503 / "temporarily unavailable") →
 * {@link JetStreamUnavailableError}; anything else is returned as a
 * JetStreamUnavailableError too (its `cause` says more), never as "unreachable".
 */
export function classifyJetStreamError(e: unknown, connected: boolean, what: string, details: ClusterErrorDetails = {}): ClusterError {
  if (!connected) return new NatsUnreachableError(`${what}: NATS connection down`, { ...details, cause: e });
  const why = isTransportError(e, 'timeout') ? 'no answer (timeout)' : isNoResponders(e) ? 'no responders (no stream leader or JetStream server)' : e instanceof Error ? e.message : String(e);
  return new JetStreamUnavailableError(`${what}: JetStream unavailable — ${why}`, { ...details, cause: e });
}
