import type { KvAdapter, KvDb } from '../env/kv.ts';
import type { CommitBatch, CommitOp, DeferredMigration, NormalTableDef, Replicator, Row, SchemaVersionRecord } from './types.ts';
import type { MemTable } from './memTable.ts';
import { Tx } from './transaction.ts';
import type { Page } from './transaction.ts';
import type { Cursor, RangeOptions } from './query.ts';
import { checkReadOptions, indexScan, keyBounds, mustEncode, readKey, scanRows } from './query.ts';
import { StoreClosedError, StoreIoError, StoreValidationError } from './errors.ts';
import type { StoreFailedError } from './errors.ts';
import { validateRecord } from './schema.ts';
import type { Pending } from './writeBatch.ts';
import type { BackupInfo } from './backup.ts';
import type { StoreInfo, VerifyReport } from './admin.ts';
import { storeBackup, storeExport, storeImport, storeInfo, storeVerify } from './admin.ts';
import type { StoreState } from './storeState.ts';
import { GroupCommit } from './groupCommit.ts';
import { ChangeFeed } from './changeFeed.ts';
import type { ChangeEvent } from './changeFeed.ts';
import { TxRunner } from './transactions.ts';
import type { TransactionOptions } from './transactions.ts';
import type { StoreSnapshot } from './replicationApply.ts';
import { applyReplicated, loadSnapshot, snapshot } from './replicationApply.ts';
import { commitMigrated, runDeferred } from './deferredRun.ts';

export type { ChangeEvent } from './changeFeed.ts';
export type { TransactionOptions } from './transactions.ts';
export type { StoreSnapshot } from './replicationApply.ts';
export type { StoreState } from './storeState.ts';

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
 * import { createRealEnv } from 'ordo';
 * import { openStore } from 'ordo/store';
 *
 * const tables = { user_bux_points: { type: 'ordered_set', key: 'user_id', attributes: { user_id: { type: 'string' }, bux_balance: { type: 'integer', default: 0 } }, indexes: ['bux_balance'] } } as const;
 * const store = await openStore({ env: createRealEnv(), dir: './data/store', tables });
 * await store.transaction(async (tx) => {
 *   const u = tx.get('user_bux_points', 'u1');
 *   tx.put('user_bux_points', { ...u, user_id: 'u1', bux_balance: ((u?.['bux_balance'] as number | undefined) ?? 0) + 10 });
 * });
 * const top = store.indexRange('user_bux_points', 'bux_balance', undefined, undefined, { reverse: true, limit: 100 });
 * console.log(top);
 * await store.close();
 */
export class Store {
  private readonly s: StoreState;
  /** @internal the group commit (queue, flush, conflict check) */
  readonly commits: GroupCommit;
  private readonly tables: Map<string, MemTable>;
  private readonly feed: ChangeFeed;
  private readonly txs: TxRunner;
  private closed = false;
  private repl: Replicator | undefined;
  private deferredRun: Promise<'ran' | 'none'> | undefined;

