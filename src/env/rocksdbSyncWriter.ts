import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type { KvOp } from './kv.ts';

/**
 * A worker thread that performs synced RocksDB writes, so an fdatasync never stalls the main
 * event loop. The binding's writes are synchronous on the calling thread; its handle (a BigInt
 * pointer, `db.handle`) can be opened from another thread (`new RocksLevel(handle)`), which is
 * what this worker does. Unsynced writes stay on the main thread (no fsync to wait for); the
 * store never has two writes in flight (its group commit writes one batch at a time), so
 * the order of writes is kept.
 */
export interface SyncWriter {
  /** Writes `ops` with `sync: true` (the WAL is fdatasynced when it resolves). */
  write(ops: readonly KvOp[]): Promise<void>;
  close(): Promise<void>;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { RocksLevel } = require(workerData.modulePath);
const db = new RocksLevel(workerData.handle);
db.open().then(() => {
  const cols = db.columns;
  parentPort.postMessage({ ready: true });
  parentPort.on('message', (m) => {
    const batch = db.batch();
    try {
      for (const [type, column, key, value] of m.ops) {
        const col = { column: cols[column] };
        if (type === 0) batch._put(Buffer.from(key.buffer, key.byteOffset, key.byteLength), Buffer.from(value.buffer, value.byteOffset, value.byteLength), col);
        else batch._del(Buffer.from(key.buffer, key.byteOffset, key.byteLength), col);
      }
      batch._writeSync({ sync: true });
      parentPort.postMessage({ id: m.id });
    } catch (err) {
      parentPort.postMessage({ id: m.id, error: String(err && err.message || err), errno: err && err.code, cause: String(err && err.cause && err.cause.message || '') });
    } finally {
      batch._closeSync();
      db.detachResource(batch);
    }
  });
}, (err) => parentPort.postMessage({ ready: false, error: String(err && err.message || err) }));
`;

/** Starts the sync writer for an open database (`handle` = `db.handle`). The durable watermark is written by the main thread (`rocksdbWatermark.ts`). */
export async function startSyncWriter(handle: bigint): Promise<SyncWriter> {
  const modulePath = createRequire(import.meta.url).resolve('@nxtedition/rocksdb');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { handle, modulePath } });
  const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let failed: Error | undefined;
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m: { ready: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error))));
    worker.once('error', reject);
  });
  worker.on('message', (m: { id: number; error?: string; errno?: string; cause?: string }) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (waiting.size === 0) worker.unref();
    if (m.error) w.reject(Object.assign(new Error(m.error), { cause: m.cause ? new Error(m.cause) : undefined, code: m.errno }));
    else w.resolve();
  });
  const fail = (err: Error): void => {
    failed = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`sync writer exited (${code})`)));
  // held (ref) only while a write is in flight: an idle writer never keeps the process alive
  // (attaching 'message' listeners refs the worker, so unref after them)
  worker.unref();
  return {
    write(ops) {
      if (failed) return Promise.reject(failed);
      const id = nextId++;
      return new Promise<void>((resolve, reject) => {
        if (waiting.size === 0) worker.ref();
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, ops: ops.map((o) => (o.type === 'put' ? [0, o.column, o.key, o.value] : [1, o.column, o.key, null])) });
      });
    },
    async close() {
      failed ??= new Error('sync writer closed');
      await worker.terminate();
    },
  };
}
