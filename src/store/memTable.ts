import type { NormalTableDef, Row } from './types.ts';
import { SortedKeys } from './sortedKeys.ts';
import { RowMap } from './rowMap.ts';
import { encodeKey, prefixEnd, skipElement } from './keyCodec.ts';
import { keyOf } from './schema.ts';
import { createHash } from 'node:crypto';
import type { StoreCorruptError } from './errors.ts';

/** Fewest per-key versions a table keeps before a commit prunes those older than every running transaction. @internal */
export const KEY_VERSIONS_PRUNE_MIN = 4096;

/**
 * One table held in RAM: rows by row key, the key order, and each index as an ordered set of
 * `encode(indexed value) + row key`. For `set`/`ordered_set` the row key is the encoded key;
 * for `bag` it is the encoded key followed by an id of the object's content.
 */
export class MemTable {
  /** Rows by row key ({@link RowMap}: a lone number key is held under the number). */
  readonly rows = new RowMap();
  /**
   * A read cache of the same rows by their key *value*, for `set`/`ordered_set` tables with a
   * one-attribute key and only for scalar key values (string, number, boolean, null — values
   * whose identity is their value): `store.get` finds a cached row without encoding the key
   * (one `Map.get` on the caller's string). Filled by `store.get` on its first hit of a key
   * ({@link MemTable.cacheKey}), so a table nobody point-reads (a load, a batch writer) pays no
   * second Map entry per row; a rewrite or delete drops the key's entry (only hits are cached,
   * so a new row's key is never in it). A miss falls back to the encoded lookup.
   */
  byKey: Map<unknown, Row> | undefined;
  private keyAttr: string | undefined;
  readonly order = new SortedKeys();
  readonly indexes = new Map<string, SortedKeys>();
  /** Rows whose stored bytes failed their checksum at load, by row key. */
  readonly corrupt = new Map<string, StoreCorruptError>();
  /** The digest contribution of each corrupt row (its stored bytes still count, see `integrity.ts`), by row key. */
  readonly corruptHash = new Map<string, number>();
  /** On-disk index entries of corrupt rows (attribute, entry), removed when the row is rewritten. */
  readonly corruptIndex = new Map<string, Array<[string, string]>>();
  /** Digest of the rows on disk (see `integrity.ts`), maintained by every commit. */
  digest: { count: number; sum: number } = { count: 0, sum: 0 };
  /** Commit counter of the last commit that touched this table (scan conflicts). */
  version = 0;
  /**
   * Commit counter of the last commit that touched each key (point conflicts), recorded while
   * transactions run; a missing key was last written before every running transaction began.
   */
  readonly keyVersions = new Map<string, number>();
  /** Size of {@link keyVersions} at which the next commit prunes what no running transaction can need. */
  keyVersionsPruneAt = KEY_VERSIONS_PRUNE_MIN;

  /**
   * Drops the per-key versions of commits applied at or before `oldest` (the commit counter when
   * the oldest running transaction attempt began): no running attempt can have read an older one,
   * so a missing key reads as "not written since" (GroupCommit.conflictOf). Without this a store
   * whose transactions overlap without a pause would keep one entry per key ever written (they
   * are otherwise cleared only when none runs).
   */
  pruneKeyVersions(oldest: number): void {
    for (const [k, v] of this.keyVersions) if (v <= oldest) this.keyVersions.delete(k);
    this.keyVersionsPruneAt = Math.max(KEY_VERSIONS_PRUNE_MIN, 2 * this.keyVersions.size);
  }

  def: NormalTableDef;
  constructor(def: NormalTableDef) {
    this.def = def;
    for (const i of def.indexes) this.indexes.set(i, new SortedKeys());
    this.keyAttr = def.type !== 'bag' && def.key.length === 1 ? def.key[0] : undefined;
    this.byKey = this.keyAttr === undefined ? undefined : new Map();
  }

  /** Switches to a new definition (a migration); drops {@link MemTable.byKey} if the key or type changed. */
  redefine(def: NormalTableDef): void {
    const keyAttr = def.type !== 'bag' && def.key.length === 1 ? def.key[0] : undefined;
    this.def = def;
    if (keyAttr === this.keyAttr) return;
    this.keyAttr = keyAttr;
    this.byKey = keyAttr === undefined ? undefined : new Map();
  }

