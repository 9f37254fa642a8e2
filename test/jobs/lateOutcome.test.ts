/**
 * The outcome of a perform its runner's drain left running (it ignored its abort), ending while a
 * runner of the same id runs on, each way its write can end — and each counted in that runner's
 * `/metrics` (`ordo_jobs_late_outcomes_total{outcome}`):
 *
 * - **written**: the completion lands, with its effects once;
 * - **fenced**: the job was cancelled meanwhile — nothing written, effects not applied, its
 *   global slot given back all the same;
 * - **refused**: the store refuses the write — the job is rescued with its attempt charged;
 * - **of unknown outcome** (replicated tables, `ORDO_REPL_INDETERMINATE`), every settlement: the
 *   runner's Reconciler settles it promptly — the outcome written once, fenced by the attempt —
 *   instead of leaving the job `executing` until the lifeline's `rescueAfterMs` (turned off
 *   here, so the old code left it there for good).
 *
 * The counts and the unknown-outcome cases are red on the old code. On the virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, jobTables, JOB_TABLES, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { LATE_NOT_WRITTEN } from '../../src/jobs/lateOutcome.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import type { KvOp } from '../../src/env/kv.ts';
import { fakeCluster, fakeLeadership, run, settle, testEnv } from './helpers.ts';
import { completes, FlakyStream, type Fate } from './flakyStream.ts';

let dirs = 0;

const tablesOf = (replicated: boolean) =>
  ({ ...jobTables({ replicated }), effects: { replicated, key: 'id', attributes: { id: { type: 'string' }, n: { type: 'integer', default: 0 } } } }) as const;

/** Slots held in queue `default`'s row, by runner. */
const held = (store: Store): Record<string, unknown> => (store.get(JOB_TABLES.slots, 'default')?.['held'] ?? {}) as Record<string, unknown>;

/**
 * One `maxAttempts: 1` job whose perform ignores its abort, runs 10 s and completes with an
 * effect; its runner stops (deadline 1 s) and a runner of the same id starts on the same store.
 * `beforeEnd` runs just before the perform returns.
 */
async function world(seed: number, o: { replicated?: boolean; beforeEnd?: (w: { second: JobRunner; id: string; disk: { refuse: number } }) => void | Promise<void>; atRestart?: (second: JobRunner, id: string, env: ReturnType<typeof testEnv>) => Promise<void> } = {}) {
  const env = testEnv(seed);
  const disk = { refuse: 0 };
  const kv = createMemoryKv({
    // a refused write of rows (a job's, a slot's, an effect's); the store's own bookkeeping goes through
    beforeWrite: (ops: readonly KvOp[]) => {
      if (disk.refuse === 0 || !ops.some((op) => op.column === 'rows')) return;
      disk.refuse--;
      throw Object.assign(new Error('EIO: simulated refused write'), { code: 'EIO' });
    },
  });
  const store = await openStore({ env, dir: `/late-outcome-${++dirs}`, kv, tables: tablesOf(o.replicated === true) });
  const stream = o.replicated ? new FlakyStream(store, env) : undefined;
  if (stream) store.setReplicator(stream);
  const performs = new Map<string, number>();
  const w: { second?: JobRunner; id?: string } = {};
  const worker = defineWorker<{ ms: number }>({
    name: 'w',
    maxAttempts: 1,
    perform: async ({ ms }, ctx) => {
      performs.set(ctx.job.id, (performs.get(ctx.job.id) ?? 0) + 1);
      // ignores its abort
      await new Promise<void>((r) => env.clock.setTimeout(() => r(), ms));
      if (ctx.job.id === w.id) await o.beforeEnd?.({ second: w.second!, id: w.id, disk });
      return { ok: true, effects: (tx) => void tx.put('effects', { id: ctx.job.id, n: ((tx.get('effects', ctx.job.id)?.['n'] as number) ?? 0) + 1 }) };
    },
  });
  const config: JobRunnerConfig = { workers: [worker], queues: { default: { limit: 1, globalLimit: 1 } }, pruner: false, shutdownMs: 1000, pollMs: 200, lifeline: { intervalMs: 1000, rescueAfterMs: false } };
  const input = { env, store, config, cluster: fakeCluster('a', 'a1', new Map([['a', 'a1']])), leadership: fakeLeadership('a', true) };
  const first = await JobRunner.start(input);
  const id = (await first.enqueue(worker, { ms: 10_000 })).job.id;
  w.id = id;
  await run(env, 100, 10);
  expect(first.get(id)).toMatchObject({ state: 'executing', attempt: 1 });
  await settle(env, first.stop(), 10);
  const second = await settle(env, JobRunner.start(input), 10);
  w.second = second;
  expect(second.node).toBe(first.node);
  expect(second.get(id)?.state, 'left executing by the drain').toBe('executing');
  await o.atRestart?.(second, id, env);
  return {
    env, store, stream, disk, worker, first, second, id, performs,
    /** After the late perform has ended (at ~10 s) and its outcome played out: the global slot is free again, a new job runs. */
    async nextRuns(): Promise<boolean> {
      const next = (await second.enqueue(worker, { ms: 10 })).job.id;
      await run(env, 5000, 50);
      return second.get(next)?.state === 'completed';
    },
    async close() {
      await settle(env, second.stop(), 10);
      await store.close();
    },
  };
}

