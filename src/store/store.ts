import type { Env } from '../env/env.ts';
import type { KvDb, KvOp } from '../env/kv.ts';
import type { CommitBatch, CommitOp, DeferredMigration, Migration, NormalTableDef, Replicator, Row, SchemaVersionRecord } from './types.ts';
import { MemTable } from './memTable.ts';
import { Tx } from './transaction.ts';
import type { Page } from './transaction.ts';
import type { Cursor, RangeOptions } from './query.ts';
import { indexScan, keyBounds, mustEncode, readKey, scanRows } from './query.ts';
import { StoreClosedError, StoreFailedError, StoreIoError, StoreNewerSchemaError, StoreTxRetriesError, StoreValidationError } from './errors.ts';
import { validateRecord } from './schema.ts';
import { encodeValue } from './valueCodec.ts';
import { META, metaKey } from './layout.ts';
import type { BuiltBatch, Change, Pending } from './writeBatch.ts';
import { buildWriteBatch } from './writeBatch.ts';
import type { BackupInfo } from './backup.ts';
import type { StoreInfo, VerifyReport } from './admin.ts';
import { storeBackup, storeExport, storeImport, storeInfo, storeVerify } from './admin.ts';
import { adoptMigrated, checkMigrationsField, deferredToRun, migratedState, runUps, validateReplicatedRow } from './deferredMigrations.ts';

/** A change to one row, delivered to `subscribe` listeners after it is committed. */
export interface ChangeEvent {
  readonly table: string;
  readonly op: 'put' | 'delete';
  readonly key: unknown;
  /** The new row (put) or the removed row (delete). */
  readonly value: Row;
  readonly old?: Row;
}

/** Options of {@link Store.transaction}. */
export interface TransactionOptions {
  /** Re-runs after a conflict before giving up with `ORDO_STORE_TX_RETRIES` (default 16). */
  readonly retries?: number;
}

/** Internal state handed over by the opener. @internal */
export interface StoreState {
  env: Env;
  dir: string;
  db: KvDb;
  tables: Map<string, MemTable>;
  schemaVersion: number;
  history: SchemaVersionRecord[];
  commitSeq: number;
  applied: Map<string, number>;
  changeLogLimit: number;
  onClose: () => void;
  /** Replicated migrations deferred at open whose `up` has not run here (persisted in `META.deferred`). */
  deferred: DeferredMigration[];
  /** Replicated tables' definitions from before the deferred migrations (their rows still have that shape). */
  legacy: Map<string, NormalTableDef>;
  /** The code's numbered migrations by version. */
  migrations: ReadonlyMap<number, Migration>;
  /** Where pre-migration backups go. */
  backupDir: string;
}

/**
 * An open table store: Mnesia's model (set/ordered_set/bag tables, indexes, transactions,
 * RAM-speed reads) on RocksDB's durability. Obtain one with `openStore(...)` or from the
 * store-initializer child's `context.service`.
 *
 * Reads outside a transaction are dirty reads of the committed state (microseconds, from RAM).
 * Writes go through a group commit: every commit issued in one event-loop turn is written as
 * one WriteBatch, fsynced once when any of them touches a `sync` table; a write's promise
 * resolves only after that.
 *
 * @example
 * await store.transaction(async (tx) => {
 *   const u = tx.get('user_bux_points', 'u1');
 *   tx.put('user_bux_points', { ...u, bux_balance: (u?.bux_balance as number ?? 0) + 10 });
 * });
 * const top = store.indexRange('user_bux_points', 'bux_balance', undefined, undefined, { reverse: true, limit: 100 });
 */
export class Store {
  private readonly tables: Map<string, MemTable>;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  private closed = false;
  /** Commits queued or being written (their keys count as "being changed" for conflicts). */
  private inflight: readonly Pending[] = [];
  /** Keys of queued and in-flight commits, built lazily when a transaction validates. */
  private pendingIndex: Map<MemTable, Set<string>> | undefined;
  private readonly pendingApplied = new Map<string, number>();
  private readonly subscribers = new Map<string, Set<(e: ChangeEvent) => void>>();
  private readonly commitListeners = new Set<(b: CommitBatch) => void>();
  private replicator: Replicator | undefined;
  private idleWaiters: Array<() => void> = [];

