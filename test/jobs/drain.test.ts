/**
 * The drain deadline (`shutdownMs`) on the virtual clock, Oban's behaviour: every perform still
 * running is aborted; one that honours its signal has its job returned to `available` (attempt
 * given back, no error recorded); one that ignores it leaves its job `executing`, owned by this
 * runner (a warn record names it) and keeps its global slot — never run twice at once — until
 * its perform ends in this process (then the job goes back), or the lifeline rescues it once the
 * runner is gone (membership lost; single node: the next boot, a new incarnation). Each job is
 * completed exactly once and its effects applied exactly once.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, JobsError, defineWorker, JOB_TABLES, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { createTestEnv, type TestEnv } from '../../src/env/env.ts';
import type { Store } from '../../src/store/index.ts';
import { fakeCluster, fakeLeadership, faultyDisk, openJobStore, run, settle, T0 } from './helpers.ts';

let dirs = 0;

interface Spec {
  readonly ms: number;
  /** Ignores its AbortSignal (runs on for `ms`, or forever when `ms` is -1). */
  readonly ignore: boolean;
}

function world(seed: number) {
  const env: TestEnv = createTestEnv({ level: 'warn', startMs: T0, seed });
  const running = new Map<string, number>();
  const performs = new Map<string, number>();
  let overlap = 0, total = 0, maxTotal = 0;
  const worker = defineWorker<Spec>({
    name: 'w',
    queue: 'g',
    perform: async (s, { job, signal }) => {
      performs.set(job.id, (performs.get(job.id) ?? 0) + 1);
      const n = (running.get(job.id) ?? 0) + 1;
      running.set(job.id, n);
      overlap = Math.max(overlap, n);
      maxTotal = Math.max(maxTotal, ++total);
      try {
        await new Promise<void>((resolve, reject) => {
          if (s.ms >= 0) env.clock.setTimeout(() => resolve(), s.ms);
          if (!s.ignore) signal.addEventListener('abort', () => reject(signal.reason));
        });
      } finally {
        running.set(job.id, running.get(job.id)! - 1);
        total--;
      }
      return { ok: true, effects: (tx) => void tx.put('effects', { id: job.id, n: ((tx.get('effects', job.id)?.['n'] as number) ?? 0) + 1 }) };
    },
  });
  const config: JobRunnerConfig = { workers: [worker], queues: { g: { limit: 2, globalLimit: 2 } }, pruner: false, shutdownMs: 1000, lifeline: { intervalMs: 1000, graceMs: 500 } };
  return { env, worker, config, performs, get overlap() { return overlap; }, get maxTotal() { return maxTotal; } };
}

const held = (store: Store): Record<string, unknown> => (store.get(JOB_TABLES.slots, 'g')?.['held'] ?? {}) as Record<string, unknown>;

