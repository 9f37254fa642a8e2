import type { MemTable } from './memTable.ts';
import { bagObjectId } from './memTable.ts';
import { encodeKey } from './keyCodec.ts';
import type { CommitOp, Row } from './types.ts';
import type { RangeOptions, Cursor } from './query.ts';
import { checkReadOptions, indexScan, keyBounds, matches, mustEncode, readKey, scanRows, encodeCursor, decodeCursor } from './query.ts';
import { validateRecord } from './schema.ts';
import { StoreArgumentError, StoreTxFinishedError, StoreValidationError } from './errors.ts';

/** What a transaction needs from the store: its tables. @internal */
export interface TxHost {
  table(name: string): MemTable;
}

/** A page of a resumable scan: pass `cursor` back to continue after the last row. */
export interface Page {
  readonly rows: Row[];
  readonly cursor: Cursor | undefined;
}

/**
 * A transaction's view: reads see the committed state plus this transaction's own writes;
 * writes are buffered and committed atomically (one WriteBatch) when the function returns.
 * Obtained from `store.transaction(async (tx) => …)`.
 *
 * Gotcha: the function may run more than once (a conflicting concurrent commit makes it
 * re-run), so it must not have side effects outside `tx`.
 */
export class Tx {
  /** Buffered logical writes, in order. @internal */
  readonly ops: CommitOp[] = [];
  /** The encoded key of each of {@link Tx.ops} (the group commit needs them). @internal */
  readonly encKeys: string[] = [];
  /** Keys read, with the key version seen (created by the first read: a blind write has none). @internal */
  reads: Map<MemTable, Map<string, number>> | undefined = undefined;
  /** Tables scanned, with the table version seen (created by the first scan). @internal */
  scans: Map<MemTable, number> | undefined = undefined;
  /**
   * This transaction's writes over the committed state, per table and encoded key (created by the
   * first write read back): holds {@link Tx.ops} up to {@link Tx.folded}.
   */
  private overlays: Map<MemTable, Map<string, Map<string, Row>>> | undefined = undefined;
  /**
   * How many of {@link Tx.ops} the overlays hold. A set table's put and any `delete` need nothing
   * of the overlay to be recorded, so they are folded in only when something reads the
   * transaction's view ({@link Tx.foldWrites}): a blind one-row write builds no Maps (three per put,
   * on the synced write path, issue 13). A bag's put or object delete reads the objects under its
   * key, so it folds first and is recorded at once.
   */
  private folded = 0;
  /** Versions of deferred replicated migrations this transaction carries out (`Store.runDeferredMigrations`). @internal */
  migrations: readonly number[] | undefined = undefined;

  /** Set once the transaction function's run is over (committed, re-run or failed): writes are refused. @internal */
  finished = false;
  private readonly host: TxHost;

  constructor(host: TxHost) {
    this.host = host;
  }

  private writable(table: string, operation: string, value: unknown): MemTable {
    if (this.finished) throw new StoreTxFinishedError(table, operation, value);
    return this.host.table(table);
  }

  private noteRead(mem: MemTable, encKey: string): void {
    const reads = (this.reads ??= new Map());
    let m = reads.get(mem);
    if (!m) reads.set(mem, (m = new Map()));
    if (!m.has(encKey)) m.set(encKey, mem.keyVersions.get(encKey) ?? 0);
  }

  private noteScan(mem: MemTable): void {
    const scans = (this.scans ??= new Map());
    if (!scans.has(mem)) scans.set(mem, mem.version);
  }

  private overlay(mem: MemTable): Map<string, Map<string, Row>> | undefined {
    if (this.folded < this.ops.length) this.foldWrites();
    return this.overlays?.get(mem);
  }

  /** Records the ops not folded yet in the overlays (each a set table's put or a `delete`), in order. */
  private foldWrites(): void {
    for (let i = this.folded; i < this.ops.length; i++) {
      const op = this.ops[i]!;
      const objs = new Map<string, Row>();
      // a set table's row key is its encoded key
      if (op.op === 'put') objs.set(this.encKeys[i]!, op.value!);
      this.setObjects(this.host.table(op.table), this.encKeys[i]!, objs);
    }
    this.folded = this.ops.length;
  }

  private objectsOf(mem: MemTable, encKey: string): Map<string, Row> {
    if (this.folded < this.ops.length) this.foldWrites();
    const o = this.overlays?.get(mem)?.get(encKey);
    if (o) return o;
    this.noteRead(mem, encKey);
    const m = new Map<string, Row>();
    for (const r of readKey(mem, encKey)) m.set(mem.rowKeyOf(r), r);
    return m;
  }

  private setObjects(mem: MemTable, encKey: string, objs: Map<string, Row>): void {
    const overlays = (this.overlays ??= new Map());
    let o = overlays.get(mem);
    if (!o) overlays.set(mem, (o = new Map()));
    o.set(encKey, objs);
  }

