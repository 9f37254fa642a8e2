import type { Row } from './types.ts';
import { decodeNumberKey, encodeNumberKey } from './keyCodec.ts';

/**
 * A table's rows in RAM by row key (the encoded key, see `keyCodec.ts`): the interface of a
 * `Map<string, Row>`, the same iteration order (insertion), but a row key that encodes one
 * number is held under the number itself. A V8 `Map` insert or lookup under a string compares
 * the strings already in the bucket (reading each one: a cache miss per old key in a large
 * table) and its growth rehashes every key string; under a number (a Smi for integers) it reads
 * no key object at all. That was the largest share of an unsynced bulk write's RAM copy
 * (1.1–1.5 µs of 3.8 µs a row, a 300k-row table). Every other row key — strings, tuples, bag
 * row keys, and the two number encodings that no key encodes to (`-0`, NaN) — stays a string:
 * the two kinds never collide in one `Map` (`SameValueZero` never equates a number with a
 * string), and {@link RowMap.keys} gives back exactly the row keys that were set. @internal
 */
export class RowMap {
  private readonly m = new Map<string | number, Row>();
  /**
   * The loaded segment ({@link RowMap.load}): the rows read from disk at open, in key order, as
   * the first part of the insertion order — its row keys, its rows, and an open-addressing
   * index over them built in one pass. A `Map` insert per row was the largest share of a load
   * (a million inserts into a growing table: ~1 µs each, every rehash reading each old key).
   * The keys never change; a replaced row keeps its place, a deleted one leaves `undefined` (its
   * key set again is a new insertion and goes to the run or `m`). Every operation looks here
   * first, by the row key string, whatever kind of key it is.
   */
  private seg: LoadedSegment | undefined;
  /**
   * The dense run, a prefix of the insertion order held in an array: while nothing has gone to
   * the map `m` yet, a row set under the lone integer key one above the run's last (`base`,
   * `base + 1`, … — an auto-increment table loaded or appended in key order) is pushed here,
   * the row of key `base + i` at index `i` (safe integers only: `k - base` is then exact). A push costs no hashing and no rehash as the table
   * grows (a V8 `Map` insert was the largest share of an unsynced bulk write's RAM copy).
   * A replaced row keeps its place (as in a `Map`); a deleted one leaves a hole (`undefined`;
   * trailing holes are popped), and setting its key again is a new insertion, so it goes to
   * `m`. Once anything is in `m` the run no longer grows, so iterating the run, then `m`, is
   * exactly the `Map`'s insertion order — and stays so while rows change during an iteration.
   */
  private run: Array<Row | undefined> = [];
  private base = 0;
  /** Holes in {@link RowMap.run}. */
  private holes = 0;
  /** True while the run may grow (nothing went to `m` since the last {@link RowMap.clear}). */
  private dense = true;
  /** Iterations in progress (the run is compacted into `m` only when none is). */
  private iterating = 0;
  /** Counts {@link RowMap.clear}s: an iteration in the run starts again on the new run (as a `Map`'s does). */
  private epoch = 0;

  /** Number of rows. */
  get size(): number {
    return (this.seg === undefined ? 0 : this.seg.live) + this.run.length - this.holes + this.m.size;
  }

  /**
   * Fills an empty map with rows in strictly ascending row key order (a table read from disk),
   * as `set` of each in turn would, in one pass: a run of lone consecutive integer keys goes to
   * the array run; other keys to the loaded segment, whose index is built at once. Takes
   * ownership of both arrays. Returns false (and sets nothing) when the map is not empty or the
   * keys are not strictly ascending — then the caller sets them one by one.
   */
  load(keys: string[], rows: Row[]): boolean {
    if (this.size !== 0 || this.seg !== undefined || this.run.length > 0 || keys.length !== rows.length) return false;
    for (let i = 1; i < keys.length; i++) if (!(keys[i - 1]! < keys[i]!)) return false;
    if (keys.length === 0) return true;
    if (typeof slot(keys[0]!) === 'number') {
      // the array run takes consecutive integers (an auto-increment table): as set() does
      for (let i = 0; i < keys.length; i++) this.set(keys[i]!, rows[i]!);
      return true;
    }
    const seg = buildSegment(keys, rows);
    if (seg === undefined) {
      // keys whose hashes collide too much for the index: the Map (a seeded hash) takes them
      for (let i = 0; i < keys.length; i++) this.set(keys[i]!, rows[i]!);
      return true;
    }
    this.seg = seg;
    // the segment is first in the insertion order: nothing may grow a run ahead of it
    return true;
  }

