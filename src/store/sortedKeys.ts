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

export class SortedKeys {
  private chunks: string[][] = [];
  private total = 0;

  get size(): number {
    return this.total;
  }

  /** True when `k` sorts after every key held (so it is not held): one string comparison. */
  isAfterLast(k: string): boolean {
    if (this.total === 0) return true;
    const last = this.chunks[this.chunks.length - 1]!;
    return k > last[last.length - 1]!;
  }

  /** Index of the chunk that would hold `k`. */
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

  has(k: string): boolean {
    if (this.total === 0) return false;
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
    if (this.total !== 0) throw new Error('SortedKeys.loadSorted: the set is not empty');
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += MAX_CHUNK) chunks.push(keys.slice(i, i + MAX_CHUNK));
    this.chunks = chunks;
    this.total = keys.length;
  }

  /** Inserts `k`; false if it was present. */
  add(k: string): boolean {
    if (this.total === 0) {
      this.chunks = [[k]];
      this.total = 1;
      return true;
    }
    const last = this.chunks[this.chunks.length - 1]!;
    if (k > last[last.length - 1]!) {
      if (last.length >= MAX_CHUNK) this.chunks.push([k]);
      else last.push(k);
      this.total++;
      return true;
    }
    const ci = this.chunkFor(k);
    const c = this.chunks[ci]!;
    const i = lowerBound(c, k);
    if (c[i] === k) return false;
    c.splice(i, 0, k);
    this.total++;
    if (c.length > MAX_CHUNK * 2) this.chunks.splice(ci, 1, c.slice(0, MAX_CHUNK), c.slice(MAX_CHUNK));
    return true;
  }

  /** Removes `k`; false if it was absent. */
  delete(k: string): boolean {
    if (this.total === 0) return false;
    const ci = this.chunkFor(k);
    const c = this.chunks[ci]!;
    const i = lowerBound(c, k);
    if (c[i] !== k) return false;
    c.splice(i, 1);
    this.total--;
    if (c.length === 0) this.chunks.splice(ci, 1);
    return true;
  }

  clear(): void {
    this.chunks = [];
    this.total = 0;
  }

  /**
   * Every key in order, as the chunks that hold them (none empty): a whole pass without a
   * generator step per key (the index check at open). Read only; do not change the set while
   * reading. @internal
   */
  chunksInOrder(): ReadonlyArray<readonly string[]> {
    return this.chunks;
  }

  /** Keys within `bounds`, in order (or reverse order). Do not mutate while iterating. */
  *scan(bounds: ScanBounds = {}): Generator<string> {
    if (this.total === 0) return;
    const cs = this.chunks;
    const below = (k: string): boolean => (bounds.gte !== undefined && k < bounds.gte) || (bounds.gt !== undefined && k <= bounds.gt);
    const above = (k: string): boolean => (bounds.lte !== undefined && k > bounds.lte) || (bounds.lt !== undefined && k >= bounds.lt);
    if (!bounds.reverse) {
      const start = bounds.gte ?? bounds.gt;
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
    } else {
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
