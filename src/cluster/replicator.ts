import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { Subscription } from '@nats-io/nats-core';
import type { Env } from '../env/env.ts';
import type { ClusterConnection } from './connection.ts';
import { ClusterError, ReplConflictError, ReplMalformedError, ReplNewerSchemaError, ReplSnapshotError, ReplUnavailableError, NatsUnreachableError } from './errors.ts';
import { decodeBatch, encodeBatch, tablesOf, validateBatch } from './replCodec.ts';
import type { CommitBatch, ReplicatedStore, StoreReplicator } from './replicatedStore.ts';

/** Options of a {@link Replicator}. */
export interface ReplicatorOptions {
  cluster: string;
  /** The store's name (one stream per store). */
  store: string;
  node: string;
  incarnation: string;
  /** The replicated tables (a batch touching another table is malformed). */
  tables: string[];
  /** Stream limits: when old messages go, late nodes catch up from a snapshot. */
  maxMsgs?: number;
  maxAgeMs?: number;
  /** How long `commit` may wait for publish + local apply (default 10 s). */
  commitTimeoutMs?: number;
  /** Per-publish request timeout (default 2 s); retried with the same msg id until commitTimeoutMs. */
  publishTimeoutMs?: number;
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
  lastMalformed?: { seq: number; why: string };
  reason?: { code: string; message: string };
}

/** Stream and subject names for a store. */
export function replNames(cluster: string, store: string): { stream: string; prefix: string; snapshotSubject: string } {
  return { stream: `ORDO_REPL_${cluster}_${store}`, prefix: `ordo.repl.${cluster}.${store}`, snapshotSubject: `ordo.snap.${cluster}.${store}` };
}

const token = (t: string): string => (/^[A-Za-z0-9_-]+$/.test(t) ? t : `x${Buffer.from(t).toString('hex')}`);

/**
 * Store replication through one JetStream stream per store. Each committed batch is one
 * message; every node — the writer too — applies messages in stream order through
 * `store.applyReplicated`, which records the applied sequence atomically (duplicates are
 * no-ops). `commit` publishes with an expected last sequence (per table subject for a one-table
 * batch, stream-wide for a multi-table batch) and a msg id, retries on timeouts with the same
 * id (server-side dedupe), and resolves once the local node has applied that sequence.
 *
 * A malformed message is skipped and counted (health shows it); a message with a newer schema
 * halts applying at that sequence with {@link ReplNewerSchemaError} rather than corrupt data.
 *
 * @internal Driven by the replication machine.
 */
export class Replicator implements StoreReplicator {
  readonly stream: string;
  private readonly prefix: string;
  private readonly snapshotSubject: string;
  private readonly tableSet: ReadonlySet<string>;
  private js!: JetStreamClient;
  private jsm!: JetStreamManager;
  private messages: ConsumerMessages | undefined;
  private snapSub: Subscription | undefined;
  private applied = 0;
  private readonly subjectSeq = new Map<string, number>();
  private readonly waiters = new Map<number, Array<{ resolve: () => void; reject: (e: unknown) => void }>>();
  private halted: ClusterError | undefined;
  private stopped = false;
  private malformed = 0;
  private lastMalformed: { seq: number; why: string } | undefined;
  private applyChain: Promise<unknown> = Promise.resolve();
  private msgCounter = 0;
  private readonly log;

  constructor(
    private readonly env: Env,
    private readonly conn: ClusterConnection,
    private readonly store: ReplicatedStore,
    private readonly opts: ReplicatorOptions,
  ) {
    const n = replNames(opts.cluster, opts.store);
    this.stream = n.stream;
    this.prefix = n.prefix;
    this.snapshotSubject = n.snapshotSubject;
    this.tableSet = new Set(opts.tables);
    this.log = env.logger.child({ component: 'replication', node: opts.node, stream: this.stream });
  }

  /** Last applied sequence. */
  appliedSeq(): number {
    return this.applied;
  }

