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
    return this.run.length - this.holes + this.m.size;
  }

  /** The row under `rowKey`, or `undefined`. */
  get(rowKey: string): Row | undefined {
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

  /** True when a row is held under `rowKey`. */
  has(rowKey: string): boolean {
    return this.get(rowKey) !== undefined;
  }

  /** Holds `row` under `rowKey` (replacing any row there; a new key goes last in iteration order). */
  set(rowKey: string, row: Row): this {
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
    this.run = [];
    this.holes = 0;
    this.dense = true;
    this.epoch++;
  }

  /** Moves the run's rows into the map, ahead of its entries, in order (no iteration in progress). */
  private compact(): void {
    const rest = [...this.m];
    this.m.clear();
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