describe('drain deadline (shutdownMs): abort, then give back what stopped and leave what did not', () => {
  it('a perform that honours its signal: its job is returned to available, attempt given back, no error recorded', async () => {
    const w = world(1);
    const store = await openJobStore(w.env, faultyDisk(), `/drain-${++dirs}`);
    const runner = await JobRunner.start({ env: w.env, store, config: w.config });
    const { job } = await runner.enqueue(w.worker, { ms: 60_000, ignore: false });
    await run(w.env, 100, 10);
    expect(runner.get(job.id)?.state).toBe('executing');
    expect(await settle(w.env, runner.stop(), 10)).toBe(1);
    expect(runner.get(job.id)).toMatchObject({ state: 'available', attempt: 0, errors: [], attemptedBy: null });
    expect(held(store)).toEqual({});
    await store.close();
  });

  it('a perform that ignores it: its job stays executing under this runner with its slot, named in a warn record; when the perform ends its outcome is written (fenced by its attempt): completed once, performed once, effects once', async () => {
    const w = world(2);
    const store = await openJobStore(w.env, faultyDisk(), `/drain-${++dirs}`);
    const live = new Map([['a', 'a1'], ['b', 'b1']]);
    const a = await JobRunner.start({ env: w.env, store, config: w.config, cluster: fakeCluster('a', 'a1', live), leadership: fakeLeadership('a', true) });
    const { job } = await a.enqueue(w.worker, { ms: 8000, ignore: true });
    await run(w.env, 100, 10);
    expect(await settle(w.env, a.stop(), 10)).toBe(0);
    // a stays a member (its process lives on): nobody else may run the job while its perform does
    expect(a.get(job.id)).toMatchObject({ state: 'executing', attemptedBy: 'a/a1', attempt: 1 });
    expect(Object.keys(held(store))).toEqual(['a/a1']);
    const warn = w.env.records.filter((r) => r['report'] === 'jobs_perform_ignored_abort');
    expect(warn.map((r) => r['job'])).toEqual([job.id]);
    const b = await JobRunner.start({ env: w.env, store, config: w.config, cluster: fakeCluster('b', 'b1', live), leadership: fakeLeadership('b', true) });
    await run(w.env, 30_000, 100);
    // a's perform really ran: its late completion is written, never run again (a maxAttempts: 1 job runs once)
    expect(b.get(job.id)).toMatchObject({ state: 'completed', attemptedBy: 'a/a1', attempt: 1 });
    expect(w.performs.get(job.id)).toBe(1);
    expect(w.overlap).toBe(1);
    expect(store.get('effects', job.id)?.['n']).toBe(1); // a's late outcome's effects, once
    expect(held(store)).toEqual({});
    await settle(w.env, b.stop());
    await store.close();
  });

  it('a perform that never ends: once its runner leaves membership the lifeline rescues the job and drops its slot; completed once, effects once', async () => {
    const w = world(3);
    const store = await openJobStore(w.env, faultyDisk(), `/drain-${++dirs}`);
    const live = new Map([['a', 'a1']]);
    const a = await JobRunner.start({ env: w.env, store, config: w.config, cluster: fakeCluster('a', 'a1', live), leadership: fakeLeadership('a', false) });
    const { job } = await a.enqueue(w.worker, { ms: -1, ignore: true });
    await run(w.env, 100, 10);
    expect(await settle(w.env, a.stop(), 10)).toBe(0);
    expect(a.get(job.id)).toMatchObject({ state: 'executing', attemptedBy: 'a/a1' });
    expect(Object.keys(held(store))).toEqual(['a/a1']);
    // a's node leaves membership; c leads, and its lifeline rescues once the grace has passed
    live.delete('a');
    live.set('c', 'c1');
    const done = defineWorker<Spec>({ name: 'w', queue: 'g', perform: () => ({ ok: true, effects: (tx) => void tx.put('effects', { id: job.id, n: ((tx.get('effects', job.id)?.['n'] as number) ?? 0) + 1 }) }) });
    const lead = await JobRunner.start({ env: w.env, store, config: { ...w.config, workers: [done] }, cluster: fakeCluster('c', 'c1', live), leadership: fakeLeadership('c', true) });
    await run(w.env, 10_000, 100);
    expect(lead.get(job.id)).toMatchObject({ state: 'completed', attempt: 2, attemptedBy: 'c/c1' });
    expect(store.get('effects', job.id)?.['n']).toBe(1);
    expect(held(store)).toEqual({});
    await settle(w.env, lead.stop());
    await store.close();
  });

  it('single node: the next boot (a new incarnation) rescues a job its last run left executing; completed once, effects once', async () => {
    const w = world(4);
    const disk = faultyDisk();
    let store = await openJobStore(w.env, disk, `/drain-${++dirs}`);
    const first = await JobRunner.start({ env: w.env, store, config: w.config });
    const { job } = await first.enqueue(w.worker, { ms: -1, ignore: true });
    await run(w.env, 100, 10);
    expect(await settle(w.env, first.stop(), 10)).toBe(0);
    expect(first.get(job.id)).toMatchObject({ state: 'executing', attemptedBy: first.node });
    first.halt(); // the process exits (its perform with it)
    await store.close();
    store = await openJobStore(w.env, disk, `/drain-${dirs}`);
    const next = await JobRunner.start({ env: w.env, store, config: { ...w.config, workers: [defineWorker<Spec>({ name: 'w', queue: 'g', perform: () => ({ ok: true, effects: (tx) => void tx.put('effects', { id: job.id, n: ((tx.get('effects', job.id)?.['n'] as number) ?? 0) + 1 }) }) })] } });
    expect(next.node).not.toBe(first.node);
    await run(w.env, 5000, 100);
    expect(next.get(job.id)).toMatchObject({ state: 'completed', attempt: 2, attemptedBy: next.node });
    expect(store.get('effects', job.id)?.['n']).toBe(1);
    expect(held(store)).toEqual({});
    await settle(w.env, next.stop());
    await store.close();
  });

  it('single node, runner restarted in the same process while a perform it left still runs: same runner id, the job is not rescued nor its slot dropped until that perform ends; completed once, global limit held', async () => {
    const w = world(5);
    const config: JobRunnerConfig = { ...w.config, queues: { g: { limit: 2, globalLimit: 1 } } };
    const store = await openJobStore(w.env, faultyDisk(), `/drain-${++dirs}`);
    const first = await JobRunner.start({ env: w.env, store, config });
    const a = (await first.enqueue(w.worker, { ms: 8000, ignore: true })).job;
    await run(w.env, 100, 10);
    expect(await settle(w.env, first.stop(), 10)).toBe(0);
    // a supervisor restart: same process, same store, a's first perform still running
    const second = await JobRunner.start({ env: w.env, store, config });
    expect(second.node).toBe(first.node);
    const b = (await settle(w.env, second.enqueue(w.worker, { ms: 100, ignore: false }), 10)).job;
    await run(w.env, 3000, 100);
    expect(second.get(a.id)).toMatchObject({ state: 'executing', attempt: 1 });
    expect(second.get(b.id)?.state).toBe('available'); // the global slot is still a's
    expect(w.performs.get(a.id)).toBe(1);
    // stopped again before a's perform ends: a's slot stays
    expect(await settle(w.env, second.stop(), 10)).toBe(0);
    expect(Object.keys(held(store))).toEqual([first.node]);
    const third = await JobRunner.start({ env: w.env, store, config });
    await run(w.env, 30_000, 100);
    expect(third.get(a.id)).toMatchObject({ state: 'completed', attempt: 1 });
    expect(third.get(b.id)?.state).toBe('completed');
    expect(w.performs.get(a.id)).toBe(1); // its late completion is written, not run again
    expect(w.overlap).toBe(1);
    expect(w.maxTotal).toBe(1);
    expect(store.get('effects', a.id)?.['n']).toBe(1);
    expect(held(store)).toEqual({});
    await settle(w.env, third.stop());
    await store.close();
  });
});