  health(): ReplicationHealth {
    const base = { stream: this.stream, applied: this.applied, malformed: this.malformed, ...(this.lastMalformed ? { lastMalformed: this.lastMalformed } : {}) };
    if (this.stopped) return { status: 'stopped', ...base };
    if (this.halted) return { status: 'halted', ...base, reason: { code: this.halted.code, message: this.halted.message } };
    if (this.conn.state() !== 'connected') return { status: 'degraded', ...base, reason: { code: 'ORDO_NATS_UNREACHABLE', message: `NATS connection ${this.conn.state()}` } };
    return { status: 'ok', ...base };
  }

  /** Creates the stream if needed, catches up (from a peer snapshot when the stream lost the gap), starts applying, serves snapshots, and plugs into the store. */
  async start(): Promise<void> {
    const timeout = this.opts.publishTimeoutMs ?? 2000;
    this.js = jetstream(this.conn.nc, { timeout });
    this.jsm = await jetstreamManager(this.conn.nc, { timeout });
    await this.ensureStream();
    this.applied = this.store.lastAppliedSeq(this.stream);
    const info = await this.jsm.streams.info(this.stream);
    const { first_seq: first, last_seq: last } = info.state;
    if (last > this.applied && this.applied < first - 1) await this.catchUpFromSnapshot(first);
    await this.startConsumer();
    // Wait until the local store has applied what the stream held at start: then reads are current.
    await this.waitApplied(last, this.opts.commitTimeoutMs ?? 10_000).catch((e: unknown) => {
      if (!(e instanceof ReplNewerSchemaError)) throw e;
    });
    // Know every replicated table's last subject sequence up front, so `commit` computes its
    // expectation synchronously — in the same tick as the store's own read-set check.
    for (const t of this.opts.tables) {
      if (!this.halted) await this.knownSubjectSeq(`${this.prefix}.t.${token(t)}`);
    }
    this.snapSub = this.conn.nc.subscribe(this.snapshotSubject, { queue: 'ordo-snapshot', callback: (err, msg) => {
      if (err) return;
      void this.serveSnapshot().then(
        (data) => msg.respond(data),
        (e: unknown) => this.log.warn({ report: 'replication', event: 'snapshot_serve_failed', err: String(e) }, 'could not serve a snapshot'),
      );
    } });
    this.store.setReplicator(this);
    this.log.info({ report: 'replication', event: 'started', applied: this.applied, streamLast: last }, 'replication started');
  }

  /** Unplugs from the store, stops applying, rejects pending commits. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.store.setReplicator(undefined);
    this.snapSub?.unsubscribe();
    await this.messages?.close().catch((e: unknown) => this.log.debug({ err: String(e) }, 'consumer close'));
    this.rejectWaiters(0, new ReplUnavailableError('replication stopped', { node: this.opts.node, stream: this.stream }));
    await this.applyChain.catch(() => undefined);
  }

  /** The store calls this for a transaction on replicated tables: publish, then wait for the local apply. */
  async commit(batch: CommitBatch): Promise<void> {
    if (this.stopped) throw new ReplUnavailableError('replication stopped', { node: this.opts.node, stream: this.stream });
    if (this.halted) throw this.halted;
    const why = validateBatch(batch, this.tableSet);
    if (why) throw new ReplMalformedError(`refusing to publish a malformed batch: ${why}`, { node: this.opts.node, stream: this.stream, value: batch });
    const tables = tablesOf(batch);
    const subject = tables.length === 1 ? `${this.prefix}.t.${token(tables[0]!)}` : `${this.prefix}.m`;
    const data = encodeBatch(this.opts.node, batch);
    const msgID = `${this.opts.node}.${this.opts.incarnation}.${++this.msgCounter}`;
    const deadline = this.env.clock.now() + (this.opts.commitTimeoutMs ?? 10_000);
    const expect: { lastSubjectSequence?: number; lastSequence?: number } = {};
    if (this.opts.conflictDetection ?? true) {
      // Computed synchronously when the subject is known: the same tick as the store's read-set check.
      if (tables.length === 1 && this.opts.conflictScope === 'table') expect.lastSubjectSequence = await this.knownSubjectSeq(subject);
      else expect.lastSequence = this.applied;
    }
    let seq: number | undefined;
    for (let attempt = 1; seq === undefined; attempt++) {
      try {
        const ack = await this.js.publish(subject, data, { msgID, expect });
        seq = ack.seq;
      } catch (e) {
        if (e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) {
          throw new ReplConflictError(`conflict on ${tables.join(', ')}: another node committed first (${e.message})`, { node: this.opts.node, stream: this.stream, value: expect, cause: e });
        }
        if (this.env.clock.now() >= deadline || this.stopped) {
          throw new NatsUnreachableError(`could not publish the batch within the commit timeout (${attempt} attempts)`, { node: this.opts.node, stream: this.stream, cause: e });
        }
        this.log.debug({ report: 'replication', event: 'publish_retry', attempt, err: String(e) }, 'publish failed; retrying with the same msg id');
        await this.sleep(Math.min(500, 25 * attempt));
      }
    }
    // Fast path: when our batch is the very next sequence, apply it now instead of waiting for
    // the consumer to bring it back; the consumer then sees it as already applied. Stream
    // order holds: it is applied only if `seq === applied + 1` when its turn comes.
    const own = seq;
    const p = this.applyChain.then(() => (own === this.applied + 1 ? this.applyOne(own, subject, data) : undefined));
    this.applyChain = p.catch(() => undefined);
    await this.waitApplied(seq, Math.max(0, deadline - this.env.clock.now()));
  }

