import type { CommitOp } from './types.ts';
import type { MemTable } from './memTable.ts';
import type { Tx } from './transaction.ts';
import type { StoreState } from './storeState.ts';
import type { BuiltBatch, Change, Pending } from './writeBatch.ts';
import type { KvOp, KvWriting } from '../env/kv.ts';
import { buildWriteBatch } from './writeBatch.ts';
import { mustEncode } from './query.ts';
import { outsideTx } from './txContext.ts';
import { applyUndoable } from './undoableApply.ts';
import type { OverlapHost } from './overlapWrite.ts';
import { overlapWriting, writeOverlapped } from './overlapWrite.ts';
import { DeadlineWatch, withinDeadline } from './commitDeadline.ts';
import type { Flight } from './commitPipeline.ts';
import { baseAfter, behindOutcome, canFollow, doomBehind } from './commitPipeline.ts';
import { StoreClosedError, StoreCommitIndeterminateError, StoreCommitTimeoutError, StoreError, StoreFailedError, StoreIoError, StoreReplicationGapError, StoreValidationError } from './errors.ts';

const PROBE_KEY = Buffer.from('write_probe', 'utf8');
const PROBE_VALUE = Buffer.from([1]);

/** What the group commit needs from its store. @internal */
export interface GroupCommitHost {
  readonly s: StoreState;
  table(name: string): MemTable;
  /** True once the store is closing: nothing more is queued. */
  isClosing(): boolean;
  /** Transactions running now (per-key versions are recorded only while > 0). */
  activeTx(): number;
  /** {@link GroupCommit.version} when the oldest transaction attempt running now began (`Infinity` if none). */
  oldestTxStart(): number;
  /** Delivers a commit applied to RAM to the change feed. */
  emit(ops: readonly CommitOp[], changes: readonly Change[]): void;
}

/** A conflict found by {@link GroupCommit.conflictOf}: the table and, for a key read, the encoded key. @internal */
export interface Conflict {
  readonly table: string;
  readonly key?: unknown;
}

/** Local-table writes of a replicated commit held as pending while it travels. @internal */
export interface HeldLocal {
  readonly ops: readonly CommitOp[];
  readonly encKeys: readonly string[];
}

/**
 * The group commit: every commit queued in one event-loop turn is written as one WriteBatch
 * (fsynced once if any touches a `sync` table), then applied to RAM and delivered to the change
 * feed; each commit's promise settles after that. Also the conflict check of optimistic
 * transactions against committed versions and against commits still queued or in flight.
 * @internal
 */
export class GroupCommit {
  private readonly h: GroupCommitHost;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  /**
   * Batches being written, not yet applied, oldest first (their keys count as "being changed"
   * for conflicts): one, or more while the strict watermark's markers are made durable
   * (commitPipeline.ts).
   */
  private flights: Flight[] = [];
  /** Keys of queued and in-flight commits, built lazily when a transaction validates. */
  private pendingIndex: Map<MemTable, Set<string>> | undefined;
  /** Highest stream sequence queued but not yet applied, per stream. */
  readonly pendingApplied = new Map<string, number>();
  /**
   * Per stream, the lowest sequence whose replicated apply failed to be written: later ones are
   * refused until the stream is re-applied from at or below it (see `applyReplicated`).
   */
  readonly failedApply = new Map<string, number>();
  /**
   * Local-table writes of replicated commits between their read-set check and their apply (they
   * travel in the stream message): pending for other transactions' conflict checks.
   */
  private replLocal: HeldLocal[] = [];
  private replLocalWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private versionCounter = 0;
  /** The commit deadline's timer (created by the first synced write). */
  private deadlines: DeadlineWatch | undefined;
  private idleCheck = false;

  constructor(host: GroupCommitHost) {
    this.h = host;
  }

