import type { Row } from './types.ts';

/**
 * The stored value's CRC of (frozen) rows this process encoded for a write, until they are
 * rewritten: a row's encoding is a function of the frozen row alone, so taking a rewritten row
 * out of the table digest needs no second encode (a job row is written three times: two of its
 * encodes were for this). A miss (a row loaded from disk, one evicted) encodes the row as before.
 *
 * Bounded, whatever the size of the flushes: at most {@link CRC_CACHE_ROWS} rows in each of two
 * generations of plain Maps (not a WeakMap: an entry per written row cost more than the encode
 * it saves, ephemerons) — when the young one is full it becomes the old one and the old one
 * goes, so a flush never empties the cache of the rows written just before it. A flush of many
 * rows (a bulk load, a 1000-row `dirtyPutMany`, an enqueue of thousands of jobs) does not put
 * each row in a Map: it leaves its rows and their CRCs as a *segment* (an array and a
 * array of numbers, the last {@link CRC_CACHE_ROWS} rows at most), and only a miss while segments
 * are held moves them into the Maps — a bulk write that nothing rewrites soon pays nothing per
 * row, and one whose rows are rewritten (jobs claimed after their enqueue) finds them. Rows go
 * into the Maps in the order they were remembered, so of the rows not taken since, the last
 * {@link CRC_CACHE_ROWS} remembered are always found.
 * @internal
 */
export class CrcCache {
  private young = new Map<Row, number>();
  private old = new Map<Row, number>();
  private segments: Array<{ readonly rows: readonly Row[]; readonly crcs: ArrayLike<number> }> = [];
  private segmentRows = 0;

  /** Remembers the CRC of one (frozen) row. */
  remember(row: Row, crc: number): void {
    // the held segments are older: into the Maps first, so the Maps keep the newest rows
    if (this.segments.length > 0) this.index();
    this.put(row, crc);
  }

  private put(row: Row, crc: number): void {
    if (this.young.size >= CRC_CACHE_ROWS) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(row, crc);
  }

  /**
   * Remembers the CRCs of a flush's rows (`crcs[i]` of `rows[i]`; rows that are not frozen are
   * skipped when the segment is moved into the Maps): only the last {@link CRC_CACHE_ROWS}.
   */
  rememberMany(rows: readonly Row[], crcs: readonly number[]): void {
    const n = Math.min(rows.length, crcs.length);
    if (n === 0) return;
    const from = Math.max(0, n - CRC_CACHE_ROWS);
    const seg = from === 0 && n === rows.length && n === crcs.length ? { rows, crcs } : { rows: rows.slice(from, n), crcs: crcs.slice(from, n) };
    this.segments.push(seg);
    this.segmentRows += seg.rows.length;
    // the oldest segments go once the held ones exceed what the Maps could keep of them
    while (this.segmentRows - this.segments[0]!.rows.length >= CRC_CACHE_ROWS) this.segmentRows -= this.segments.shift()!.rows.length;
  }

  /** The cached CRC of `row` (forgotten: the row is being replaced), or `undefined`. */
  take(row: Row): number | undefined {
    let c = this.lookup(row);
    if (c === undefined && this.segments.length > 0) {
      this.index();
      c = this.lookup(row);
    }
    return c;
  }

  private lookup(row: Row): number | undefined {
    let c = this.young.get(row);
    if (c !== undefined) {
      this.young.delete(row);
      return c;
    }
    c = this.old.get(row);
    if (c !== undefined) this.old.delete(row);
    return c;
  }

  /** Moves the held segments into the Maps, oldest first (a miss, or a row remembered after them). */
  private index(): void {
    const segs = this.segments;
    this.segments = [];
    this.segmentRows = 0;
    for (const { rows, crcs } of segs) for (let i = 0; i < rows.length; i++) if (Object.isFrozen(rows[i])) this.put(rows[i]!, crcs[i]!);
  }

  /** Rows held (in the Maps and the segments): fewer than 4 × {@link CRC_CACHE_ROWS}. For tests. */
  get size(): number {
    return this.young.size + this.old.size + this.segmentRows;
  }
}

/** Rows each generation of a {@link CrcCache} holds at most. @internal */
export const CRC_CACHE_ROWS = 8192;

/** Flushes of at most this many rows remember each row at once; larger ones leave a segment. @internal */
export const CRC_SEGMENT_FROM = 64;
