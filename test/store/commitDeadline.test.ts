import { afterEach, describe, expect, it } from 'vitest';
import { createTestEnv } from '../../src/env/env.ts';
import type { TestEnv } from '../../src/env/env.ts';
import type { KvAdapter, KvDb } from '../../src/env/kv.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import { StoreCommitIndeterminateError } from '../../src/store/index.ts';
import { tempDir } from './helpers.ts';

// Issue 13: a synced write that the disk (or the sync writer thread) never answers used to
// leave its commits waiting for ever while the store looked healthy. Now, after the commit
// deadline on the env's clock, they reject with ORDO_STORE_COMMIT_INDETERMINATE (outcome
// 'unknown', cause ORDO_STORE_COMMIT_TIMEOUT), the store fails (reason 'timeout') and stays
// failed until reopened; an answer after the deadline changes nothing; the reopen settles
// the batch from the WAL.

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const items = {
  type: 'ordered_set' as const,
  key: 'id',
  attributes: { id: { type: 'integer' as const }, v: { type: 'integer' as const, default: 0 } },
  durability: 'sync' as const,
};
const notes = { type: 'set' as const, key: 'id', attributes: { id: { type: 'integer' as const } } };

/** The real RocksDB adapter whose synced writes, once `hold()` is called, wait for `answer()` (never, unless it is called). */
function gatedKv(): { kv: KvAdapter; hold(): void; answer(err?: Error): Promise<void>; held(): number } {
  const real = createRocksKv();
  let holding = false;
  const gates: Array<(err?: Error) => Promise<void>> = [];
  const kv: KvAdapter = {
    exists: (d) => real.exists(d),
    canonical: (d) => real.canonical!(d),
    async open(d, o) {
      const db = await real.open(d, o);
      const wrapped: KvDb = {
        dir: db.dir,
        get marker() {
          return db.marker;
        },
        release: () => db.release!(),
        get: (c, k) => db.get(c, k),
        iterator: (c, r) => db.iterator(c, r),
        close: () => db.close(),
        defer: (fn) => db.defer(fn),
        write(ops, wo) {
          if (!holding || !wo.sync) return db.write(ops, wo);
          return new Promise<void>((resolve, reject) => {
            gates.push(async (err) => {
              if (err) return reject(err);
              await db.write(ops, wo).then(resolve, reject);
            });
          });
        },
      };
      return wrapped;
    },
  };
  return {
    kv,
    hold: () => void (holding = true),
    async answer(err) {
      holding = false;
      for (const g of gates.splice(0)) await g(err);
    },
    held: () => gates.length,
  };
}

interface Opened {
  readonly s: Store;
  readonly env: TestEnv;
  readonly gate: ReturnType<typeof gatedKv>;
  readonly dir: string;
}

async function open(deadlineMs = 5_000): Promise<Opened> {
  const t = tempDir('ordo-deadline-');
  cleanups.push(t.cleanup);
  const gate = gatedKv();
  const env = createTestEnv({ level: 'warn', startMs: 1_700_000_000_000 });
  const dir = `${t.dir}/s`;
  const s = await openStore({ env, dir, tables: { items, notes }, kv: gate.kv, commitDeadlineMs: deadlineMs });
  return { s, env, gate, dir };
}

const outcome = (p: Promise<unknown>): { settled: unknown } => {
  const o: { settled: unknown } = { settled: 'pending' };
  p.then(() => (o.settled = 'ok'), (e: unknown) => (o.settled = e));
  return o;
};

async function reopened(dir: string): Promise<{ ids: unknown[]; problems: unknown[]; after: unknown[] }> {
  const again = await openStore({ env: createTestEnv({ level: 'warn' }), dir, tables: { items, notes }, expectExisting: true });
  try {
    const ids = again.range('items').map((r) => r['id']);
    const problems = (await again.verify()).problems;
    await again.dirtyPut('items', { id: 9, v: 9 });
    return { ids, problems, after: again.range('items').map((r) => r['id']) };
  } finally {
    await again.close();
  }
}

