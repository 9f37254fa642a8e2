import type { Env } from '../env/env.ts';
import { JS_API_CODES, isTransportError, type ClusterTransport, type TransportError } from '../env/transport.ts';
import type { ClusterConnection } from './connection.ts';
import { ClusterError, JetStreamReplicasError, NatsFeatureError, ReplApplyError, ReplIndeterminateError, ReplConflictError, ReplMalformedError, ReplNewerSchemaError, ReplSnapshotError, ReplUnavailableError } from './errors.ts';
import { SnapshotTransfer } from './snapshotTransfer.ts';
import { PendingCommits, publishSettled } from './commitSettlement.ts';
import { onStreamLeader } from './streamLeader.ts';
import { ReplConsumer } from './replConsumer.ts';
import { classifyJetStreamError, createWithReplicas, reconcileReplicas } from './replicas.ts';
import { decodeMessage, encodeBatch, parseReplSubject, replSubject, tableKeyOf, tableSubjects, tablesOf, validateBatch, type DecodeResult } from './replCodec.ts';
import { validateName } from './config.ts';
import { serverHas } from './serverFeatures.ts';
import type { CommitBatch, CommitOp, Replicator as StoreReplicator, ReplicatorCommitOptions } from '../store/types.ts';
import type { ReplicatedStore } from './replicatedStore.ts';

/** Options of a {@link Replicator}. */
export interface ReplicatorOptions {
  cluster: string;
  /** The store's name (one stream per store). */
  store: string;
  node: string;
  incarnation: string;
  /** The replicated tables (a batch touching another table is malformed). */
  tables: string[];
  /** Replicas of the stream (and the snapshot bucket); default 1. The replication child passes the cluster's. */
  replicas?: number;
  /** The count was configured (reconciling may shrink an existing stream); else never shrinks. */
  replicasExplicit?: boolean;
  /** Stream limits: when old messages go, late nodes catch up from a snapshot. */
  maxMsgs?: number;
  maxAgeMs?: number;
  /** How long `commit` may wait for publish + local apply (default 10 s). */
  commitTimeoutMs?: number;
  /** Per-publish request timeout (default 2 s); retried with the same msg id until commitTimeoutMs. */
  publishTimeoutMs?: number;
  /**
   * When an attempt may have been stored (a timeout) and commitTimeoutMs passes with the outcome
   * unknown, how much longer the commit keeps settling it by msg id before it rejects with
   * `ORDO_REPL_INDETERMINATE` (default 60 s; inside the stream's 120 s duplicate window).
   */
  settleTimeoutMs?: number;
  /** Expected-last-sequence checks on publish (default true). */
  conflictDetection?: boolean;
  /**
   * Granularity of conflict detection (nats-server 2.9 checks one expectation per message):
   * - `'stream'` (default): every commit expects the stream's last sequence to be the one this
   *   node applied. Always sound; commits are serialised cluster-wide (one winner per round trip).
   * - `'table'`: a one-table batch expects its table subject's last sequence; a multi-table
   *   batch expects the stream's. More concurrency across tables, but a one-table commit does
   *   not see a concurrent multi-table batch on the same table — use it only when no
   *   transaction spans several replicated tables.
   */
  conflictScope?: 'stream' | 'table';
}

/** Replication health, for the Application's health report. */
export interface ReplicationHealth {
  status: 'starting' | 'ok' | 'degraded' | 'halted' | 'stopped';
  stream: string;
  /** Last stream sequence applied to the local store. */
  applied: number;
  /** Messages skipped as malformed (never applied). */
  malformed: number;
  /** Commits of this node that lost a race (`ORDO_REPL_CONFLICT`); the store re-submits or re-runs them. */
  conflicts: number;
  lastMalformed?: { seq: number; why: string };
  reason?: { code: string; message: string };
}

/** Stream and subject names for a store. */
export function replNames(cluster: string, store: string): { stream: string; prefix: string; snapshotSubject: string } {
  return { stream: `ORDO_REPL_${cluster}_${store}`, prefix: `ordo.repl.${cluster}.${store}`, snapshotSubject: `ordo.snap.${cluster}.${store}` };
}

/** Headers nats-server adds to a message it copies (`sources`) or republishes (`republish`) from another stream. */
const SERVER_COPY_HEADERS = ['Nats-Stream-Source', 'Nats-Stream', 'Nats-Subject', 'Nats-Sequence', 'Nats-Last-Sequence'];

/** Stands for the payload of a message that was copied into the stream from another one (never decoded). */
const FOREIGN = new Uint8Array(0);

/** The stream's duplicate window: a publish retried with the same msg id within it is deduplicated by the server. */
const DUPLICATE_WINDOW_MS = 120_000;

/** Messages handed to the store ahead of confirmation, at most. */
const MAX_IN_FLIGHT = 1024;