  /** The row under `rowKey`, or `undefined`. */
  get(rowKey: string): Row | undefined {
    if (this.seg !== undefined) {
      const i = find(this.seg, rowKey);
      if (i >= 0) {
        const row = this.seg.rows[i];
        if (row !== undefined) return row;
      }
    }
    const k = slot(rowKey);
    if (this.run.length > 0 && typeof k === 'number') {
      const i = k - this.base;
      if (i >= 0 && i < this.run.length && Number.isSafeInteger(k)) {
        const row = this.run[i];
        if (row !== undefined) return row;
      }
    }
    return this.m.get(k);
  }

  /**
   * `get(encodeNumberKey(n))` without the string, for a number some row key encodes (finite,
   * not -0: a key of `SortedKeys.scanNumbers`' tail). @internal
   */
  getNumber(n: number): Row | undefined {
    // the loaded segment is found by its key strings
    if (this.seg !== undefined) return this.get(encodeNumberKey(n));
    if (this.run.length > 0) {
      const i = n - this.base;
      if (i >= 0 && i < this.run.length && Number.isSafeInteger(n)) {
        const row = this.run[i];
        if (row !== undefined) return row;
      }
    }
    return this.m.get(n);
  }

  /** True when a row is held under `rowKey`. */
  has(rowKey: string): boolean {
    return this.get(rowKey) !== undefined;
  }

  /** Holds `row` under `rowKey` (replacing any row there; a new key goes last in iteration order). */
  set(rowKey: string, row: Row): this {
    if (this.seg !== undefined) {
      const i = find(this.seg, rowKey);
      if (i >= 0 && this.seg.rows[i] !== undefined) {
        this.seg.rows[i] = row;
        return this;
      }
    }
    const k = slot(rowKey);
    const run = this.run;
    if (typeof k === 'number') {
      if (run.length > 0) {
        const i = k - this.base;
        if (i === run.length && Number.isSafeInteger(k)) {
          if (this.dense) {
            run.push(row);
            return this;
          }
        } else if (i >= 0 && i < run.length && Number.isSafeInteger(k) && run[i] !== undefined) {
          run[i] = row;
          return this;
        }
      } else if (this.dense && Number.isSafeInteger(k)) {
        this.base = k;
        run.push(row);
        return this;
      }
    }
    this.dense = false;
    this.m.set(k, row);
    return this;
  }

  /** Drops the row under `rowKey`; false if there was none. */
  delete(rowKey: string): boolean {
    const seg = this.seg;
    if (seg !== undefined) {
      const i = find(seg, rowKey);
      if (i >= 0 && seg.rows[i] !== undefined) {
        seg.rows[i] = undefined;
        seg.live--;
        // mostly deleted: the rows left go to the map (its index keeps every key it was built with)
        if (seg.keys.length - seg.live > 1024 && seg.live * 2 < seg.keys.length && this.iterating === 0) this.compact();
        return true;
      }
    }
    const k = slot(rowKey);
    const run = this.run;
    if (run.length > 0 && typeof k === 'number') {
      const i = k - this.base;
      if (i >= 0 && i < run.length && Number.isSafeInteger(k) && run[i] !== undefined) {
        run[i] = undefined;
        this.holes++;
        while (run.length > 0 && run[run.length - 1] === undefined) {
          run.pop();
          this.holes--;
        }
        // mostly holes (rows deleted from the front, a queue): the rows left go to the map
        if (this.holes > 1024 && this.holes * 2 > run.length && this.iterating === 0) this.compact();
        return true;
      }
    }
    return this.m.delete(k);
  }

  /** Drops every row. */
  clear(): void {
    this.m.clear();
    this.seg = undefined;
    this.run = [];
    this.holes = 0;
    this.dense = true;
    this.epoch++;
  }

