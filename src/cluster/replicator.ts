import { JS_API_CODES, isTransportError, type ClusterTransport } from '../env/transport.ts';
import type { Env } from '../env/env.ts';
import type { ClusterConnection } from './connection.ts';
import { ClusterError, JetStreamReplicasError, NatsFeatureError, ReplUnavailableError } from './errors.ts';
import { SnapshotTransfer } from './snapshotTransfer.ts';
import { PendingCommits } from './commitSettlement.ts';
import { LeaderSignal, onStreamLeader } from './streamLeader.ts';
import { ReplConsumer } from './replConsumer.ts';
import { createWithReplicas, reconcileReplicas } from './replicas.ts';
import { tableSubjects } from './replCodec.ts';
import { validateName } from './config.ts';
import { serverHas } from './serverFeatures.ts';
import { FOREIGN, ReplApplier } from './replApplier.ts';
import { CommitFairness } from './commitFairness.ts';
import { DUPLICATE_WINDOW_MS, ReplPublisher } from './replPublisher.ts';
import { ReplSnapshots } from './replSnapshots.ts';
import type { CommitBatch, Replicator as StoreReplicator, ReplicatorCommitOptions } from '../store/types.ts';
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
  /**
   * Stream-scope fairness (default true): a node that keeps losing checked commits asks the
   * others to hold off briefly, and this node honours such requests (docs/cluster.md,
   * *Fairness*). Off: no requests sent, none honoured.
   */
  fairness?: boolean;
  /** The live members' node names (the replication child passes the discovery membership's): only their fairness hold requests are honoured. */
  members?: () => readonly string[];
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
 * The parts: the apply path ({@link ReplApplier}, `replApplier.ts`), the publish/commit path
 * ({@link ReplPublisher}, `replPublisher.ts`), snapshot catch-up ({@link ReplSnapshots},
 * `replSnapshots.ts`) and the consumer (`replConsumer.ts`); this class owns the stream, the
 * lifecycle and health.
 *
 * @internal Driven by the replication machine.
 */