  /** @internal use `openStore` */
  constructor(private readonly s: StoreState) {
    this.tables = s.tables;
  }

  /** The data directory. */
  get dir(): string {
    return this.s.dir;
  }

  /** The schema version (highest numbered migration applied; 0 for none). */
  get schemaVersion(): number {
    return this.s.schemaVersion;
  }

  /** The `schema_version` history, oldest first. */
  schemaHistory(): SchemaVersionRecord[] {
    return [...this.s.history];
  }

  /** Declared table names. */
  tableNames(): string[] {
    return [...this.tables.keys()];
  }

  /** A table's definition (defaults filled in), or `undefined`. */
  tableDef(name: string): NormalTableDef | undefined {
    return this.tables.get(name)?.def;
  }

  /** @internal */
  table(name: string): MemTable {
    if (this.closed) throw new StoreClosedError(this.s.dir);
    const t = this.tables.get(name);
    if (!t) throw new StoreValidationError(name, undefined, name, 'unknown_table');
    if (t.failed) throw t.failed;
    return t;
  }

  /** @internal the KV handle (backup, verify). */
  get kv(): KvDb {
    return this.s.db;
  }

  /** @internal */
  get state(): StoreState {
    return this.s;
  }

  // ---- dirty reads (committed state, from RAM) ----

  /** The row under `key` (a bag's first object), or `undefined`. ~1 µs. */
  get(table: string, key: unknown): Row | undefined {
    const mem = this.table(table);
    if (mem.def.type !== 'bag' && mem.corrupt.size === 0) {
      const enc = mustEncode(mem, key);
      return mem.rows.get(enc);
    }
    return readKey(mem, mustEncode(mem, key))[0];
  }

  /** Every object under `key` (bags hold several). */
  read(table: string, key: unknown): Row[] {
    const mem = this.table(table);
    return readKey(mem, mustEncode(mem, key));
  }

  /** Rows whose indexed attribute `attr` equals `value`. */
  indexRead(table: string, attr: string, value: unknown): Row[] {
    return indexScan(this.table(table), attr, value, value, {});
  }

  /**
   * Rows whose indexed `attr` lies in `[from, to]` (inclusive, undefined = open) in index
   * order: the leaderboard query is `indexRange(t, 'bux_balance', undefined, undefined,
   * { reverse: true, limit: 100 })`, which reads 100 index entries, never sorts the table.
   */
  indexRange(table: string, attr: string, from?: unknown, to?: unknown, opts: RangeOptions = {}): Row[] {
    return indexScan(this.table(table), attr, from, to, opts);
  }

  /** Rows with key in `[from, to]` (inclusive, undefined = open) in key order. */
  range(table: string, from?: unknown, to?: unknown, opts: RangeOptions = {}): Row[] {
    const mem = this.table(table);
    return scanRows(mem, keyBounds(mem, from, to, opts.reverse ?? false), opts.limit);
  }

  /** Rows equal to `pattern` on every attribute it names (uses the key or an index when it can). */
  match(table: string, pattern: Row): Row[] {
    return new Tx(this).match(table, pattern);
  }

  /** Rows for which `predicate` holds, a page at a time; pass `cursor` back to resume. */
  select(table: string, predicate: (row: Row) => boolean, opts: { limit?: number; cursor?: Cursor } = {}): Page {
    return new Tx(this).select(table, predicate, opts);
  }

  /** Folds over every row in key order. */
  fold<A>(table: string, fn: (acc: A, row: Row) => A, acc: A): A {
    let a = acc;
    const mem = this.table(table);
    scanRows(mem, {}, 0);
    for (const rk of mem.order.scan()) a = fn(a, mem.rows.get(rk)!);
    return a;
  }

  /** Number of objects in the table. */
  count(table: string): number {
    return this.table(table).rows.size;
  }

  /** Distinct keys in key order. */
  keys(table: string): unknown[] {
    return new Tx(this).keys(table);
  }

  // ---- writes ----