  /**
   * Puts the rows read from disk into an empty table: `keys` their row keys in the order read
   * (RocksDB's, ascending), `rows` the rows. Builds the row index and the key order in one step
   * each when the keys are strictly ascending (`RowMap.load`); else, or into a table that holds
   * rows already, one row set and order insert per row, as before. Takes
   * ownership of both arrays. No index entries (built after, `buildIndex`).
   */
  loadSorted(keys: string[], rows: Row[]): void {
    if (this.order.size === 0 && this.rows.load(keys, rows)) {
      this.order.loadSorted(keys);
      return;
    }
    for (let i = 0; i < keys.length; i++) {
      this.rows.set(keys[i]!, rows[i]!);
      this.order.add(keys[i]!);
    }
  }

  /**
   * Remembers `row` (found by `store.get` under `key`) in {@link MemTable.byKey}, if `key` is a
   * scalar — under the row's own key value (equal to `key`), so the cache holds no caller's string.
   */
  cacheKey(key: unknown, row: Row): void {
    if (this.byKey !== undefined && isScalar(key)) this.byKey.set(row[this.keyAttr!], row);
  }

  /** Drops the cached entry of a row being replaced or deleted. */
  private uncache(old: Row): void {
    if (this.byKey !== undefined && this.byKey.size > 0) this.byKey.delete(old[this.keyAttr!]);
  }

  /** The row key a row is stored under. */
  rowKeyOf(row: Row): string {
    const enc = encodeKey(keyOf(this.def, row))!;
    return this.def.type === 'bag' ? enc + bagObjectId(row) : enc;
  }

  /** The encoded key part of a row key. */
  encKeyOf(rowKey: string): string {
    return this.def.type === 'bag' ? rowKey.slice(0, skipElement(rowKey)) : rowKey;
  }

  /** Row keys stored under one encoded key (one for set tables, any number for bags). */
  rowKeysOf(encKey: string): string[] {
    if (this.def.type !== 'bag') return this.rows.has(encKey) ? [encKey] : [];
    return [...this.order.scan({ gt: encKey, lt: prefixEnd(encKey) })];
  }

  /** Index entry for attribute `attr` of `row` stored under `rowKey`. */
  indexEntry(attr: string, row: Row, rowKey: string): string | undefined {
    const enc = encodeKey(row[attr]);
    return enc === undefined ? undefined : enc + rowKey;
  }

  /** Stores `row` under `rowKey`, keeping the key order and the indexes. */
  put(rowKey: string, row: Row): void {
    this.putOver(rowKey, row, this.rows.get(rowKey));
  }

  /**
   * {@link MemTable.put} when the caller knows the row it replaces (`old`, `undefined` for
   * none): the group commit resolved it while building the batch (one lookup less per row).
   */
  putOver(rowKey: string, row: Row, old: Row | undefined, known?: KnownEntries): void {
    if (old) {
      this.unindex(rowKey, old, known !== undefined && known.old === old && this.fits(known) ? known.oldIdx : undefined);
      this.uncache(old);
    }
    this.rows.set(rowKey, row);
    if (this.corrupt.size > 0) {
      this.corrupt.delete(rowKey);
      this.corruptHash.delete(rowKey);
      this.corruptIndex.delete(rowKey);
    }
    if (!old) this.order.add(rowKey);
    if (this.indexes.size > 0) {
      const newIdx = known !== undefined && this.fits(known) ? known.newIdx : undefined;
      if (newIdx !== undefined) {
        const attrs = this.def.indexes;
        for (let i = 0; i < attrs.length; i++) {
          const e = newIdx[i];
          if (e !== undefined) this.indexes.get(attrs[i]!)!.add(e);
        }
      } else {
        for (const [attr, idx] of this.indexes) {
          const e = this.indexEntry(attr, row, rowKey);
          if (e !== undefined) idx.add(e);
        }
      }
    }
  }