  /** Resolves once the local store has applied `seq`; rejects if halted or after `timeoutMs`. */
  waitApplied(seq: number, timeoutMs: number): Promise<void> {
    if (this.applied >= seq) return Promise.resolve();
    if (this.halted) return Promise.reject(this.halted);
    return new Promise((resolve, reject) => {
      const t = this.env.clock.setTimeout(() => {
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

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.env.clock.setTimeout(() => r(), ms));
  }

  private async ensureStream(): Promise<void> {
    const cfg = {
      name: this.stream,
      subjects: [`${this.prefix}.>`],
      max_msgs: this.opts.maxMsgs ?? -1,
      max_age: (this.opts.maxAgeMs ?? 0) * 1_000_000,
      duplicate_window: 120 * 1_000_000_000,
    };
    try {
      await this.jsm.streams.info(this.stream);
      await this.jsm.streams.update(this.stream, { max_msgs: cfg.max_msgs, max_age: cfg.max_age });
    } catch (e) {
      if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
      await this.jsm.streams.add(cfg).catch(async (e2: unknown) => {
        // created concurrently by another node: fine if it now exists
        await this.jsm.streams.info(this.stream).catch(() => Promise.reject(e2));
      });
    }
  }

  /** The last sequence of `subject` this node knows; asks the server for subjects not seen since start. */
  private async knownSubjectSeq(subject: string): Promise<number> {
    const known = this.subjectSeq.get(subject);
    if (known !== undefined) return known;
    let seq = 0;
    try {
      const m = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subject });
      seq = m?.seq ?? 0;
    } catch (e) {
      if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.NoMessageFound)) throw e;
    }
    // The server may know a newer write than we applied: wait for it, so the expectation is what we have seen.
    if (seq > this.applied) await this.waitApplied(seq, this.opts.commitTimeoutMs ?? 10_000);
    const now = this.subjectSeq.get(subject) ?? 0;
    const v = Math.max(now, seq);
    this.subjectSeq.set(subject, v);
    return v;
  }

  private async startConsumer(): Promise<void> {
    const start = this.applied + 1;
    const consumer = await this.js.consumers.get(this.stream, start > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start } : { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 512 });
    this.messages = messages;
    void (async () => {
      try {
        for await (const m of messages) {
          await this.enqueueApply(m);
          if (this.halted || this.stopped) break;
        }
      } catch (e) {
        this.log.warn({ report: 'replication', event: 'consumer_ended', err: String(e) }, 'replication consumer ended');
      }
    })();
  }

  private enqueueApply(m: JsMsg): Promise<unknown> {
    const p = this.applyChain.then(() => this.applyOne(m.info.streamSequence, m.subject, m.data));
    this.applyChain = p.catch(() => undefined);
    return p;
  }

  private async applyOne(seq: number, subject: string, data: Uint8Array): Promise<void> {
    if (this.halted || this.stopped || seq <= this.applied) return;
    const decoded = decodeBatch(data, this.tableSet);
    if (!decoded.ok) return this.skipMalformed(seq, subject, decoded.why);
    try {
      const r = await this.store.applyReplicated(decoded.batch, { stream: this.stream, seq });
      if (r === 'duplicate') this.log.debug({ report: 'replication', event: 'duplicate', seq }, 'already applied');
    } catch (e) {
      const code = (e as { code?: unknown })?.code;
      if (code === 'ORDO_STORE_NEWER_SCHEMA' || code === 'ORDO_REPL_NEWER_SCHEMA') {
        this.halted = new ReplNewerSchemaError(
          `record at seq ${seq} has schema version ${decoded.batch.schemaVersion}, newer than this node's code: refusing to apply (upgrade this node)`,
          { node: this.opts.node, stream: this.stream, seq, value: decoded.batch.schemaVersion, cause: e },
        );
        this.log.error({ report: 'replication', event: 'halted', code: this.halted.code, seq, schemaVersion: decoded.batch.schemaVersion }, this.halted.message);
        this.rejectWaiters(seq, this.halted);
        return;
      }
      return this.skipMalformed(seq, subject, `store refused it: ${e instanceof Error ? e.message : String(e)}`, e);
    }
    this.advance(seq, subject);
  }

  private skipMalformed(seq: number, subject: string, why: string, cause?: unknown): void {
    const err = new ReplMalformedError(`malformed replicated message at seq ${seq}: ${why}`, { node: this.opts.node, stream: this.stream, seq, cause });
    this.malformed++;
    this.lastMalformed = { seq, why };
    this.log.error({ report: 'replication', event: 'malformed', code: err.code, seq, why }, err.message);
    // Not applied; a committer waiting on exactly this seq learns why.
    const list = this.waiters.get(seq);
    this.waiters.delete(seq);
    for (const w of list ?? []) w.reject(err);
    // Skipped, but it is the subject's latest message: the next expectation must count it.
    this.advance(seq, subject);
  }

  private advance(seq: number, subject: string): void {
    this.applied = seq;
    if ((this.subjectSeq.get(subject) ?? 0) < seq) this.subjectSeq.set(subject, seq);
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
    const p = this.applyChain.then(async () => ({ seq: this.applied, tables: this.opts.tables, data: await Promise.resolve(this.store.snapshot(this.opts.tables)) }));
    this.applyChain = p.catch(() => undefined);
    return new TextEncoder().encode(JSON.stringify(await p));
  }

  private async catchUpFromSnapshot(firstSeq: number): Promise<void> {
    this.log.info({ report: 'replication', event: 'snapshot_needed', applied: this.applied, firstSeq }, 'the stream no longer holds our next sequence: loading a peer snapshot');
    let snap: { seq: number; data: unknown };
    try {
      const reply = await this.conn.nc.request(this.snapshotSubject, new Uint8Array(0), { timeout: this.opts.commitTimeoutMs ?? 10_000 });
      snap = reply.json<{ seq: number; data: unknown }>();
    } catch (e) {
      throw new ReplSnapshotError(`catch-up needs a snapshot (applied ${this.applied}, stream starts at ${firstSeq}) and no live peer provided one`, { node: this.opts.node, stream: this.stream, seq: this.applied, cause: e });
    }
    if (!Number.isInteger(snap.seq) || snap.seq < firstSeq - 1) {
      throw new ReplSnapshotError(`peer snapshot at seq ${snap.seq} does not reach the stream's first sequence ${firstSeq}`, { node: this.opts.node, stream: this.stream, seq: snap.seq });
    }
    await this.store.loadSnapshot(snap.data as never);
    // The store adopted the snapshot's positions; seqs between them and snap.seq (malformed ones
    // the peer skipped) are skipped here too.
    this.applied = Math.max(snap.seq, this.store.lastAppliedSeq(this.stream));
    this.log.info({ report: 'replication', event: 'snapshot_loaded', seq: snap.seq }, 'caught up from a snapshot');
  }
}
