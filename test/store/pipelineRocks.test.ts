import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestEnv } from '../../src/env/env.ts';
import { _setFaultHook } from '../../src/env/faults.ts';
import type { KvDb, KvOp } from '../../src/env/kv.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { readMarker } from '../../src/env/rocksdbMarker.ts';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import { wrapKvWrites } from './kvWrap.ts';
import { tempDir } from './helpers.ts';

// The strict commit pipeline (commitPipeline.ts) on real RocksDB: a batch written while the one
// ahead waits for its marker's fdatasync. Each case retries until the second batch really was
// handed to the engine before the first settled (the pipeline at work), then checks the outcome.

const cleanups: Array<() => void> = [];
afterEach(() => {
  _setFaultHook(undefined);
  cleanups.splice(0).forEach((c) => c());
});

const items = { type: 'ordered_set' as const, key: 'id', attributes: { id: { type: 'integer' as const }, v: { type: 'integer' as const, default: 0 } }, indexes: ['v'], durability: 'sync' as const };
const tables = { items };

interface Traced { s: Store; d: string; writes: Array<{ ops: number; settled: boolean }>; overlapped: () => boolean; /** The engine's durable mark now (the wrapper's `marker` is a copy taken at open). */ mark: () => number | undefined }

async function traced(): Promise<Traced> {
  const t = tempDir('ordo-pipe-rocks-');
  cleanups.push(t.cleanup);
  const d = `${t.dir}/s`;
  const writes: Array<{ ops: number; settled: boolean }> = [];
  let overlap = false;
  let inner: KvDb | undefined;
  const kv = wrapKvWrites(createRocksKv(), (db) => async (ops: readonly KvOp[], wo) => {
    inner = db;
    const w = { ops: ops.length, settled: false };
    if (ops.some((o) => o.column === 'rows') && writes.some((x) => !x.settled && x.ops > 1)) overlap = true;
    writes.push(w);
    try {
      await db.write(ops, wo);
    } finally {
      w.settled = true;
    }
  });
  const e = createTestEnv({ level: 'silent', startMs: 1_700_000_000_000, io: { kv } });
  const s = await openStore({ env: e, dir: d, tables });
  return { s, d, writes, overlapped: () => overlap, mark: () => inner?.marker?.mark };
}

/** Two one-row commits, the second issued a turn after the first (written behind it once the first is durable in the WAL). */
function twoInFlight(s: Store, a: number, b: number): [Promise<unknown>, Promise<unknown>] {
  const first = s.dirtyPut('items', { id: a, v: a }).then(() => 'ok', (e: unknown) => e);
  const second = new Promise<unknown>((r) => setImmediate(() => void s.dirtyPut('items', { id: b, v: b }).then(() => r('ok'), r)));
  return [first, second];
}

async function reopened(d: string): Promise<{ ids: unknown[]; byIndex: unknown[]; problems: unknown[] }> {
  const again = await openStore({ env: createTestEnv({ level: 'silent' }), dir: d, tables, expectExisting: true });
  try {
    return { ids: again.range('items').map((r) => r['id']), byIndex: again.indexRange('items', 'v').map((r) => r['id']), problems: (await again.verify()).problems };
  } finally {
    await again.close();
  }
}

describe('store: the strict commit pipeline on real RocksDB', () => {
  it('close() with two batches in flight: both acknowledged, the last mark written, a reopen has both', async () => {
    let seen = false;
    for (let attempt = 0; attempt < 30 && !seen; attempt++) {
      const { s, d, overlapped, mark } = await traced();
      await s.dirtyPut('items', { id: 1, v: 1 });
      const [a, b] = twoInFlight(s, 2, 3);
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      // each acknowledgement finds the marker naming its commit (acknowledged after its own mark)
      const marked: Array<[number | undefined, number]> = [];
      const at = (): void => void marked.push([mark(), s.state.commitSeq]);
      const closing = s.close();
      const first = await a;
      at();
      const second = await b;
      at();
      await closing;
      expect(first).toBe('ok');
      if (!overlapped()) continue;
      seen = true;
      expect(second).toBe('ok');
      for (const [mark, seq] of marked) expect(mark).toBeGreaterThanOrEqual(seq);
      expect(readMarker(d)?.mark).toBe(s.state.commitSeq);
      expect(await reopened(d)).toEqual({ ids: [1, 2, 3], byIndex: [1, 2, 3], problems: [] });
    }
    expect(seen).toBe(true);
  });

  it('a marker failure of N with N+1 written: both durable but unproven (committed), the store failed, RAM = the reopened disk', async () => {
    let seen = false;
    for (let attempt = 0; attempt < 30 && !seen; attempt++) {
      const { s, d, overlapped } = await traced();
      await s.dirtyPut('items', { id: 1, v: 1 });
      let fired = 0;
      _setFaultHook({ point: (name, subject) => (name === 'kv.marker.enospc' && subject === d && fired < 2 ? (fired++, true) : false), delayMs: () => 0 });
      const [a, b] = twoInFlight(s, 2, 3);
      const ra = await a;
      const rb = await b;
      _setFaultHook(undefined);
      const ram = s.range('items').map((r) => r['id']);
      await s.close().catch(() => undefined);
      if (!overlapped()) continue;
      seen = true;
      expect(ra).toMatchObject({ code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'committed' });
      // written behind N before its mark failed: durable in the WAL, never acknowledged
      if (rb !== 'ok') expect(rb).toMatchObject({ code: expect.stringMatching(/^ORDO_STORE_(COMMIT_INDETERMINATE|FAILED|IO)$/) });
      expect(rb).not.toBe('ok');
      const disk = await reopened(d);
      expect(disk).toEqual({ ids: ram, byIndex: ram, problems: [] });
      if ((rb as { outcome?: string }).outcome === 'committed') expect(ram).toEqual([1, 2, 3]);
    }
    expect(seen).toBe(true);
  });

  it('the sync writer dies with N+1 handed to it while N waits for its mark: N acknowledged, N+1 unknown, the store failed, a reopen keeps N', async () => {
    let seen = false;
    for (let attempt = 0; attempt < 30 && !seen; attempt++) {
      const { s, d, overlapped } = await traced();
      await s.dirtyPut('items', { id: 1, v: 1 });
      const [a, b] = twoInFlight(s, 2, 3);
      // the next batch handed to the writer (N+1's) kills it
      const post = Worker.prototype.postMessage;
      let posts = 0;
      Worker.prototype.postMessage = function (this: Worker, ...args: Parameters<Worker['postMessage']>) {
        if (++posts === 2) {
          Worker.prototype.postMessage = post;
          void this.terminate();
          return;
        }
        return post.apply(this, args);
      };
      cleanups.push(() => (Worker.prototype.postMessage = post));
      const ra = await a;
      const rb = await b;
      Worker.prototype.postMessage = post;
      const ram = s.range('items').map((r) => r['id']);
      const failed = s.failed;
      await s.close().catch(() => undefined);
      if (!overlapped()) continue;
      seen = true;
      expect(ra).toBe('ok');
      expect(rb).toMatchObject({ code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'unknown' });
      expect(failed).toMatchObject({ code: 'ORDO_STORE_FAILED' });
      expect(ram).toEqual([1, 2]);
      const disk = await reopened(d);
      expect(disk.problems).toEqual([]);
      expect(disk.ids.slice(0, 2)).toEqual([1, 2]);
    }
    expect(seen).toBe(true);
  });
});