describe('the late outcome of a perform the drain left running, each way its write ends', () => {
  it('written: completed with its effect once, counted as written', async () => {
    const w = await world(71);
    await run(w.env, 15_000, 50);
    expect(w.second.get(w.id)).toMatchObject({ state: 'completed', attempt: 1 });
    expect(w.store.get('effects', w.id)?.['n']).toBe(1);
    expect(w.second.metrics().lateOutcomes).toEqual({ written: 1, fenced: 0, refused: 0 });
    expect(w.second.prometheus()).toContain('ordo_jobs_late_outcomes_total{outcome="written"} 1');
    expect(await w.nextRuns()).toBe(true);
    expect(held(w.store)).toEqual({});
    await w.close();
  });

  it('fenced: the job was cancelled while it ran — nothing written, no effect, its global slot given back, counted as fenced', async () => {
    const w = await world(72, { atRestart: async (second, id, env) => void expect(await settle(env, second.cancel(id), 10)).toEqual({ ok: true, was: 'executing' }) });
    await run(w.env, 15_000, 50);
    expect(w.second.get(w.id)?.state).toBe('cancelled');
    expect(w.store.get('effects', w.id)).toBeUndefined();
    expect(w.second.metrics().lateOutcomes).toEqual({ written: 0, fenced: 1, refused: 0 });
    expect(w.second.prometheus()).toContain('ordo_jobs_late_outcomes_total{outcome="fenced"} 1');
    expect(await w.nextRuns()).toBe(true);
    expect(held(w.store)).toEqual({});
    await w.close();
  });

  it('refused: the store refuses the write — the job is rescued with its attempt charged (maxAttempts: 1: discarded), no effect, counted as refused', async () => {
    // the late outcome's write is the next write of rows
    const w = await world(73, { beforeEnd: ({ disk }) => void (disk.refuse = 1) });
    await run(w.env, 15_000, 50);
    expect(w.disk.refuse, 'the write was refused').toBe(0);
    expect(w.second.get(w.id)).toMatchObject({ state: 'discarded', attempt: 1 });
    expect(w.second.get(w.id)?.errors.map((e) => e.error)).toEqual([LATE_NOT_WRITTEN]);
    expect(w.store.get('effects', w.id)).toBeUndefined();
    expect(w.performs.get(w.id)).toBe(1);
    expect(w.second.metrics().lateOutcomes).toEqual({ written: 0, fenced: 0, refused: 1 });
    expect(await w.nextRuns()).toBe(true);
    expect(held(w.store)).toEqual({});
    await w.close();
  });
});

describe('a late outcome whose commit is of unknown outcome (ORDO_REPL_INDETERMINATE), every settlement', () => {
  const FATES: readonly Fate[] = ['lost', 'unknown-lost', 'never-lost', 'committed', 'unknown-landed', 'never-landed'];
  it.each(FATES)('%s: settled by the runner of that id — completed once with its effect once, its slot given back, counted as written', async (fate) => {
    const w = await world(74, { replicated: true });
    // the late completion is the only completion: its commit ends indeterminate
    w.stream!.arm({ fate, settleMs: 3000, lagMs: fate === 'committed' ? 1500 : fate === 'unknown-landed' ? 4500 : 0, match: completes });
    // 10 s perform; a settlement within 3 s, or none (200 s, then the rows are read back)
    await run(w.env, fate.startsWith('never') ? 230_000 : 20_000, 100);
    expect(w.stream!.injected).toEqual([fate]);
    expect(w.second.get(w.id), fate).toMatchObject({ state: 'completed', attempt: 1 });
    expect(w.store.get('effects', w.id)?.['n'], fate).toBe(1);
    expect(w.performs.get(w.id)).toBe(1);
    expect(w.second.metrics().lateOutcomes, fate).toEqual({ written: 1, fenced: 0, refused: 0 });
    expect(await w.nextRuns(), `${fate}: the slot is given back`).toBe(true);
    expect(held(w.store), fate).toEqual({});
    expect(w.second.health().status, fate).toBe('ok');
    await w.close();
  });
});
