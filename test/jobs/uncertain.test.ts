/**
 * Commits of unknown outcome (`ORDO_REPL_INDETERMINATE`) on replicated job tables, on the
 * virtual clock: a claim, a shared completion, a completion with effects and an
 * insert-and-claim each end indeterminate and then settle every way (committed — also before
 * this node applied it —, not committed, unknown with the batch landed or not, never settled).
 * Whatever the fate: never more performs running cluster-wide than the global limit, every
 * job completed exactly once with its effect once, no global slot leaked or given back twice
 * (each running perform's slot is in the row), and the runner is degraded while a commit is
 * settling, ok after.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, jobTables, JOB_TABLES, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import type { TestEnv } from '../../src/env/env.ts';
import { fakeCluster, fakeLeadership, run, settle, testEnv } from './helpers.ts';
import { claims, completes, FATES, FlakyStream, type Armed, type Fate } from './flakyStream.ts';

let dirs = 0;

interface Spec {
  readonly ms: number;
  readonly effect: boolean;
}

/** Slots held per runner in `queue`'s row (tokens, or a count in rows written before tokens). */
function heldCounts(store: Store, queue = 'g'): Record<string, number> {
  const held = (store.get(JOB_TABLES.slots, queue)?.['held'] ?? {}) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(held).map(([k, v]) => [k, Array.isArray(v) ? v.length : Number(v)]));
}

/** Two runners ("nodes" a and b, a leads) over one store whose job tables replicate through a {@link FlakyStream}. */
async function cluster(seed: number) {
  const env: TestEnv = testEnv(seed);
  const tables = { ...jobTables({ replicated: true }), effects: { replicated: true, key: 'id', attributes: { id: { type: 'string' }, n: { type: 'integer', default: 0 } } } } as const;
  const store = await openStore({ env, dir: `/uncertain-${++dirs}`, kv: createMemoryKv(), tables });
  const stream = new FlakyStream(store, env);
  store.setReplicator(stream);
  const active = new Map<string, number>();
  const performs = new Map<string, number>();
  const violations: string[] = [];
  let maxCluster = 0;
  // every perform running holds a slot in the row: a slot given back twice (or early) shows here
  const check = (where: string): void => {
    const held = heldCounts(store);
    for (const [by, n] of active) if (n > (held[by] ?? 0)) violations.push(`${where}: ${by} runs ${n} with ${held[by] ?? 0} slots`);
  };
  store.subscribe(JOB_TABLES.slots, () => check('slots written'));
  const worker = defineWorker<Spec>({
    name: 'w',
    queue: 'g',
    perform: async (s, { job, signal }) => {
      const by = job.attemptedBy!;
      performs.set(job.id, (performs.get(job.id) ?? 0) + 1);
      active.set(by, (active.get(by) ?? 0) + 1);
      maxCluster = Math.max(maxCluster, [...active.values()].reduce((a, b) => a + b, 0));
      if (job.queue === 'g') check(`start ${job.id}`);
      try {
        await new Promise<void>((resolve, reject) => {
          const t = env.clock.setTimeout(() => resolve(), s.ms);
          signal.addEventListener('abort', () => (env.clock.clearTimeout(t), reject(signal.reason)));
        });
      } finally {
        active.set(by, active.get(by)! - 1);
      }
      if (!s.effect) return;
      return { ok: true, effects: (tx) => void tx.put('effects', { id: job.id, n: ((tx.get('effects', job.id)?.['n'] as number) ?? 0) + 1 }) };
    },
  });
  const config: JobRunnerConfig = { workers: [worker], queues: { g: { limit: 2, globalLimit: 2 }, h: 2 }, pruner: false, shutdownMs: 1000, lifeline: { intervalMs: 1000, graceMs: 500 } };
  const live = new Map([['a', 'a1'], ['b', 'b1']]);
  const a = await JobRunner.start({ env, store, config, cluster: fakeCluster('a', 'a1', live), leadership: fakeLeadership('a', true) });
  const b = await JobRunner.start({ env, store, config, cluster: fakeCluster('b', 'b1', live), leadership: fakeLeadership('b', false) });
  // every degraded reason either runner reported
  const reasons = new Set<string>();
  for (const r of [a, b]) r.onHealth((h) => h.status === 'degraded' && h.reasons.forEach((x) => reasons.add(x)));
  return {
    env, store, stream, worker, a, b, performs, violations, reasons,
    get maxCluster() { return maxCluster; },
    async close() {
      for (const r of [a, b]) await settle(env, r.stop());
      await store.close();
    },
  };
}

type World = Awaited<ReturnType<typeof cluster>>;

