import * as fs from 'node:fs';
import { KvError } from './kv.ts';
import { faults } from './faults.ts';
import type { MarkerHandle } from './rocksdbMarker.ts';
import { advanceMarkerSync, kindOfErrno, markerSlotWrite, writeFullySync } from './rocksdbMarker.ts';

/**
 * The durable commit watermark, written **off the commit's critical path** (issue 13).
 *
 * A synced batch is acknowledged once its WAL write is durable; its mark is then handed to
 * {@link WatermarkWriter.advance}, which writes the marker slot (a pwrite into the page cache on
 * this thread) and fdatasyncs it on libuv's thread pool — in parallel with the next batch's WAL
 * fdatasync on the sync writer's thread, instead of a second fdatasync in series before every
 * acknowledgement.
 *
 * Invariants:
 * - A mark is written only after the batch it names is durable (`advance` is called after the
 *   WAL write resolved), so the watermark is never ahead of the WAL: a plain crash never looks
 *   like damage.
 * - At most one marker write is in flight (the two slots alternate by epoch, and a torn write
 *   spoils only the slot being written). Marks arriving meanwhile coalesce: when the write in
 *   flight completes, the newest mark waiting is written next.
 * - `drain` (on close) waits for the write in flight and writes the newest mark synchronously,
 *   so a cleanly closed store's watermark is its last commit.
 *
 * The trade-off (docs/store.md, *The durable watermark*): after a crash, the watermark may be
 * behind the last acknowledged commits by the batches acknowledged while the last marker write
 * was in flight (typically one or two group-commit batches). Loss of those commits to a damaged
 * WAL is no longer detected at open; loss of anything at or below the watermark still is.
 *
 * A failed marker write (disk full, I/O error) is kept: the next write retries the marker
 * synchronously first and, if that fails too, rejects with a `KvError` naming the marker file,
 * so the store enters its failed state instead of silently running without a watermark.
 */
export interface WatermarkWriter {
  /** Records that every commit up to `mark` is durable in the WAL (call only after the synced write resolved). */
  advance(mark: number): void;
  /** Throws the `KvError` of a failed marker write unless a synchronous retry now succeeds. */
  check(): void;
  /**
   * Resolves once `mark` (already handed to {@link WatermarkWriter.advance}) is durable in the
   * marker file; rejects with the `KvError` of a failed marker write (after one synchronous
   * retry). The `'strict'` mode acknowledges a synced batch only then.
   */
  durable(mark: number): Promise<void>;
  /** Waits for the write in flight, then writes the newest mark synchronously (close). */
  drain(): Promise<void>;
}

const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write (fault point kv.marker.enospc)'), { code: 'ENOSPC' });

/**
 * A {@link WatermarkWriter} over the open marker `h` of the store at `dir`. Fault point
 * `kv.marker.enospc` (subject `dir`): a marker write (or its synchronous retry) fails with ENOSPC.
 */
export function createWatermarkWriter(h: MarkerHandle, dir: string): WatermarkWriter {
  let want = h.current.mark;
  let inflight = false;
  let failure: unknown;
  let idle: Array<() => void> = [];
  let waiters: Array<{ mark: number; resolve: () => void; reject: (err: unknown) => void }> = [];

  const wake = (): void => {
    if (waiters.length === 0) return;
    const left: typeof waiters = [];
    for (const w of waiters) {
      if (h.current.mark >= w.mark) w.resolve();
      else if (failure !== undefined && !inflight) {
        try {
          retry();
          if (h.current.mark >= w.mark) w.resolve();
          else left.push(w);
        } catch (err) {
          w.reject(err);
        }
      } else left.push(w);
    }
    waiters = left;
  };

  const settle = (): void => {
    const w = idle;
    idle = [];
    for (const f of w) f();
  };
  const start = (): void => {
    if (inflight || failure !== undefined) return;
    if (want <= h.current.mark) return settle();
    inflight = true;
    const w = markerSlotWrite(h.current, want);
    const done = (err: unknown): void => {
      inflight = false;
      if (err) failure = err;
      else h.current = w.next;
      if (failure !== undefined) {
        wake();
        return settle();
      }
      wake();
      start();
    };
    // fault point `kv.marker.enospc` (subject: the store's dir): this write fails as on a full disk
    if (faults.point('kv.marker.enospc', dir)) return void setImmediate(() => done(enospc()));
    // The slot's 64 bytes go into the page cache on this thread (a pwrite of a page that is not
    // under writeback does not wait for the disk: at most one marker write is in flight, so the
    // last fdatasync of this page has returned); only the fdatasync that makes them durable
    // runs on libuv's pool. One pool round trip per mark instead of two (each a wake-up of a
    // pool thread and of this one, in series with every strict acknowledgement).
    try {
      writeFullySync(h.fd, w.data, w.offset);
    } catch (err) {
      return void setImmediate(() => done(err));
    }
    fs.fdatasync(h.fd, (e) => done(e));
  };
  const retry = (): void => {
    if (failure === undefined) return;
    try {
      if (faults.point('kv.marker.enospc', dir)) throw enospc();
      if (want > h.current.mark) advanceMarkerSync(h, want);
      failure = undefined;
    } catch (err) {
      throw new KvError(kindOfErrno(err), `${h.current.file}: the durable commit watermark cannot be written: ${(err as Error).message}`, dir, { cause: err, file: h.current.file });
    }
  };
  return {
    advance(mark) {
      if (mark > want) want = mark;
      start();
    },
    check() {
      if (failure !== undefined && !inflight) retry();
    },
    durable(mark) {
      if (h.current.mark >= mark) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiters.push({ mark, resolve, reject });
        wake();
        start();
      });
    },
    async drain() {
      if (inflight) await new Promise<void>((r) => idle.push(r));
      if (failure !== undefined) return retry();
      if (want > h.current.mark) advanceMarkerSync(h, want);
    },
  };
}
