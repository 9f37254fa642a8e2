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
 *
 * A batch travels as **one transferred buffer** (per op: type, column, key length, value
 * length, key, value): cloning the ops' own buffers would copy each one's whole backing store
 * (Node's 8 KiB allocation pool) for every message (issue 13).
 */
export interface SyncWriter {
  /** Writes `ops` with `sync: true` (the WAL is fdatasynced when it resolves). */
  write(ops: readonly KvOp[]): Promise<void>;
  /**
   * Set once the worker thread died (its `error` or `exit`; not on {@link SyncWriter.close}):
   * every write from then on rejects with it, and a write in flight when it died has an
   * unknown outcome (it may have reached the WAL).
   */
  readonly dead: Error | undefined;
  close(): Promise<void>;
}

const OP_HEADER = 10;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { RocksLevel } = require(workerData.modulePath);
const db = new RocksLevel(workerData.handle);
db.open().then(() => {
  const cols = workerData.columns.map((c) => ({ column: db.columns[c] }));
  // one native batch for the writer's life, cleared after each write (a batch object, its
  // native context and its release per message cost more than the batch's own puts)
  const batch = db.batch();
  parentPort.postMessage({ ready: true });
  parentPort.on('message', (m) => {
    // keys and values are plain views of the transferred buffer (the binding takes any
    // Uint8Array; a Buffer's subarray costs a species construction per view)
    const ab = m.buf;
    const buf = new Uint8Array(ab);
    const view = new DataView(ab);
    try {
      let p = 0;
      for (let i = 0; i < m.n; i++) {
        const type = buf[p];
        const col = cols[buf[p + 1]];
        const kl = view.getUint32(p + 2, true);
        const vl = view.getUint32(p + 6, true);
        p += ${OP_HEADER};
        const key = new Uint8Array(ab, p, kl);
        p += kl;
        if (type === 0) batch._put(key, new Uint8Array(ab, p, vl), col);
        else batch._del(key, col);
        p += vl;
      }
      batch._writeSync({ sync: true });
      // success is the bare id (a number is the cheapest message to clone and read back)
      parentPort.postMessage(m.id);
    } catch (err) {
      parentPort.postMessage({ id: m.id, error: String(err && err.message || err), errno: err && err.code, cause: String(err && err.cause && err.cause.message || '') });
    } finally {
      batch._clear();
    }
  });
}, (err) => parentPort.postMessage({ ready: false, error: String(err && err.message || err) }));
`;

interface Reply {
  id: number;
  error?: string;
  errno?: string;
  cause?: string;
}

/**
 * Starts the sync writer for an open database (`handle` = `db.handle`, `columns` its column
 * families by name). The durable watermark is written by the main thread (`rocksdbWatermark.ts`).
 */
export async function startSyncWriter(handle: bigint, columns: readonly string[]): Promise<SyncWriter> {
  const modulePath = createRequire(import.meta.url).resolve('@nxtedition/rocksdb');
  const colIndex = new Map<string, number>(columns.map((c, i) => [c, i]));
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { handle, modulePath, columns: [...columns] } });
  const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let failed: Error | undefined;
  let dead: Error | undefined;
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m: { ready: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error))));
    worker.once('error', reject);
    // a thread that ends before it said anything (terminated, exited, its isolate refused): no
    // 'error' comes, and waiting for its 'ready' would hang the open and every write for ever
    worker.once('exit', (code) => reject(new Error(`sync writer exited (${code}) before it was ready`)));
  });
  worker.on('message', (m: number | Reply) => {
    const id = typeof m === 'number' ? m : m.id;
    const w = waiting.get(id);
    if (!w) return;
    waiting.delete(id);
    if (waiting.size === 0) worker.unref();
    if (typeof m !== 'number' && m.error !== undefined) w.reject(Object.assign(new Error(m.error), { cause: m.cause ? new Error(m.cause) : undefined, code: m.errno }));
    else w.resolve();
  });
  const fail = (err: Error): void => {
    if (failed === undefined) dead = err;
    failed ??= err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`sync writer exited (${code})`)));
  // held (ref) only while a write is in flight: an idle writer never keeps the process alive
  // (attaching 'message' listeners refs the worker, so unref after them)
  worker.unref();
  return {
    get dead() {
      return dead;
    },
    write(ops) {
      if (failed) return Promise.reject(failed);
      let size = 0;
      for (const o of ops) {
        if (!colIndex.has(o.column)) return Promise.reject(new Error(`unknown column ${o.column}`));
        size += OP_HEADER + o.key.byteLength + (o.type === 'put' ? o.value.byteLength : 0);
      }
      // a fresh ArrayBuffer (not the allocation pool): transferred to the worker, never copied
      const ab = new ArrayBuffer(size);
      const bytes = new Uint8Array(ab);
      const view = new DataView(ab);
      let p = 0;
      for (const o of ops) {
        const put = o.type === 'put';
        const kl = o.key.byteLength;
        const vl = put ? o.value.byteLength : 0;
        bytes[p] = put ? 0 : 1;
        bytes[p + 1] = colIndex.get(o.column)!;
        view.setUint32(p + 2, kl, true);
        view.setUint32(p + 6, vl, true);
        p += OP_HEADER;
        bytes.set(o.key, p);
        p += kl;
        if (put) bytes.set(o.value, p);
        p += vl;
      }
      const id = nextId++;
      return new Promise<void>((resolve, reject) => {
        if (waiting.size === 0) worker.ref();
        waiting.set(id, { resolve, reject });
        worker.postMessage({ id, buf: ab, n: ops.length }, [ab]);
      });
    },
    async close() {
      failed ??= new Error('sync writer closed');
      await worker.terminate();
    },
  };
}
