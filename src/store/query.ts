import type { MemTable } from './memTable.ts';
import type { Row } from './types.ts';
import type { ScanBounds } from './sortedKeys.ts';
import { encodeKey, prefixEnd, skipElement } from './keyCodec.ts';
import { StoreArgumentError, StoreCorruptError, StoreValidationError } from './errors.ts';
import { decodeKey } from './keyCodec.ts';

/** Options of a range read. `from`/`to` are inclusive; leave one out for an open end. */
export interface RangeOptions {
  readonly limit?: number | undefined;
  readonly reverse?: boolean | undefined;
}

/**
 * A transaction's own writes, for read-your-writes: per encoded key, the objects the key will
 * hold after commit (by row key). Keys absent here read the committed state.
 */
export type Overlay = ReadonlyMap<string, ReadonlyMap<string, Row>>;

/**
 * Checks a read's options at the call: `limit` a non-negative integer (at least 1 for a page of
 * `select`, which must make progress), `reverse` a boolean. Throws `ORDO_STORE_ARGUMENT`.
 */
export function checkReadOptions(opts: { readonly limit?: unknown; readonly reverse?: unknown } | undefined, minLimit = 0): void {
  if (opts === undefined) return;
  if (opts === null || typeof opts !== 'object') throw new StoreArgumentError('options', opts, 'an options object');
  const { limit, reverse } = opts;
  if (limit !== undefined && limit !== Infinity && !(Number.isSafeInteger(limit) && (limit as number) >= minLimit)) throw new StoreArgumentError('limit', limit, `an integer >= ${minLimit}`);
  if (reverse !== undefined && typeof reverse !== 'boolean') throw new StoreArgumentError('reverse', reverse, 'a boolean');
}

/** Encodes a key or throws the typed validation error naming table and value. */
export function mustEncode(mem: MemTable, key: unknown, attr?: string): string {
  const enc = encodeKey(key);
  if (enc === undefined) throw new StoreValidationError(mem.def.name, attr ?? mem.def.key.join(','), key, 'bad_key', 'not a valid key');
  return enc;
}

function throwIfCorrupt(mem: MemTable, check: (rowKey: string) => boolean): void {
  if (mem.corrupt.size === 0) return;
  for (const [rk, err] of mem.corrupt) if (check(rk)) throw err;
}

/** Bounds over encoded keys from inclusive key values. */
export function keyBounds(mem: MemTable, from: unknown, to: unknown, reverse: boolean): ScanBounds {
  const gte = from === undefined ? undefined : mustEncode(mem, from);
  const toEnc = to === undefined ? undefined : mustEncode(mem, to);
  // bags: every object of the `to` key sorts after the bare key, so bound with its prefix end
  const lte = toEnc === undefined ? undefined : mem.def.type === 'bag' ? prefixEnd(toEnc) : toEnc;
  return { gte, lte, reverse };
}

/** Rows of the committed state within bounds, merged with a transaction overlay. */
export function scanRows(mem: MemTable, bounds: ScanBounds, limit: number | undefined, overlay?: Overlay): Row[] {
  throwIfCorrupt(mem, (rk) => inBounds(rk, bounds));
  const out: Row[] = [];
  const max = limit ?? Infinity;
  if (!overlay || overlay.size === 0) {
    // the tail of lone number keys comes as numbers: no key string per row read
    const rows = mem.rows;
    for (const rk of mem.order.scanNumbers(bounds)) {
      if (out.length >= max) break;
      out.push((typeof rk === 'number' ? rows.getNumber(rk) : rows.get(rk))!);
    }
    return out;
  }
  const pairs: Array<[string, Row]> = [];
  const baseMax = max === Infinity ? Infinity : max + overlay.size;
  let n = 0;
  for (const rk of mem.order.scan(bounds)) {
    if (n >= baseMax) break;
    if (overlay.has(mem.encKeyOf(rk))) continue;
    pairs.push([rk, mem.rows.get(rk)!]);
    n++;
  }
  for (const objs of overlay.values()) for (const [rk, row] of objs) if (inBounds(rk, bounds)) pairs.push([rk, row]);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (bounds.reverse) pairs.reverse();
  for (const [, row] of pairs) {
    if (out.length >= max) break;
    out.push(row);
  }
  return out;
}