/**
 * Store replication through one JetStream stream per store. Each committed batch is one
 * message; every node — the writer too — applies messages in stream order through
 * `store.applyReplicated`, which records the applied sequence atomically (duplicates are
 * no-ops). `commit` publishes with an expected last sequence (per table subject for a one-table
 * batch, stream-wide for a multi-table batch) and a msg id, retries on timeouts with the same
 * id (server-side dedupe), and resolves once the local node has applied that sequence.
 *
 * Who wrote a message is the node its subject names (`<prefix>.<node>.…`, bound by NATS
 * permissions: `natsPermissions.ts`), never the payload's claim. Only a message that is itself
 * invalid is skipped and counted (health shows it); a message with a newer schema
 * ({@link ReplNewerSchemaError}) or one the store could not write ({@link ReplApplyError}) stops
 * applying at that sequence and resolves {@link Replicator.failed} — never skipped.
 *
 * @internal Driven by the replication machine.
 */
export class Replicator implements StoreReplicator {
  readonly stream: string;
  private readonly prefix: string;
  private readonly snapshotSubject: string;
  private readonly tableSet: ReadonlySet<string>;
  private t!: ClusterTransport;
  /** The ordered consumer and its recovery (created in `start`). */
  private consumer!: ReplConsumer;
  private resyncing = false;
  private offConn: (() => void) | undefined;
  private offLeader: (() => void) | undefined;
  private snapSub: { unsubscribe(): void } | undefined;
  private applied = 0;
  private readonly subjectSeq = new Map<string, number>();
  private readonly waiters = new Map<number, Array<{ resolve: () => void; reject: (e: unknown) => void }>>();
  /** Why applying stopped for good (a newer schema, a store that could not write); also rejects commits. */
  private halted: ClusterError | undefined;
  private onFailed!: (e: ClusterError) => void;
  /**
   * Resolves with the error that stopped applying for good: a newer schema
   * ({@link ReplNewerSchemaError}) or a store that could not write a valid message
   * ({@link ReplApplyError}). The replication child ends with it as its reason (never `ready`
   * while halted); its supervisor restarts it, and it re-applies from the store's recorded
   * position. Pending while applying works.
   */
  readonly failed: Promise<ClusterError> = new Promise((r) => (this.onFailed = r));
  private stopped = false;
  private malformed = 0;
  private conflicts = 0;
  private lastMalformed: { seq: number; why: string } | undefined;
  private submitChain: Promise<void> = Promise.resolve();
  private confirmChain: Promise<void> = Promise.resolve();
  /** Highest seq handed to the store (or skipped); `applied` trails it until confirmed. */
  private submitted = 0;
  /** Highest schema version seen applied: a newer one is a barrier (see `submit`). */
  private schemaOk = -1;
  private msgCounter = 0;
  /** Per instance: a restarted replicator (same incarnation) must never reuse a msg id inside the dedupe window. */
  private readonly msgNonce: string;
  /** Snapshots through the object store (created in `start`). */
  private snapshots!: SnapshotTransfer;
  private readonly log;

  private readonly env: Env;
  private readonly conn: ClusterConnection;
  private readonly store: ReplicatedStore;
  private readonly opts: ReplicatorOptions;
  constructor(
    env: Env,
    conn: ClusterConnection,
    store: ReplicatedStore,
    opts: ReplicatorOptions,
  ) {
    this.env = env;
    this.conn = conn;
    this.store = store;
    this.opts = opts;
    // the node's name is a subject token: NATS permissions bind what it publishes to it
    validateName('node', opts.node);
    const n = replNames(opts.cluster, opts.store);
    this.stream = n.stream;
    this.prefix = n.prefix;
    this.snapshotSubject = n.snapshotSubject;
    this.tableSet = new Set(opts.tables);
    this.msgNonce = env.random.int(2 ** 31).toString(36);
    this.log = env.logger.child({ component: 'replication', node: opts.node, stream: this.stream });
  }

  /** Last applied sequence. */
  appliedSeq(): number {
    return this.applied;
  }

  health(): ReplicationHealth {
    const base = { stream: this.stream, applied: this.applied, malformed: this.malformed, conflicts: this.conflicts, ...(this.lastMalformed ? { lastMalformed: this.lastMalformed } : {}) };
    if (this.stopped) return { status: 'stopped', ...base };
    if (this.halted) return { status: 'halted', ...base, reason: { code: this.halted.code, message: this.halted.message } };
    if (this.resyncing) return { status: 'degraded', ...base, reason: { code: 'ORDO_REPL_SNAPSHOT', message: 'stream gap: resyncing from a peer snapshot' } };
    if (this.conn.state() !== 'connected') return { status: 'degraded', ...base, reason: { code: 'ORDO_NATS_UNREACHABLE', message: `NATS connection ${this.conn.state()}` } };
    return { status: 'ok', ...base };
  }

