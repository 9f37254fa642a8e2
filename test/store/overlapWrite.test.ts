import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import type { ChangeEvent } from '../../src/store/index.ts';
import type { Row } from '../../src/store/types.ts';
import type { KvAdapter, KvDb, KvWriting } from '../../src/env/kv.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { _setFaultHook } from '../../src/env/faults.ts';
import { env, tempDir } from './helpers.ts';

// Issue 13: a large unsynced batch is written by the RocksDB adapter's bulk worker thread
// (KvDb.beginWrite) while the group commit applies it to RAM; the main thread then waits
// synchronously for the write's outcome, and a refused write takes the apply back before any
// other code runs. What must hold: a reader never sees a row whose write failed, RAM never
// differs from disk after a failure, the change feed has exactly the written commits in commit
// order, indexes and digests stay right (verify, reopen), and conflict checks are unchanged.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  _setFaultHook(undefined);
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tables = {
  items: { type: 'ordered_set' as const, key: 'id', attributes: { id: { type: 'integer' as const }, v: { type: 'integer' as const }, s: { type: 'string' as const, default: '' } }, indexes: ['v'], durability: 'async' as const },
  bag: { type: 'bag' as const, key: 'k', attributes: { k: { type: 'integer' as const }, x: { type: 'integer' as const } }, durability: 'async' as const },
  mem: { key: 'id', attributes: { id: { type: 'integer' as const }, v: { type: 'integer' as const } }, storage: 'ram' as const },
};

/** What the test saw of each overlapped write: the store's view of one row of the batch while the engine was still writing it. */
interface Seen {
  commits: number;
  during: Array<Row | undefined>;
}

/** The real adapter (bulk worker at open), its databases' `beginWrite` counted; `probe` is read at each `finish`. */
function countedKv(seen: Seen, probe: () => Row | undefined): KvAdapter {
  const real = createRocksKv({ bulkWorker: 'eager' });
  return {
    exists: (d) => real.exists(d),
    canonical: (d) => real.canonical!(d),
    open: async (d, o) => {
      const db = await real.open(d, o);
      const counted = Object.create(db) as KvDb;
      Object.defineProperty(counted, 'beginWrite', {
        value: (): KvWriting | undefined => {
          const w = db.beginWrite!();
          if (!w) return undefined;
          return {
            add: (ops, from, to) => w.add(ops, from, to),
            commit: (ops, from) => {
              seen.commits++;
              w.commit(ops, from);
            },
            finish: (ms) => {
              seen.during.push(probe());
              w.finish(ms);
            },
            abort: () => w.abort(),
          };
        },
      });
      return counted;
    },
  };
}

async function open(seen: Seen, probe: () => Row | undefined, extra: { commitDeadlineMs?: number } = {}): Promise<{ s: Store; dir: string; kv: KvAdapter }> {
  const t = tempDir('ordo-overlap-');
  cleanups.push(t.cleanup);
  const dir = `${t.dir}/s`;
  const kv = countedKv(seen, probe);
  const s = await openStore({ env: env(), dir, tables, kv, ...extra });
  cleanups.push(() => s.close().catch(() => undefined));
  return { s, dir, kv };
}

const rows = (from: number, n: number, v: number): Row[] => Array.from({ length: n }, (_, i) => ({ id: from + i, v: (from + i + v) % 50, s: `r${from + i}-${v}` }));

/** Fails (`kv.bulk.eio`) or hangs (`kv.bulk.hang`) the bulk writes of `dir` while `on()`. */
function bulkFault(dir: string, name: 'kv.bulk.eio' | 'kv.bulk.hang', on: () => boolean): void {
  _setFaultHook({ point: (n, subject) => n === name && subject === dir && on(), delayMs: () => 0 });
}

async function reopened(dir: string, fn: (s: Store) => unknown): Promise<unknown> {
  const again = await openStore({ env: env(), dir, tables, expectExisting: true });
  try {
    return await fn(again);
  } finally {
    await again.close();
  }
}

const state = (s: Store): unknown => ({ items: s.range('items'), bag: s.range('bag'), mem: s.range('mem'), byV: s.indexRead('items', 'v', 7) });