  /** The row under `key` (for a bag, its first object), or `undefined`. */
  get(table: string, key: unknown): Row | undefined {
    const mem = this.host.table(table);
    const encKey = mustEncode(mem, key);
    if (mem.def.type === 'bag') return this.objectsOf(mem, encKey).values().next().value;
    // a set table: its one row under the encoded key, as objectsOf would find it (no Map, no array)
    if (this.folded < this.ops.length) this.foldWrites();
    const o = this.overlays?.get(mem)?.get(encKey);
    if (o) return o.values().next().value;
    this.noteRead(mem, encKey);
    const bad = mem.corrupt.get(encKey);
    if (bad) throw bad;
    return mem.rows.get(encKey);
  }

  /** Every object under `key` (one at most unless the table is a bag). */
  read(table: string, key: unknown): Row[] {
    const mem = this.host.table(table);
    return [...this.objectsOf(mem, mustEncode(mem, key)).values()];
  }

  /** Writes a record (validated; defaults filled). Replaces the row with the same key (set tables). */
  put(table: string, record: Row): Row {
    const mem = this.writable(table, 'put', record);
    const row = Object.freeze(validateRecord(mem.def, record));
    const rk = mem.rowKeyOf(row);
    const encKey = mem.encKeyOf(rk);
    const bag = mem.def.type === 'bag';
    if (bag) {
      const objs = new Map(this.objectsOf(mem, encKey));
      objs.set(rk, row);
      this.setObjects(mem, encKey, objs);
    }
    // a set table's put: folded into the overlays once something reads them (Tx.foldWrites)
    this.ops.push({ table, op: 'put', key: mem.def.key.length === 1 ? row[mem.def.key[0]!] : mem.def.key.map((k) => row[k]), value: row });
    this.encKeys.push(encKey);
    if (bag) this.folded = this.ops.length;
    return row;
  }

  /** Deletes every object under `key`. */
  delete(table: string, key: unknown): void {
    const mem = this.writable(table, 'delete', key);
    const encKey = mustEncode(mem, key);
    // folded into the overlays (no object left under the key) once something reads them
    this.ops.push({ table, op: 'delete', key });
    this.encKeys.push(encKey);
  }

  /** Deletes one object of a bag (the whole row under its key for set tables). */
  deleteObject(table: string, record: Row): void {
    const mem = this.writable(table, 'deleteObject', record);
    if (mem.def.type !== 'bag') {
      const k = mem.def.key.length === 1 ? record[mem.def.key[0]!] : mem.def.key.map((a) => record[a]);
      return this.delete(table, k);
    }
    // an object as stored (e.g. of an older shape, during a migration) is deleted as it is;
    // otherwise the record is validated (defaults filled) to find the object it names
    const stored = this.storedObject(mem, record);
    const row = stored ? stored[1] : validateRecord(mem.def, record);
    const rk = stored ? stored[0] : mem.rowKeyOf(row);
    const encKey = mem.encKeyOf(rk);
    const objs = new Map(this.objectsOf(mem, encKey));
    objs.delete(rk);
    this.setObjects(mem, encKey, objs);
    this.ops.push({ table, op: 'delete', key: mem.def.key.length === 1 ? row[mem.def.key[0]!] : mem.def.key.map((k) => row[k]), value: row });
    this.encKeys.push(encKey);
    this.folded = this.ops.length;
  }

  /**
   * Replaces the stored object `old` by `next` (for a bag: deletes that object, then puts the new
   * one — a bag object's identity is its content, so a plain put would keep both). @internal
   */
  replaceObject(table: string, old: Row, next: Row): Row {
    const mem = this.writable(table, 'put', next);
    if (mem.def.type === 'bag') this.deleteObject(table, old);
    return this.put(table, next);
  }

  /**
   * A point to roll back to: a joined (nested) transaction that fails leaves none of its writes
   * in the outer one (Mnesia: "any work performed by the child is erased"). @internal
   */
  savepoint(): () => void {
    if (this.folded < this.ops.length) this.foldWrites();
    const ops = this.ops.length;
    const migrations = this.migrations;
    const overlays = new Map([...(this.overlays ?? [])].map(([mem, o]) => [mem, new Map(o)]));
    return () => {
      this.ops.length = ops;
      this.encKeys.length = ops;
      this.migrations = migrations;
      this.overlays = overlays;
      this.folded = ops;
    };
  }

  /** The [row key, row] of the object `record` is exactly, when it is one of the key's current objects. */
  private storedObject(mem: MemTable, record: Row): [string, Row] | undefined {
    const enc = encodeKey(mem.def.key.length === 1 ? record[mem.def.key[0]!] : mem.def.key.map((k) => record[k]));
    if (enc === undefined) return undefined;
    const rk = enc + bagObjectId(record);
    const row = this.objectsOf(mem, enc).get(rk);
    return row ? [rk, row] : undefined;
  }