describe('a synced write that is not answered within the commit deadline', () => {
  it('never answered: its commits reject as indeterminate (unknown) at the deadline, the store fails and stays failed, the reopen serves the disk', async () => {
    const { s, env, gate, dir } = await open(5_000);
    let closed = false;
    try {
      await s.dirtyPut('items', { id: 1, v: 1 });
      const feed: unknown[] = [];
      s.subscribe('items', (e) => feed.push(e));
      const failures: unknown[] = [];
      s.onFailure((e) => failures.push(e));
      gate.hold();
      const a = outcome(s.dirtyPut('items', { id: 2, v: 2 }));
      const b = outcome(s.transaction((tx) => tx.put('items', { id: 3, v: 3 })));
      await env.clock.advance(4_999);
      expect(gate.held()).toBe(1); // one group: both commits in it
      expect([a.settled, b.settled, s.failed]).toEqual(['pending', 'pending', undefined]);
      await env.clock.advance(1);
      for (const o of [a, b]) {
        expect(o.settled).toBeInstanceOf(StoreCommitIndeterminateError);
        expect(o.settled).toMatchObject({ code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'unknown', reason: 'timeout', tables: ['items'] });
        expect((o.settled as Error).cause).toMatchObject({ code: 'ORDO_STORE_COMMIT_TIMEOUT', deadlineMs: 5_000, commits: 2 });
      }
      expect(s.failed).toMatchObject({ code: 'ORDO_STORE_FAILED', reason: 'timeout' });
      expect(failures).toEqual([s.failed]);
      const reports = env.records.filter((r) => r.level >= 50).map((r) => [r['report'], (r['err'] as { code?: string } | undefined)?.code]);
      expect(reports).toEqual([
        ['store_commit_indeterminate', 'ORDO_STORE_COMMIT_INDETERMINATE'],
        ['store_failed', 'ORDO_STORE_FAILED'],
      ]);
      // later writes, synced or not, are refused at once (no probe queued behind the hung write)
      const later = [
        await s.dirtyPut('items', { id: 4 }).then(() => 'ok', (e: unknown) => (e as { code?: string }).code),
        await s.dirtyPut('notes', { id: 1 }).then(() => 'ok', (e: unknown) => (e as { code?: string }).code),
      ];
      expect(later).toEqual(['ORDO_STORE_FAILED', 'ORDO_STORE_FAILED']);
      expect(gate.held()).toBe(1);
      expect({ ram: s.range('items').map((r) => r['id']), feed }).toEqual({ ram: [1], feed: [] });
      await s.close();
      closed = true;
      // it never reached the disk: the reopen has what was acknowledged
      expect(await reopened(dir)).toEqual({ ids: [1], problems: [], after: [1, 9] });
    } finally {
      if (!closed) await s.close().catch(() => undefined);
    }
  });

  it('answered after the deadline: nothing is applied or resolved twice, the late answer is logged, the reopen settles the batch from the WAL', async () => {
    const { s, env, gate, dir } = await open(5_000);
    let closed = false;
    try {
      await s.dirtyPut('items', { id: 1, v: 1 });
      const feed: unknown[] = [];
      s.subscribe('items', (e) => feed.push(e));
      gate.hold();
      const a = outcome(s.dirtyPut('items', { id: 2, v: 2 }));
      await env.clock.advance(5_000);
      expect(a.settled).toMatchObject({ code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'unknown' });
      const rejected = a.settled;
      const seq = s.state.commitSeq;
      await gate.answer(); // the disk answers now: the batch reaches the WAL
      await env.clock.flush();
      expect(a.settled).toBe(rejected);
      expect({ ram: s.range('items').map((r) => r['id']), feed, seq: s.state.commitSeq }).toEqual({ ram: [1], feed: [], seq });
      const late = env.records.filter((r) => r['report'] === 'store_commit_late');
      expect(late).toMatchObject([{ written: true, commits: 1, deadlineMs: 5_000 }]);
      // still failed: only a reopen says what is on disk
      expect(await s.dirtyPut('items', { id: 4 }).then(() => 'ok', (e: unknown) => (e as { code?: string }).code)).toBe('ORDO_STORE_FAILED');
      await s.close();
      closed = true;
      expect(await reopened(dir)).toEqual({ ids: [1, 2], problems: [], after: [1, 2, 9] });
    } finally {
      if (!closed) await s.close().catch(() => undefined);
    }
  });

  it('answered after the deadline with an error: logged, nothing else changes', async () => {
    const { s, env, gate, dir } = await open(1_000);
    let closed = false;
    try {
      await s.dirtyPut('items', { id: 1, v: 1 });
      gate.hold();
      const a = outcome(s.dirtyPut('items', { id: 2, v: 2 }));
      await env.clock.advance(1_000);
      const rejected = a.settled;
      expect(rejected).toMatchObject({ code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'unknown' });
      await gate.answer(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      await env.clock.flush();
      expect(a.settled).toBe(rejected);
      expect(env.records.filter((r) => r['report'] === 'store_commit_late')).toMatchObject([{ written: false, err: { message: 'EIO: i/o error, fdatasync' } }]);
      await s.close();
      closed = true;
      expect(await reopened(dir)).toEqual({ ids: [1], problems: [], after: [1, 9] });
    } finally {
      if (!closed) await s.close().catch(() => undefined);
    }
  });

  it('answered just before the deadline: acknowledged, the deadline is disarmed (nothing fails later)', async () => {
    const { s, env, gate } = await open(5_000);
    try {
      gate.hold();
      const a = outcome(s.dirtyPut('items', { id: 2, v: 2 }));
      await env.clock.advance(4_999);
      await gate.answer();
      await s.idle();
      await env.clock.flush();
      expect(a.settled).toBe('ok');
      await env.clock.advance(60_000);
      expect({ failed: s.failed, ram: s.range('items').map((r) => r['id']) }).toEqual({ failed: undefined, ram: [2] });
      await s.dirtyPut('items', { id: 3, v: 3 });
      expect(env.records.filter((r) => r.level >= 50)).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('refuses a commitDeadlineMs that is not a positive integer, or past what a timer can wait (2^31 - 1 ms)', async () => {
    const t = tempDir('ordo-deadline-');
    cleanups.push(t.cleanup);
    for (const bad of [0, -1, 1.5, '5000', Number.NaN, 2 ** 31, 3e9]) {
      const got = await openStore({ env: createTestEnv({ level: 'warn' }), dir: `${t.dir}/s`, tables: { items }, commitDeadlineMs: bad as number }).then(
        async (st) => (await st.close(), 'opened'),
        (e: unknown) => e,
      );
      expect(got).toMatchObject({ code: 'ORDO_STORE_ARGUMENT', argument: 'commitDeadlineMs', value: bad });
    }
  });
});

describe('the deadline of a real disk runs on real time', () => {
  it("advancing a test's virtual clock past the deadline while a healthy synced write is in flight fails nothing (review of 5d2295b)", async () => {
    const t = tempDir('ordo-deadline-');
    cleanups.push(t.cleanup);
    const env = createTestEnv({ level: 'warn', startMs: 1_700_000_000_000 });
    const s = await openStore({ env, dir: `${t.dir}/s`, tables: { items, notes } }); // the real adapter, not gated
    try {
      const p = s.dirtyPut('items', { id: 1 }).then(() => 'ok', (e: unknown) => e);
      await env.clock.advance(120_000); // e.g. a test waiting out a minute-long refresh while the fsync runs
      expect(await p).toBe('ok');
      expect(s.failed).toBeUndefined();
      expect(s.range('items').map((r) => r['id'])).toEqual([1]);
    } finally {
      await s.close();
    }
  });

  it("the real adapter's latency clock is real time, not the test env's clock", async () => {
    const t = tempDir('ordo-deadline-');
    cleanups.push(t.cleanup);
    const env = createTestEnv({ level: 'warn' });
    const db = await createRocksKv().open(`${t.dir}/kv`, { columns: ['x'], createIfMissing: true });
    try {
      expect(db.latencyClock).toBeDefined();
      expect(db.latencyClock).not.toBe(env.clock);
      const t0 = db.latencyClock!.now();
      await env.clock.advance(3_600_000);
      expect(db.latencyClock!.now() - t0).toBeLessThan(3_600_000);
    } finally {
      await db.close();
    }
  });
});
