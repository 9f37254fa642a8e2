import { ClusterConfigError } from './errors.ts';
import type { ServerFeature } from './serverFeatures.ts';
import type { BackoffSpec } from '../supervisor/types.ts';

/** TLS options passed to the NATS client (files are read by the client, not by Ordo). */
export interface NatsTlsConfig {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  ca?: string;
  cert?: string;
  key?: string;
  /** TLS before the NATS INFO (server `handshake_first`). */
  handshakeFirst?: boolean;
}

/** How the client reconnects after losing the server. */
export interface NatsReconnectConfig {
  /** Reconnect at all (default true). */
  enabled?: boolean;
  /** Attempts per server before giving up; -1 = never give up (default). */
  maxAttempts?: number;
  /** Wait between attempts to the same server (default 1000 ms). */
  waitMs?: number;
  /** Random extra wait (default 100 ms). */
  jitterMs?: number;
}

/** Connection settings for the cluster's NATS connection. */
export interface NatsConfig {
  /** `nats://host:port` URLs. Empty or absent: single-node mode (no NATS at all). */
  servers?: string[];
  user?: string;
  password?: string;
  token?: string;
  /** An nkey user seed (`SU…`). */
  nkeySeed?: string;
  tls?: NatsTlsConfig;
  reconnect?: NatsReconnectConfig;
  /** Timeout of the first connect (default 2000 ms). */
  connectTimeoutMs?: number;
  /** Require JetStream (default true: discovery, election and replication need it). */
  requireJetStream?: boolean;
  /** Server features this deployment relies on; refused at boot when the server lacks one. */
  requireFeatures?: ServerFeature[];
  /**
   * Capture the caller's stack for every request (nats.js `noAsyncTraces: false`): better
   * errors when debugging, at ~60 µs of CPU per JetStream publish. Default false.
   */
  asyncTraces?: boolean;
}

/** Timing of discovery (heartbeat and member TTL). */
export interface DiscoveryTiming {
  /** Heartbeat period (default 1000 ms). */
  heartbeatMs: number;
  /** A member whose last heartbeat is older than this is down (default 5000 ms); also the KV bucket TTL. */
  ttlMs: number;
}

/** Defaults, in one place. */
export const CLUSTER_DEFAULTS = {
  heartbeatMs: 1000,
  ttlMs: 5000,
  leaseTtlMs: 5000,
  connectTimeoutMs: 2000,
  reconnectWaitMs: 1000,
  reconnectJitterMs: 100,
  /** Back-off bounds while NATS is unreachable at boot or during an outage. */
  retryMinMs: 200,
  retryMaxMs: 5000,
} as const;

/**
 * How discovery, election and replication wait between attempts while NATS is unreachable
 * (at boot or during an outage): doubling from `retryMinMs`, capped at `retryMaxMs` — the
 * supervisor's {@link BackoffSpec}, waited by its `retryDelay`. Discovery adds `jitter` so
 * that nodes which lost NATS together do not reconnect in step.
 */
export const CLUSTER_RETRY: { readonly steady: BackoffSpec; readonly jittered: BackoffSpec } = {
  steady: { initialMs: CLUSTER_DEFAULTS.retryMinMs, maxMs: CLUSTER_DEFAULTS.retryMaxMs, factor: 2 },
  jittered: { initialMs: CLUSTER_DEFAULTS.retryMinMs, maxMs: CLUSTER_DEFAULTS.retryMaxMs, factor: 2, jitter: 0.5 },
};

/** Validates timing: each bad field is a {@link ClusterConfigError} carrying the bad value. */
export function validateTiming(t: { heartbeatMs?: number; ttlMs?: number }): DiscoveryTiming {
  const heartbeatMs = t.heartbeatMs ?? CLUSTER_DEFAULTS.heartbeatMs;
  const ttlMs = t.ttlMs ?? CLUSTER_DEFAULTS.ttlMs;
  if (!Number.isFinite(heartbeatMs) || heartbeatMs <= 0) throw new ClusterConfigError('heartbeatMs must be a positive number', { value: heartbeatMs });
  if (!Number.isFinite(ttlMs) || ttlMs < heartbeatMs * 2) {
    throw new ClusterConfigError('ttlMs must be at least twice heartbeatMs', { value: ttlMs });
  }
  return { heartbeatMs, ttlMs };
}

/** A NATS subject token / KV key / bucket name Ordo builds from user input: `[A-Za-z0-9_-]+`. */
export function validateName(what: string, v: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) throw new ClusterConfigError(`${what} must match [A-Za-z0-9_-]{1,64}`, { value: v });
  return v;
}