  /** What an overlapped unsynced write ({@link writeOverlapped}) calls back. */
  private readonly overlapHost: OverlapHost = {
    applyUndoable: (batch, built) => this.applyUndoable(batch, built),
    unanswered: () => void (this.unanswered = true),
    indeterminate: (batch, built, durable, cause) => this.indeterminate(batch, built, durable, cause),
  };

  /**
   * Queues a commit for the next group flush; resolves once written and applied to RAM.
   * `encKeys` (one per op, as a transaction already computed them) saves encoding them again.
   */
  enqueue(p: Omit<Pending, 'resolve' | 'reject' | 'encKeys'>, encKeys?: readonly string[]): Promise<void> {
    if (this.h.isClosing()) return Promise.reject(new StoreClosedError(this.h.s.dir));
    if (this.failure) return this.recoverThen(p, encKeys);
    let keys = encKeys;
    if (keys === undefined || keys.length !== p.ops.length) {
      const enc: string[] = [];
      for (const op of p.ops) enc.push(mustEncode(this.h.table(op.table), op.key));
      keys = enc;
    }
    const ek = keys;
    return new Promise<void>((resolve, reject) => {
      // fields copied by name: an object spread takes V8's slow path (~0.5 µs a commit)
      const pe: Pending = { ops: p.ops, encKeys: ek, extra: p.extra, applied: p.applied, replaceTables: p.replaceTables, resolve, reject };
      this.queue.push(pe);
      // extend the index rather than drop it: rebuilding it per commit made N concurrent
      // transactions O(N²) (5,000 one-row transactions: 17 s, mostly in pending())
      if (this.pendingIndex) this.indexPending(this.pendingIndex, pe);
      this.schedule();
    });
  }

  /** The failed state (see `Store.failed`). */
  failure: StoreFailedError | undefined;
  private readonly failureListeners = new Set<(e: StoreFailedError) => void>();

  /** Whether the failure came from a synced write: the recovery probe then is synced too (it exercises the path that failed). */
  private probeSync = false;
  /**
   * A synced write went unanswered past the commit deadline: it may still land, so the failure
   * is left only by a reopen (a probe would queue behind the hung write, and RAM would not
   * know whether the batch it lacks is on disk).
   */
  private unanswered = false;
  /** The recovery probe in flight, shared by the commits called while failed: they queue in call order (probes of their own could answer in any). */
  private probing: Promise<boolean> | undefined;

  /** A probe write is accepted: unsynced (the engine's background error) and, with `sync`, also synced (the sync writer, the marker). */
  private async writable(sync: boolean): Promise<boolean> {
    try {
      const probe = [{ type: 'put' as const, column: 'meta', key: PROBE_KEY, value: PROBE_VALUE }];
      await this.h.s.db.write(probe, { sync: false });
      if (sync) await this.withinDeadline(this.h.s.db.write(probe, { sync: true }), 0, this.h.s.commitSeq);
      return true;
    } catch (err) {
      if (err instanceof StoreCommitTimeoutError) this.unanswered = true;
      return false;
    } finally {
      this.deadlinesIdle();
    }
  }

  /**
   * In the failed state: if the engine accepts a probe write again, leave it and queue `p`; else
   * refuse `p` with the failure. While the probe runs, `p`'s writes count as pending for other
   * transactions' conflict checks (as a replicated commit's local writes do): a transaction
   * checked its reads just before this call, and one that read the same keys meanwhile must see
   * it, or both commit after the probe and the second overwrites what the first wrote.
   */
  private async recoverThen(p: Omit<Pending, 'resolve' | 'reject' | 'encKeys'>, encKeys: readonly string[] | undefined): Promise<void> {
    const failure = this.failure!;
    const keys = encKeys !== undefined && encKeys.length === p.ops.length ? encKeys : p.ops.map((op) => mustEncode(this.h.table(op.table), op.key));
    const held: HeldLocal = { ops: p.ops, encKeys: keys };
    this.holdLocal(held);
    let ok: boolean;
    try {
      ok = !this.unanswered && (await (this.probing ??= this.writable(this.probeSync).finally(() => (this.probing = undefined))));
    } finally {
      // released in the same turn as the enqueue below, which counts it as pending from then on
      this.releaseLocal(held);
    }
    if (!ok) throw failure;
    if (this.failure === failure) {
      this.failure = undefined;
      this.h.s.env.logger.warn({ report: 'store_recovered', dir: this.h.s.dir }, 'store accepts writes again after its failure');
    }
    return this.enqueue(p, keys);
  }