  /** Creates the stream if needed, catches up (from a peer snapshot when the stream lost the gap), starts applying, serves snapshots, and plugs into the store. */
  async start(): Promise<void> {
    if (this.opts.conflictScope === 'table' && !serverHas(this.conn.serverVersion, 'lastSubjectSequenceSubject')) {
      // Each node publishes on its own subjects; a table's last sequence across nodes needs the
      // wildcard expectation of 2.11. Checked per node subject it would silently miss the others.
      throw new NatsFeatureError(`conflictScope 'table' needs nats-server 2.11 or later (an expected last sequence over a wildcard subject); this server is ${this.conn.serverVersion}: use conflictScope 'stream'`, { node: this.opts.node, value: this.conn.serverVersion });
    }
    this.t = this.conn.transport;
    this.consumer = new ReplConsumer({
      env: this.env,
      transport: this.t,
      stream: this.stream,
      log: this.log,
      nextSeq: () => this.submitted + 1,
      onMessage: (m) => {
        // A message the server itself put here from another stream — copied by `sources`, or
        // republished by another stream's `republish` onto a subject it chose — did not come
        // from the node its subject names: it could replay or forge another node's message.
        // Only what a node published here is applied.
        const copied = m.headers !== undefined && SERVER_COPY_HEADERS.some((h) => m.headers!.has(h));
        return this.enqueue(m.seq, m.subject, copied ? FOREIGN : m.data, undefined, m.headers?.get('Nats-Msg-Id') || undefined);
      },
      active: () => !this.halted && !this.stopped && !this.resyncing,
    });
    this.snapshots = new SnapshotTransfer(this.t, this.opts.cluster, `${this.opts.store}.${this.opts.node}.${this.opts.incarnation}.${this.msgNonce}`, this.opts.replicas ?? 1);
    await this.ensureStream();
    this.applied = this.store.lastAppliedSeq(this.stream);
    this.submitted = this.applied;
    const info = await this.t.streams.info(this.stream);
    const { firstSeq: first, lastSeq: last } = info.state;
    if (last > this.applied && this.applied < first - 1) await this.catchUpFromSnapshot(first);
    await this.consumer.start();
    // Wait until the local store has applied what the stream held at start: then reads are current.
    // A long catch-up is fine as long as it progresses; it fails only after commitTimeoutMs
    // without any progress.
    for (let seen = this.applied; ; seen = this.applied) {
      try {
        await this.waitApplied(last, this.opts.commitTimeoutMs ?? 10_000);
        break;
      } catch (e) {
        // halted while catching up: a start failure naming why, never a ready replicator
        if (this.halted) throw this.halted;
        if (this.applied === seen) throw e;
      }
    }
    // Know every replicated table's last subject sequence up front, so `commit` computes its
    // expectation synchronously — in the same tick as the store's own read-set check.
    if (this.opts.conflictScope === 'table') {
      for (const t of this.opts.tables) {
        if (!this.halted) await this.knownSubjectSeq(tableSubjects(this.prefix, t));
      }
    }
    if (this.halted) throw this.halted;
    this.serveSnapshots();
    // No re-creation on reconnect: the consumer usually lives on a server that is still up, and
    // creating one needs the JetStream meta leader (the very server that may just have died). A
    // consumer that is really gone misses its heartbeats within ~2 s and is re-created then.
    this.offLeader = onStreamLeader(this.conn, [this.stream], (_s, leader) => {
      this.log.info({ report: 'replication', event: 'stream_leader', leader, recovering: this.consumer.isRecovering }, 'the replication stream has a leader');
      this.consumer?.wake();
    });
    this.store.setReplicator(this);
    this.log.info({ report: 'replication', event: 'started', applied: this.applied, streamLast: last }, 'replication started');
  }