  /**
   * True when `known`'s entries were computed from this table's current definition (the same
   * `def.indexes`, which name exactly its indexes); after a redefinition they are encoded again.
   */
  private fits(known: KnownEntries): boolean {
    return known.idxAttrs === this.def.indexes && this.indexes.size === known.idxAttrs.length;
  }

  /** Deletes the row under `rowKey` (`known`: its index entries, as {@link MemTable.putOver} takes them). */
  delete(rowKey: string, known?: KnownEntries): void {
    const old = this.rows.get(rowKey);
    this.corrupt.delete(rowKey);
    this.corruptHash.delete(rowKey);
    this.corruptIndex.delete(rowKey);
    if (!old) {
      this.order.delete(rowKey);
      return;
    }
    this.unindex(rowKey, old, known !== undefined && known.old === old && this.fits(known) ? known.oldIdx : undefined);
    this.rows.delete(rowKey);
    this.uncache(old);
    this.order.delete(rowKey);
  }

  private unindex(rowKey: string, row: Row, entries: IndexEntries | undefined): void {
    if (entries !== undefined) {
      const attrs = this.def.indexes;
      for (let i = 0; i < attrs.length; i++) {
        const e = entries[i];
        if (e !== undefined) this.indexes.get(attrs[i]!)!.delete(e);
      }
      return;
    }
    for (const [attr, idx] of this.indexes) {
      const e = this.indexEntry(attr, row, rowKey);
      if (e !== undefined) idx.delete(e);
    }
  }

  /**
   * Rebuilds one index from the rows (at load, for a new index, or a check): the same entries,
   * in the same order, as an {@link MemTable.indexEntry} add per row would give, built in one
   * step ({@link sortedIndexEntries}, `SortedKeys.loadSorted`).
   */
  buildIndex(attr: string): void {
    const idx = new SortedKeys();
    idx.loadSorted(sortedIndexEntries(this.rows, attr, this.rows.size) ?? allEntriesSorted(this.rows, attr));
    this.indexes.set(attr, idx);
  }
}

/**
 * Every index entry of `attr` over `rows` (`encodeKey(row[attr]) + rowKey`, none for a value
 * that cannot be a key), in ascending order — what sorting them all gives. An encoded value is
 * self-delimiting (no encoding is a prefix of another), so the entries sort by value, then by
 * row key: the rows are grouped by value, each group's row keys already in order when the rows
 * come in key order (a load; else that group is sorted), and only the distinct values are
 * sorted — not a million entries per level of the sort. While the values come strictly
 * ascending (a unique, increasing attribute) each is its own group, already in order, and no
 * map is needed; from the first that does not, a scalar value (string, number, boolean, null)
 * is grouped under itself, so a repeated value is not encoded again — two scalars are one `Map`
 * key exactly when they encode alike (`SameValueZero`: `0` and `-0` encode alike; NaN has no
 * entry) — and a tuple under its encoding, in a map of its own. `undefined` once more than a
 * quarter of `size` rows (at least 1024) have distinct values past a rising run: then the maps
 * cost more than the smaller sort saves, and the caller sorts every entry ({@link allEntriesSorted}).
 */