  private fail(cause: StoreIoError | StoreCommitIndeterminateError, sync: boolean): void {
    if (this.failure) return;
    const s = this.h.s;
    const failure = new StoreFailedError(s.dir, { cause });
    this.failure = failure;
    this.probeSync = sync;
    s.env.logger.error({ err: failure, report: 'store_failed', dir: s.dir, reason: failure.reason }, 'store failed: writes refused until it is reopened');
    for (const p of this.queue) p.reject(failure);
    this.queue = [];
    this.pendingIndex = undefined;
    for (const l of this.failureListeners) this.notify(l, failure);
  }

  private notify(l: (e: StoreFailedError) => void, e: StoreFailedError): void {
    try {
      l(e);
    } catch (err) {
      this.h.s.env.logger.error({ err, report: 'store_listener_failed', listener: 'onFailure' }, 'store listener threw');
    }
  }

  /** Calls `listener` once the store fails (at once if it has). Returns an unsubscribe. */
  onFailure(listener: (e: StoreFailedError) => void): () => void {
    this.failureListeners.add(listener);
    if (this.failure) this.notify(listener, this.failure);
    return () => this.failureListeners.delete(listener);
  }

  /** Resolves when every queued commit has been written (or failed). */
  idle(): Promise<void> {
    // local writes of replicated commits in flight are pending too: wait for them first
    if (this.replLocal.length > 0) return new Promise<void>((r) => this.replLocalWaiters.push(r)).then(() => this.idle());
    if (!this.flushing && this.queue.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** The commit counter: the version of the last commit applied to RAM (per-key and table versions are its values). */
  get version(): number {
    return this.versionCounter;
  }

  /** The first key or table `tx` read that a commit since (or one still pending) changed. */
  conflictOf(tx: Tx): Conflict | undefined {
    const { reads, scans } = tx;
    // a blind write read nothing: nothing can conflict (and no index of pending keys is built)
    if (reads === undefined && scans === undefined) return undefined;
    const pend = this.queue.length > 0 || this.flights.length > 0 || this.replLocal.length > 0 ? this.pending() : undefined;
    if (reads) for (const [mem, keys] of reads) {
      const p = pend?.get(mem);
      for (const [k, v] of keys) {
        // a key with no version was last written before every running attempt began (pruned, or
        // never recorded): not since this one read it
        const cur = mem.keyVersions.get(k);
        if ((cur !== undefined && cur !== v) || p?.has(k)) return { table: mem.def.name, key: k };
      }
    }
    if (scans) for (const [mem, v] of scans) {
      if (mem.version !== v || (pend?.get(mem)?.size ?? 0) > 0) return { table: mem.def.name };
    }
    return undefined;
  }

  /** Counts `held` as pending (idempotent) until {@link GroupCommit.releaseLocal}. */
  holdLocal(held: HeldLocal): void {
    if (this.replLocal.includes(held)) return;
    this.replLocal.push(held);
    this.pendingIndex = undefined;
  }

  /** Stops counting `held` as pending. */
  releaseLocal(held: HeldLocal): void {
    const i = this.replLocal.indexOf(held);
    if (i >= 0) this.replLocal.splice(i, 1);
    this.pendingIndex = undefined;
    if (this.replLocal.length === 0) for (const w of this.replLocalWaiters.splice(0)) w();
  }

  private pending(): Map<MemTable, Set<string>> {
    if (this.pendingIndex) return this.pendingIndex;
    const idx = new Map<MemTable, Set<string>>();
    for (const f of this.flights) for (const p of f.batch) this.indexPending(idx, p);
    for (const list of [this.queue, this.replLocal]) for (const p of list) this.indexPending(idx, p);
    return (this.pendingIndex = idx);
  }

  private indexPending(idx: Map<MemTable, Set<string>>, p: { readonly ops: readonly { readonly table: string }[]; readonly encKeys: readonly string[] }): void {
    for (let i = 0; i < p.ops.length; i++) {
      const mem = this.h.s.tables.get(p.ops[i]!.table)!;
      let set = idx.get(mem);
      if (!set) idx.set(mem, (set = new Set()));
      set.add(p.encKeys[i]!);
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // the flush (and the listeners it calls) must not run in the context of a transaction
    // function that happened to queue this commit (a dirty write inside it)
    outsideTx(() => this.h.s.db.defer(() => {
      this.scheduled = false;
      // the running flush loop picks the queue up, or — its write durable, its mark not yet — a batch written behind it
      if (this.flushing) return this.pipeline();
      if (this.queue.length === 0) return this.wakeIdle();
      this.startFlush();
    }));
  }

  /**
   * Writes the queue as one batch. Commits arriving while it is written form the next batch,
   * started by this one once it is written and settled, before its commits' continuations run
   * (they then run while the next write is in flight), or else in a later turn.
   */
  private startFlush(prev?: Flight): void {
    const s = this.h.s;
    const fl: Flight = { batch: this.queue, base: prev ? baseAfter(prev) : { seq: s.commitSeq, logSeqs: s.logSeqs, digests: undefined }, built: undefined, walDurable: false, applied: undefined, writeRefused: false, doomed: undefined, done: undefined, prev, follow: undefined };
    this.queue = [];
    this.flights.push(fl);
    const f: Promise<void> = this.flushOnce(fl).finally(() => {
      // a flight settled without reaching apply or a refusal's bookkeeping is no longer in flight
      const i = this.flights.indexOf(fl);
      if (i >= 0) this.flights.splice(i, 1);
      fl.applied ??= false;
      if (this.flushing !== f) return; // the next batch took over (it settles the idle waiters)
      this.flushing = undefined;
      if (this.queue.length > 0) this.schedule();
      else {
        this.wakeIdle();
        this.deadlinesIdle();
      }
    });
    fl.done = f;
    this.flushing = f;
  }

  /** The newest batch in flight is durable in the WAL, its mark not yet: commits queued may be written behind it. */
  private walDurable(f: Flight): void {
    f.walDurable = true;
    this.pipeline();
  }

  /**
   * Starts writing the queue behind the newest batch in flight if that one's WAL write is
   * durable (its mark still being made durable) and the queue may follow it (commitPipeline.ts).
   */
  private pipeline(): void {
    const tail = this.flights[this.flights.length - 1];
    if (tail === undefined || !tail.walDurable || tail.writeRefused || tail.doomed || tail.built === undefined || this.queue.length === 0) return;
    if (this.failure || this.h.isClosing() || !canFollow(this.queue, this.flights)) return;
    this.startFlush(tail);
  }

  /** At the end of this turn, if nothing is queued or being written, the commit deadline's timer goes (an idle store holds none). */
  private deadlinesIdle(): void {
    if (this.deadlines === undefined || this.idleCheck) return;
    this.idleCheck = true;
    this.h.s.db.defer(() => {
      this.idleCheck = false;
      if (!this.flushing && this.queue.length === 0 && !this.scheduled) this.deadlines?.idle();
    });
  }

  /** Settles the `idle()` waiters if nothing is queued or being written (`settled`: the flush still finishing has applied its batch). */
  private wakeIdle(settled = false): void {
    if ((this.flushing && !settled) || this.queue.length > 0 || this.scheduled) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Rejects the commits of `batch` that cannot be built on their own; returns the others. */
  private dropUnbuildable(batch: readonly Pending[], build: (b: readonly Pending[]) => BuiltBatch): Pending[] {
    const good: Pending[] = [];
    for (const p of batch) {
      try {
        build([p]);
        good.push(p);
      } catch (err) {
        const table = p.ops[0]?.table ?? '?';
        const e = err instanceof StoreError ? err : new StoreValidationError(table, undefined, p.ops[0]?.key, 'bad_value', `commit cannot be encoded: ${(err as Error)?.message}`);
        this.h.s.env.logger.error({ report: 'store_commit_refused', dir: this.h.s.dir, table, err: e }, 'a commit could not be encoded; the others of its batch go on');
        if (p.applied && this.pendingApplied.get(p.applied.stream) === p.applied.seq) this.pendingApplied.delete(p.applied.stream);
        p.reject(e);
      }
    }
    return good;
  }

  private releasePending(batch: readonly Pending[]): void {
    const i = this.flights.findIndex((f) => f.batch === batch);
    if (i >= 0) this.flights.splice(i, 1);
    this.pendingIndex = undefined;
    for (const p of batch) {
      if (p.applied && this.pendingApplied.get(p.applied.stream) === p.applied.seq) this.pendingApplied.delete(p.applied.stream);
    }
  }

  /**
   * A flush holding replicated applies failed: their streams' later sequences already queued
   * must not be written either (the position would skip the failed one), and later calls are
   * refused until the stream is re-applied from before the failure.
   */
  private failStreams(batch: readonly Pending[], cause: unknown): void {
    for (const p of batch) {
      if (!p.applied) continue;
      const { stream, seq } = p.applied;
      this.failedApply.set(stream, Math.min(seq, this.failedApply.get(stream) ?? seq));
      this.pendingApplied.delete(stream);
    }
    if (this.failedApply.size === 0) return;
    const keep: Pending[] = [];
    for (const p of this.queue) {
      const failed = p.applied ? this.failedApply.get(p.applied.stream) : undefined;
      if (p.applied && failed !== undefined && p.applied.seq > failed) p.reject(new StoreReplicationGapError(p.applied.stream, p.applied.seq, failed, { cause }));
      else keep.push(p);
    }
    this.queue = keep;
    this.pendingIndex = undefined;
  }

  private async flushOnce(f: Flight): Promise<void> {
    const s = this.h.s;
    let batch = f.batch;
    const base = f.base;
    const digestOf = base.digests === undefined ? undefined : (m: MemTable) => base.digests!.get(m);
    const build = (b: readonly Pending[], sink?: (ops: readonly KvOp[], from: number, to: number) => void): BuiltBatch => buildWriteBatch(b, { table: (n) => this.h.table(n), commitSeq: base.seq, schemaVersion: s.schemaVersion, changeLogLimit: s.changeLogLimit, logSeqs: base.logSeqs, digestOf, sink });
    let built: BuiltBatch;
    let sent: BuiltBatch | undefined;
    let writing: KvWriting | undefined;
    let applied: boolean | 'settled' = false;
    let awaited = false;
    let refused: { err: unknown } | undefined;
    try {
      // a large unsynced batch: written on another thread while it is applied to RAM (below) —
      // never behind a batch not applied yet (RAM must take that one first)
      writing = f.prev ? undefined : overlapWriting(s, (n) => this.h.table(n), batch);
      try {
        const w = writing;
        built = w ? build(batch, (ops, from, to) => w.add(ops, from, to)) : build(batch);
      } catch {
        writing?.abort();
        writing = undefined;
        // A commit that cannot be encoded fails alone, with its own error: the other writers of
        // this turn are innocent (never a false "disk failed" for them).
        batch = f.batch = this.dropUnbuildable(batch, build);
        if (batch.length === 0) {
          this.releasePending(batch);
          // the flush ahead is still the one in flight until it settled
          if (f.prev) await f.prev.done;
          return;
        }
        built = build(batch);
      }
      sent = f.built = built;
      // a synced batch advances the durable watermark to its commit sequence (integrity.ts)
      if (writing && (built.sync || built.kvOps.length === 0)) {
        writing.abort();
        writing = undefined;
      }
      if (built.kvOps.length > 0) {
        // durable in the WAL, its mark not yet (the strict watermark): the next batch may be written behind it
        if (built.sync) await this.withinDeadline(s.db.write(built.kvOps, { sync: true, mark: built.seq, onDurable: () => this.walDurable(f) }), batch.length, built.seq);
        else if (writing) {
          applied = writeOverlapped(s, this.overlapHost, writing, batch, built);
          if (applied === 'settled') return;
        }
        else await s.db.write(built.kvOps, { sync: false });
        awaited = !writing;
      }
    } catch (err) {
      refused = { err };
      f.writeRefused = true;
      doomBehind(this.flights, f, err);
    }
    // written behind a batch in flight: that one settles first (commit order); built on its
    // state, so never applied if that one was not
    if (f.prev) {
      await f.prev.done;
      if (f.prev.applied === false) f.doomed = 'unknown';
      const behind = sent === undefined ? undefined : behindOutcome(f, refused?.err);
      if (sent && behind) {
        if (behind.timeout) this.unanswered = true;
        this.indeterminate(f.batch, sent, behind.durable, refused?.err ?? this.failure ?? new StoreIoError(s.dir, 'commit'));
        f.applied = behind.durable === true;
        return;
      }
    }
    if (refused) {
      const probe = this.refused(batch, sent, refused.err);
      f.applied = probe === 'applied';
      // After a failed WAL write RocksDB refuses every write until reopened (its background
      // error): if a probe write is refused too, fail the handle (typed) so its owner reopens it.
      // A transient failure (the probe passes) leaves the store writable.
      // The probe takes the path that failed (synced after a synced batch: the sync writer, the marker).
      if (probe instanceof StoreIoError && sent && !(await this.writable(sent.sync))) this.fail(probe, sent.sync);
      return;
    }
    if (!applied) this.apply(batch, built!);
    this.deliver(batch, built!);
    f.applied = true;
    // idle now, before the callers just settled queue more (they run next): `idle()` waiters never starve behind a steady writer
    if (this.flights.length === 0 && this.queue.length === 0 && !this.scheduled) this.wakeIdle(true);
    // The next batch is built on this one's RAM state, and settles after it (an overlapped write
    // settles synchronously): so after the apply and the deliver, yet its write is issued before
    // the continuations of this batch's commits run (microtasks). Only after an awaited write
    // (batches written synchronously would chain without yielding). With a batch already written
    // behind this one, the queue may follow that one instead.
    if (this.flights.length > 0) this.pipeline();
    else if (awaited && this.queue.length > 0) this.startFlush();
  }

  /**
   * A batch's write was refused: settles it. Returns `'applied'` (durable all the same: applied,
   * refused as indeterminate), the I/O error when nothing was applied and the engine is to be
   * probed, or `undefined`.
   */
  private refused(batch: readonly Pending[], sent: BuiltBatch | undefined, err: unknown): 'applied' | StoreIoError | undefined {
    const s = this.h.s;
    if (sent && err instanceof StoreCommitTimeoutError) {
      this.unanswered = true;
      this.indeterminate(batch, sent, 'unknown', err);
      return undefined;
    }
    // refused, yet durable (or maybe durable) on disk: never reported as "not committed"
    const durable = (err as { durable?: unknown })?.durable;
    if (sent && (durable === true || durable === 'unknown')) {
      this.indeterminate(batch, sent, durable, err);
      return durable === true ? 'applied' : undefined;
    }
    this.releasePending(batch);
    const e = err instanceof StoreError ? err : new StoreIoError(s.dir, 'commit', { cause: err });
    s.env.logger.error({ report: 'store_commit_failed', dir: s.dir, commits: batch.length, err }, 'store commit failed; nothing applied');
    for (const p of batch) p.reject(e);
    this.failStreams(batch, e);
    return e instanceof StoreIoError ? e : undefined;
  }

  /**
   * {@link GroupCommit.apply}, and a function that takes it back exactly (rows, key order,
   * indexes, digests, commit sequence, change-log keys, stream positions, versions), undoing the
   * row changes in reverse order (each change knows the row it replaced).
   */
  private applyUndoable(batch: readonly Pending[], built: BuiltBatch): () => void {
    return applyUndoable(this.h.s, this.h.activeTx() > 0, batch, built, () => this.apply(batch, built));
  }

  /** `write` within the commit deadline ({@link withinDeadline}). */
  private withinDeadline(write: Promise<void>, commits: number, seq: number): Promise<void> {
    this.deadlines ??= new DeadlineWatch(this.h.s.db.latencyClock ?? this.h.s.env.clock);
    return withinDeadline(this.h.s, this.deadlines, write, commits, seq);
  }

  /** Sends an applied batch's changes to the change feed, then settles its commits (`e`: rejected with it, applied all the same). */
  private deliver(batch: readonly Pending[], built: BuiltBatch, e?: StoreError): void {
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      this.h.emit(p.ops, built.changes[i]!);
      if (e) p.reject(e);
      else p.resolve();
    }
  }

  /**
   * The disk refused `batch`'s write, but it is (`true`: only its watermark failed) or may be
   * (`'unknown'`: the sync writer died with it, or did not answer within the deadline) durable: a durable batch is applied to RAM (it
   * is on disk; it reaches the change feed) and an unknown one is not (a reopen's WAL replay
   * settles it). Either way its commits reject with `ORDO_STORE_COMMIT_INDETERMINATE` — never
   * "nothing applied" — and the store fails so that its owner reopens it.
   */
  private indeterminate(batch: readonly Pending[], built: BuiltBatch, durable: true | 'unknown', cause: unknown): void {
    const s = this.h.s;
    const tables = new Set<string>();
    for (const p of batch) for (const op of p.ops) tables.add(op.table);
    const e = new StoreCommitIndeterminateError(s.dir, [...tables], durable === true ? 'committed' : 'unknown', { cause });
    s.env.logger.error({ report: 'store_commit_indeterminate', dir: s.dir, commits: batch.length, outcome: e.outcome, err: e }, durable === true ? 'store commit durable but its watermark failed; applied, store failed' : 'store commit outcome unknown; store failed');
    if (durable === true) {
      this.apply(batch, built);
      this.deliver(batch, built, e);
    } else {
      this.releasePending(batch);
      for (const p of batch) p.reject(e);
      this.failStreams(batch, e);
    }
    this.fail(e, built.sync);
  }

  /** Applies a written batch to RAM (commit sequence, change log, digests, rows, stream positions). */
  private apply(batch: readonly Pending[], built: BuiltBatch): void {
    const s = this.h.s;
    const { changes, seq } = built;
    s.commitSeq = seq;
    if (built.logPruned > 0) s.logSeqs.splice(0, built.logPruned);
    if (built.logAdded > 0) s.logSeqs.push(built.logAdded);
    for (const [mem, dg] of built.digests) mem.digest = dg;
    const version = ++this.versionCounter;
    const tracking = this.h.activeTx() > 0;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      for (const c of changes[i]!) {
        // the row it replaces was resolved when the batch was built (in this same order)
        // with the index entries the batch encoded for the disk (not encoded again)
        if (c.row) c.mem.putOver(c.rowKey, c.row, c.old, c.idx);
        else c.mem.delete(c.rowKey, c.idx);
        c.mem.version = version;
        if (tracking) {
          c.mem.keyVersions.set(c.mem.encKeyOf(c.rowKey), version);
          if (c.mem.keyVersions.size > c.mem.keyVersionsPruneAt) c.mem.pruneKeyVersions(this.h.oldestTxStart());
        }
      }
      if (p.applied) s.applied.set(p.applied.stream, p.applied.seq);
    }
    this.releasePending(batch);
  }
}