  /** @internal use `openStore` */
  constructor(s: StoreState) {
    this.s = s;
    this.tables = s.tables;
    this.feed = new ChangeFeed(s.env.logger);
    const isClosing = (): boolean => this.closed;
    this.commits = new GroupCommit({
      s,
      table: (n) => this.table(n),
      isClosing,
      activeTx: () => this.txs.active,
      oldestTxStart: () => this.txs.oldestStart(),
      emit: (ops, cs) => this.feed.emit(ops, cs, this.s.schemaVersion),
    });
    const store = this;
    this.txs = new TxRunner({
      s,
      commits: this.commits,
      get replicator() {
        return store.repl;
      },
      isClosing,
      table: (n) => this.table(n),
      commitMigrated: (ops, versions) => commitMigrated(this, ops, versions),
    });
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

  /** The table {@link Store.table} found last (a point read of one table is then one Map lookup, not two). */
  private lastName: string | undefined;
  private lastTable: MemTable | undefined;

  /** @internal */
  table(name: string): MemTable {
    if (this.closed) throw new StoreClosedError(this.s.dir);
    let t = name === this.lastName ? this.lastTable : undefined;
    if (t === undefined) {
      t = this.tables.get(name);
      if (!t) throw new StoreValidationError(name, undefined, name, 'unknown_table');
      this.lastName = name;
      this.lastTable = t;
    }
    return t;
  }

  /** @internal the opener replaced table objects (a fresh store's): forget the cached one. */
  forgetTables(): void {
    this.lastName = undefined;
    this.lastTable = undefined;
  }

  /** @internal the KV handle (backup, verify). */
  get kv(): KvDb {
    return this.s.db;
  }

  /** @internal the key-value engine this store was opened with (with {@link Store.dir}, the data's identity in this process). */
  get engine(): KvAdapter {
    return this.s.engine;
  }

  /** @internal */
  get state(): StoreState {
    return this.s;
  }

  // ---- dirty reads (committed state, from RAM) ----

  /** The row under `key` (a bag's first object), or `undefined`. ~1 µs. */
  get(table: string, key: unknown): Row | undefined {
    const mem = this.table(table);
    if (mem.corrupt.size === 0) {
      // by key value first (no encoding); a miss (or a non-scalar key) takes the encoded path
      // and remembers a hit (MemTable.byKey)
      const byKey = mem.byKey;
      if (byKey !== undefined) {
        const hit = byKey.get(key);
        if (hit !== undefined) return hit;
        const row = mem.rows.get(mustEncode(mem, key));
        if (row !== undefined) mem.cacheKey(key, row);
        return row;
      }
      if (mem.def.type !== 'bag') return mem.rows.get(mustEncode(mem, key));
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
    checkReadOptions(opts);
    return indexScan(this.table(table), attr, from, to, opts);
  }

  /** Rows with key in `[from, to]` (inclusive, undefined = open) in key order. */
  range(table: string, from?: unknown, to?: unknown, opts: RangeOptions = {}): Row[] {
    checkReadOptions(opts);
    const mem = this.table(table);
    return scanRows(mem, keyBounds(mem, from, to, opts.reverse ?? false), opts.limit);
  }

  /** Rows equal to `pattern` on every attribute it names (uses the key or an index when it can). */
  match(table: string, pattern: Row): Row[] {
    return new Tx(this).match(table, pattern);
  }

  /** Rows for which `predicate` holds, a page at a time; pass `cursor` back to resume. */
  select(table: string, predicate: (row: Row) => boolean, opts: { limit?: number | undefined; cursor?: Cursor | undefined } = {}): Page {
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
  transaction<T>(fn: (tx: Tx) => Promise<T> | T, opts: TransactionOptions = {}): Promise<T> {
    return this.txs.run(fn, opts);
  }

  /** Writes one record outside a transaction (no isolation; still atomic and durable). */
  async dirtyPut(table: string, record: Row): Promise<Row> {
    const mem = this.table(table);
    const row = Object.freeze(validateRecord(mem.def, record));
    const key = mem.def.key.length === 1 ? row[mem.def.key[0]!] : mem.def.key.map((k) => row[k]);
    await this.txs.submit([{ table, op: 'put', key, value: row }]);
    return row;
  }

  /** Deletes every object under `key` outside a transaction. */
  async dirtyDelete(table: string, key: unknown): Promise<void> {
    mustEncode(this.table(table), key);
    await this.txs.submit([{ table, op: 'delete', key }]);
  }

  /** Writes many records as one atomic batch outside a transaction. */
  async dirtyPutMany(table: string, records: readonly Row[]): Promise<void> {
    const mem = this.table(table);
    const def = mem.def;
    if (!Array.isArray(records)) throw new StoreValidationError(def.name, undefined, records, 'wrong_type', 'dirtyPutMany takes an array of records');
    const one = def.key.length === 1 ? def.key[0]! : undefined;
    const ops: CommitOp[] = new Array(records.length);
    // the encoded keys here, with the table at hand (the group commit would encode them again)
    const encKeys: string[] = new Array(records.length);
    for (let i = 0; i < records.length; i++) {
      const row = Object.freeze(validateRecord(def, records[i]));
      const key = one !== undefined ? row[one] : def.key.map((k) => row[k]);
      ops[i] = { table, op: 'put', key, value: row };
      encKeys[i] = mustEncode(mem, key);
    }
    await this.txs.submit(ops, encKeys);
  }

  /** @internal queue a commit for the next group flush */
  enqueue(p: Omit<Pending, 'resolve' | 'reject' | 'encKeys'>): Promise<void> {
    return this.commits.enqueue(p);
  }

  /** Resolves when every queued commit has been written (or failed). */
  idle(): Promise<void> {
    return this.commits.idle();
  }

  // ---- events and replication ----

  /** Calls `listener` with each committed row change of `table` (for caches). Returns an unsubscribe. */
  subscribe(table: string, listener: (e: ChangeEvent) => void): () => void {
    this.table(table);
    return this.feed.subscribe(table, listener);
  }

  /** Calls `listener` after each committed transaction or dirty write with its {@link CommitBatch}. */
  onCommit(listener: (batch: CommitBatch) => void): () => void {
    return this.feed.onCommit(listener);
  }

  /**
   * Routes commits that touch a `replicated` table to `r.commit` instead of writing locally
   * (every node, the writer included, applies them through {@link Store.applyReplicated}).
   * Conflict detection for those tables is then the replicator's job. `undefined` unsets.
   */
  setReplicator(r: Replicator | undefined): void {
    this.repl = r;
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
  applyReplicated(batch: CommitBatch, meta: { stream: string; seq: number }): Promise<'applied' | 'duplicate'> {
    return applyReplicated(this, batch, meta);
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
    this.deferredRun ??= runDeferred(this).finally(() => (this.deferredRun = undefined));
    return this.deferredRun;
  }

  // ---- snapshots ----

  /**
   * A consistent copy of `tables` (all by default) with the replication positions, for a new
   * node to catch up: load it with {@link Store.loadSnapshot}, then apply the stream from
   * `applied[stream] + 1`.
   */
  snapshot(tables?: readonly string[]): StoreSnapshot {
    return snapshot(this, tables);
  }

  /** Replaces the snapshot's tables with its rows and adopts its replication positions, atomically. */
  loadSnapshot(snap: StoreSnapshot): Promise<void> {
    return loadSnapshot(this, snap);
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

  /**
   * The typed failed state: set when a disk write failed (a full disk, an I/O error) and the
   * engine refuses writes since (RocksDB keeps its background error until the database is
   * reopened). Every later write first probes the engine: while it refuses, the write rejects
   * with this `ORDO_STORE_FAILED` error; once it accepts, the store leaves the failed state.
   * Reads keep serving the committed state from RAM. The store-initializer child turns the
   * failure into a clean restart (close, reopen).
   */
  get failed(): StoreFailedError | undefined {
    return this.commits.failure;
  }

  /** Calls `listener` once when the store enters its failed state (see {@link Store.failed}). Returns an unsubscribe. */
  onFailure(listener: (e: StoreFailedError) => void): () => void {
    return this.commits.onFailure(listener);
  }

  /**
   * Waits for queued commits, then closes the database (releasing its LOCK). Idempotent. Never
   * rejects with an engine error: a failure to close cleanly rejects with `ORDO_STORE_IO`
   * (after a disk error it is logged and the close resolves); the handle is released either way.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.idle();
    this.closed = true;
    try {
      await this.s.db.close();
    } catch (err) {
      if (this.commits.failure) this.s.env.logger.warn({ err, report: 'store_close_after_failure', dir: this.s.dir }, 'closed a failed store');
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