  /**
   * Runs `fn` as a transaction: atomic (one WriteBatch holding rows, index entries and the
   * change-log record), isolated (optimistic: if a concurrent commit changed anything `fn`
   * read, `fn` runs again), durable (resolves after the fsync for `sync` tables).
   *
   * Gotcha: `fn` may run several times; keep side effects inside `tx`. After `retries`
   * conflicts it rejects with `ORDO_STORE_TX_RETRIES`.
   */
  async transaction<T>(fn: (tx: Tx) => Promise<T> | T, opts: TransactionOptions = {}): Promise<T> {
    const retries = opts.retries ?? 16;
    let last: { table: string; key?: unknown } = { table: '?' };
    let release: (() => void) | undefined;
    this.activeTx++;
    try {
      for (let attempt = 0; attempt <= retries; attempt++) {
        if (this.closed) throw new StoreClosedError(this.s.dir);
        if (!release) while (this.exclusive) await this.exclusive;
        const tx = new Tx(this);
        const result = await fn(tx);
        const conflict = this.conflictOf(tx);
        if (conflict) {
          last = conflict;
          await this.idle();
          // A transaction that lost twice re-runs exclusively: new transactions wait until it
          // has committed, so a hot key cannot starve it (without this, with 16 writers on one
          // counter, the losers of each round mostly lose again).
          if (attempt >= 1) release ??= await this.takeExclusive();
          continue;
        }
        if (tx.ops.length === 0 && !tx.migrations) return result;
        const lost = await this.commitTx(tx, retries);
        if (!lost) return result;
        // What fn read changed under a replicated commit: re-run it, like a local conflict.
        last = lost;
        if (attempt >= 1) release ??= await this.takeExclusive();
      }
      throw new StoreTxRetriesError(retries + 1, last);
    } finally {
      release?.();
      // per-key versions matter only to transactions running now: drop them when none are
      if (--this.activeTx === 0) for (const m of this.tables.values()) m.keyVersions.clear();
    }
  }

  /** Transactions between start and finish (per-key versions are kept only while > 0). */
  private activeTx = 0;

