import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { KvAdapter, KvDb, KvErrorKind, KvIterator, KvOp, KvOpenOptions, KvRange, KvWriteOptions, KvWriting } from './kv.ts';
import { KvError, KvOptionsError, markAfterWal } from './kv.ts';
import type { SyncWriter } from './rocksdbSyncWriter.ts';
import { startSyncWriter } from './rocksdbSyncWriter.ts';
import type { BulkWriter } from './rocksdbBulkWriter.ts';
import { BulkWriteTimeout, startBulkWriter } from './rocksdbBulkWriter.ts';
import type { MarkerHandle } from './rocksdbMarker.ts';
import { findUnsafeSst } from './sstCheck.ts';
import { createRealClock } from './clock.ts';
import { MARKER_FILE, createMarker, openMarker, readMarker, releaseGuard, restoreGuard, takeGuard } from './rocksdbMarker.ts';
import type { WatermarkWriter } from './rocksdbWatermark.ts';
import { createWatermarkWriter } from './rocksdbWatermark.ts';

/** Classifies a RocksDB open/write error message (the binding gives text, not codes). Order matters: a read-only or full disk also names the LOCK file. */
function classify(err: unknown): KvErrorKind {
  const text = `${(err as Error)?.message ?? ''} ${((err as { cause?: Error })?.cause?.message) ?? ''}`;
  const errno = (err as NodeJS.ErrnoException)?.code;
  if (errno === 'ENOSPC' || errno === 'EDQUOT' || /No space left on device|Disk quota exceeded/i.test(text)) return 'nospace';
  if (errno === 'EROFS' || /Read-only file system|Permission denied|Operation not permitted/i.test(text)) return 'readonly';
  if (/lock/i.test(text) && /(LOCK|lock hold|Resource temporarily unavailable|No locks available)/.test(text)) return 'locked';
  if (/does not exist \(create_if_missing is false\)/.test(text)) return 'missing';
  // CURRENT names a MANIFEST that is not there: a damaged CURRENT (or a deleted MANIFEST)
  if (/No such file or directory/.test(text) && /MANIFEST-\d+/.test(text)) return 'corrupt';
  if (/Corruption|corrupt|checksum|LEVEL_CORRUPTION/i.test(text) || (err as { code?: string })?.code === 'LEVEL_CORRUPTION') return 'corrupt';
  if (/not open/i.test(text) && !(err as { cause?: unknown })?.cause) return 'closed';
  return 'io';
}

/** The RocksDB file an error names (`…/MANIFEST-000005`, `…/000012.sst`), if any. */
function fileOf(err: unknown): string | undefined {
  const text = `${(err as Error)?.message ?? ''} ${((err as { cause?: Error })?.cause?.message) ?? ''}`;
  return /(\/\S*?\/(?:MANIFEST-\d+|CURRENT|\d+\.(?:sst|log|blob)|OPTIONS-\d+|IDENTITY))\b/.exec(text)?.[1];
}

function messageOf(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return e?.cause?.message ?? e?.message ?? String(err);
}

function kvError(err: unknown, dir: string, prefix = ''): KvError {
  if (err instanceof KvError) return err;
  // RocksDB names a damaged CURRENT without its path ("CURRENT file corrupted")
  const file = fileOf(err) ?? (/\bCURRENT\b/.test(messageOf(err)) ? `${dir}/CURRENT` : undefined);
  return new KvError(classify(err), `${prefix}${messageOf(err)}`, dir, { cause: err, ...(file ? { file } : {}) });
}

type Handle = unknown;

