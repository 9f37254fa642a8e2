import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import { StoreCommitIndeterminateError } from '../../src/store/index.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { env, tempDir } from './helpers.ts';

// Review defect F2: once the sync writer thread died, every synced write was refused for ever
// while unsynced writes (main thread) succeeded, so the recovery probe passed and the store
// never entered its failed state. Now a dead writer refuses every write (KvError 'io'), the
// batch in flight is reported as of unknown outcome (never "not committed"), the store fails
// typed, and a reopen serves exactly what is on disk.

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const items = {
  type: 'ordered_set' as const,
  key: 'id',
  attributes: { id: { type: 'integer' as const }, v: { type: 'integer' as const, default: 0 } },
  durability: 'sync' as const,
};
const notes = {
  type: 'set' as const,
  key: 'id',
  attributes: { id: { type: 'integer' as const } },
};

/** The worker dies as the next batch is handed to it (an OOM, a native abort). */
function killWorkerOnNextPost(): void {
  const post = Worker.prototype.postMessage;
  let killed = false;
  Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
    if (!killed) {
      killed = true;
      void this.terminate();
      return;
    }
    return post.apply(this, args);
  };
  cleanups.push(() => (Worker.prototype.postMessage = post));
}

/** The next worker thread started ends before it says it is ready (terminated: an 'exit', no 'error'). */
function endNextWorkerAtStart(): void {
  const once = Worker.prototype.once;
  let ended = false;
  Worker.prototype.once = function (this: Worker, ...args: Parameters<Worker['once']>) {
    if (!ended && args[0] === 'message') {
      ended = true;
      void this.terminate();
    }
    return once.apply(this, args);
  };
  cleanups.push(() => (Worker.prototype.once = once));
}

describe('the sync writer thread fails to start', () => {
  it('a thread that ends before it is ready: the store open is refused typed (never a hang)', async () => {
    const t = tempDir('ordo-worker-start-');
    cleanups.push(t.cleanup);
    endNextWorkerAtStart();
    const err = await openStore({ env: env(), dir: `${t.dir}/s`, tables: { items } }).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ORDO_STORE_IO' });
    expect(String((err as Error).message)).toMatch(/cannot start: sync writer exited/);
  });

  it('an unguarded database: no bulk write begins (beginWrite undefined), every write is refused typed, close returns', async () => {
    const t = tempDir('ordo-worker-start-');
    cleanups.push(t.cleanup);
    endNextWorkerAtStart();
    const db = await createRocksKv({ bulkWorker: 'eager' }).open(`${t.dir}/kv`, { columns: ['a'], createIfMissing: true });
    const put = [{ type: 'put' as const, column: 'a', key: Buffer.from('k'), value: Buffer.from('v') }];
    const refusal = { code: 'ORDO_KV_ERROR', message: expect.stringMatching(/cannot start: sync writer exited/) };
    await expect(db.write(put, { sync: true })).rejects.toMatchObject(refusal);
    expect(db.beginWrite?.()).toBeUndefined();
    await expect(db.write(put, { sync: false })).rejects.toMatchObject(refusal);
    await db.close();
  });
});

describe('the sync writer thread dies', () => {
  it('the batch in flight is of unknown outcome, the store fails typed, every later write (synced or not) is refused, a reopen serves the disk', async () => {
    const t = tempDir('ordo-worker-crash-');
    cleanups.push(t.cleanup);
    const d = `${t.dir}/s`;
    const s: Store = await openStore({ env: env(), dir: d, tables: { items, notes } });
    let closed = false;
    try {
      await s.dirtyPut('items', { id: 1, v: 1 });
      killWorkerOnNextPost();
      const first = await s.dirtyPut('items', { id: 2, v: 2 }).then(() => 'ok', (e: unknown) => e);
      expect(first).toBeInstanceOf(StoreCommitIndeterminateError);
      expect(first).toMatchObject({ code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'unknown', tables: ['items'] });
      expect((first as Error).cause).toMatchObject({ code: 'ORDO_KV_ERROR', kind: 'io', durable: 'unknown' });
      expect(s.failed).toMatchObject({ code: 'ORDO_STORE_FAILED' });
      const later: unknown[] = [];
      for (let i = 3; i < 6; i++) later.push(await s.dirtyPut('items', { id: i, v: i }).then(() => 'ok', (e: unknown) => (e as { code?: string }).code));
      // an unsynced table's write (main thread) is refused too: the store stays failed
      later.push(await s.dirtyPut('notes', { id: 1 }).then(() => 'ok', (e: unknown) => (e as { code?: string }).code));
      expect(later).toEqual(['ORDO_STORE_FAILED', 'ORDO_STORE_FAILED', 'ORDO_STORE_FAILED', 'ORDO_STORE_FAILED']);
      expect(s.failed).toBeDefined();
      expect(s.range('items').map((r) => r['id'])).toEqual([1]);
      await s.close();
      closed = true;
      const again = await openStore({ env: env(), dir: d, tables: { items, notes }, expectExisting: true });
      const onDisk = again.range('items').map((r) => r['id']);
      const problems = (await again.verify()).problems;
      // writable again after the reopen
      await again.dirtyPut('items', { id: 7, v: 7 });
      const after = again.range('items').map((r) => r['id']);
      await again.close();
      // the batch never reached the worker: the disk has what was acknowledged
      expect({ onDisk, problems, after }).toEqual({ onDisk: [1], problems: [], after: [1, 7] });
    } finally {
      if (!closed) await s.close().catch(() => undefined);
    }
  });
});