  /** Unplugs from the store, stops applying, rejects pending commits. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Not `undefined`: a store without a replicator writes replicated tables locally (single-node
    // mode). Unplugged from a cluster, such a write would never reach the stream — refuse it
    // until a replicator is plugged in again.
    const refusal = new ReplUnavailableError('replication is not running: writes to replicated tables are refused until it is', { node: this.opts.node, stream: this.stream });
    this.store.setReplicator({ commit: () => Promise.reject(refusal) });
    this.offConn?.();
    this.offLeader?.();
    this.snapSub?.unsubscribe();
    await this.consumer?.close();
    this.rejectWaiters(0, new ReplUnavailableError('replication stopped', { node: this.opts.node, stream: this.stream }));
    this.pending.giveUpAll();
    await this.submitChain;
    await this.confirmChain;
  }

  /**
   * The store calls this for a commit on replicated tables: publish, then wait for the local
   * apply. Checked commits of this node go out one at a time per expectation scope (the stream,
   * or a table subject under `conflictScope: 'table'`): a second local commit published before
   * the first is applied would expect a stale sequence and lose to its own sibling. Its
   * expectation is fixed synchronously with `opts.stillValid()`, the store's read-set check.
   *
   * A lost race rejects with {@link ReplConflictError} only after this node has applied the
   * batches that won, so the store's re-check sees them.
   */
  async commit(batch: CommitBatch, opts: ReplicatorCommitOptions = {}): Promise<void> {
    if (this.stopped) throw new ReplUnavailableError('replication stopped', { node: this.opts.node, stream: this.stream });
    if (this.halted) throw this.halted;
    // Writes to this node's local tables ride along, applied here only (see ReplMessage.local).
    const local = batch.ops.filter((o) => !this.tableSet.has(o.table));
    if (local.length > 0) batch = { ...batch, ops: batch.ops.filter((o) => this.tableSet.has(o.table)) };
    const why = validateBatch(batch, this.tableSet);
    if (why) throw new ReplMalformedError(`refusing to publish a malformed batch: ${why}`, { node: this.opts.node, stream: this.stream, value: batch });
    const tables = tablesOf(batch);
    const subject = replSubject(this.prefix, this.opts.node, tables);
    const check = (this.opts.conflictDetection ?? true) && opts.check !== false;
    const bySubject = tables.length === 1 && this.opts.conflictScope === 'table';
    // The deadline runs from the call: commits queued behind a stuck one fail with it, not one timeout each.
    const deadline = this.env.clock.now() + (this.opts.commitTimeoutMs ?? 10_000);
    const release = check ? await this.takeLane(bySubject ? tableSubjects(this.prefix, tables[0]!) : '') : undefined;
    try {
      if (this.env.clock.now() >= deadline) {
        throw new ReplUnavailableError(`commit timed out behind this node's earlier commits (${this.opts.commitTimeoutMs ?? 10_000} ms)`, { node: this.opts.node, stream: this.stream });
      }
      await this.publishAndApply(batch, local, tables, subject, check, bySubject, opts.stillValid, deadline);
    } finally {
      release?.();
    }
  }

  private readonly lanes = new Map<string, Promise<void>>();
  /** Publishes whose outcome is being settled by msg id / stream order. */
  private readonly pending = new PendingCommits();

  /** Waits for this node's previous checked commit in the same scope; returns the release. */
  private async takeLane(key: string): Promise<() => void> {
    const prev = this.lanes.get(key);
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev ? prev.then(() => mine) : mine;
    this.lanes.set(key, tail);
    if (prev) await prev;
    return () => {
      release();
      if (this.lanes.get(key) === tail) this.lanes.delete(key);
    };
  }

  private async publishAndApply(batch: CommitBatch, local: CommitOp[], tables: string[], subject: string, check: boolean, bySubject: boolean, stillValid: (() => boolean) | undefined, deadline: number): Promise<void> {
    if (this.stopped) throw new ReplUnavailableError('replication stopped', { node: this.opts.node, stream: this.stream });
    if (this.halted) throw this.halted;
    const data = encodeBatch(this.opts.node, batch, local);
    // Unpredictable per commit: a msg id another publisher could guess in advance would let it
    // pre-empt this commit through the stream's dedupe (ours then acked as its duplicate).
    const msgID = `${this.opts.node}.${this.opts.incarnation}.${this.msgNonce}.${++this.msgCounter}.${this.env.random.int(2 ** 31).toString(36)}`;
    const expect: { lastSubjectSequence?: number; lastSubjectSequenceSubject?: string; lastSequence?: number } = {};
    // table scope: the table's last sequence over every node's subject for it
    const tableKey = bySubject ? tableSubjects(this.prefix, tables[0]!) : undefined;
    if (check) {
      if (tableKey && !this.subjectSeq.has(tableKey)) await this.knownSubjectSeq(tableKey);
      // From here to the publish call nothing yields: the expectation and the read-set check
      // describe the same state.
      if (tableKey) {
        expect.lastSubjectSequence = this.subjectSeq.get(tableKey) ?? 0;
        expect.lastSubjectSequenceSubject = tableKey;
      }
      else expect.lastSequence = this.applied;
      if (stillValid && !stillValid()) {
        this.conflicts++;
        throw new ReplConflictError(`conflict on ${tables.join(', ')}: what the transaction read changed before it could publish`, { node: this.opts.node, stream: this.stream, value: expect });
      }
    }
    const expectSeq = expect.lastSequence ?? expect.lastSubjectSequence;
    // table scope: settled by the table's subjects of every node (the key), not by this node's own subject
    const tracked = this.pending.track(msgID, expectSeq === undefined ? undefined : { seq: expectSeq, subject: tableKey });
    const settleBy = deadline + (this.opts.settleTimeoutMs ?? 60_000);
    const outcome = await publishSettled(this.pending, tracked, deadline, settleBy, {
      publish: () => this.t.publish(subject, data, { msgID, expect, timeoutMs: this.opts.publishTimeoutMs ?? 2000 }),
      now: () => this.env.clock.now(),
      sleep: (ms) => this.sleep(ms),
      catchUpTo: (e) => this.catchUpAfterConflict(e, settleBy),
      stopped: () => this.stopped,
      canSend: () => this.conn.state() === 'connected',
      log: this.log,
    });
    const ids = { node: this.opts.node, stream: this.stream };
    if (outcome.kind === 'conflict') {
      // Catch up with the winners first: the store's re-check must see what beat us.
      this.conflicts++;
      await this.catchUpAfterConflict(outcome.error, deadline);
      throw new ReplConflictError(`conflict on ${tables.join(', ')}: another node committed first (${outcome.error.message})`, { ...ids, value: expect, cause: outcome.error });
    }
    if (outcome.kind === 'refused') {
      // Never stored: safe for the caller to retry.
      throw classifyJetStreamError(outcome.error, this.conn.state() === 'connected', `could not publish the batch within the commit timeout (${outcome.attempts} attempts, none stored)`, ids);
    }
    if (outcome.kind === 'unknown') {
      const settled = this.pending.outcome(tracked);
      // Stream order may still prove it either way; after the duplicate window nothing can.
      const t = this.env.clock.setTimeout(() => this.pending.giveUp(tracked), DUPLICATE_WINDOW_MS);
      void settled.then((o) => {
        this.env.clock.clearTimeout(t);
        this.log.warn({ report: 'replication', event: 'indeterminate_settled', msgId: msgID, outcome: o }, 'an indeterminate commit settled');
      });
      const err = new ReplIndeterminateError(`commit outcome unknown after ${outcome.attempts} attempts: the batch may be in the stream (msg id ${msgID}); not retried`, { ...ids, msgId: msgID, settled, cause: outcome.error });
      this.log.error({ report: 'replication', event: 'indeterminate', msgId: msgID, err }, err.message);
      throw err;
    }
    const seq = outcome.seq;
    // Fast path: when our batch is the very next sequence, apply it now instead of waiting for
    // the consumer to bring it back; the consumer then sees it as already applied. Stream
    // order holds: it is applied only if `seq === applied + 1` when its turn comes.
    void this.enqueue(seq, subject, data, local.length > 0 ? { ...batch, ops: [...batch.ops, ...local] } : batch, msgID);
    await this.waitCommittedApplied(seq);
  }