function inBounds(k: string, b: ScanBounds): boolean {
  if (b.gte !== undefined && k < b.gte) return false;
  if (b.gt !== undefined && k <= b.gt) return false;
  if (b.lte !== undefined && k > b.lte) return false;
  if (b.lt !== undefined && k >= b.lt) return false;
  return true;
}

/** Committed objects under one encoded key. */
export function readKey(mem: MemTable, encKey: string): Row[] {
  const bad = mem.corrupt.get(encKey);
  if (bad) throw bad;
  if (mem.def.type !== 'bag') {
    const r = mem.rows.get(encKey);
    return r ? [r] : [];
  }
  throwIfCorrupt(mem, (rk) => rk.startsWith(encKey));
  return mem.rowKeysOf(encKey).map((rk) => mem.rows.get(rk)!);
}

/**
 * Rows whose indexed attribute lies in `[from, to]` (inclusive; open when undefined), in index
 * order — an index range scan, never a sort of the table.
 */
export function indexScan(mem: MemTable, attr: string, from: unknown, to: unknown, opts: RangeOptions, overlay?: Overlay): Row[] {
  const idx = mem.indexes.get(attr);
  if (!idx) throw new StoreValidationError(mem.def.name, attr, undefined, 'unknown_attribute', 'no index on this attribute');
  const gte = from === undefined ? undefined : mustEncode(mem, from, attr);
  const lt = to === undefined ? undefined : prefixEnd(mustEncode(mem, to, attr));
  const max = opts.limit ?? Infinity;
  const out: Row[] = [];
  const touched = overlay && overlay.size > 0 ? overlay : undefined;
  const seen = new Set<string>();
  for (const entry of idx.scan({ gte, lt, reverse: opts.reverse ?? false })) {
    if (!touched && out.length >= max) break;
    const rk = entry.slice(skipElement(entry));
    if (touched?.has(mem.encKeyOf(rk))) continue;
    const bad = mem.corrupt.get(rk);
    if (bad) throw bad;
    const row = mem.rows.get(rk);
    if (row) {
      out.push(row);
      seen.add(rk);
    }
  }
  if (!touched) return out;
  // merge the transaction's own writes into the index order
  const pairs: Array<[string, Row]> = out.map((r) => [mem.indexEntry(attr, r, mem.rowKeyOf(r))!, r]);
  for (const objs of touched.values()) {
    for (const [rk, row] of objs) {
      const e = mem.indexEntry(attr, row, rk);
      if (e === undefined) continue;
      if ((gte !== undefined && e < gte) || (lt !== undefined && e >= lt)) continue;
      pairs.push([e, row]);
    }
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  if (opts.reverse) pairs.reverse();
  return pairs.slice(0, max === Infinity ? undefined : max).map((p) => p[1]);
}

/** True when `row` matches every attribute of `pattern` (deep-equal via JSON for objects). */
export function matches(row: Row, pattern: Row): boolean {
  for (const k of Object.keys(pattern)) {
    const p = pattern[k];
    const v = Object.hasOwn(row, k) ? row[k] : undefined;
    if (p === v) continue;
    if (typeof p === 'object' && p !== null && JSON.stringify(p) === JSON.stringify(v)) continue;
    return false;
  }
  return true;
}

/** A resumable position in a table scan: the last row key returned, as base64. */
export type Cursor = string;

export function encodeCursor(rowKey: string): Cursor {
  return Buffer.from(rowKey, 'latin1').toString('base64url');
}

export function decodeCursor(mem: MemTable, c: Cursor): string {
  const rk = Buffer.from(c, 'base64url').toString('latin1');
  try {
    decodeKey(rk);
  } catch (err) {
    throw new StoreValidationError(mem.def.name, undefined, c, 'bad_key', `bad cursor: ${(err as Error).message}`);
  }
  return rk;
}

export { StoreCorruptError };
