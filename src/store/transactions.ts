import type { CommitBatch, CommitOp, Replicator } from './types.ts';
import type { MemTable } from './memTable.ts';
import type { StoreState } from './storeState.ts';
import type { Conflict, GroupCommit, HeldLocal } from './groupCommit.ts';
import { Tx } from './transaction.ts';
import type { TxHost } from './transaction.ts';
import { plainOp } from './changeFeed.ts';
import { mustEncode } from './query.ts';
import { StoreArgumentError, StoreClosedError, StoreTxRetriesError } from './errors.ts';
import { outsideTx, runAsTx, runningTx } from './txContext.ts';

/** Options of `Store.transaction`. */
export interface TransactionOptions {
  /** Re-runs after a conflict before giving up with `ORDO_STORE_TX_RETRIES` (default 16). */
  readonly retries?: number;
}

/** What the transaction runner needs from its store. @internal */
export interface TxRunnerHost extends TxHost {
  readonly s: StoreState;
  readonly commits: GroupCommit;
  readonly replicator: Replicator | undefined;
  isClosing(): boolean;
  /** Writes `ops` locally with the meta records saying `versions` are applied. */
  commitMigrated(ops: readonly CommitOp[], versions: readonly number[]): Promise<void>;
}

/**
 * Runs optimistic transactions: `fn` against a {@link Tx}, the read set checked against
 * commits since, re-runs on conflict (exclusively after losing twice), and the commit —
 * through the group commit, or through the replicator for replicated tables.
 * @internal
 */
export class TxRunner {
  private readonly h: TxRunnerHost;
  /** Transactions between start and finish (per-key versions are kept only while > 0). */
  active = 0;
  /**
   * How many attempts running now began at each group-commit version, oldest first (versions only
   * grow, so insertion order is age order): per-key versions older than the first are pruned.
   * Counted by version, not kept per attempt: the 64 writers of a group begin at one version, and
   * a `Map` keyed by each attempt's `Tx` (an identity hash per object, the Map grown to 64 and
   * shrunk again every group) cost ~20 % of this runner's own time on the synced write path.
   */
  private readonly starts = new Map<number, number>();
  private retryLane: Promise<void> = Promise.resolve();
  private exclusive: Promise<void> | undefined;

  constructor(host: TxRunnerHost) {
    this.h = host;
  }

  /**
   * `Store.transaction`. Called from inside a running transaction function of the same store,
   * it **joins** the outer transaction, as in Mnesia: `fn` runs on the outer `tx`, its writes
   * commit with the outer ones (a conflict re-runs the outer function, and with it this one);
   * if `fn` throws, its writes are rolled back and the error is the caller's. Run as a separate
   * transaction it would wait for the outer one to finish while the outer one waits for it.
   *
   * The first attempt runs here without an async function of its own (issue 13): a function that
   * returns a plain value, reads nothing that changed and writes local tables is queued at once,
   * and the caller gets the group commit's own promise (or one `then` for a result) — no
   * continuation per transaction between the commit's settling and the caller's. Anything else
   * (a conflict, a replicated table, migrations, an exclusive re-run in the way, closing) goes
   * on in {@link TxRunner.attempts}, the loop as before.
   */
  run<T>(fn: (tx: Tx) => Promise<T> | T, opts: TransactionOptions): Promise<T> {
    const retries = opts?.retries ?? 16;
    if (!Number.isSafeInteger(retries) || retries < 0) return Promise.reject(new StoreArgumentError('retries', retries, 'a non-negative integer'));
    if (typeof fn !== 'function') return Promise.reject(new StoreArgumentError('fn', fn, 'a function (tx) => ...'));
    const outer = runningTx();
    if (outer && outer.runner === this && !outer.tx.finished) return joined(outer.tx, fn);
    if (this.exclusive || this.h.isClosing()) return this.attempts(fn, retries, undefined);
    this.active++;
    const began = this.began(this.h.commits.version);
    const tx = new Tx(this.h);
    let out: Promise<T> | T;
    try {
      out = runAsTx({ runner: this, tx }, () => fn(tx));
    } catch (err) {
      tx.finished = true;
      this.over(began);
      return Promise.reject(err);
    }
    if (isThenable(out)) return this.awaitFirst(fn, retries, tx, began, out);
    tx.finished = true;
    return this.commitFirst(fn, retries, { tx, began, result: out as T });
  }

  /** The first attempt's function returned a promise: its result, then {@link TxRunner.commitFirst}. */
  private async awaitFirst<T>(fn: (tx: Tx) => Promise<T> | T, retries: number, tx: Tx, began: number, out: PromiseLike<T>): Promise<T> {
    let result: T;
    try {
      result = await out;
    } catch (err) {
      this.over(began);
      throw err;
    } finally {
      tx.finished = true;
    }
    return this.commitFirst(fn, retries, { tx, began, result });
  }