  /**
   * A committed batch (it is in the stream at `seq`) resolves only as committed: it waits for
   * the local apply with no deadline — the consumer recovers as soon as the stream has a leader
   * — and if replication stops or halts first, it still resolves (the stream has it; this node
   * applies it when it resumes). Never reported as a failure.
   */
  private async waitCommittedApplied(seq: number): Promise<void> {
    try {
      await this.waitApplied(seq, undefined);
    } catch (e) {
      if (!this.stopped && !this.halted) throw e;
      this.log.warn({ report: 'replication', event: 'committed_not_applied', seq, err: e }, 'commit is in the stream; replication stopped before applying it here');
    }
  }

  /** After a wrong-last-sequence answer: wait until this node applied what the server holds. */
  private async catchUpAfterConflict(e: TransportError, deadline: number): Promise<void> {
    // nats-server says "wrong last sequence: N" (the subject's or the stream's last sequence).
    const m = /wrong last sequence: (\d+)/.exec(e.message);
    let last = m ? Number(m[1]) : undefined;
    if (last === undefined) last = (await this.t.streams.info(this.stream)).state.lastSeq;
    await this.waitApplied(last, Math.max(0, deadline - this.env.clock.now()));
  }

  /** Resolves once the local store has applied `seq`; rejects if halted, stopped or after `timeoutMs` (none: no deadline). */
  waitApplied(seq: number, timeoutMs: number | undefined): Promise<void> {
    if (this.applied >= seq) return Promise.resolve();
    if (this.halted) return Promise.reject(this.halted);
    if (this.stopped) return Promise.reject(new ReplUnavailableError('replication stopped', { node: this.opts.node, stream: this.stream, seq }));
    return new Promise((resolve, reject) => {
      const t = timeoutMs === undefined ? undefined : this.env.clock.setTimeout(() => {
        const list = this.waiters.get(seq);
        if (list) this.waiters.set(seq, list.filter((w) => w !== entry));
        reject(new ReplUnavailableError(`sequence ${seq} not applied within ${timeoutMs} ms`, { node: this.opts.node, stream: this.stream, seq }));
      }, timeoutMs);
      const entry = {
        resolve: () => (this.env.clock.clearTimeout(t), resolve()),
        reject: (e: unknown) => (this.env.clock.clearTimeout(t), reject(e)),
      };
      const list = this.waiters.get(seq) ?? [];
      list.push(entry);
      this.waiters.set(seq, list);
    });
  }