  /** Rows with key in `[from, to]` in key order (undefined = open end). */
  range(table: string, from?: unknown, to?: unknown, opts: RangeOptions = {}): Row[] {
    checkReadOptions(opts);
    const mem = this.host.table(table);
    this.noteScan(mem);
    return scanRows(mem, keyBounds(mem, from, to, opts.reverse ?? false), opts.limit, this.overlay(mem));
  }

  /** Rows whose indexed `attr` equals `value`. */
  indexRead(table: string, attr: string, value: unknown): Row[] {
    const mem = this.host.table(table);
    this.noteScan(mem);
    return indexScan(mem, attr, value, value, {}, this.overlay(mem));
  }

  /** Rows whose indexed `attr` lies in `[from, to]`, in index order. */
  indexRange(table: string, attr: string, from?: unknown, to?: unknown, opts: RangeOptions = {}): Row[] {
    checkReadOptions(opts);
    const mem = this.host.table(table);
    this.noteScan(mem);
    return indexScan(mem, attr, from, to, opts, this.overlay(mem));
  }

  /** Rows equal to `pattern` on every attribute it names (uses the key or an index when it can). */
  match(table: string, pattern: Row): Row[] {
    const mem = this.host.table(table);
    if (pattern === null || typeof pattern !== 'object') throw new StoreArgumentError('pattern', pattern, 'an object of attribute values');
    for (const k of Object.keys(pattern)) if (!mem.def.attributes.some((a) => a.name === k)) throw new StoreValidationError(table, k, pattern[k], 'unknown_attribute');
    const has = (k: string): boolean => Object.hasOwn(pattern, k) && pattern[k] !== undefined;
    if (mem.def.key.every(has)) {
      const key = mem.def.key.length === 1 ? pattern[mem.def.key[0]!] : mem.def.key.map((k) => pattern[k]);
      return this.read(table, key).filter((r) => matches(r, pattern));
    }
    const indexed = mem.def.indexes.find((i) => has(i) && (typeof pattern[i] !== 'object' || pattern[i] === null));
    if (indexed) return this.indexRead(table, indexed, pattern[indexed]).filter((r) => matches(r, pattern));
    return this.range(table).filter((r) => matches(r, pattern));
  }

  /** Rows for which `predicate` holds, in key order, a page at a time (`limit`, resume with `cursor`). */
  select(table: string, predicate: (row: Row) => boolean, opts: { limit?: number | undefined; cursor?: Cursor | undefined } = {}): Page {
    checkReadOptions(opts, 1);
    if (typeof predicate !== 'function') throw new StoreArgumentError('predicate', predicate, 'a function (row) => boolean');
    const mem = this.host.table(table);
    this.noteScan(mem);
    const gt = opts.cursor === undefined ? undefined : decodeCursor(mem, opts.cursor);
    const max = opts.limit ?? Infinity;
    const rows: Row[] = [];
    const overlay = this.overlay(mem);
    if (!overlay || overlay.size === 0) {
      scanRows(mem, { gt }, 0); // corruption check over the scanned range
      for (const rk of mem.order.scan({ gt })) {
        const row = mem.rows.get(rk)!;
        if (!predicate(row)) continue;
        rows.push(row);
        if (rows.length >= max) return { rows, cursor: encodeCursor(rk) };
      }
      return { rows, cursor: undefined };
    }
    for (const row of scanRows(mem, { gt }, undefined, overlay)) {
      if (!predicate(row)) continue;
      rows.push(row);
      if (rows.length >= max) return { rows, cursor: encodeCursor(mem.rowKeyOf(row)) };
    }
    return { rows, cursor: undefined };
  }

  /** Folds `fn` over every row in key order. */
  fold<A>(table: string, fn: (acc: A, row: Row) => A, acc: A): A {
    let a = acc;
    for (const r of this.range(table)) a = fn(a, r);
    return a;
  }

  /** Number of objects in the table. */
  count(table: string): number {
    return this.range(table).length;
  }

  /** Distinct keys in key order. */
  keys(table: string): unknown[] {
    const mem = this.host.table(table);
    const out: unknown[] = [];
    let prev: string | undefined;
    for (const r of this.range(table)) {
      const k = mem.encKeyOf(mem.rowKeyOf(r));
      if (k !== prev) out.push(mem.def.key.length === 1 ? r[mem.def.key[0]!] : mem.def.key.map((a) => r[a]));
      prev = k;
    }
    return out;
  }

  /**
   * Rewrites every row of `table` with `fn` (Mnesia's `transform_table`), for numbered
   * migrations. Rows `fn` returns `undefined` for are deleted.
   */
  transform(table: string, fn: (row: Row) => Row | undefined): number {
    const mem = this.host.table(table);
    let n = 0;
    for (const row of this.range(table)) {
      const next = fn(structuredClone(row) as Row);
      const key = mem.def.key.length === 1 ? row[mem.def.key[0]!] : mem.def.key.map((k) => row[k]);
      if (next === undefined) this.delete(table, key);
      else {
        if (mem.def.type === 'bag') this.deleteObject(table, row);
        this.put(table, next);
      }
      n++;
    }
    return n;
  }
}