describe('a large unsynced batch is applied to RAM while the bulk worker writes it', () => {
  it('written: applied during the write, then delivered in commit order; RAM == disk after a reopen, verify clean', async () => {
    const seen: Seen = { commits: 0, during: [] };
    let s!: Store;
    const { s: store, dir } = await open(seen, () => s.get('items', 1_250));
    s = store;
    await s.dirtyPutMany('items', rows(0, 300, 0));
    const events: Array<[string, unknown]> = [];
    s.subscribe('items', (e: ChangeEvent) => events.push([e.op, e.key]));
    s.subscribe('mem', (e: ChangeEvent) => events.push([`mem ${e.op}`, e.key]));
    // one turn: a small commit, a 1000-row batch overlapping 200 old keys, another small commit
    const a = s.dirtyPut('items', { id: 5, v: 1, s: 'first' });
    const b = s.dirtyPutMany('items', rows(100, 1_200, 3));
    const c = s.transaction((tx) => {
      tx.put('mem', { id: 1, v: 2 });
      tx.delete('items', 7);
    });
    await Promise.all([a, b, c]);
    expect(seen.commits).toBe(2);
    // the second overlapped batch: its row 1250 was in RAM while the engine wrote it
    expect(seen.during).toEqual([undefined, { id: 1_250, v: (1_250 + 3) % 50, s: 'r1250-3' }]);
    // the change feed: the commits in order, each commit's rows in its order
    expect(events.slice(0, 2)).toEqual([
      ['put', 5],
      ['put', 100],
    ]);
    expect(events.slice(1_200)).toEqual([
      ['put', 1_299],
      ['mem put', 1],
      ['delete', 7],
    ]);
    expect(events).toHaveLength(1 + 1_200 + 2);
    expect(s.get('items', 5)).toMatchObject({ s: 'first' });
    expect(s.get('items', 150)).toMatchObject({ s: 'r150-3' });
    expect(s.count('items')).toBe(1_299);
    const inRam = state(s);
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
    expect(await reopened(dir, async (r) => ({ ...(state(r) as object), mem: [], problems: (await r.verify()).problems }))).toEqual({ ...(inRam as object), mem: [], problems: [] });
  });

  it('refused (kv.bulk.eio): the apply is taken back before anything runs — no reader, change event or commit sees it; the store stays writable; RAM == disk', async () => {
    const seen: Seen = { commits: 0, during: [] };
    let s!: Store;
    const { s: store, dir } = await open(seen, () => s.get('items', 10));
    s = store;
    await s.dirtyPutMany('items', rows(0, 300, 0));
    await s.dirtyPutMany('bag', Array.from({ length: 300 }, (_, i) => ({ k: i % 20, x: i })));
    const before = state(s);
    const digestOk = (await s.verify()).problems;
    expect(digestOk).toEqual([]);
    const events: unknown[] = [];
    s.subscribe('items', (e) => events.push(e.key));
    s.subscribe('bag', (e) => events.push(e.key));
    s.onCommit((batch) => events.push(batch));
    let fail = true;
    bulkFault(dir, 'kv.bulk.eio', () => fail);
    // rewrites, deletes and new rows across two tables and a ram table, in one refused flush
    const refused = [
      s.dirtyPutMany('items', rows(0, 500, 9)),
      s.transaction((tx) => {
        for (let i = 0; i < 20; i++) tx.delete('bag', i);
        for (let i = 200; i < 260; i++) tx.delete('items', i);
        tx.put('mem', { id: 3, v: 3 });
      }),
    ].map((p) => p.then(() => 'written', (e: unknown) => (e as { code?: string }).code));
    expect(await Promise.all(refused)).toEqual(['ORDO_STORE_IO', 'ORDO_STORE_IO']);
    // it was applied while the engine wrote it (the rewrite of row 10 visible to the probe)…
    expect(seen.during.at(-1)).toMatchObject({ id: 10, v: 19, s: 'r10-9' });
    // …and taken back: nobody else ever saw it
    expect(events).toEqual([]);
    expect(state(s)).toEqual(before);
    expect((await s.verify()).problems).toEqual([]);
    expect(s.failed).toBeUndefined();
    // the engine is fine (the probe wrote): later writes go on, overlapped again
    fail = false;
    const commitsBefore = seen.commits;
    await s.dirtyPutMany('items', rows(1_000, 400, 1));
    expect(seen.commits).toBe(commitsBefore + 1);
    expect(events).toHaveLength(400 + 1);
    const inRam = state(s);
    await s.close();
    expect(await reopened(dir, async (r) => ({ ...(state(r) as object), problems: (await r.verify()).problems }))).toEqual({ ...(inRam as object), mem: [], problems: [] });
  });

  it('unanswered (kv.bulk.hang) past commitDeadlineMs: rejected as indeterminate (unknown), not applied, the store failed until reopened', async () => {
    const seen: Seen = { commits: 0, during: [] };
    let s!: Store;
    const { s: store, dir } = await open(seen, () => s.get('items', 2_000), { commitDeadlineMs: 300 });
    s = store;
    await s.dirtyPutMany('items', rows(0, 300, 0));
    const before = state(s);
    const events: unknown[] = [];
    s.subscribe('items', (e) => events.push(e.key));
    bulkFault(dir, 'kv.bulk.hang', () => true);
    const err = await s.dirtyPutMany('items', rows(1_900, 300, 2)).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'unknown', reason: 'timeout', cause: { code: 'ORDO_STORE_COMMIT_TIMEOUT', bulk: true, cause: { code: 'ORDO_KV_ERROR', durable: 'unknown' } } });
    expect(seen.during.at(-1)).toMatchObject({ id: 2_000 });
    expect(events).toEqual([]);
    expect(state(s)).toEqual(before);
    expect(s.failed).toMatchObject({ code: 'ORDO_STORE_FAILED' });
    _setFaultHook(undefined);
    // no probe leaves this failure (the write may still land): only a reopen
    await expect(s.dirtyPut('items', { id: 1, v: 1 })).rejects.toMatchObject({ code: 'ORDO_STORE_FAILED' });
    await s.close();
    expect(await reopened(dir, async (r) => ({ ...(state(r) as object), problems: (await r.verify()).problems }))).toEqual({ ...(before as object), problems: [] });
  });

  it('a transaction that read a key of a refused overlapped batch commits without a conflict; one of a written batch retries', async () => {
    const seen: Seen = { commits: 0, during: [] };
    const { s, dir } = await open(seen, () => undefined);
    await s.dirtyPutMany('items', rows(0, 300, 0));
    let fail = true;
    bulkFault(dir, 'kv.bulk.eio', () => fail);
    const runTx = async (batch: () => Promise<unknown>): Promise<number> => {
      let runs = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const tx = s.transaction(async (t) => {
        runs++;
        const r = t.get('items', 42);
        if (runs === 1) await gate;
        t.put('items', { id: 42, v: 1, s: `${String(r?.['s'])}+tx` });
      });
      // the batch flushes while the transaction is open (its versions are tracked)
      await batch().catch(() => undefined);
      release();
      await tx;
      return runs;
    };
    expect(await runTx(() => s.dirtyPutMany('items', rows(0, 300, 5)))).toBe(1);
    expect(s.get('items', 42)).toMatchObject({ s: 'r42-0+tx' });
    fail = false;
    expect(await runTx(() => s.dirtyPutMany('items', rows(0, 300, 6)))).toBe(2);
    expect(s.get('items', 42)).toMatchObject({ s: 'r42-6+tx' });
    expect(seen.commits).toBe(3);
  });

  it('property: big and small batches, rewrites and deletes, some refused — RAM equals the model after each, and disk equals RAM', async () => {
    const cmd = fc.oneof(
      fc.record({ kind: fc.constant('many' as const), from: fc.integer({ min: 0, max: 1_500 }), n: fc.integer({ min: 250, max: 700 }), v: fc.nat(30), fail: fc.boolean() }),
      fc.record({ kind: fc.constant('dels' as const), from: fc.integer({ min: 0, max: 1_500 }), n: fc.integer({ min: 1, max: 400 }), v: fc.nat(30), fail: fc.boolean() }),
      fc.record({ kind: fc.constant('one' as const), from: fc.integer({ min: 0, max: 2_000 }), n: fc.constant(1), v: fc.nat(30), fail: fc.boolean() }),
    );
    let overlapped = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 6 }), async (cmds) => {
        const seen: Seen = { commits: 0, during: [] };
        const { s, dir } = await open(seen, () => undefined);
        let fail = false;
        bulkFault(dir, 'kv.bulk.eio', () => fail);
        const model = new Map<number, Row>();
        for (const c of cmds) {
          fail = c.fail;
          const ok = await (c.kind === 'dels'
            ? s.transaction((tx) => {
                for (let i = c.from; i < c.from + c.n; i++) tx.delete('items', i);
                tx.put('items', { id: c.from + c.n, v: c.v, s: 'after-dels' });
              })
            : c.kind === 'many'
              ? s.dirtyPutMany('items', rows(c.from, c.n, c.v))
              : s.dirtyPut('items', { id: c.from, v: c.v, s: 'one' })
          ).then(
            () => true,
            () => false,
          );
          // only an overlapped write can be refused here (the fault point is the bulk writer's)
          if (!ok) expect(c.fail).toBe(true);
          if (ok) {
            if (c.kind === 'dels') {
              for (let i = c.from; i < c.from + c.n; i++) model.delete(i);
              model.set(c.from + c.n, { id: c.from + c.n, v: c.v, s: 'after-dels' });
            } else if (c.kind === 'many') for (const r of rows(c.from, c.n, c.v)) model.set(r['id'] as number, r);
            else model.set(c.from, { id: c.from, v: c.v, s: 'one' });
          }
          const want = [...model.values()].sort((x, y) => (x['id'] as number) - (y['id'] as number));
          expect(s.range('items')).toEqual(want);
          expect(s.indexRead('items', 'v', 3).map((r) => r['id'])).toEqual(want.filter((r) => r['v'] === 3).map((r) => r['id']));
        }
        fail = false;
        overlapped += seen.commits;
        const inRam = s.range('items');
        const problems = (await s.verify()).problems;
        await s.close();
        expect({ problems, disk: await reopened(dir, async (r) => ({ rows: r.range('items'), problems: (await r.verify()).problems })) }).toEqual({ problems: [], disk: { rows: inRam, problems: [] } });
      }),
      { numRuns: 12 },
    );
    expect(overlapped).toBeGreaterThan(5);
  }, 180_000);
});