  /** Resolves once the local store has applied everything the stream holds now (its last sequence at the call). */
  async catchUp(timeoutMs: number): Promise<void> {
    const info = await this.t.streams.info(this.stream);
    await this.waitApplied(info.state.lastSeq, timeoutMs);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.env.clock.setTimeout(() => r(), ms));
  }

  private async ensureStream(): Promise<void> {
    const cfg = {
      name: this.stream,
      subjects: [`${this.prefix}.>`],
      maxMsgs: this.opts.maxMsgs ?? -1,
      maxAgeMs: this.opts.maxAgeMs ?? 0,
      duplicateWindowMs: DUPLICATE_WINDOW_MS,
      replicas: this.opts.replicas ?? 1,
    };
    try {
      const info = await this.t.streams.info(this.stream);
      if (info.config.maxMsgs !== cfg.maxMsgs || info.config.maxAgeMs !== cfg.maxAgeMs) {
        await this.t.streams.update(this.stream, { maxMsgs: cfg.maxMsgs, maxAgeMs: cfg.maxAgeMs });
      }
    } catch (e) {
      if (!isTransportError(e, 'api', JS_API_CODES.streamNotFound)) throw e;
      await createWithReplicas(this.stream, cfg.replicas, () => this.t.streams.add(cfg), { node: this.opts.node }).catch(async (e2: unknown) => {
        if (e2 instanceof JetStreamReplicasError) throw e2;
        // created concurrently by another node: fine if it now exists
        await this.t.streams.info(this.stream).catch(() => Promise.reject(e2));
      });
    }
    const details = { node: this.opts.node };
    await reconcileReplicas(this.t, this.stream, cfg.replicas, this.opts.replicasExplicit ?? false, this.log, details);
    // The snapshot bucket, when it exists already (else it is created with the count on first use).
    await reconcileReplicas(this.t, `OBJ_ordo_snap_${this.opts.cluster}`, cfg.replicas, this.opts.replicasExplicit ?? false, this.log, details).catch((e: unknown) => {
      if (!isTransportError(e, 'api', JS_API_CODES.streamNotFound)) throw e;
    });
  }

  /** The last sequence of `subject` this node knows; asks the server for subjects not seen since start. */
  private async knownSubjectSeq(subject: string): Promise<number> {
    const known = this.subjectSeq.get(subject);
    if (known !== undefined) return known;
    const seq = (await this.t.streams.lastBySubject(this.stream, subject))?.seq ?? 0;
    // The server may know a newer write than we applied: wait for it, so the expectation is what we have seen.
    if (seq > this.applied) await this.waitApplied(seq, this.opts.commitTimeoutMs ?? 10_000);
    const now = this.subjectSeq.get(subject) ?? 0;
    const v = Math.max(now, seq);
    this.subjectSeq.set(subject, v);
    return v;
  }

  /**
   * Hands messages to the store in stream order without waiting for each to be durable: the
   * store's group commit then writes a run of them in one batch. Confirmations (`applied`)
   * advance strictly in order. A batch with a schema version not yet seen applied, or carrying
   * migrations, is a barrier:
   * everything before it is confirmed first and nothing after it is submitted until it is — so
   * a newer-schema refusal halts exactly there.
   */
  private enqueue(seq: number, subject: string, data: Uint8Array, own?: CommitBatch, msgId?: string): Promise<void> {
    const p = this.submitChain.then(() => this.submit(seq, subject, data, own, msgId));
    // The chain only orders submissions; the caller awaiting `p` sees its error.
    this.submitChain = p.catch(() => undefined);
    return p;
  }

  private async submit(seq: number, subject: string, data: Uint8Array, own: CommitBatch | undefined, msgId: string | undefined): Promise<void> {
    if (this.halted || this.stopped || seq <= this.submitted) return;
    if (own && seq !== this.submitted + 1) return; // not next: the consumer brings it in order
    if (!own && seq > this.submitted + 1) {
      // A gap: the stream dropped messages this node never applied (limits, purge). Applying on
      // would silently diverge; load a peer snapshot instead.
      void this.resync(seq);
      return;
    }
    if (this.submitted - this.applied >= MAX_IN_FLIGHT) await this.confirmChain;
    this.submitted = seq;
    // only a message on this node's own subject can settle this node's commit by its msg id
    const ownSubject = parseReplSubject(this.prefix, subject)?.node === this.opts.node;
    this.pending.observe(seq, tableKeyOf(this.prefix, subject) ?? subject, ownSubject ? msgId : undefined);
    // Our own batch was validated before publishing: no need to parse it back.
    // The writer is the node the subject names (NATS permissions bind it), never the payload's claim.
    const decoded: DecodeResult = own
      ? { ok: true, node: this.opts.node, batch: own }
      : data === FOREIGN
        ? { ok: false, why: 'copied or republished from another stream by the server: only messages a node published here are applied' }
        : decodeMessage(this.prefix, subject, data, this.tableSet);
    if (!decoded.ok) {
      const why = decoded.why;
      this.confirmChain = this.confirmChain.then(() => this.skipMalformed(seq, subject, why));
      return;
    }
    // Our own local writes (from the publish, or from the stream after a restart) apply with it.
    const mine = !own && decoded.local && decoded.node === this.opts.node;
    const batch = mine ? { ...decoded.batch, ops: [...decoded.batch.ops, ...decoded.local!] } : decoded.batch;
    // a migration batch changes the store's schema history and deferred list: nothing after it
    // is handed over before it is confirmed
    const barrier = batch.schemaVersion > this.schemaOk || batch.migrations !== undefined;
    if (barrier) await this.confirmChain;
    if (this.halted || this.stopped) return;
    const applying = this.store.applyReplicated(batch, { stream: this.stream, seq }).then(
      (r) => ({ ok: true as const, r }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    const step = this.confirmChain.then(async () => {
      const res = await applying;
      // stopped at an earlier seq: whatever became of this one, the position does not move past it
      if (this.halted) return;
      if (res.ok) {
        if (res.r === 'duplicate') this.log.debug({ report: 'replication', event: 'duplicate', seq }, 'already applied');
        this.schemaOk = Math.max(this.schemaOk, batch.schemaVersion);
        this.advance(seq, subject);
        return;
      }
      const code = (res.e as { code?: unknown })?.code;
      // Only a message that is itself invalid is skipped: the store refused its contents and
      // wrote nothing. Anything else (I/O, a closed store, an unknown failure) means a valid
      // message was not written: skipping it would lose it on this node for good.
      if (code === 'ORDO_STORE_VALIDATION') {
        this.skipMalformed(seq, subject, `store refused it: ${res.e instanceof Error ? res.e.message : String(res.e)}`, res.e);
        return;
      }
      if (code === 'ORDO_STORE_NEWER_SCHEMA' || code === 'ORDO_REPL_NEWER_SCHEMA') {
        this.halt(new ReplNewerSchemaError(
          `record at seq ${seq} has schema version ${batch.schemaVersion}, newer than this node's code: refusing to apply (upgrade this node)`,
          { node: this.opts.node, stream: this.stream, seq, value: batch.schemaVersion, cause: res.e },
        ), seq, res.e);
        return;
      }
      this.halt(new ReplApplyError(
        `the local store could not apply seq ${seq} (${typeof code === 'string' ? code : 'unknown error'}): stopping at it, to re-apply from the recorded position after a restart`,
        { node: this.opts.node, stream: this.stream, seq, cause: res.e },
      ), seq, res.e);
    });
    this.confirmChain = step;
    if (barrier) await step;
  }

  /** Stops applying at `seq` for good: nothing after it is handed to the store; commits and waiters get `err`; {@link Replicator.failed} resolves. */
  private halt(err: ClusterError, seq: number, cause: unknown): void {
    if (this.halted) return;
    this.halted = err;
    this.log.error({ report: 'replication', event: 'halted', code: err.code, seq, err: cause }, err.message);
    this.rejectWaiters(seq, err);
    this.onFailed(err);
  }

  private skipMalformed(seq: number, subject: string, why: string, cause?: unknown): void {
    const err = new ReplMalformedError(`malformed replicated message at seq ${seq}: ${why}`, { node: this.opts.node, stream: this.stream, seq, cause });
    this.malformed++;
    this.lastMalformed = { seq, why };
    this.log.error({ report: 'replication', event: 'malformed', code: err.code, err, seq, why }, err.message);
    // Not applied; a committer waiting on exactly this seq learns why.
    const list = this.waiters.get(seq);
    this.waiters.delete(seq);
    for (const w of list ?? []) w.reject(err);
    // Skipped, but it is the subject's latest message: the next expectation must count it.
    this.advance(seq, subject);
  }

  private advance(seq: number, subject: string): void {
    this.applied = seq;
    const key = tableKeyOf(this.prefix, subject);
    if (key !== undefined && (this.subjectSeq.get(key) ?? 0) < seq) this.subjectSeq.set(key, seq);
    this.resolveWaiters();
  }

  private resolveWaiters(): void {
    for (const [s, list] of this.waiters) {
      if (s > this.applied) continue;
      this.waiters.delete(s);
      for (const w of list) w.resolve();
    }
  }

  private rejectWaiters(fromSeq: number, err: unknown): void {
    for (const [s, list] of this.waiters) {
      if (s < fromSeq) continue;
      this.waiters.delete(s);
      for (const w of list) w.reject(err);
    }
  }

  private async serveSnapshot(): Promise<Uint8Array> {
    // Taken between two applies, so `seq` matches the data exactly.
    const p = this.submitChain.then(async () => {
      await this.confirmChain;
      return { seq: this.applied, tables: this.opts.tables, data: await Promise.resolve(this.store.snapshot(this.opts.tables)) };
    });
    // Ordering only: serveSnapshot's caller sees the error through `p`.
    this.submitChain = p.then(() => undefined, () => undefined);
    const snap = await p;
    const body = new TextEncoder().encode(JSON.stringify(snap));
    const object = await this.snapshots.upload(body, this.t.info.maxPayload);
    this.log.info({ report: 'replication', event: 'snapshot_served', seq: snap.seq, bytes: body.length, object }, 'served a snapshot');
    return new TextEncoder().encode(JSON.stringify({ seq: snap.seq, object, bytes: body.length }));
  }

  private serveSnapshots(): void {
    this.snapSub = this.t.subscribe(this.snapshotSubject, { queue: 'ordo-snapshot' }, (msg) => {
      void this.serveSnapshot().then(
        (data) => msg.respond(data),
        (e: unknown) => this.log.warn({ report: 'replication', event: 'snapshot_serve_failed', err: e }, 'could not serve a snapshot'),
      );
    });
  }

  /** Gap while running: stop consuming, load a peer snapshot reaching past the gap, resume. */
  private async resync(firstAvailable: number): Promise<void> {
    if (this.resyncing || this.stopped) return;
    this.resyncing = true;
    this.log.error({ report: 'replication', event: 'gap', applied: this.applied, next: firstAvailable }, 'stream gap: resyncing from a peer snapshot');
    await this.consumer?.close();
    this.snapSub?.unsubscribe(); // never answer our own request with our stale copy
    this.snapSub = undefined;
    try {
      await this.confirmChain;
      await this.catchUpFromSnapshot(firstAvailable);
      this.resyncing = false;
      this.serveSnapshots();
      this.consumer.recover('resynced');
    } catch (e) {
      this.log.error({ report: 'replication', event: 'resync_failed', err: e }, 'resync failed; retrying');
      this.resyncing = false;
      await this.sleep(1000);
      if (!this.stopped) void this.resync(firstAvailable);
    }
  }

  /**
   * A peer's snapshot may only replace this replicator's tables and this stream's position:
   * one naming another table (a node's local table) or carrying other streams' positions is
   * refused, not loaded.
   */
  private checkedSnapshot(data: unknown): Parameters<ReplicatedStore['loadSnapshot']>[0] {
    const d = data as { tables?: unknown; applied?: unknown; schemaVersion?: unknown; migrations?: unknown } | null;
    const bad = (why: string): never => {
      throw new ReplSnapshotError(`refusing a peer snapshot: ${why}`, { node: this.opts.node, stream: this.stream });
    };
    if (typeof d !== 'object' || d === null || typeof d.tables !== 'object' || d.tables === null || Array.isArray(d.tables)) return bad('no tables');
    const extra = Object.keys(d.tables).filter((t) => !this.tableSet.has(t));
    if (extra.length > 0) return bad(`it names tables that are not replicated here (${extra.join(', ')})`);
    // a table it lacks would keep its old rows while the position jumps past their changes
    const missing = this.opts.tables.filter((t) => !Object.hasOwn(d.tables as object, t));
    if (missing.length > 0) return bad(`it lacks replicated tables (${missing.join(', ')})`);
    const applied = (d.applied ?? {}) as Record<string, unknown>;
    const seq = applied[this.stream];
    if (seq !== undefined && !Number.isInteger(seq)) return bad('its position is not an integer');
    return { ...(d as Parameters<ReplicatedStore['loadSnapshot']>[0]), applied: seq === undefined ? {} : { [this.stream]: seq as number } };
  }

  private async catchUpFromSnapshot(firstSeq: number): Promise<void> {
    this.log.info({ report: 'replication', event: 'snapshot_needed', applied: this.applied, firstSeq }, 'the stream no longer holds our next sequence: loading a peer snapshot');
    let snap: { seq: number; data: unknown };
    try {
      const reply = await this.t.request(this.snapshotSubject, new Uint8Array(0), { timeoutMs: this.opts.commitTimeoutMs ?? 10_000 });
      const ref = reply.json<{ seq: number; object: string; bytes: number }>();
      const blob = await this.snapshots.download(ref.object, (e) => this.log.debug({ report: 'replication', err: e }, 'could not delete the snapshot object; its TTL will'));
      snap = JSON.parse(new TextDecoder().decode(blob)) as { seq: number; data: unknown };
    } catch (e) {
      if (e instanceof ReplSnapshotError) throw e;
      throw new ReplSnapshotError(`catch-up needs a snapshot (applied ${this.applied}, stream starts at ${firstSeq}) and no live peer provided one`, { node: this.opts.node, stream: this.stream, seq: this.applied, cause: e });
    }
    if (!Number.isInteger(snap.seq) || snap.seq < firstSeq - 1) {
      throw new ReplSnapshotError(`peer snapshot at seq ${snap.seq} does not reach the stream's first sequence ${firstSeq}`, { node: this.opts.node, stream: this.stream, seq: snap.seq });
    }
    await this.store.loadSnapshot(this.checkedSnapshot(snap.data));
    // The store adopted the snapshot's positions; seqs between them and snap.seq (malformed ones
    // the peer skipped) are skipped here too.
    this.applied = Math.max(snap.seq, this.store.lastAppliedSeq(this.stream));
    this.submitted = this.applied;
    this.log.info({ report: 'replication', event: 'snapshot_loaded', seq: snap.seq }, 'caught up from a snapshot');
  }
}