function sortedIndexEntries(rows: Iterable<[string, Row]>, attr: string, size: number): string[] | undefined {
  const most = Math.max(1024, size >>> 2);
  const rowKeys: string[] = [];
  /** Per row (by its position in `rowKeys`): the next row of its group, -1 for none. */
  const next: number[] = [];
  // per group: encoded value, raw value (for the maps), first and last row, rows out of order
  const encs: string[] = [];
  const values: unknown[] = [];
  const head: number[] = [];
  const tail: number[] = [];
  const unordered: boolean[] = [];
  const byValue = new Map<unknown, number>();
  const byTuple = new Map<string, number>();
  let run = true; // every group so far is one row and the groups are in ascending order
  let groupsAscending = true;
  for (const [rk, row] of rows) {
    const v = row[attr];
    const tuple = typeof v === 'object' && v !== null;
    let g: number | undefined;
    let enc: string | undefined;
    if (run) {
      enc = encodeKey(v);
      if (enc === undefined) continue;
      if (encs.length === 0 || encs[encs.length - 1]! < enc) g = undefined;
      else {
        run = false;
        for (let i = 0; i < encs.length; i++) {
          const w = values[i];
          if (typeof w === 'object' && w !== null) byTuple.set(encs[i]!, i);
          else byValue.set(w, i);
        }
        g = tuple ? byTuple.get(enc) : byValue.get(v);
      }
    } else if (tuple) {
      enc = encodeKey(v);
      if (enc === undefined) continue;
      g = byTuple.get(enc);
    } else {
      g = byValue.get(v);
      if (g === undefined) {
        enc = encodeKey(v);
        if (enc === undefined) continue;
      }
    }
    const r = rowKeys.length;
    rowKeys.push(rk);
    next.push(-1);
    if (g === undefined) {
      const ng = encs.length;
      if (groupsAscending && ng > 0 && !(encs[ng - 1]! < enc!)) groupsAscending = false;
      encs.push(enc!);
      values.push(v);
      head.push(r);
      tail.push(r);
      unordered.push(false);
      if (!run) {
        if (ng >= most) return undefined;
        if (tuple) byTuple.set(enc!, ng);
        else byValue.set(v, ng);
      }
      continue;
    }
    const t = tail[g]!;
    if (!(rowKeys[t]! < rk)) unordered[g] = true;
    next[t] = r;
    tail[g] = r;
  }
  const order = groupsAscending ? undefined : groupOrder(encs);
  const entries: string[] = [];
  for (let o = 0; o < encs.length; o++) {
    const g = order === undefined ? o : order[o]!;
    const enc = encs[g]!;
    if (!unordered[g]) {
      for (let r = head[g]!; r !== -1; r = next[r]!) entries.push(enc + rowKeys[r]!);
      continue;
    }
    const keys: string[] = [];
    for (let r = head[g]!; r !== -1; r = next[r]!) keys.push(rowKeys[r]!);
    keys.sort();
    for (const rk of keys) entries.push(enc + rk);
  }
  return entries;
}

/** Every index entry of `attr` over `rows`, sorted (for values mostly distinct: {@link sortedIndexEntries}). */
function allEntriesSorted(rows: Iterable<[string, Row]>, attr: string): string[] {
  const entries: string[] = [];
  for (const [rk, row] of rows) {
    const enc = encodeKey(row[attr]);
    if (enc !== undefined) entries.push(enc + rk);
  }
  return entries.sort();
}

/**
 * The group numbers (positions in `encs`, all distinct) in ascending order of their encoding:
 * each encoding followed by its number in two code units, sorted as strings (the built-in
 * comparison, no comparator call per step) — the number never decides, encodings being distinct
 * and self-delimiting.
 */
function groupOrder(encs: readonly string[]): number[] {
  const tagged = encs.map((e, i) => e + String.fromCharCode(i >>> 16, i & 0xffff));
  tagged.sort();
  return tagged.map((t) => (t.charCodeAt(t.length - 2) << 16) | t.charCodeAt(t.length - 1));
}

/**
 * A row's index entries, one per attribute of its table's `def.indexes` in that order
 * (`undefined`: no entry for that attribute), as {@link MemTable.indexEntry} computes them. @internal
 */
export type IndexEntries = ReadonlyArray<string | undefined>;

/**
 * Index entries a caller already encoded (the write batch, for its disk keys): those of the row
 * replaced (`oldIdx`) and of the new one (`newIdx`), each per attribute of `idxAttrs` — the
 * `def.indexes` they were computed from; `undefined` where not computed. @internal
 */
export interface KnownEntries {
  /** The row replaced, whose entries `oldIdx` are (they are used only for this same row). */
  readonly old: Row | undefined;
  readonly idxAttrs: readonly string[];
  readonly oldIdx: IndexEntries | undefined;
  readonly newIdx: IndexEntries | undefined;
}

function isScalar(v: unknown): boolean {
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean' || v === null;
}

/** A content id for a bag object: identical objects collapse (Mnesia bag semantics). */
export function bagObjectId(row: Row): string {
  const h = createHash('sha1').update(JSON.stringify(row)).digest('hex').slice(0, 24);
  return encodeKey(h)!;
}