/**
 * When a landing batch is applied here, after its rejection: a committed one after its
 * settlement (1.5 s vs 3 s: observed first, applied later); an unknown one after it too (4.5 s:
 * the rows read back at the settlement do not show it yet — the runner must still not leave
 * the job it claimed executing).
 */
const lagOf = (fate: Fate): number => (fate === 'committed' ? 1500 : fate === 'unknown-landed' ? 4500 : 0);

/** After the fault: everything plays out; each job completed once (effect once), slots all back, runner healthy. */
async function expectClean(w: World, ids: readonly string[], effects: ReadonlySet<string>, fate: Fate): Promise<void> {
  await run(w.env, 260_000, 500);
  expect(w.stream.injected, 'the fault was injected').toEqual([fate]);
  for (const id of ids) {
    const j = w.a.get(id);
    expect(j?.state, `${fate}: job ${id}`).toBe('completed');
    expect(w.store.get('effects', id)?.['n'], `${fate}: effect of ${id}`).toBe(effects.has(id) ? 1 : undefined);
  }
  expect(w.maxCluster, fate).toBeLessThanOrEqual(2);
  expect(w.violations, fate).toEqual([]);
  expect(heldCounts(w.store), `${fate}: no slot leaked`).toEqual({});
  expect(w.a.health().status, fate).toBe('ok');
}

describe('a job commit of unknown outcome (ORDO_REPL_INDETERMINATE), every settlement', () => {
  it.each(FATES)('a claim that ends indeterminate, then %s: its jobs run once, after it settles; nothing given back twice', async (fate) => {
    const w = await cluster(11);
    w.stream.arm({ fate, settleMs: 3000, lagMs: lagOf(fate), match: claims } satisfies Armed);
    // enqueues move the clock: a commit may wait behind the stream's settling one
    const ids = [(await settle(w.env, w.a.enqueue(w.worker, { ms: 2000, effect: true }), 10)).job.id];
    for (let i = 0; i < 3; i++) ids.push((await settle(w.env, w.b.enqueue(w.worker, { ms: 700, effect: i === 0 }), 10)).job.id);
    await run(w.env, 1000, 50);
    expect([...w.reasons].join(), `${fate}: degraded while settling`).toContain('commit outcome unknown');
    await expectClean(w, ids, new Set([ids[0]!, ids[1]!]), fate);
    for (const id of ids) expect(w.performs.get(id), `${fate}: ${id} performed once`).toBe(1);
    await w.close();
  }, 60_000);

  it.each(FATES.flatMap((f) => [[f, false], [f, true]] as const))('a completion that ends indeterminate, then %s (effects: %s): done once, its slot given back once', async (fate, effect) => {
    const w = await cluster(12);
    // a runs a short job and a long one (both global slots); b's jobs wait for a slot
    const ids = [(await w.a.enqueue(w.worker, { ms: 1000, effect })).job.id, (await w.a.enqueue(w.worker, { ms: 6000, effect: false })).job.id];
    await run(w.env, 100, 10);
    for (let i = 0; i < 2; i++) ids.push((await settle(w.env, w.b.enqueue(w.worker, { ms: 500, effect: false }), 10)).job.id);
    w.stream.arm({ fate, settleMs: 3000, lagMs: lagOf(fate), match: completes });
    await run(w.env, 2000, 50);
    expect([...w.a.health().reasons].join(), fate).toContain('commit outcome unknown');
    await expectClean(w, ids, new Set(effect ? [ids[0]!] : []), fate);
    for (const id of ids) expect(w.performs.get(id), `${fate}: ${id} performed once`).toBe(1);
    await w.close();
  }, 60_000);

  it.each(FATES)('an enqueue stored already claimed that ends indeterminate, then %s: the job runs once if it is stored', async (fate) => {
    const w = await cluster(13);
    w.stream.arm({ fate, settleMs: 3000, lagMs: lagOf(fate), match: claims });
    const stored = await w.a.enqueue(w.worker, { ms: 500, effect: true }, { queue: 'h', id: 'direct' }).then(
      () => true,
      (err: { code?: string; cause?: { code?: string } }) => {
        expect(err.code).toBe('ORDO_JOBS_STORE');
        expect(err.cause?.code).toBe('ORDO_REPL_INDETERMINATE');
        return false;
      },
    );
    expect(stored).toBe(false);
    await run(w.env, 260_000, 500);
    const landed = fate === 'committed' || fate.endsWith('-landed');
    expect(w.a.get('direct')?.state, fate).toBe(landed ? 'completed' : undefined);
    expect(w.performs.get('direct'), fate).toBe(landed ? 1 : undefined);
    expect(w.store.get('effects', 'direct')?.['n'], fate).toBe(landed ? 1 : undefined);
    expect(w.a.health().status, fate).toBe('ok');
    await w.close();
  }, 60_000);
});
