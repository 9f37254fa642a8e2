import { existsSync } from 'node:fs';
import type { KvAdapter, KvDb, KvErrorKind, KvIterator, KvOp, KvOpenOptions, KvRange } from './kv.ts';
import { KvError } from './kv.ts';
import type { SyncWriter } from './rocksdbSyncWriter.ts';
import { startSyncWriter } from './rocksdbSyncWriter.ts';

/** Classifies a RocksDB open/write error message (the binding gives text, not codes). */
function classify(err: unknown): KvErrorKind {
  const text = `${(err as Error)?.message ?? ''} ${((err as { cause?: Error })?.cause?.message) ?? ''}`;
  if (/lock/i.test(text) && /(LOCK|lock hold|Resource temporarily unavailable|No locks available)/.test(text)) return 'locked';
  if (/does not exist \(create_if_missing is false\)/.test(text)) return 'missing';
  if (/Corruption|corrupt|checksum/i.test(text)) return 'corrupt';
  if (/not open/i.test(text) && !(err as { cause?: unknown })?.cause) return 'closed';
  return 'io';
}

function messageOf(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return e?.cause?.message ?? e?.message ?? String(err);
}

type Handle = unknown;

/**
 * The real key-value adapter: `@nxtedition/rocksdb` (pinned 12.2.12) with column families.
 * Writes go through one `WriteBatch` (atomic across columns); `sync: true` fdatasyncs the WAL
 * before the promise resolves. Synced writes run on a worker thread (`rocksdbSyncWriter.ts`)
 * so the fdatasync does not stall the event loop; unsynced ones run inline. Callers must not
 * issue a write before the previous one resolved if order matters (the store's group commit
 * writes one batch at a time).
 *
 * @example
 * const db = await createRocksKv().open('/var/lib/app/store', { columns: ['meta', 'rows'], createIfMissing: true });
 */
export function createRocksKv(adapterOptions: { syncWorker?: boolean } = {}): KvAdapter {
  return {
    async exists(dir: string): Promise<boolean> {
      return existsSync(`${dir}/CURRENT`);
    },
    async open(dir: string, options: KvOpenOptions): Promise<KvDb> {
      const columns: Record<string, object> = { default: {} };
      for (const c of options.columns) columns[c] = {};
      // The native binding is loaded on first open: importing Ordo never loads RocksDB.
      const { RocksLevel } = await import('@nxtedition/rocksdb');
      const db = new RocksLevel(dir, { columns, keyEncoding: 'buffer', valueEncoding: 'buffer' } as never) as unknown as RawRocks;
      try {
        await db.open({ createIfMissing: options.createIfMissing });
      } catch (err) {
        throw new KvError(classify(err), messageOf(err), dir, { cause: err });
      }
      const handle = (column: string): Handle => {
        const h = db.columns[column];
        if (h === undefined) throw new KvError('io', `unknown column ${column}`, dir);
        return h;
      };
      const encOpts = { keyEncoding: 'buffer', valueEncoding: 'buffer' };
      let syncWriter: SyncWriter | undefined;
      if (adapterOptions.syncWorker !== false) {
        try {
          syncWriter = await startSyncWriter(db.handle);
        } catch (err) {
          await db.close();
          throw new KvError('io', `cannot start the sync writer: ${messageOf(err)}`, dir, { cause: err });
        }
      }
      const colOpts = new Map<string, { column: Handle }>();
      const colOpt = (c: string): { column: Handle } => {
        const o = { column: handle(c) };
        colOpts.set(c, o);
        return o;
      };
      return {
        dir,
        async write(ops: readonly KvOp[], o: { readonly sync: boolean }) {
          if (o.sync && syncWriter) {
            try {
              return await syncWriter.write(ops);
            } catch (err) {
              throw new KvError(classify(err), messageOf(err), dir, { cause: err });
            }
          }
          // The binding's own `_put`/`_del`/`_writeSync` (what abstract-level calls after encoding;
          // with buffer keys and values the encoding step is the identity). Skipping the generic
          // layer halves the per-op cost. Pinned binding version: see package.json.
          const batch = db.batch();
          try {
            for (const op of ops) {
              const col = colOpts.get(op.column) ?? colOpt(op.column);
              if (op.type === 'put') batch._put(op.key, op.value, col);
              else batch._del(op.key, col);
            }
            batch._writeSync({ sync: o.sync });
          } catch (err) {
            throw new KvError(classify(err), messageOf(err), dir, { cause: err });
          } finally {
            batch._closeSync();
            db.detachResource(batch);
          }
        },
        async get(column, key) {
          try {
            const [v] = await db.getMany([key], { column: handle(column), ...encOpts });
            return v ?? undefined;
          } catch (err) {
            throw new KvError(classify(err), messageOf(err), dir, { cause: err });
          }
        },
        iterator(column: string, range: KvRange = {}): KvIterator {
          const it = db.iterator({ column: handle(column), ...range, ...encOpts });
          return {
            async next(n) {
              try {
                return (await it.nextv(n)) as Array<[Buffer, Buffer]>;
              } catch (err) {
                throw new KvError(classify(err), messageOf(err), dir, { cause: err });
              }
            },
            close: () => it.close(),
          };
        },
        async close() {
          await syncWriter?.close();
          await db.close();
        },
        defer(fn) {
          setImmediate(fn);
        },
      };
    },
  };
}

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
  getMany(keys: Uint8Array[], o: object): Promise<Array<Buffer | undefined>>;
  detachResource(resource: object): void;
  iterator(o: object): { nextv(n: number): Promise<unknown>; close(): Promise<void> };
}
