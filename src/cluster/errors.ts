import { OrdoError } from '../errors.ts';

/**
 * Typed errors of the cluster layer. Each class has a literal `code`; callers branch on the
 * code, never on the message. Each carries the ids involved (`node`, `servers`, `stream`,
 * `seq`), the bad `value` when there is one, and the underlying `cause`.
 */

/** Details every cluster error may carry. */
export interface ClusterErrorDetails {
  /** The node name involved. */
  node?: string;
  /** The servers tried. */
  servers?: string[];
  /** The replication stream involved. */
  stream?: string;
  /** The stream sequence involved. */
  seq?: number;
  /** The offending value (config field, message payload, version…). */
  value?: unknown;
  cause?: unknown;
}

/** Base class of every error the cluster layer throws or reports. */
export abstract class ClusterError extends OrdoError {
  readonly node: string | undefined;
  readonly servers: string[] | undefined;
  readonly stream: string | undefined;
  readonly seq: number | undefined;
  readonly value: unknown;
  constructor(message: string, details: ClusterErrorDetails = {}) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.node = details.node;
    this.servers = details.servers;
    this.stream = details.stream;
    this.seq = details.seq;
    this.value = details.value;
  }
  /** A plain object for logs and health reports. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.node !== undefined) out.node = this.node;
    if (this.servers !== undefined) out.servers = this.servers;
    if (this.stream !== undefined) out.stream = this.stream;
    if (this.seq !== undefined) out.seq = this.seq;
    return out;
  }
}

/** No configured server could be reached (transient: discovery retries, reporting degraded). */
export class NatsUnreachableError extends ClusterError {
  readonly code = 'ORDO_NATS_UNREACHABLE' as const;
}
/** The server rejected the credentials (permanent: retrying will not help). */
export class NatsAuthError extends ClusterError {
  readonly code = 'ORDO_NATS_AUTH' as const;
}
/** The TLS handshake failed (unknown CA, bad certificate, TLS required/not offered): a config error. */
export class NatsTlsError extends ClusterError {
  readonly code = 'ORDO_NATS_TLS' as const;
}
/** The server does not have JetStream enabled; KV and replication need it. */
export class NatsNoJetStreamError extends ClusterError {
  readonly code = 'ORDO_NATS_NO_JETSTREAM' as const;
}
/** A configured feature needs a newer server than the one connected. */
export class NatsFeatureError extends ClusterError {
  readonly code = 'ORDO_NATS_FEATURE' as const;
}
/** No NATS connector in `env.io.nats`. */
export class NatsNoConnectorError extends ClusterError {
  readonly code = 'ORDO_NATS_NO_CONNECTOR' as const;
}
/** A cluster config field is invalid. */
export class ClusterConfigError extends ClusterError {
  readonly code = 'ORDO_CLUSTER_CONFIG' as const;
}
/** A replicated message could not be decoded or validated; it is skipped, never applied. */
export class ReplMalformedError extends ClusterError {
  readonly code = 'ORDO_REPL_MALFORMED' as const;
}
/** A replicated record carries a newer schema than this node's code; applying stops. */
export class ReplNewerSchemaError extends ClusterError {
  readonly code = 'ORDO_REPL_NEWER_SCHEMA' as const;
}
/** A replicated commit lost a race: the subject moved past the sequence it expected. */
export class ReplConflictError extends ClusterError {
  readonly code = 'ORDO_REPL_CONFLICT' as const;
}
/**
 * The local store could not apply a valid replicated message (I/O failure, a closed store):
 * applying stops at that sequence and the replication child ends with this reason, so its
 * supervisor restarts it and it re-applies from the store's recorded position. Never skipped.
 */
export class ReplApplyError extends ClusterError {
  readonly code = 'ORDO_REPL_APPLY' as const;
}
/** The replicator is stopped or halted and cannot accept commits. */
export class ReplUnavailableError extends ClusterError {
  readonly code = 'ORDO_REPL_UNAVAILABLE' as const;
}
/**
 * JetStream did not answer although NATS did: no responders (503: no stream leader or no
 * JetStream server for the subject), an API timeout, or "JetStream not available". Transient:
 * a replicated stream regains a leader within seconds on a healthy cluster. A commit rejected
 * with it was **not** stored (every attempt was refused before reaching a stream).
 */
export class JetStreamUnavailableError extends ClusterError {
  readonly code = 'ORDO_JETSTREAM_UNAVAILABLE' as const;
}
/**
 * A stream, KV bucket or object store does not have (and could not be given) the configured
 * replica count: `value` is `{ want, have }`. A configuration problem (too few JetStream
 * servers for the requested replicas), not retried.
 */
export class JetStreamReplicasError extends ClusterError {
  readonly code = 'ORDO_JETSTREAM_REPLICAS' as const;
}
/** How an indeterminate commit finally settled (see {@link ReplIndeterminateError.settled}). */
export type CommitSettlement = { committed: true; seq: number } | { committed: false } | { committed: 'unknown' };

/**
 * The outcome of a commit is not known: a publish may have reached the stream, and the
 * replicator could not settle it (by its message id, within the stream's duplicate window)
 * before its settle timeout. **Not a failure**: the write may be committed. Do not retry it
 * blindly; await `settled` (never rejects) or read the data back. `msgId` names the publish.
 */
export class ReplIndeterminateError extends ClusterError {
  readonly code = 'ORDO_REPL_INDETERMINATE' as const;
  /** The publish's `Nats-Msg-Id`. */
  readonly msgId: string;
  /** Resolves once the replicator knows (or gave up knowing): keeps settling in the background. */
  readonly settled: Promise<CommitSettlement>;
  constructor(message: string, details: ClusterErrorDetails & { msgId: string; settled: Promise<CommitSettlement> }) {
    super(message, details);
    this.msgId = details.msgId;
    this.settled = details.settled;
  }
}
/** Catch-up needs a snapshot and no live peer could provide one. */
export class ReplSnapshotError extends ClusterError {
  readonly code = 'ORDO_REPL_SNAPSHOT' as const;
}
/** A schema migration on replicated tables could not be coordinated. */
export class ReplMigrationError extends ClusterError {
  readonly code = 'ORDO_REPL_MIGRATION' as const;
}

/** Every cluster error code. */
export type ClusterErrorCode =
  | NatsUnreachableError['code']
  | NatsAuthError['code']
  | NatsTlsError['code']
  | NatsNoJetStreamError['code']
  | NatsFeatureError['code']
  | NatsNoConnectorError['code']
  | ClusterConfigError['code']
  | ReplMalformedError['code']
  | ReplNewerSchemaError['code']
  | ReplConflictError['code']
  | ReplApplyError['code']
  | ReplUnavailableError['code']
  | ReplSnapshotError['code']
  | JetStreamUnavailableError['code']
  | JetStreamReplicasError['code']
  | ReplIndeterminateError['code']
  | ReplMigrationError['code'];
