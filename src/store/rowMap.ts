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

  /** Number of rows. */
  get size(): number {
    return this.m.size;
  }

  /** The row under `rowKey`, or `undefined`. */
  get(rowKey: string): Row | undefined {
    return this.m.get(slot(rowKey));
  }

  /** True when a row is held under `rowKey`. */
  has(rowKey: string): boolean {
    return this.m.has(slot(rowKey));
  }

  /** Holds `row` under `rowKey` (replacing any row there; a new key goes last in iteration order). */
  set(rowKey: string, row: Row): this {
    this.m.set(slot(rowKey), row);
    return this;
  }

  /** Drops the row under `rowKey`; false if there was none. */
  delete(rowKey: string): boolean {
    return this.m.delete(slot(rowKey));
  }

  /** Drops every row. */
  clear(): void {
    this.m.clear();
  }

  /** The row keys, in insertion order. */
  *keys(): Generator<string> {
    for (const k of this.m.keys()) yield typeof k === 'number' ? encodeNumberKey(k) : k;
  }

  /** The rows, in insertion order. */
  values(): IterableIterator<Row> {
    return this.m.values();
  }

  /** `[rowKey, row]` pairs, in insertion order. */
  *entries(): Generator<[string, Row]> {
    for (const [k, row] of this.m) yield [typeof k === 'number' ? encodeNumberKey(k) : k, row];
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