export class Replicator implements StoreReplicator {
  readonly stream: string;
  private readonly prefix: string;
  private readonly tableSet: ReadonlySet<string>;
  /** The cluster transport (the connection's). */
  private get t(): ClusterTransport {
    return this.conn.transport;
  }
  /** The ordered consumer and its recovery (created in `start`). */
  private consumer!: ReplConsumer;
  private resyncing = false;
  private offLeader: (() => void) | undefined;
  /** Fired on the stream's LEADER_ELECTED advisory: retrying publishes re-publish at once. */
  private readonly leaderSignal = new LeaderSignal();
  private snapSub: { unsubscribe(): void } | undefined;
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
  /** Per instance: a restarted replicator (same incarnation) must never reuse a msg id inside the dedupe window. */
  private readonly msgNonce: string;
  /** Snapshots through the object store (created in `start`). */
  private transfer!: SnapshotTransfer;
  /** Publishes whose outcome is being settled by msg id / stream order. */
  private readonly pending = new PendingCommits();
  private readonly applier: ReplApplier;
  private readonly publisher: ReplPublisher;
  private readonly fairness: CommitFairness;
  private readonly snapshots: ReplSnapshots;
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
    this.tableSet = new Set(opts.tables);
    this.msgNonce = env.random.int(2 ** 31).toString(36);
    this.log = env.logger.child({ component: 'replication', node: opts.node, stream: this.stream });
    const common = { stream: this.stream, prefix: this.prefix, node: opts.node, tableSet: this.tableSet, log: this.log, stopped: () => this.stopped };
    this.applier = new ReplApplier({
      ...common,
      env,
      store,
      pending: this.pending,
      onGap: (seq) => void this.resync(seq),
      onHalt: (e) => this.onFailed(e),
    });
    this.fairness = new CommitFairness({ env, transport: () => this.conn.transport, cluster: opts.cluster, store: opts.store, node: opts.node, log: this.log, ...(opts.members ? { members: opts.members } : {}) });
    this.publisher = new ReplPublisher({
      ...common,
      ...(opts.fairness === false ? {} : { fairness: this.fairness }),
      env,
      conn,
      incarnation: opts.incarnation,
      msgNonce: this.msgNonce,
      applier: this.applier,
      pending: this.pending,
      transport: () => this.conn.transport,
      publishTimeoutMs: opts.publishTimeoutMs ?? 2000,
      conflictDetection: opts.conflictDetection ?? true,
      conflictScope: opts.conflictScope ?? 'stream',
      commitTimeoutMs: opts.commitTimeoutMs ?? 10_000,
      settleTimeoutMs: opts.settleTimeoutMs ?? 60_000,
      leaderElected: () => this.leaderSignal.next(),
    });
    this.snapshots = new ReplSnapshots({
      conn,
      store,
      applier: this.applier,
      transfer: () => this.transfer,
      stream: this.stream,
      node: opts.node,
      snapshotSubject: n.snapshotSubject,
      tables: opts.tables,
      tableSet: this.tableSet,
      log: this.log,
      requestTimeoutMs: opts.commitTimeoutMs ?? 10_000,
      streamLast: async () => (await this.t.streams.info(this.stream)).state.lastSeq,
    });
  }

  /** Last applied sequence. */
  appliedSeq(): number {
    return this.applier.applied;
  }

  /** Replication health, for the Application's health report. */
  health(): ReplicationHealth {
    const a = this.applier;
    const base = { stream: this.stream, applied: a.applied, malformed: a.malformed, conflicts: this.publisher.conflicts, ...(a.lastMalformed ? { lastMalformed: a.lastMalformed } : {}) };
    if (this.stopped) return { status: 'stopped', ...base };
    if (a.halted) return { status: 'halted', ...base, reason: { code: a.halted.code, message: a.halted.message } };
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
    const a = this.applier;
    this.consumer = new ReplConsumer({
      env: this.env,
      transport: this.t,
      // Re-creating the consumer after a server loss needs the meta leader (no advisory tells when
      // 2.9 has a new one): short requests, retried every ≤ 500 ms, find it soon after it is elected.
      requestTimeoutMs: Math.min(this.opts.publishTimeoutMs ?? 2000, 1000),
      stream: this.stream,
      log: this.log,
      nextSeq: () => a.submitted + 1,
      onMessage: (m) => {
        // A message the server itself put here from another stream — copied by `sources`, or
        // republished by another stream's `republish` onto a subject it chose — did not come
        // from the node its subject names: it could replay or forge another node's message.
        // Only what a node published here is applied.
        const copied = m.headers !== undefined && SERVER_COPY_HEADERS.some((h) => m.headers!.has(h));
        // a node that asked the others to hold off got through: the hold ends
        if (!copied && m.subject.startsWith(`${this.prefix}.`)) this.fairness.applied(m.subject.slice(this.prefix.length + 1).split('.', 1)[0]!);
        return a.enqueue(m.seq, m.subject, copied ? FOREIGN : m.data, undefined, m.headers?.get('Nats-Msg-Id') || undefined);
      },
      active: () => !a.halted && !this.stopped && !this.resyncing,
      connected: () => this.conn.state() === 'connected',
    });
    this.transfer = new SnapshotTransfer(this.t, this.opts.cluster, `${this.opts.store}.${this.opts.node}.${this.opts.incarnation}.${this.msgNonce}`, this.opts.replicas ?? 1);
    await this.ensureStream();
    a.jumpTo(this.store.lastAppliedSeq(this.stream));
    const info = await this.t.streams.info(this.stream);
    const { firstSeq: first, lastSeq: last } = info.state;
    if (last > a.applied && a.applied < first - 1) await this.snapshots.catchUp(first);
    await this.consumer.start();
    if (this.opts.fairness !== false) this.fairness.start();
    // Wait until the local store has applied what the stream held at start: then reads are current.
    // A long catch-up is fine as long as it progresses; it fails only after commitTimeoutMs
    // without any progress.
    for (let seen = a.applied; ; seen = a.applied) {
      try {
        await a.waitApplied(last, this.opts.commitTimeoutMs ?? 10_000);
        break;
      } catch (e) {
        // halted while catching up: a start failure naming why, never a ready replicator
        if (a.halted) throw a.halted;
        if (a.applied === seen) throw e;
      }
    }
    // Know every replicated table's last subject sequence up front, so `commit` computes its
    // expectation synchronously — in the same tick as the store's own read-set check.
    if (this.opts.conflictScope === 'table') {
      for (const t of this.opts.tables) {
        if (!a.halted) await this.publisher.knownSubjectSeq(tableSubjects(this.prefix, t));
      }
    }
    if (a.halted) throw a.halted;
    this.snapSub = this.snapshots.serve();
    // No blind re-creation on reconnect: the consumer usually lives on a server that is still
    // up, and creating one needs the JetStream meta leader (the very server that may just have
    // died). It is asked instead (one 1 s consumer info): gone or unanswered, it is re-created at
    // once; otherwise the watchdog still re-creates a consumer that stays silent (nats.js's own
    // heartbeat monitor stays suspended after a disconnect until the consumer answers).
    const offReconnect = this.conn.on((e) => {
      if (e.type === 'nats.reconnect') this.consumer.verify('reconnect');
    });
    const offStreamLeader = onStreamLeader(this.conn, [this.stream], (_s, leader) => {
      this.log.info({ report: 'replication_stream_leader', leader, recovering: this.consumer.isRecovering }, 'the replication stream has a leader');
      this.consumer?.wake();
      this.leaderSignal.fire();
    });
    this.offLeader = () => {
      offReconnect();
      offStreamLeader();
    };
    this.store.setReplicator(this);
    this.log.info({ report: 'replication_started', applied: a.applied, streamLast: last }, 'replication started');
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
    this.offLeader?.();
    this.snapSub?.unsubscribe();
    this.fairness.stop();
    await this.consumer?.close();
    this.applier.rejectWaiters(0, new ReplUnavailableError('replication stopped', { node: this.opts.node, stream: this.stream }));
    this.pending.giveUpAll();
    await this.applier.drain();
  }

  /**
   * The store calls this for a commit on replicated tables: publish, then wait for the local
   * apply (see {@link ReplPublisher.commit}). A lost race rejects with `ORDO_REPL_CONFLICT` only
   * after this node has applied the batches that won, so the store's re-check sees them.
   */
  commit(batch: CommitBatch, opts: ReplicatorCommitOptions = {}): Promise<void> {
    return this.publisher.commit(batch, opts);
  }

  /** Resolves once the local store has applied `seq`; rejects if halted, stopped or after `timeoutMs` (none: no deadline). */
  waitApplied(seq: number, timeoutMs: number | undefined): Promise<void> {
    return this.applier.waitApplied(seq, timeoutMs);
  }

  /** Resolves once the local store has applied everything the stream holds now (its last sequence at the call). */
  async catchUp(timeoutMs: number): Promise<void> {
    const info = await this.t.streams.info(this.stream);
    await this.applier.waitApplied(info.state.lastSeq, timeoutMs);
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

  /** Gap while running: stop consuming, load a peer snapshot reaching past the gap, resume. */
  private async resync(firstAvailable: number): Promise<void> {
    if (this.resyncing || this.stopped) return;
    this.resyncing = true;
    this.log.error({ report: 'replication_gap', applied: this.applier.applied, next: firstAvailable }, 'stream gap: resyncing from a peer snapshot');
    await this.consumer?.close();
    this.snapSub?.unsubscribe(); // never answer our own request with our stale copy
    this.snapSub = undefined;
    try {
      await this.applier.confirmed();
      await this.snapshots.catchUp(firstAvailable);
      this.resyncing = false;
      this.snapSub = this.snapshots.serve();
      this.consumer.recover('resynced');
    } catch (e) {
      this.log.error({ report: 'replication_resync_failed', err: e }, 'resync failed; retrying');
      this.resyncing = false;
      await this.sleep(1000);
      if (!this.stopped) void this.resync(firstAvailable);
    }
  }
}