  private retryLane: Promise<void> = Promise.resolve();
  private exclusive: Promise<void> | undefined;

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
    await this.idle();
    return () => {
      if (this.exclusive === gate) this.exclusive = undefined;
      open();
      releaseLane();
    };
  }

  /** Writes one record outside a transaction (no isolation; still atomic and durable). */
  async dirtyPut(table: string, record: Row): Promise<Row> {
    const mem = this.table(table);
    const row = Object.freeze(validateRecord(mem.def, record));
    const key = mem.def.key.length === 1 ? row[mem.def.key[0]!] : mem.def.key.map((k) => row[k]);
    await this.submit([{ table, op: 'put', key, value: row }]);
    return row;
  }

  /** Deletes every object under `key` outside a transaction. */
  async dirtyDelete(table: string, key: unknown): Promise<void> {
    mustEncode(this.table(table), key);
    await this.submit([{ table, op: 'delete', key }]);
  }

  /** Writes many records as one atomic batch outside a transaction. */
  async dirtyPutMany(table: string, records: readonly Row[]): Promise<void> {
    const mem = this.table(table);
    const ops: CommitOp[] = records.map((r) => {
      const row = Object.freeze(validateRecord(mem.def, r));
      return { table, op: 'put', key: mem.def.key.length === 1 ? row[mem.def.key[0]!] : mem.def.key.map((k) => row[k]), value: row };
    });
    await this.submit(ops);
  }

  /**
   * Local-table writes of replicated commits between their read-set check and their apply (they
   * travel in the stream message): pending for other transactions' conflict checks.
   */
  private replLocal: Array<{ readonly ops: readonly CommitOp[]; readonly encKeys: readonly string[] }> = [];

  private pending(): Map<MemTable, Set<string>> {
    if (this.pendingIndex) return this.pendingIndex;
    const idx = new Map<MemTable, Set<string>>();
    for (const list of [this.inflight, this.queue, this.replLocal]) {
      for (const p of list) {
        for (let i = 0; i < p.ops.length; i++) {
          const mem = this.tables.get(p.ops[i]!.table)!;
          let set = idx.get(mem);
          if (!set) idx.set(mem, (set = new Set()));
          set.add(p.encKeys[i]!);
        }
      }
    }
    return (this.pendingIndex = idx);
  }

  private conflictOf(tx: Tx): { table: string; key?: unknown } | undefined {
    const pend = this.queue.length > 0 || this.inflight.length > 0 || this.replLocal.length > 0 ? this.pending() : undefined;
    for (const [mem, keys] of tx.reads) {
      const p = pend?.get(mem);
      for (const [k, v] of keys) {
        if ((mem.keyVersions.get(k) ?? 0) !== v || p?.has(k)) return { table: mem.def.name, key: k };
      }
    }
    for (const [mem, v] of tx.scans) {
      if (mem.version !== v || (pend?.get(mem)?.size ?? 0) > 0) return { table: mem.def.name };
    }
    return undefined;
  }

  private touchesReplicated(ops: readonly CommitOp[]): boolean {
    return ops.some((o) => this.tables.get(o.table)?.def.replicated === true);
  }

  /** Dirty writes: replicated ones go out without a conflict check (no isolation, as in Mnesia). */
  private async submit(ops: readonly CommitOp[]): Promise<void> {
    if (this.replicator && this.touchesReplicated(ops)) {
      await this.replicator.commit({ ops: ops.map(plain), schemaVersion: this.s.schemaVersion }, { check: false });
      return;
    }
    await this.enqueue({ ops });
  }

  /**
   * Commits a validated transaction. Replicated: hands it to the replicator with its read-set
   * check; a lost race (`ORDO_REPL_CONFLICT`, raised after this node applied the winners) is
   * re-checked here — if nothing the transaction read has changed, the same writes are
   * re-submitted at the new stream position (up to `4 × retries` times); otherwise the
   * conflict is returned and `fn` runs again.
   */
  private async commitTx(tx: Tx, retries: number): Promise<{ table: string; key?: unknown } | undefined> {
    const r = this.replicator;
    const migrations = tx.migrations;
    if (!r || !(migrations || this.touchesReplicated(tx.ops))) {
      if (migrations) await this.commitMigrated(tx.ops, migrations);
      else await this.enqueue({ ops: tx.ops });
      return undefined;
    }
    const batch: CommitBatch = { ops: tx.ops.map(plain), schemaVersion: this.s.schemaVersion, ...(migrations ? { migrations } : {}) };
    const localOps = tx.ops.filter((o) => this.tables.get(o.table)?.def.replicated !== true);
    const held = localOps.length > 0 ? { ops: localOps, encKeys: localOps.map((o) => mustEncode(this.table(o.table), o.key)) } : undefined;
    const release = (): void => {
      if (!held) return;
      const i = this.replLocal.indexOf(held);
      if (i >= 0) this.replLocal.splice(i, 1);
      this.pendingIndex = undefined;
      if (this.replLocal.length === 0) for (const w of this.replLocalWaiters.splice(0)) w();
    };
    // Once the check passes (the same tick the expectation is fixed), this transaction's local
    // writes count as pending until applied, so a local transaction cannot slip in between.
    const stillValid = (): boolean => {
      const ok = this.conflictOf(tx) === undefined;
      if (ok && held && !this.replLocal.includes(held)) {
        this.replLocal.push(held);
        this.pendingIndex = undefined;
      }
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
        await this.idle();
        const c = this.conflictOf(tx);
        if (c) return c;
        // No back-off: one commit wins each round, so waiting only hands the next round to others.
        if (races >= 4 * retries) throw new StoreTxRetriesError(races, { table: batch.ops[0]?.table ?? '(schema migration)' });
      }
    }
  }

  /** @internal queue a commit for the next group flush */
  enqueue(p: Omit<Pending, 'resolve' | 'reject' | 'encKeys'>): Promise<void> {
    if (this.closed) return Promise.reject(new StoreClosedError(this.s.dir));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      const encKeys: string[] = [];
      for (const op of p.ops) encKeys.push(mustEncode(this.table(op.table), op.key));
      this.queue.push({ ...p, encKeys, resolve, reject });
      this.pendingIndex = undefined;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.s.db.defer(() => {
      this.scheduled = false;
      if (this.flushing) return; // the running flush loop picks the queue up
      if (this.queue.length === 0) return this.wakeIdle();
      // one batch per turn: commits arriving while this one is written go into the next turn's
      // batch, so the event loop turns between fdatasyncs (timers and I/O are not starved)
      this.flushing = this.flushOnce().finally(() => {
        this.flushing = undefined;
        if (this.queue.length > 0) this.schedule();
        else this.wakeIdle();
      });
    });
  }

  private wakeIdle(): void {
    if (this.flushing || this.queue.length > 0 || this.scheduled) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /** Resolves when every queued commit has been written (or failed). */
  idle(): Promise<void> {
    // local writes of replicated commits in flight are pending too: wait for them first
    if (this.replLocal.length > 0) return new Promise<void>((r) => this.replLocalWaiters.push(r)).then(() => this.idle());
    if (!this.flushing && this.queue.length === 0 && !this.scheduled) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private replLocalWaiters: Array<() => void> = [];

  private releasePending(batch: readonly Pending[]): void {
    this.inflight = [];
    this.pendingIndex = undefined;
    for (const p of batch) {
      if (p.applied && this.pendingApplied.get(p.applied.stream) === p.applied.seq) this.pendingApplied.delete(p.applied.stream);
    }
  }

  private async flushOnce(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.inflight = batch;
    let built: BuiltBatch;
    let wrote = false;
    try {
      built = buildWriteBatch(batch, { table: (n) => this.table(n), commitSeq: this.s.commitSeq, schemaVersion: this.s.schemaVersion, changeLogLimit: this.s.changeLogLimit });
      // a synced batch advances the durable watermark to its commit sequence (integrity.ts)
      wrote = true;
      if (built.kvOps.length > 0) await this.s.db.write(built.kvOps, built.sync ? { sync: true, mark: built.seq } : { sync: false });
    } catch (err) {
      this.releasePending(batch);
      const e = err instanceof StoreValidationError ? err : new StoreIoError(this.s.dir, 'commit', { cause: err });
      this.s.env.logger.error({ err, report: 'store_commit_failed', dir: this.s.dir, commits: batch.length }, 'store commit failed; nothing applied');
      for (const p of batch) p.reject(e);
      // RocksDB refuses every write after a failed one until reopened: fail the handle (typed)
      if (wrote && e instanceof StoreIoError) this.fail(e);
      return;
    }
    const { changes, seq } = built;
    this.s.commitSeq = seq;
    for (const [mem, dg] of built.digests) mem.digest = dg;
    const version = ++this.versionCounter;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      for (const c of changes[i]!) {
        if (c.row) c.mem.put(c.rowKey, c.row);
        else c.mem.delete(c.rowKey);
        c.mem.version = version;
        if (this.activeTx > 0) c.mem.keyVersions.set(c.mem.encKeyOf(c.rowKey), version);
      }
      if (p.applied) this.s.applied.set(p.applied.stream, p.applied.seq);
    }
    this.releasePending(batch);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      this.emit(p.ops, changes[i]!);
      p.resolve();
    }
  }

  private versionCounter = 0;

  private emit(ops: readonly CommitOp[], cs: readonly Change[]): void {
    if (this.commitListeners.size > 0 && ops.length > 0) {
      const b: CommitBatch = { ops: ops.map(plain), schemaVersion: this.s.schemaVersion };
      for (const l of this.commitListeners) this.safely(() => l(b), 'onCommit');
    }
    if (this.subscribers.size === 0) return;
    for (const c of cs) {
      const subs = this.subscribers.get(c.mem.def.name);
      if (!subs) continue;
      const r = (c.row ?? c.old)!;
      const key = c.mem.def.key.length === 1 ? r[c.mem.def.key[0]!] : c.mem.def.key.map((k) => r[k]);
      const ev: ChangeEvent = c.row ? { table: c.mem.def.name, op: 'put', key, value: c.row, old: c.old } : { table: c.mem.def.name, op: 'delete', key, value: c.old! };
      for (const l of subs) this.safely(() => l(ev), 'subscribe');
    }
  }

  private safely(fn: () => void, what: string): void {
    try {
      fn();
    } catch (err) {
      this.s.env.logger.error({ report: 'store_listener_failed', listener: what, reason: (err as Error).message }, 'store listener threw');
    }
  }

  // ---- events and replication ----

  /** Calls `listener` with each committed row change of `table` (for caches). Returns an unsubscribe. */
  subscribe(table: string, listener: (e: ChangeEvent) => void): () => void {
    this.table(table);
    let s = this.subscribers.get(table);
    if (!s) this.subscribers.set(table, (s = new Set()));
    s.add(listener);
    return () => {
      s.delete(listener);
      if (s.size === 0) this.subscribers.delete(table);
    };
  }

  /** Calls `listener` after each committed transaction or dirty write with its {@link CommitBatch}. */
  onCommit(listener: (batch: CommitBatch) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /**
   * Routes commits that touch a `replicated` table to `r.commit` instead of writing locally
   * (every node, the writer included, applies them through {@link Store.applyReplicated}).
   * Conflict detection for those tables is then the replicator's job. `undefined` unsets.
   */
  setReplicator(r: Replicator | undefined): void {
    this.replicator = r;
  }

  /** The last stream sequence applied by {@link Store.applyReplicated} (0 if none). */
  lastAppliedSeq(stream: string): number {
    return this.s.applied.get(stream) ?? 0;
  }

  /**
   * Applies a replicated batch atomically, together with `lastAppliedSeq[stream] = seq`, in one
   * WriteBatch — fsynced when a table it touches has `durability: 'sync'`; for `async` tables
   * a crash may lose the tail, rows and position together, and the node re-applies it from
   * the stream. A `seq` not above the last applied one returns `'duplicate'` and
   * changes nothing. Validates every record first (nothing applied on a malformed batch);
   * refuses a batch from a newer schema version.
   */
  async applyReplicated(batch: CommitBatch, meta: { stream: string; seq: number }): Promise<'applied' | 'duplicate'> {
    if (batch.schemaVersion > this.s.schemaVersion) throw new StoreNewerSchemaError(batch.schemaVersion, this.s.schemaVersion, this.s.dir);
    const last = Math.max(this.s.applied.get(meta.stream) ?? 0, this.pendingApplied.get(meta.stream) ?? 0);
    if (meta.seq <= last) return 'duplicate';
    // a batch written before a deferred migration carries rows of the old shape
    const migrations = checkMigrationsField(batch?.migrations);
    const ops = this.validateBatch(batch, migrations === undefined);
    this.pendingApplied.set(meta.stream, meta.seq);
    const extra: KvOp[] = [{ type: 'put', column: 'meta', key: metaKey(META.appliedPrefix + meta.stream), value: encodeValue(meta.seq) }];
    const applied = { stream: meta.stream, seq: meta.seq };
    if (migrations) await this.commitMigrated(ops, migrations, extra, applied);
    else await this.enqueue({ ops, extra, applied });
    return 'applied';
  }

  private validateBatch(batch: CommitBatch, legacyOk = false): CommitOp[] {
    if (!batch || !Array.isArray(batch.ops)) throw new StoreValidationError('?', undefined, batch, 'bad_batch', 'ops must be an array');
    const legacy = legacyOk && this.s.deferred.length > 0 ? this.s.legacy : undefined;
    const valid = (mem: MemTable, value: unknown): Row => validateReplicatedRow(mem.def, legacy?.get(mem.def.name), value, legacy !== undefined);
    return batch.ops.map((op) => {
      const mem = this.table(op?.table);
      if (op.op === 'put') {
        const row = Object.freeze(valid(mem, op.value));
        const key = mem.def.key.length === 1 ? row[mem.def.key[0]!] : mem.def.key.map((k) => row[k]);
        return { table: op.table, op: 'put', key, value: row };
      }
      if (op.op !== 'delete') throw new StoreValidationError(op.table, undefined, op, 'bad_batch', 'op must be put or delete');
      mustEncode(mem, op.key);
      return op.value === undefined ? { table: op.table, op: 'delete', key: op.key } : { table: op.table, op: 'delete', key: op.key, value: valid(mem, op.value) };
    });
  }

  // ---- deferred replicated migrations ----

  /**
   * Replicated migrations whose `up` has not run on this store yet, oldest first: the store was
   * opened with `deferReplicatedMigrations` and they wait for {@link Store.runDeferredMigrations}
   * (on the cluster's leader, or on any node through a batch it applies).
   */
  deferredMigrations(): readonly DeferredMigration[] {
    return this.s.deferred.map((d) => ({ version: d.version, description: d.description }));
  }

  private deferredRun: Promise<'ran' | 'none'> | undefined;

  /**
   * Runs the deferred migrations' `up` in order in **one** transaction, then makes the
   * replicated tables' rows fit their declared definitions (defaults fill gaps), after a backup.
   * The commit carries the migration versions: with a replicator attached it goes through
   * replication and every node records them when it applies the batch; without one it is
   * written locally together with the schema history. `'none'` when nothing is deferred (e.g.
   * the batch of a previous leader has already been applied): idempotent.
   *
   * Gotcha: a replicated migration's writes must touch replicated tables only.
   */
  runDeferredMigrations(): Promise<'ran' | 'none'> {
    this.deferredRun ??= this.runDeferred().finally(() => (this.deferredRun = undefined));
    return this.deferredRun;
  }

  private async runDeferred(): Promise<'ran' | 'none'> {
    if (this.s.deferred.length === 0) return 'none';
    deferredToRun(this.s);
    const at = this.s.env.clock.now();
    await this.s.env.io.fs.mkdir(this.s.backupDir, { recursive: true });
    await this.backup(`${this.s.backupDir}/pre-migration-deferred-v${this.s.deferred.map((d) => d.version).join('-')}-${Math.floor(at)}.ndjson`);
    let versions: number[] = [];
    await this.transaction(async (tx) => {
      versions = [];
      // re-read on every run: a batch applied meanwhile may have done them
      const ms = deferredToRun(this.s);
      if (ms.length === 0) return;
      const replicated = [...this.tables.values()].map((m) => m.def).filter((d) => d.replicated);
      await runUps(tx, ms, replicated);
      versions = ms.map((m) => m.version);
      tx.migrations = versions;
    });
    if (versions.length === 0) return 'none';
    this.s.env.logger.info({ report: 'store_migrated', dir: this.s.dir, schemaVersion: this.s.schemaVersion, migrations: versions, deferred: true }, 'deferred migrations applied');
    return 'ran';
  }

  /** Writes `ops` with the meta records saying `versions` are applied (history, deferred list), atomically. */
  private async commitMigrated(ops: readonly CommitOp[], versions: readonly number[], extra: readonly KvOp[] = [], applied?: { stream: string; seq: number }): Promise<void> {
    const next = migratedState(this.s, versions, this.s.env.clock.now());
    await this.enqueue({ ops, extra: [...extra, ...next.ops], ...(applied ? { applied } : {}) });
    adoptMigrated(this.s, next);
  }

  /**
   * A consistent copy of `tables` (all by default) with the replication positions, for a new
   * node to catch up: load it with {@link Store.loadSnapshot}, then apply the stream from
   * `applied[stream] + 1`.
   */
  snapshot(tables?: readonly string[]): StoreSnapshot {
    const names = tables ?? [...this.tables.keys()];
    return {
      schemaVersion: this.s.schemaVersion,
      migrations: this.s.history.map((h) => h.version),
      applied: Object.fromEntries(this.s.applied),
      tables: Object.fromEntries(names.map((n) => [n, this.range(n)])),
    };
  }

  /** Replaces the snapshot's tables with its rows and adopts its replication positions, atomically. */
  async loadSnapshot(snap: StoreSnapshot): Promise<void> {
    if (snap.schemaVersion > this.s.schemaVersion) throw new StoreNewerSchemaError(snap.schemaVersion, this.s.schemaVersion, this.s.dir);
    // deferred migrations the snapshot's node had applied: its rows are migrated, so are ours after loading
    const covered = this.s.deferred.map((d) => d.version).filter((v) => (Array.isArray(snap.migrations) ? snap.migrations : []).includes(v));
    const legacyOk = covered.length < this.s.deferred.length;
    const ops: CommitOp[] = [];
    for (const [t, rows] of Object.entries(snap.tables)) {
      ops.push(...this.validateBatch({ ops: rows.map((r) => ({ table: t, op: 'put' as const, key: null, value: r })), schemaVersion: snap.schemaVersion }, legacyOk));
    }
    const extra: KvOp[] = Object.entries(snap.applied).map(([stream, seq]) => ({ type: 'put', column: 'meta', key: metaKey(META.appliedPrefix + stream), value: encodeValue(seq) }));
    const next = covered.length > 0 ? migratedState(this.s, covered, this.s.env.clock.now()) : undefined;
    await this.enqueue({ ops, extra: [...extra, ...(next?.ops ?? [])], replaceTables: Object.keys(snap.tables) });
    if (next) adoptMigrated(this.s, next);
    for (const [stream, seq] of Object.entries(snap.applied)) this.s.applied.set(stream, seq);
  }

  // ---- administration ----

  /** Tables, row counts, memory, indexes, schema version and history, disk use, last backup. */
  info(): Promise<StoreInfo> {
    return storeInfo(this);
  }

  /**
   * A consistent backup to the file `path` while writes continue (one point-in-time view of
   * every column). Restore it with `restoreStore(env, path, newDir)`. RAM tables are not in it.
   */
  backup(path: string): Promise<BackupInfo> {
    return storeBackup(this, path);
  }

  /** Human-readable NDJSON export (`{"table","row"}` per line); returns the row count. */
  exportNdjson(path: string, tables?: readonly string[]): Promise<number> {
    return storeExport(this, path, tables);
  }

  /** Imports an NDJSON export: every line validated first, then written in atomic batches. */
  importNdjson(path: string): Promise<number> {
    return storeImport(this, path);
  }

  /** Checks disk rows against RAM and index entries against rows. */
  verify(): Promise<VerifyReport> {
    return storeVerify(this);
  }

  private failure: StoreFailedError | undefined;
  private readonly failureListeners = new Set<(e: StoreFailedError) => void>();

  private fail(cause: StoreIoError): void {
    if (this.failure) return;
    this.failure = new StoreFailedError(this.s.dir, { cause });
    this.s.env.logger.error({ err: this.failure, report: 'store_failed', dir: this.s.dir, reason: this.failure.reason }, 'store failed: writes refused until it is reopened');
    for (const l of this.failureListeners) this.safely(() => l(this.failure!), 'onFailure');
  }

  /**
   * The typed failed state: set after a disk write failed (a full disk, an I/O error). RocksDB
   * then refuses every write until the database is reopened, so every later write rejects with
   * this `ORDO_STORE_FAILED` error; reads keep serving the committed state from RAM. The
   * store-initializer child turns it into a clean restart (close, reopen).
   */
  get failed(): StoreFailedError | undefined {
    return this.failure;
  }

  /** Calls `listener` once when the store enters its failed state (see {@link Store.failed}). Returns an unsubscribe. */
  onFailure(listener: (e: StoreFailedError) => void): () => void {
    this.failureListeners.add(listener);
    if (this.failure) this.safely(() => listener(this.failure!), 'onFailure');
    return () => this.failureListeners.delete(listener);
  }

  /**
   * Waits for queued commits, then closes the database (releasing its LOCK). Idempotent. Never
   * rejects with an engine error: a failure to close cleanly (after a disk error) rejects with
   * `ORDO_STORE_IO`, and the handle is released either way.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.idle();
    this.closed = true;
    try {
      await this.s.db.close();
    } catch (err) {
      // after a failed write RocksDB's close reports the background error it kept: the handle
      // is closed all the same (the LOCK is released); a failed store says so in its log
      if (this.failure) this.s.env.logger.warn({ err, report: 'store_close_after_failure', dir: this.s.dir }, 'closed a failed store');
      else throw new StoreIoError(this.s.dir, 'close', { cause: err });
    } finally {
      this.s.onClose();
    }
  }

  /** True once {@link Store.close} has begun. */
  get isClosed(): boolean {
    return this.closed;
  }
}

/** What {@link Store.snapshot} returns (JSON-serialisable). */
export interface StoreSnapshot {
  readonly schemaVersion: number;
  /** Versions in the snapshot node's schema history: deferred migrations among them are done in these rows. */
  readonly migrations?: readonly number[];
  readonly applied: Readonly<Record<string, number>>;
  readonly tables: Readonly<Record<string, Row[]>>;
}

function plain(op: CommitOp): CommitOp {
  return op.value === undefined ? { table: op.table, op: op.op, key: op.key } : { table: op.table, op: op.op, key: op.key, value: op.value };
}