describe('abort reasons are typed', () => {
  it('the drain deadline aborts with ORDO_JOBS_DRAIN_DEADLINE, a cancel with ORDO_JOBS_CANCELLED, each naming the job', async () => {
    const env: TestEnv = createTestEnv({ level: 'warn', startMs: T0, seed: 6 });
    const reasons = new Map<string, unknown>();
    const worker = defineWorker({
      name: 'w',
      queue: 'g',
      perform: (_a, { job, signal }) =>
        new Promise<undefined>((_resolve, reject) => signal.addEventListener('abort', () => (reasons.set(job.id, signal.reason), reject(signal.reason)))),
    });
    const store = await openJobStore(env, faultyDisk(), `/drain-${++dirs}`);
    const runner = await JobRunner.start({ env, store, config: { workers: [worker], queues: { g: 2 }, pruner: false, shutdownMs: 1000 } });
    const one = (await runner.enqueue(worker, {})).job.id;
    const two = (await runner.enqueue(worker, {})).job.id;
    await run(env, 100, 10);
    await settle(env, runner.cancel(one), 10);
    await run(env, 100, 10);
    expect(await settle(env, runner.stop(), 10)).toBe(1);
    expect(reasons.get(one)).toBeInstanceOf(JobsError);
    expect(reasons.get(one)).toMatchObject({ code: 'ORDO_JOBS_CANCELLED', jobId: one });
    expect(reasons.get(two)).toBeInstanceOf(JobsError);
    expect(reasons.get(two)).toMatchObject({ code: 'ORDO_JOBS_DRAIN_DEADLINE', jobId: two, shutdownMs: 1000 });
    await store.close();
  });
});
