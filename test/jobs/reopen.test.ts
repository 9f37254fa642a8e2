/**
 * A store reopened in the same process under a runner id that persists (cluster mode: the
 * incarnation is discovery's, which outlives a restart of the store child and of the runner).
 * What an Oban user expects: a job is never stranded by a store reopen. Rows the reopened store
 * shows `executing` under this runner's id that nothing runs — a claim of unknown outcome that
 * did land (it comes back through the WAL replay, never through a commit the runner saw), a
 * completion that did not — go back at start, once, fenced by their attempt; a perform the
 * drain left running is not run a second time while it runs, and its job comes back when it
 * ends, through the handle open now. Before this, such jobs sat `executing` until
 * `rescueAfterMs` (an hour): the lifeline counts its own runner as live.
 *
 * On the virtual clock, over a memory disk that refuses a write the way the real adapter does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { JobRunner, JobsCommitIndeterminateError, defineWorker, jobTables, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import type { TestEnv } from '../../src/env/env.ts';
import { effectTables, fakeCluster, fakeLeadership, run, settle, testEnv } from './helpers.ts';
import { refusingDisk } from './refusingDisk.ts';

const tables = { ...jobTables(), ...effectTables };
let dirs = 0;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** A cluster-mode runner `a/a1` (leader) over a refusing disk; `reopen` is the tree's restart of a failed store under the same discovery service. */
async function setup(seed: number, limit: number, ms: number, o: { ignoreAbort?: boolean; globalLimit?: number } = {}) {
  const env: TestEnv = testEnv(seed);
  const disk = refusingDisk();
  const dir = `/reopen-${++dirs}`;
  const performs = new Map<string, number>();
  const w = defineWorker<{ n: number }>({
    name: 'w',
    perform: async (_a, { job, signal }) => {
      performs.set(job.id, (performs.get(job.id) ?? 0) + 1);
      await new Promise<void>((resolve, reject) => {
        env.clock.setTimeout(() => resolve(), ms);
        if (!o.ignoreAbort) signal.addEventListener('abort', () => reject(signal.reason));
      });
      return { ok: true, effects: (tx) => void tx.put('effects', { id: job.id, n: ((tx.get('effects', job.id)?.['n'] as number) ?? 0) + 1 }) };
    },
  });
  const quick = defineWorker<{ n: number }>({
    name: 'quick',
    perform: async (_a, { job }) => {
      performs.set(job.id, (performs.get(job.id) ?? 0) + 1);
      await new Promise<void>((r) => env.clock.setTimeout(() => r(), ms));
    },
  });
  // the lifeline would rescue by age only after an hour
  const config: JobRunnerConfig = { workers: [w, quick], queues: { default: o.globalLimit === undefined ? limit : { limit, globalLimit: o.globalLimit } }, pruner: false, shutdownMs: 1000, pollMs: 200, lifeline: { intervalMs: 1000 } };
  const cluster = fakeCluster('a', 'a1', new Map([['a', 'a1']]));
  const leadership = fakeLeadership('a', true);
  const start = (store: Store): Promise<JobRunner> => JobRunner.start({ env, store, config, cluster, leadership });
  const state = { store: (await openStore({ env, dir, kv: disk.kv, tables })) as Store, runner: undefined as unknown as JobRunner };
  state.runner = await start(state.store);
  cleanups.push(async () => {
    await settle(env, state.runner.stop());
    await state.store.close();
  });
  return {
    env, disk, w, quick, performs, state,
    async reopen() {
      await settle(env, state.runner.stop());
      await state.store.close();
      state.store = await openStore({ env, dir, kv: disk.kv, tables, expectExisting: true });
      state.runner = await start(state.store);
    },
  };
}

const refusedWith = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'resolved', (e: unknown) => e);