  /**
   * The first attempt's function is done: a local commit that conflicts with nothing is queued,
   * and the attempt stops counting as running there — its reads are checked, and its keys are
   * pending for every other transaction's check until applied (per-key versions are kept for
   * attempts still reading). Anything else goes on in {@link TxRunner.attempts}.
   */
  private commitFirst<T>(fn: (tx: Tx) => Promise<T> | T, retries: number, first: FirstAttempt<T>): Promise<T> {
    const { tx, began, result } = first;
    if (tx.migrations || this.h.commits.conflictOf(tx) !== undefined || (this.h.replicator !== undefined && this.touchesReplicated(tx.ops))) return this.attempts(fn, retries, first);
    if (tx.ops.length === 0) {
      this.over(began);
      return Promise.resolve(result);
    }
    let queued: Promise<void>;
    try {
      queued = this.h.commits.enqueue({ ops: tx.ops }, tx.encKeys);
    } finally {
      this.over(began);
    }
    // a function that returned nothing: the commit's own promise (it resolves to undefined)
    return result === undefined ? (queued as Promise<unknown> as Promise<T>) : queued.then(() => result);
  }

  /** An attempt that began at `began` is over (it counted as running since {@link TxRunner.began}). */
  private over(began: number): void {
    this.ended(began);
    // per-key versions matter only to transactions running now: drop them when none are
    if (--this.active === 0) for (const m of this.h.s.tables.values()) m.keyVersions.clear();
  }

  /**
   * The attempts loop: `fn` against a fresh {@link Tx}, the read-set check, a re-run on conflict
   * (exclusively after losing twice), the commit. `first`: the first attempt, already run by
   * {@link TxRunner.run} (counted as running; its check and commit are made here).
   */
  private async attempts<T>(fn: (tx: Tx) => Promise<T> | T, retries: number, first: FirstAttempt<T> | undefined): Promise<T> {
    let last: Conflict | undefined;
    let release: (() => void) | undefined;
    /** The version the running attempt began at (counted in {@link TxRunner.starts}), or -1 between attempts. */
    let began = first ? first.began : -1;
    if (!first) this.active++;
    try {
      for (let attempt = 0; attempt <= retries; attempt++) {
        let tx: Tx;
        let result: T;
        if (attempt === 0 && first) {
          tx = first.tx;
          result = first.result;
        } else {
          if (began >= 0) began = this.ended(began);
          if (this.h.isClosing()) throw new StoreClosedError(this.h.s.dir);
          if (!release) while (this.exclusive) await this.exclusive;
          tx = new Tx(this.h);
          began = this.began(this.h.commits.version);
          try {
            const t = tx;
            const out = runAsTx({ runner: this, tx: t }, () => fn(t));
            // a function that returned a plain value is not awaited (a turn of the microtask queue saved)
            result = isThenable(out) ? await out : (out as T);
          } finally {
            tx.finished = true;
          }
        }
        const conflict = this.h.commits.conflictOf(tx);
        if (conflict) {
          last = conflict;
          await this.h.commits.idle();
          // A transaction that lost twice re-runs exclusively: new transactions wait until it
          // has committed, so a hot key cannot starve it (without this, with 16 writers on one
          // counter, the losers of each round mostly lose again).
          if (attempt >= 1) release ??= await this.takeExclusive();
          continue;
        }
        if (tx.ops.length === 0 && !tx.migrations) return result;
        // the common case, a local commit: straight to the group commit (no commitTx promise)
        if (!tx.migrations && (!this.h.replicator || !this.touchesReplicated(tx.ops))) {
          await this.h.commits.enqueue({ ops: tx.ops }, tx.encKeys);
          return result;
        }
        const lost = await this.commitTx(tx, retries);
        if (!lost) return result;
        // What fn read changed under a replicated commit: re-run it, like a local conflict.
        last = lost;
        if (attempt >= 1) release ??= await this.takeExclusive();
      }
      throw new StoreTxRetriesError(retries + 1, last ?? { table: '?' });
    } finally {
      if (began >= 0) this.ended(began);
      release?.();
      // per-key versions matter only to transactions running now: drop them when none are
      if (--this.active === 0) for (const m of this.h.s.tables.values()) m.keyVersions.clear();
    }
  }

  /** The group commit's version when the oldest attempt running now began (`Infinity` if none). */
  oldestStart(): number {
    for (const v of this.starts.keys()) return v;
    return Infinity;
  }