  /** Moves the loaded segment's and the run's rows into the map, ahead of its entries, in order (no iteration in progress). */
  private compact(): void {
    const rest = [...this.m];
    this.m.clear();
    const seg = this.seg;
    if (seg !== undefined) {
      for (let i = 0; i < seg.keys.length; i++) if (seg.rows[i] !== undefined) this.m.set(slot(seg.keys[i]!), seg.rows[i]!);
      this.seg = undefined;
    }
    const run = this.run;
    for (let i = 0; i < run.length; i++) if (run[i] !== undefined) this.m.set(this.base + i, run[i]!);
    for (const [k, row] of rest) this.m.set(k, row);
    this.run = [];
    this.holes = 0;
    this.dense = false;
  }

  /** `[rowKey, row]` pairs, in insertion order (live, as a `Map`'s: a clear meanwhile starts again on the rows set after it). */
  *entries(): Generator<[string, Row]> {
    this.iterating++;
    try {
      let epoch = this.epoch;
      outer: for (;;) {
        const seg = this.seg;
        if (seg !== undefined) {
          for (let i = 0; i < seg.keys.length; i++) {
            const row = seg.rows[i];
            if (row === undefined) continue;
            yield [seg.keys[i]!, row];
            // cleared (a new epoch) or compacted into the map meanwhile: the map holds what is left
            if (this.epoch !== epoch) {
              epoch = this.epoch;
              continue outer;
            }
            if (this.seg !== seg) break;
          }
        }
        for (let i = 0; i < this.run.length; i++) {
          const row = this.run[i];
          if (row === undefined) continue;
          yield [encodeNumberKey(this.base + i), row];
          if (this.epoch !== epoch) {
            epoch = this.epoch;
            continue outer;
          }
        }
        for (const [k, row] of this.m) {
          yield [typeof k === 'number' ? encodeNumberKey(k) : k, row];
          if (this.epoch !== epoch) {
            epoch = this.epoch;
            continue outer;
          }
        }
        return;
      }
    } finally {
      this.iterating--;
    }
  }

  /** The row keys, in insertion order. */
  *keys(): Generator<string> {
    for (const [k] of this.entries()) yield k;
  }

  /** The rows, in insertion order (live, as {@link RowMap.entries}). */
  *values(): Generator<Row> {
    for (const [, row] of this.entries()) yield row;
  }

  /** Same as {@link RowMap.entries}. */
  [Symbol.iterator](): Generator<[string, Row]> {
    return this.entries();
  }
}

/** The `Map` key of a row key: the number a lone number key encodes, else the row key itself. */
function slot(rowKey: string): string | number {
  const n = decodeNumberKey(rowKey);
  return n === undefined ? rowKey : n;
}

/** {@link RowMap}'s loaded segment: row keys in order, their rows, and an index by key. */
interface LoadedSegment {
  readonly keys: readonly string[];
  readonly rows: Array<Row | undefined>;
  /** Open addressing, linear probing: a key's position + 1, 0 for an empty slot. */
  readonly slots: Int32Array;
  readonly mask: number;
  /** The farthest any key sits from its hash's slot: a lookup probes no further. */
  readonly reach: number;
  /** Rows not deleted. */
  live: number;
}

/** Longest probe the index accepts at its build; beyond it the keys go to a `Map`. */
const MAX_REACH = 128;

/** The index over `keys` (slots at most half full), or `undefined` when some key would sit beyond {@link MAX_REACH}. */
function buildSegment(keys: readonly string[], rows: Row[]): LoadedSegment | undefined {
  let cap = 16;
  while (cap < keys.length * 2) cap *= 2;
  const slots = new Int32Array(cap);
  const mask = cap - 1;
  let reach = 0;
  for (let i = 0; i < keys.length; i++) {
    let at = hashKey(keys[i]!) & mask;
    let d = 0;
    while (slots[at] !== 0) {
      at = (at + 1) & mask;
      if (++d > MAX_REACH) return undefined;
    }
    slots[at] = i + 1;
    if (d > reach) reach = d;
  }
  return { keys, rows, slots, mask, reach, live: keys.length };
}

/** Position of `rowKey` in the segment's keys, or -1. */
function find(seg: LoadedSegment, rowKey: string): number {
  const { slots, mask, keys } = seg;
  let at = hashKey(rowKey) & mask;
  for (let d = 0; d <= seg.reach; d++) {
    const i = slots[at]! - 1;
    if (i < 0) return -1;
    if (keys[i] === rowKey) return i;
    at = (at + 1) & mask;
  }
  return -1;
}

/** A 32-bit hash of a row key (FNV-1a over its code units, then a finalizer that mixes the low bits). */
function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