describe('a store reopened under the same runner id (cluster mode)', () => {
  it('an enqueue stored already claimed, of unknown outcome, that landed: the job runs once after the reopen, not an hour later', async () => {
    const t = await setup(11, 2, 100);
    t.disk.ctl.next = 'unknown-landed';
    const e = await refusedWith(t.state.runner.enqueue(t.w, { n: 1 }));
    expect(e).toBeInstanceOf(JobsCommitIndeterminateError);
    const id = (e as JobsCommitIndeterminateError).jobIds[0]!;
    await t.reopen();
    expect(t.state.runner.node).toBe('a/a1');
    await run(t.env, 2000, 10);
    const j = t.state.runner.get(id)!;
    expect(j.state).toBe('completed');
    expect(t.performs.get(id)).toBe(1);
    expect(t.state.store.get('effects', id)?.['n']).toBe(1);
    // returned once; this process never started the landed claim's perform: its attempt is given back, no error entry
    expect(j.attempt).toBe(1);
    expect(j.errors).toEqual([]);
    expect(t.state.runner.metrics().rescued).toBe(1);
    // a second reopen finds nothing to reconcile
    await t.reopen();
    await run(t.env, 1000, 10);
    expect(t.state.runner.get(id)).toMatchObject({ state: 'completed', attempt: 1 });
    expect(t.state.runner.metrics().rescued).toBe(0);
  });

  it.each(['unknown-landed', 'unknown-lost'] as const)('a completion that claims the next job, of unknown outcome (%s): after the reopen both jobs complete, each effect once', async (fate) => {
    const t = await setup(12, 1, 100);
    const a = (await t.state.runner.enqueue(t.quick, { n: 1 })).job.id;
    const b = (await t.state.runner.enqueue(t.w, { n: 2 })).job.id;
    expect(t.state.runner.get(b)?.state).toBe('available');
    await run(t.env, 50, 10);
    t.disk.ctl.next = fate; // a's completion, which claims b
    await run(t.env, 500, 10);
    expect(t.disk.ctl.refused).toBe(1);
    expect(t.state.runner.health().status).toBe('degraded');
    await t.reopen();
    // landed: a completed and b executing under a/a1 (nobody runs it); lost: a executing under a/a1
    await run(t.env, 3000, 10);
    for (const id of [a, b]) expect(t.state.runner.get(id)?.state, id).toBe('completed');
    expect(t.performs.get(a)).toBe(fate === 'unknown-landed' ? 1 : 2);
    expect(t.performs.get(b)).toBe(1);
    expect(t.state.store.get('effects', b)?.['n']).toBe(1);
    expect(t.state.runner.health()).toMatchObject({ status: 'ok', queues: { default: { running: 0 } } });
  });

  it('with a global limit: the slot the landed claim took under a/a1 is given back with its job, and the next jobs run', async () => {
    const t = await setup(14, 1, 100, { globalLimit: 1 });
    const a = (await t.state.runner.enqueue(t.quick, { n: 1 })).job.id;
    const b = (await t.state.runner.enqueue(t.w, { n: 2 })).job.id;
    const c = (await t.state.runner.enqueue(t.w, { n: 3 })).job.id;
    await run(t.env, 50, 10);
    expect(t.state.runner.get(a)?.state).toBe('executing');
    t.disk.ctl.next = 'unknown-landed'; // a's completion, which claims b and takes b's slot
    await run(t.env, 500, 10);
    await t.reopen();
    await run(t.env, 3000, 10);
    for (const id of [a, b, c]) expect(t.state.runner.get(id)?.state, id).toBe('completed');
    expect([a, b, c].map((id) => t.performs.get(id))).toEqual([1, 1, 1]);
    expect(t.state.runner.health().queues['default']).toMatchObject({ running: 0, globalRunning: 0 });
  });

  it('a perform the drain left running is not run again while it runs; when it ends, its outcome is written through the reopened store, and it is not run again', async () => {
    const t = await setup(13, 1, 20_000, { ignoreAbort: true });
    const a = (await t.state.runner.enqueue(t.w, { n: 1 })).job.id;
    await run(t.env, 50, 10);
    await t.reopen(); // the drain gives up after shutdownMs + its grace; the perform goes on
    await run(t.env, 5000, 100);
    expect(t.performs.get(a)).toBe(1);
    expect(t.state.runner.get(a)).toMatchObject({ state: 'executing', attemptedBy: 'a/a1', attempt: 1 });
    // the first perform ends at 20 s: its completion is written through the reopened store (fenced by its attempt)
    await run(t.env, 20_000, 100);
    expect(t.performs.get(a)).toBe(1);
    await run(t.env, 21_000, 100);
    expect(t.state.runner.get(a)).toMatchObject({ state: 'completed', attempt: 1 });
    expect(t.state.store.get('effects', a)?.['n']).toBe(1);
  });
});
