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

  /** Rebuilds one index from the rows (a new index, or a check). */
  buildIndex(attr: string): void {
    const idx = new SortedKeys();
    const entries: string[] = [];
    for (const [rk, row] of this.rows) {
      const e = this.indexEntry(attr, row, rk);
      if (e !== undefined) entries.push(e);
    }
    entries.sort();
    for (const e of entries) idx.add(e);
    this.indexes.set(attr, idx);
  }
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
