import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type { KvOp } from './kv.ts';
import { faults } from './faults.ts';

/**
 * A worker thread that writes large **unsynced** batches while the main thread goes on with
 * its own work (issue 13: the store's RAM apply of a bulk batch runs during the RocksDB write
 * instead of after it). The binding's writes are synchronous on the calling thread; this
 * worker opens the same database from its handle (`new RocksLevel(handle)`, as the sync writer
 * does), builds one `WriteBatch` from the pieces it is sent, and writes it on `commit`.
 *
 * The main thread waits for the result **synchronously** ({@link BulkBatch.finish}, an
 * `Atomics.wait` on a shared status word): nothing else runs on it between starting the work
 * that overlaps the write and learning the write's outcome, so a caller can apply a batch to
 * RAM during the write and take it back before anything could read it if the write failed. An
 * unsynced write on the main thread blocks it for the whole write; this blocks it only for what
 * is left of the write once the caller's own work is done.
 *
 * Pieces travel as transferred buffers (per op: type, column, key length, value length, key,
 * value: the sync writer's format), so the worker puts each piece into its batch while the
 * caller builds the next. One batch at a time (the store's group commit writes one batch at a
 * time).
 *
 * Fault points (subject: the database directory), decided on the main thread at commit:
 * `kv.bulk.eio` — the worker refuses the batch as an I/O error, writing nothing;
 * `kv.bulk.hang` — the worker never answers (nothing is written), as a hung disk;
 * `kv.bulk.late-wake` — before writing, the worker wakes the waiting main thread while the status
 * word still says busy (what the previous answer's `Atomics.notify`, delayed after its store by a
 * descheduled worker, does to the next batch's wait), then writes and answers as usual. @internal
 */
export interface BulkWriter {
  /**
   * Starts a batch (the previous one must be finished or aborted). Throws once a batch went
   * unanswered ({@link BulkWriter.stuck}): its late answer would be taken for the new batch's.
   */
  begin(): BulkBatch;
  /**
   * Set once a batch's {@link BulkBatch.finish} timed out: the worker may still answer it, so the
   * writer starts no other batch (the database must be reopened).
   */
  readonly stuck: BulkWriteTimeout | undefined;
  /** Set once the worker thread died or failed to start (its `error` or `exit`; not on {@link BulkWriter.close}). */
  readonly dead: Error | undefined;
  close(): Promise<void>;
}

/** One batch of a {@link BulkWriter}, sent in pieces. @internal */
export interface BulkBatch {
  /** Sends `ops[from, to)` (in order, after the pieces before). */
  add(ops: readonly KvOp[], from: number, to: number): void;
  /** Sends `ops[from, ops.length)` (the last piece) and asks for the batch to be written (unsynced); returns at once. */
  commit(ops: readonly KvOp[], from: number): void;
  /**
   * Blocks until the committed write is done: returns when it was written, throws the engine's
   * error (an `Error` with the binding's message, `code` and `cause`) when it was refused, or a
   * {@link BulkWriteTimeout} when no answer came within `timeoutMs` (its outcome is unknown).
   */
  finish(timeoutMs: number): void;
  /** Drops the pieces sent (nothing of them is written). */
  abort(): void;
}

/** {@link BulkBatch.finish} got no answer in time: the write may still land. @internal */
export class BulkWriteTimeout extends Error {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`the bulk writer did not answer within ${timeoutMs} ms`);
    this.name = 'BulkWriteTimeout';
    this.timeoutMs = timeoutMs;
  }
}

/**
 * {@link BulkBatch.finish} found the status word in a state that is neither busy, written nor
 * refused: the protocol was broken, so the write's outcome is unknown (as a timeout's). @internal
 */
export class BulkWriteUnknown extends BulkWriteTimeout {
  readonly state: number;
  constructor(timeoutMs: number, state: number) {
    super(timeoutMs);
    this.message = `the bulk writer answered with an unknown state ${state}`;
    this.name = 'BulkWriteUnknown';
    this.state = state;
  }
}