  /** An attempt begins at version `v` (never below one counted already); returns `v`. */
  private began(v: number): number {
    this.starts.set(v, (this.starts.get(v) ?? 0) + 1);
    return v;
  }

  /** The attempt that began at `v` is over; returns -1. */
  private ended(v: number): number {
    const n = this.starts.get(v)! - 1;
    if (n === 0) this.starts.delete(v);
    else this.starts.set(v, n);
    return -1;
  }

  /**
   * Dirty writes: replicated ones go out without a conflict check (no isolation, as in Mnesia).
   * `encKeys`: the ops' encoded keys when the caller has them (one per op).
   */
  async submit(ops: readonly CommitOp[], encKeys?: readonly string[]): Promise<void> {
    const r = this.h.replicator;
    if (r && this.touchesReplicated(ops)) {
      const batch = { ops: ops.map(plainOp), schemaVersion: this.h.s.schemaVersion };
      await outsideTx(() => r.commit(batch, { check: false }));
      return;
    }
    await this.h.commits.enqueue({ ops }, encKeys);
  }

  /** Waits its turn among starving transactions, then holds off new ones until released. */
  private async takeExclusive(): Promise<() => void> {
    let releaseLane!: () => void;
    const mine = new Promise<void>((r) => (releaseLane = r));
    const prev = this.retryLane;
    this.retryLane = prev.then(() => mine);
    await prev;
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    this.exclusive = gate;
    await this.h.commits.idle();
    return () => {
      if (this.exclusive === gate) this.exclusive = undefined;
      open();
      releaseLane();
    };
  }

  private touchesReplicated(ops: readonly CommitOp[]): boolean {
    return ops.some((o) => this.h.s.tables.get(o.table)?.def.replicated === true);
  }

  /**
   * Commits a validated transaction. Replicated: hands it to the replicator with its read-set
   * check; a lost race (`ORDO_REPL_CONFLICT`, raised after this node applied the winners) is
   * re-checked here — if nothing the transaction read has changed, the same writes are
   * re-submitted at the new stream position (up to `4 × retries` times); otherwise the
   * conflict is returned and `fn` runs again.
   */
  private async commitTx(tx: Tx, retries: number): Promise<Conflict | undefined> {
    const r = this.h.replicator;
    const commits = this.h.commits;
    const migrations = tx.migrations;
    if (!r || !(migrations || this.touchesReplicated(tx.ops))) {
      if (migrations) await this.h.commitMigrated(tx.ops, migrations);
      else await commits.enqueue({ ops: tx.ops }, tx.encKeys);
      return undefined;
    }
    const batch: CommitBatch = { ops: tx.ops.map(plainOp), schemaVersion: this.h.s.schemaVersion, ...(migrations ? { migrations } : {}) };
    const localOps = tx.ops.filter((o) => this.h.s.tables.get(o.table)?.def.replicated !== true);
    const held: HeldLocal | undefined = localOps.length > 0 ? { ops: localOps, encKeys: localOps.map((o) => mustEncode(this.tableOf(o.table), o.key)) } : undefined;
    const release = (): void => {
      if (held) commits.releaseLocal(held);
    };
    // Once the check passes (the same tick the expectation is fixed), this transaction's local
    // writes count as pending until applied, so a local transaction cannot slip in between.
    const stillValid = (): boolean => {
      const ok = commits.conflictOf(tx) === undefined;
      if (ok && held) commits.holdLocal(held);
      return ok;
    };
    for (let races = 1; ; races++) {
      try {
        await r.commit(batch, { stillValid });
        release();
        return undefined;
      } catch (err) {
        release();
        if ((err as { code?: unknown })?.code !== 'ORDO_REPL_CONFLICT') throw err;
        await commits.idle();
        const c = commits.conflictOf(tx);
        if (c) return c;
        // No back-off: one commit wins each round, so waiting only hands the next round to others.
        if (races >= 4 * retries) throw new StoreTxRetriesError(races, { table: batch.ops[0]?.table ?? '(schema migration)' });
      }
    }
  }

  private tableOf(name: string): MemTable {
    return this.h.table(name);
  }
}

/** The first attempt, run by {@link TxRunner.run}: its transaction, start version and function's result. */
interface FirstAttempt<T> {
  readonly tx: Tx;
  readonly began: number;
  readonly result: T;
}

/** `fn` joined to the running transaction `tx`: its writes rolled back if it throws. */
async function joined<T>(tx: Tx, fn: (tx: Tx) => Promise<T> | T): Promise<T> {
  const rollback = tx.savepoint();
  try {
    return await fn(tx);
  } catch (err) {
    rollback();
    throw err;
  }
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}
