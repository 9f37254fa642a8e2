import { decodeNumberKey, encodeNumberKey } from './keyCodec.ts';

/**
 * An ordered set of byte strings (see `keyCodec.ts`): a sorted array split into chunks, so an
 * insert moves at most one chunk and appends in key order (loading from disk) are O(1).
 * Holds the key order of every table and index in RAM.
 */
const MAX_CHUNK = 512;

/** Bounds for {@link SortedKeys.scan}: `gte`/`gt` below, `lte`/`lt` above, all optional. */
export interface ScanBounds {
  readonly gte?: string | undefined;
  readonly gt?: string | undefined;
  readonly lte?: string | undefined;
  readonly lt?: string | undefined;
  readonly reverse?: boolean | undefined;
}

function lowerBound(a: readonly string[], k: string): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The ordered set (see the file's head). Keys appended after every key held that are lone
 * number keys (`decodeNumberKey` defined: an auto-increment table written in key order) are held
 * as the numbers in a tail array instead of their strings: the store keeps no key string per
 * such row (they were a third of what an unsynced bulk write's scavenges copied), and an append
 * is one comparison and a push. Encoded number keys sort as their numbers and decode back to the
 * very same string (`encodeNumberKey(decodeNumberKey(k)!) === k`), so every reader sees exactly
 * the strings it would see without the tail; an insert below the tail's last key, a delete
 * inside it, or {@link SortedKeys.chunksInOrder} first moves the tail's keys into the chunks as
 * strings (once per key: appended again, the keys form a new tail).
 */
export class SortedKeys {
  private chunks: string[][] = [];
  /** Keys in {@link SortedKeys.chunks}. */
  private inChunks = 0;
  /** Lone number keys after every key in the chunks, ascending (as numbers: so as strings). */
  private tail: number[] = [];
  /** The string of the tail's last key (the one it was added with; `undefined` while the tail is empty). */
  private tailLast: string | undefined;

  get size(): number {
    return this.inChunks + this.tail.length;
  }

  /** True when `k` sorts after every key held (so it is not held): one string comparison. */
  isAfterLast(k: string): boolean {
    if (this.tailLast !== undefined) return k > this.tailLast;
    if (this.inChunks === 0) return true;
    const last = this.chunks[this.chunks.length - 1]!;
    return k > last[last.length - 1]!;
  }

  /** Index of the chunk that would hold `k` (the chunks are not empty). */
  private chunkFor(k: string): number {
    const cs = this.chunks;
    let lo = 0;
    let hi = cs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (cs[mid]![0]! <= k) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Index of the first tail key that sorts at or after `k` (`tail.length`: none). */
  private tailBound(k: string): number {
    const t = this.tail;
    const n = decodeNumberKey(k);
    let lo = 0;
    let hi = t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      // a lone number key compares as its number; any other string as the strings compare
      if (n !== undefined ? t[mid]! < n : encodeNumberKey(t[mid]!) < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Position of `k` in the tail, or -1. */
  private inTail(k: string): number {
    if (this.tail.length === 0) return -1;
    const n = decodeNumberKey(k);
    if (n === undefined) return -1;
    const i = this.tailBound(k);
    return this.tail[i] === n ? i : -1;
  }

  has(k: string): boolean {
    if (this.inTail(k) >= 0) return true;
    if (this.inChunks === 0) return false;
    const c = this.chunks[this.chunkFor(k)]!;
    const i = lowerBound(c, k);
    return c[i] === k;
  }

  /**
   * Fills an empty set with `keys`, which the caller has checked to be strictly ascending (a
   * table read from disk, in order): cut into chunks in one step instead of an {@link
   * SortedKeys.add} per key. Throws if the set is not empty (a caller bug, never data).
   */
  loadSorted(keys: readonly string[]): void {
    if (this.size !== 0) throw new Error('SortedKeys.loadSorted: the set is not empty');
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += MAX_CHUNK) chunks.push(keys.slice(i, i + MAX_CHUNK));
    this.chunks = chunks;
    this.inChunks = keys.length;
  }

  /** Appends `k`, which sorts after every key in the chunks, to the chunks. */
  private pushChunk(k: string): void {
    const last = this.chunks[this.chunks.length - 1];
    if (last === undefined || last.length >= MAX_CHUNK) this.chunks.push([k]);
    else last.push(k);
    this.inChunks++;
  }

  /** Moves the tail's keys into the chunks, as strings (before any change that is not an append). */
  private spill(): void {
    const t = this.tail;
    if (t.length === 0) return;
    for (let i = 0; i < t.length; i++) this.pushChunk(encodeNumberKey(t[i]!));
    this.tail = [];
    this.tailLast = undefined;
  }

  /** Inserts `k`; false if it was present. */
  add(k: string): boolean {
    if (this.isAfterLast(k)) {
      const n = decodeNumberKey(k);
      if (n !== undefined) {
        this.tail.push(n);
        this.tailLast = k;
        return true;
      }
      this.spill();
      this.pushChunk(k);
      return true;
    }
    this.spill();
    const ci = this.chunkFor(k);
    const c = this.chunks[ci]!;
    const i = lowerBound(c, k);
    if (c[i] === k) return false;
    c.splice(i, 0, k);
    this.inChunks++;
    if (c.length > MAX_CHUNK * 2) this.chunks.splice(ci, 1, c.slice(0, MAX_CHUNK), c.slice(MAX_CHUNK));
    return true;
  }

  /** Removes `k`; false if it was absent. */
  delete(k: string): boolean {
    const at = this.inTail(k);
    if (at >= 0) {
      if (at === this.tail.length - 1) {
        // the last key (a rollback of an append): the tail shrinks
        this.tail.pop();
        this.tailLast = this.tail.length > 0 ? encodeNumberKey(this.tail[this.tail.length - 1]!) : undefined;
        return true;
      }
      this.spill();
    }
    if (this.inChunks === 0) return false;
    const ci = this.chunkFor(k);
    const c = this.chunks[ci]!;
    const i = lowerBound(c, k);
    if (c[i] !== k) return false;
    c.splice(i, 1);
    this.inChunks--;
    if (c.length === 0) this.chunks.splice(ci, 1);
    return true;
  }

  clear(): void {
    this.chunks = [];
    this.inChunks = 0;
    this.tail = [];
    this.tailLast = undefined;
  }

  /**
   * Every key in order, as the chunks that hold them (none empty): a whole pass without a
   * generator step per key (the index check at open). Moves the tail into the chunks first.
   * Read only; do not change the set while reading. @internal
   */
  chunksInOrder(): ReadonlyArray<readonly string[]> {
    this.spill();
    return this.chunks;
  }

  /** Keys within `bounds`, in order (or reverse order). Do not mutate while iterating. */
  scan(bounds: ScanBounds = {}): Generator<string> {
    return this.walk(bounds, false) as Generator<string>;
  }

  /**
   * {@link SortedKeys.scan}, but a key of the tail comes as its number (`decodeNumberKey` of the
   * key; `encodeNumberKey` gives the key back): a reader that wants the rows (`RowMap.getNumber`)
   * needs no string per key. @internal
   */
  scanNumbers(bounds: ScanBounds = {}): Generator<string | number> {
    return this.walk(bounds, true);
  }

  /** The tail's positions `[from, to)` within `bounds` (found once: no comparison per key). */
  private tailWithin(bounds: ScanBounds): [number, number] {
    const t = this.tail;
    let from = 0;
    let to = t.length;
    if (bounds.gte !== undefined) from = Math.max(from, this.tailBound(bounds.gte));
    if (bounds.gt !== undefined) from = Math.max(from, this.tailAfter(bounds.gt));
    if (bounds.lte !== undefined) to = Math.min(to, this.tailAfter(bounds.lte));
    if (bounds.lt !== undefined) to = Math.min(to, this.tailBound(bounds.lt));
    return [from, to];
  }

  /** Index of the first tail key that sorts after `k`. */
  private tailAfter(k: string): number {
    const i = this.tailBound(k);
    return i < this.tail.length && this.tail[i] === decodeNumberKey(k) ? i + 1 : i;
  }

  private *walk(bounds: ScanBounds, numbers: boolean): Generator<string | number> {
    if (this.size === 0) return;
    const cs = this.chunks;
    const t = this.tail;
    const below = (k: string): boolean => (bounds.gte !== undefined && k < bounds.gte) || (bounds.gt !== undefined && k <= bounds.gt);
    const above = (k: string): boolean => (bounds.lte !== undefined && k > bounds.lte) || (bounds.lt !== undefined && k >= bounds.lt);
    if (!bounds.reverse) {
      const start = bounds.gte ?? bounds.gt;
      if (cs.length > 0) {
        let ci = start === undefined ? 0 : this.chunkFor(start);
        let i = start === undefined ? 0 : lowerBound(cs[ci]!, start);
        for (; ci < cs.length; ci++, i = 0) {
          const c = cs[ci]!;
          for (; i < c.length; i++) {
            const k = c[i]!;
            if (below(k)) continue;
            if (above(k)) return;
            yield k;
          }
        }
      }
      if (t.length === 0) return;
      const [from, to] = this.tailWithin(bounds);
      for (let i = from; i < to; i++) yield numbers ? t[i]! : encodeNumberKey(t[i]!);
    } else {
      if (t.length > 0) {
        const [from, to] = this.tailWithin(bounds);
        for (let i = to - 1; i >= from; i--) yield numbers ? t[i]! : encodeNumberKey(t[i]!);
        // a lower bound inside the tail: nothing in the chunks is within
        if (from > 0) return;
      }
      if (cs.length === 0) return;
      const end = bounds.lte ?? bounds.lt;
      let ci = end === undefined ? cs.length - 1 : this.chunkFor(end);
      let i = end === undefined ? cs[ci]!.length - 1 : Math.min(lowerBound(cs[ci]!, end), cs[ci]!.length - 1);
      for (; ci >= 0; ci--, i = ci >= 0 ? cs[ci]!.length - 1 : 0) {
        const c = cs[ci]!;
        for (; i >= 0; i--) {
          const k = c[i]!;
          if (above(k)) continue;
          if (below(k)) return;
          yield k;
        }
      }
    }
  }
}