const OP_HEADER = 10;
/** Status word: 0 idle, 1 a commit in flight, 2 written, 3 refused (the error's JSON in the text area). */
const IDLE = 0;
const BUSY = 1;
const DONE = 2;
const FAILED = 3;
/** Bytes of the error text area after the two status words. */
const TEXT = 4096;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { RocksLevel } = require(workerData.modulePath);
const ctrl = new Int32Array(workerData.shared, 0, 2);
const text = new Uint8Array(workerData.shared, 8);
const db = new RocksLevel(workerData.handle);
db.open().then(() => {
  const cols = workerData.columns.map((c) => ({ column: db.columns[c] }));
  let batch;
  let failure;
  const drop = () => {
    if (batch) {
      batch._closeSync();
      db.detachResource(batch);
    }
    batch = undefined;
    failure = undefined;
  };
  const settle = (err) => {
    if (err) {
      // fields shortened (head and tail kept: the engine's reason follows the file's path) until
      // the JSON fits the text area whole: a cut JSON would lose the error
      const message = String(err && err.message || err);
      const errno = err && typeof err.code === 'string' ? err.code.slice(0, 64) : undefined;
      const cause = String(err && err.cause && err.cause.message || '');
      const fit = (s, max) => (s.length <= max ? s : s.slice(0, max >> 1) + '…' + s.slice(s.length - (max >> 1)));
      let json;
      for (let max = ${TEXT}; ; max >>= 1) {
        json = JSON.stringify({ error: fit(message, max), errno, cause: fit(cause, max >> 1) });
        if (Buffer.byteLength(json) <= ${TEXT} || max < 16) break;
      }
      const n = Buffer.from(text.buffer, text.byteOffset, text.length).write(json, 0, 'utf8');
      Atomics.store(ctrl, 1, n);
      Atomics.store(ctrl, 0, ${FAILED});
    } else Atomics.store(ctrl, 0, ${DONE});
    Atomics.notify(ctrl, 0);
  };
  parentPort.postMessage({ ready: true });
  const put = (m) => {
    if (failure) return;
    try {
      batch ??= db.batch();
      const buf = Buffer.from(m.buf);
      let p = 0;
      for (let i = 0; i < m.n; i++) {
        const type = buf[p];
        const col = cols[buf[p + 1]];
        const kl = buf.readUInt32LE(p + 2);
        const vl = buf.readUInt32LE(p + 6);
        p += ${OP_HEADER};
        const key = buf.subarray(p, p + kl);
        p += kl;
        if (type === 0) batch._put(key, buf.subarray(p, p + vl), col);
        else batch._del(key, col);
        p += vl;
      }
    } catch (err) {
      // refused at commit (the batch is written whole or not at all)
      failure = err;
    }
  };
  parentPort.on('message', (m) => {
    if (m.t === 'abort') return drop();
    put(m);
    if (m.t !== 'commit') return;
    if (m.fault === 'hang') return drop();
    if (m.fault === 'late-wake') {
      // wake the main thread's wait while the word is still busy (bounded: never hang the worker)
      const until = Date.now() + 30000;
      while (Atomics.notify(ctrl, 0) === 0 && Date.now() < until);
    }
    try {
      if (m.fault === 'eio') throw Object.assign(new Error('IO error: While appending to file: ' + workerData.dir + '/LOG: Input/output error (fault point kv.bulk.eio)'), { code: 'EIO' });
      if (failure) throw failure;
      if (batch) batch._writeSync({ sync: false });
      settle();
    } catch (err) {
      settle(err);
    } finally {
      drop();
    }
  });
}, (err) => parentPort.postMessage({ ready: false, error: String(err && err.message || err) }));
`;

/**
 * Starts a bulk writer for an open database (`handle` = `db.handle`, `columns` its column
 * families by name, `dir` its directory: errors and fault points name it). Resolves once the worker has opened the database. @internal
 */
export async function startBulkWriter(handle: bigint, columns: readonly string[], dir: string): Promise<BulkWriter> {
  const modulePath = createRequire(import.meta.url).resolve('@nxtedition/rocksdb');
  const colIndex = new Map<string, number>(columns.map((c, i) => [c, i]));
  const shared = new SharedArrayBuffer(8 + TEXT);
  const ctrl = new Int32Array(shared, 0, 2);
  const text = Buffer.from(shared, 8, TEXT);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { handle, modulePath, columns: [...columns], shared, dir } });
  let dead: Error | undefined;
  let closed = false;
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m: { ready: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error))));
    worker.once('error', reject);
  });
  worker.on('error', (err: Error) => (dead ??= err));
  worker.on('exit', (code) => {
    if (!closed) dead ??= new Error(`bulk writer exited (${code})`);
  });
  // an idle writer never keeps the process alive (the main thread waits for it synchronously)
  worker.unref();
  let current: object | undefined;
  let stuck: BulkWriteTimeout | undefined;
  return {
    get dead() {
      return dead;
    },
    get stuck() {
      return stuck;
    },
    begin() {
      if (stuck) throw new Error('bulk writer: a batch went unanswered; no other batch until the database is reopened', { cause: stuck });
      const token = {};
      current = token;
      let committed = false;
      return {
        add(ops, from, to) {
          const buf = pack(ops, from, to);
          worker.postMessage({ t: 'put', n: to - from, buf }, [buf]);
        },
        commit(ops, from) {
          if (current !== token) throw new Error('bulk writer: a newer batch was started');
          const buf = pack(ops, from, ops.length);
          committed = true;
          const fault = faults.point('kv.bulk.eio', dir) ? 'eio' : faults.point('kv.bulk.hang', dir) ? 'hang' : faults.point('kv.bulk.late-wake', dir) ? 'late-wake' : undefined;
          Atomics.store(ctrl, 0, BUSY);
          worker.postMessage({ t: 'commit', n: ops.length - from, buf, fault }, [buf]);
        },
        finish(timeoutMs) {
          if (!committed) throw new Error('bulk writer: finish before commit');
          current = undefined;
          // the main thread waits here only for what is left of the write. A wake is not an
          // answer: the worker stores the state and then notifies, so the previous batch's
          // notify can land in this batch's wait (the worker descheduled between the two) while
          // the word still says busy — wait again for the time left. Only the state word answers.
          const deadline = performance.now() + timeoutMs;
          for (let left = timeoutMs; Atomics.load(ctrl, 0) === BUSY; left = deadline - performance.now()) {
            if (left <= 0) throw (stuck = new BulkWriteTimeout(timeoutMs));
            Atomics.wait(ctrl, 0, BUSY, left);
          }
          const state = Atomics.exchange(ctrl, 0, IDLE);
          if (state === DONE) return;
          if (state !== FAILED) throw (stuck = new BulkWriteUnknown(timeoutMs, state));
          const raw = text.toString('utf8', 0, Atomics.load(ctrl, 1));
          let m: { error: string; errno?: string; cause?: string };
          try {
            m = JSON.parse(raw) as typeof m;
          } catch {
            // never expected (the worker fits the JSON to the text area); the text is still the engine's
            m = { error: raw };
          }
          throw Object.assign(new Error(m.error), { cause: m.cause ? new Error(m.cause) : undefined, code: m.errno });
        },
        abort() {
          if (current === token) current = undefined;
          if (!committed) worker.postMessage({ t: 'abort' });
        },
      };
    },
    async close() {
      closed = true;
      await worker.terminate();
    },
  };

  /** `ops[from, to)` in one fresh buffer (transferred to the worker, never copied). */
  function pack(ops: readonly KvOp[], from: number, to: number): ArrayBuffer {
    let size = 0;
    for (let i = from; i < to; i++) {
      const o = ops[i]!;
      if (!colIndex.has(o.column)) throw new Error(`unknown column ${o.column}`);
      size += OP_HEADER + o.key.byteLength + (o.type === 'put' ? o.value.byteLength : 0);
    }
    // a fresh ArrayBuffer (not the allocation pool)
    const ab = new ArrayBuffer(size);
    const bytes = new Uint8Array(ab);
    const view = new DataView(ab);
    let p = 0;
    for (let i = from; i < to; i++) {
      const o = ops[i]!;
      const put = o.type === 'put';
      const key = o.key;
      const kl = key.byteLength;
      const vl = put ? o.value.byteLength : 0;
      bytes[p] = put ? 0 : 1;
      bytes[p + 1] = colIndex.get(o.column)!;
      view.setUint32(p + 2, kl, true);
      view.setUint32(p + 6, vl, true);
      p += OP_HEADER;
      bytes.set(key, p);
      p += kl;
      if (put) bytes.set(o.value, p);
      p += vl;
    }
    return ab;
  }
}