/** Options of {@link createRocksKv}. */
export interface RocksKvOptions {
  /** Synced writes on a worker thread (default true), so an fdatasync never stalls the event loop. */
  readonly syncWorker?: boolean;
  /**
   * Benchmarks only: do not record the durable commit watermark (the marker file's write and
   * fdatasync after each synced batch, off the commit's critical path). Without it a damaged or truncated WAL is no longer detected at
   * open. Exists to measure the watermark's cost against the same work without it.
   */
  readonly unsafeNoWatermark?: boolean;
  /**
   * When a synced write is acknowledged relative to its durable commit watermark:
   * - `'strict'` (default): after the WAL's fdatasync **and** the marker's — every acknowledged
   *   commit is at or below the durable watermark, so any acknowledged commit a damaged WAL loses
   *   is detected at open (`ORDO_STORE_CORRUPT`), after a clean close and after a crash alike.
   * - `'pipelined'`: on the WAL's fdatasync; the marker follows off the critical path (at most
   *   one write in flight). About twice the synced throughput, but after a crash a damaged WAL
   *   may lose the last batch or two acknowledged after the marker **without an error**
   *   (docs/store.md, *The durable watermark*). Opt in only where that window is acceptable.
   */
  readonly watermark?: 'strict' | 'pipelined';
  /**
   * Large unsynced batches on a second worker thread (`rocksdbBulkWriter.ts`), written while the
   * store applies them to RAM ({@link KvDb.beginWrite}): `'off'` (default) writes every unsynced
   * batch inline on the calling thread; `'lazy'` starts the thread on the first such batch
   * (written inline, as are those until the thread is up); `'eager'` starts it at open (a thread
   * per open database, whether it bulk-writes or not). Opt-in: it takes the RocksDB write off
   * the main thread (~25 % of its time in a 1000-row bulk write) but costs more CPU in all (the
   * worker's write and the hand-over), and on a shared 2-core machine it was not faster
   * (docs/benchmarks.md; `bench/store.ts batched` measures both).
   */
  readonly bulkWorker?: 'lazy' | 'eager' | 'off';
}

/**
 * The real key-value adapter: `@nxtedition/rocksdb` (pinned 12.2.12) with column families.
 * Writes go through one `WriteBatch` (atomic across columns); `sync: true` fdatasyncs the WAL
 * before the promise resolves; the durable commit watermark (`mark`) follows off the critical
 * path (`rocksdbWatermark.ts`). Synced writes run on a worker thread (`rocksdbSyncWriter.ts`)
 * so the fdatasync does not stall the event loop; unsynced ones run inline, or — a large batch
 * through {@link KvDb.beginWrite} — on a second worker while the caller works (`bulkWorker`). Callers must not
 * issue a write before the previous one resolved if order matters (the store's group commit
 * writes one batch at a time).
 *
 * @example
 * import { createRocksKv } from 'ordo/env';
 *
 * const db = await createRocksKv().open('./data/kv', { columns: ['meta', 'rows'], createIfMissing: true });
 * const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
 * await db.write([{ type: 'put', column: 'rows', key: bytes('k'), value: bytes('v') }], { sync: true });
 * await db.close();
 */
export function createRocksKv(adapterOptions: RocksKvOptions = {}): KvAdapter {
  const watermark = adapterOptions.unsafeNoWatermark !== true;
  const strict = adapterOptions.watermark !== 'pipelined';
  if (adapterOptions.watermark !== undefined && adapterOptions.watermark !== 'strict' && adapterOptions.watermark !== 'pipelined') {
    throw new KvOptionsError('createRocksKv watermark', adapterOptions.watermark, "'strict' or 'pipelined'");
  }
  const bulkMode = adapterOptions.bulkWorker === undefined ? 'off' : adapterOptions.bulkWorker;
  if (bulkMode !== 'lazy' && bulkMode !== 'eager' && bulkMode !== 'off') throw new KvOptionsError('createRocksKv bulkWorker', adapterOptions.bulkWorker, "'lazy', 'eager' or 'off'");
  return {
    async exists(dir: string): Promise<boolean> {
      return existsSync(`${dir}/CURRENT`) || existsSync(`${dir}/${MARKER_FILE}`);
    },
    async canonical(dir: string): Promise<string> {
      const abs = resolve(dir);
      // the nearest existing ancestor's real path, plus the part that does not exist yet
      let head = abs;
      const rest: string[] = [];
      for (;;) {
        try {
          return join(await realpath(head), ...rest.reverse());
        } catch (err) {
          const parent = dirname(head);
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === head) return abs;
          rest.push(basename(head));
          head = parent;
        }
      }
    },
    async open(dir: string, options: KvOpenOptions): Promise<KvDb> {
      const hasCurrent = existsSync(`${dir}/CURRENT`);
      let marker = readMarker(dir);
      if (marker && !hasCurrent && marker.mark > 0) {
        throw new KvError('corrupt', `${dir}/CURRENT is missing, but ${marker.file} records a store (id ${marker.id}) with ${marker.mark} acknowledged commits: refusing to treat it as empty`, dir, { file: `${dir}/CURRENT` });
      }
      if (!hasCurrent && !options.createIfMissing) throw new KvError('missing', `${dir}: does not exist (create_if_missing is false)`, dir);
      // an earlier guarded open that never finished: put the files back first
      restoreGuard(dir, false);
      // the one block RocksDB parses before checking it, looked at before RocksDB aborts on it (sstCheck.ts)
      const unsafe = hasCurrent ? findUnsafeSst(dir) : undefined;
      if (unsafe) throw new KvError('corrupt', `${unsafe.file}: ${unsafe.why}`, dir, { file: unsafe.file });
      const guarded = options.guard === true && hasCurrent;
      if (guarded) takeGuard(dir);
      const columns: Record<string, object> = { default: {} };
      for (const c of options.columns) columns[c] = {};
      // The native binding is loaded on first open: importing Ordo never loads RocksDB.
      const { RocksLevel } = await import('@nxtedition/rocksdb');
      const db = new RocksLevel(dir, { columns, keyEncoding: 'buffer', valueEncoding: 'buffer' } as never) as unknown as RawRocks;
      try {
        // never let RocksDB create a database where one existed (a marker without CURRENT is refused above)
        await db.open({ createIfMissing: options.createIfMissing && !hasCurrent });
      } catch (err) {
        const e = kvError(err, dir);
        // locked: RocksDB never opened, another process owns the files: drop our links only
        if (guarded) (e.kind === 'locked' ? releaseGuard(dir) : restoreGuard(dir, true));
        throw e;
      }
      let released = !guarded;
      let markerHandle: MarkerHandle;
      let marks: WatermarkWriter;
      let syncWriter: SyncWriter | undefined;
      // The sync writer thread boots (its own isolate: 100–250 ms) while the caller reads — the
      // store loads its rows meanwhile. Until it is up, `release()`, every write and `close()`
      // wait for it; a failed start refuses them all ('cannot start: …'), so a guarded open
      // fails before it is accepted, as when the start was awaited here.
      let syncStarting: Promise<void> | undefined;
      let syncStartFailed: KvError | undefined;
      let bulk: BulkWriter | undefined;
      try {
        marker ??= createMarker(dir, 0, hasCurrent);
        markerHandle = openMarker(marker);
        marks = createWatermarkWriter(markerHandle, dir);
        if (adapterOptions.syncWorker !== false) {
          syncStarting = startSyncWriter(db.handle, ['default', ...options.columns]).then(
            (w) => {
              syncWriter = w;
              syncStarting = undefined;
            },
            (err: unknown) => {
              syncStartFailed = kvError(err, dir, 'cannot start: ');
              syncStarting = undefined;
            },
          );
        }
        if (bulkMode === 'eager') bulk = await startBulkWriter(db.handle, ['default', ...options.columns], dir);
      } catch (err) {
        await syncStarting;
        await syncWriter?.close();
        await db.close();
        if (guarded) restoreGuard(dir, true);
        throw kvError(err, dir, 'cannot start: ');
      }
      /** Waits for the sync writer's start (at most once per open); throws if it failed. */
      const syncStarted = async (): Promise<void> => {
        if (syncStarting !== undefined) await syncStarting;
        if (syncStartFailed !== undefined) throw syncStartFailed;
      };
      const handle = (column: string): Handle => {
        const h = db.columns[column];
        if (h === undefined) throw new KvError('io', `unknown column ${column}`, dir);
        return h;
      };
      const encOpts = { keyEncoding: 'buffer', valueEncoding: 'buffer' };
      const colOpts = new Map<string, { column: Handle }>();
      const colOpt = (c: string): { column: Handle } => {
        const o = { column: handle(c) };
        colOpts.set(c, o);
        return o;
      };
      let closed = false;
      // the bulk writer (large unsynced batches on another thread): at open, or on first use
      let bulkStart: Promise<void> | undefined;
      const startBulk = (): void => {
        bulkStart = startBulkWriter(db.handle, ['default', ...options.columns], dir).then(
          (w) => {
            // closed meanwhile: close() waits for this start and closes it
            bulk = w;
          },
          // not available then: every batch is written inline, as before
          () => undefined,
        );
      };
      /** The refusal of a write after the sync writer thread died (`durable`: of the batch in flight, if any). */
      const writerDead = (cause: Error, durable: false | 'unknown'): KvError =>
        new KvError('io', `${dir}: the sync writer thread died (${cause.message})${durable === 'unknown' ? ': whether this synced batch reached the WAL is unknown' : ''}; every write is refused until the database is reopened`, dir, { cause, durable });
      /** Strict mode: waits for `mark`'s marker; its failure is refused as *durable* (the WAL write already was). */
      const markDurable = async (mark: number): Promise<void> => {
        try {
          await marks.durable(mark);
        } catch (err) {
          const e = kvError(err, dir);
          throw new KvError(e.kind, `${e.message} (the batch it would prove, mark ${mark}, is durable in the WAL)`, dir, { cause: err, durable: true, ...(e.file !== undefined ? { file: e.file } : {}) });
        }
      };
      const kv: KvDb = {
        dir,
        get marker() {
          return markerHandle.current;
        },
        async release() {
          await syncStarted();
          if (released) return;
          releaseGuard(dir);
          released = true;
        },
        async write(ops: readonly KvOp[], o: KvWriteOptions) {
          if (!released) throw new KvError('io', `${dir}: write before the guarded open was accepted (release())`, dir);
          if (syncStarting !== undefined || syncStartFailed !== undefined) await syncStarted();
          if (closed) throw new KvError('closed', `${dir}: database is closed`, dir);
          // a dead sync writer refuses every write, synced or not, so the store fails and its
          // owner reopens (unsynced writes alone succeeding would make the store look healthy)
          if (syncWriter?.dead) throw writerDead(syncWriter.dead, false);
          // a marker write that failed earlier is retried first (or this write refused, typed)
          if (watermark) marks.check();
          if (o.sync && syncWriter) {
            try {
              await syncWriter.write(ops);
            } catch (err) {
              // died with this batch in flight: it may be in the WAL (a reopen's replay says)
              if (syncWriter.dead) throw writerDead(syncWriter.dead, 'unknown');
              throw kvError(err, dir);
            }
            // durable now; the watermark follows (never ahead of the WAL) — and in the strict
            // mode the acknowledgement waits for it
            if (watermark && o.mark !== undefined) {
              marks.advance(o.mark);
              if (strict) await markAfterWal(o, dir, () => markDurable(o.mark!));
            }
            return;
          }
          // The binding's own `_put`/`_del`/`_writeSync` (what abstract-level calls after encoding;
          // with buffer keys and values the encoding step is the identity). Skipping the generic
          // layer halves the per-op cost. Pinned binding version: see package.json.
          const batch = db.batch();
          try {
            // consecutive ops mostly share a column family (a batch's rows, then its index entries)
            let lastColumn: string | undefined;
            let col: object = {};
            for (const op of ops) {
              if (op.column !== lastColumn) {
                col = colOpts.get(op.column) ?? colOpt(op.column);
                lastColumn = op.column;
              }
              if (op.type === 'put') batch._put(op.key, op.value, col);
              else batch._del(op.key, col);
            }
            batch._writeSync({ sync: o.sync });
            if (watermark && o.sync && o.mark !== undefined) marks.advance(o.mark);
          } catch (err) {
            throw kvError(err, dir);
          } finally {
            batch._closeSync();
            db.detachResource(batch);
          }
          if (watermark && strict && o.sync && o.mark !== undefined) await markAfterWal(o, dir, () => markDurable(o.mark!));
        },
        async get(column, key) {
          // Through an iterator, never `getMany`: the binding's db_get_many throws a damaged
          // block's LEVEL_CORRUPTION from its native completion callback, which no caller can
          // catch (it kills the process); an iterator rejects its promise instead.
          const it = db.iterator({ column: handle(column), gte: key, lte: key, limit: 1, ...encOpts });
          try {
            const entries = (await it.nextv(1)) as Array<[Buffer, Buffer]>;
            return entries[0]?.[1];
          } catch (err) {
            throw kvError(err, dir);
          } finally {
            await it.close();
          }
        },
        iterator(column: string, range: KvRange = {}): KvIterator {
          const it = db.iterator({ column: handle(column), ...range, ...encOpts });
          const keysOnly = range.values === false;
          return {
            async next(n) {
              let entries: Array<[Buffer, Buffer]>;
              try {
                entries = (await it.nextv(n)) as Array<[Buffer, Buffer]>;
              } catch (err) {
                throw kvError(err, dir);
              }
              // keys only: the binding leaves each value undefined
              if (keysOnly) for (const e of entries) e[1] = NO_VALUE;
              return entries;
            },
            close: () => it.close(),
          };
        },
        async close() {
          if (closed) return;
          closed = true;
          let failure: unknown;
          try {
            // a start in flight holds the native handle: never close the database under it
            await syncStarting;
            await syncWriter?.close();
          } catch (err) {
            failure = err;
          }
          try {
            await bulkStart;
            await bulk?.close();
          } catch (err) {
            failure ??= err;
          }
          try {
            // the last acknowledged mark, durably, before the marker is closed
            await marks.drain();
          } catch (err) {
            failure ??= err;
          }
          try {
            await db.close();
          } catch (err) {
            failure ??= err;
          }
          try {
            markerHandle.close();
          } catch (err) {
            failure ??= err;
          }
          // a guarded open nobody accepted: put the directory back as it was
          if (!released) restoreGuard(dir, true);
          if (failure !== undefined) throw kvError(failure, dir, 'close: ');
        },
        defer(fn) {
          setImmediate(fn);
        },
        latencyClock: diskClock,
      };
      // not enumerable: a wrapper that spreads the database to intercept `write` does not inherit it
      Object.defineProperty(kv, 'beginWrite', {
        enumerable: false,
        // configurable: a Proxy around the database may hand out its own (a proxy must return a
        // non-configurable, read-only property's own value)
        configurable: true,
        value: (): KvWriting | undefined => {
          // the sync writer failed to start: `write` refuses typed ('cannot start: …'), and so
          // must every batch (one written here would pass where `write` refuses)
          if (!released || closed || syncStartFailed !== undefined || syncWriter?.dead || bulkMode === 'off') return undefined;
          if (bulk === undefined || bulk.dead) {
            if (bulk === undefined && bulkStart === undefined) startBulk();
            return undefined;
          }
          // a batch went unanswered: its late answer must never settle another (until reopened)
          if (bulk.stuck) return undefined;
          // a marker write that failed earlier is retried first (or this write refused, typed)
          if (watermark) marks.check();
          const b = bulk.begin();
          return {
            add(ops, from, to) {
              try {
                b.add(ops, from, to);
              } catch (err) {
                throw kvError(err, dir);
              }
            },
            commit(ops, from) {
              try {
                b.commit(ops, from);
              } catch (err) {
                throw kvError(err, dir);
              }
            },
            finish(timeoutMs) {
              try {
                b.finish(timeoutMs);
              } catch (err) {
                if (err instanceof BulkWriteTimeout) throw new KvError('io', `${dir}: ${err.message}: whether this unsynced batch was written is unknown`, dir, { cause: err, durable: 'unknown' });
                throw kvError(err, dir);
              }
            },
            abort: () => b.abort(),
          };
        },
      });
      return kv;
    },
  };
}

/** The value of every entry of a keys-only iterator ({@link KvRange.values} `false`). */
const NO_VALUE = Buffer.alloc(0);

/** A real disk's latencies are real time, whatever clock the Env runs on (KvDb.latencyClock). */
const diskClock = createRealClock();

/** The part of RocksLevel this adapter uses (the package ships no typings). */
interface RawRocks {
  readonly columns: Record<string, Handle>;
  readonly handle: bigint;
  open(options: { createIfMissing: boolean }): Promise<void>;
  close(): Promise<void>;
  batch(): {
    _put(k: Uint8Array, v: Uint8Array, o: object): void;
    _del(k: Uint8Array, o: object): void;
    _writeSync(o: { sync: boolean }): void;
    _closeSync(): void;
  };
  detachResource(resource: object): void;
  iterator(o: object): { nextv(n: number): Promise<unknown>; close(): Promise<void> };
}
