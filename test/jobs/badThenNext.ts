/**
 * The scaffold the hostile-worker tests share (hostileOutcome, hostileBackoff, effectsThrow): a
 * worker `bad` (the case under test) and a plain worker on one queue of concurrency 1, a job of
 * each enqueued (the bad one first), the virtual clock run, then the runner stopped and the
 * store closed. The bad job's end, and the next job's: it completes only if the bad one gave its
 * one slot back — a bad job left `executing` holds it for ever.
 */
import { JobRunner, defineWorker, type Job, type WorkerOptions } from '../../src/jobs/index.ts';
import { faultyDisk, openJobStore, run, settle, testEnv } from './helpers.ts';

export interface BadThenNext {
  /** The bad worker's options (its name is `bad`). */
  readonly bad: Omit<WorkerOptions<unknown>, 'name'>;
  readonly seed: number;
  /** The store's directory: one per case. */
  readonly dir: string;
  /** How long the clock runs after both enqueues, in steps of `stepMs`. */
  readonly runMs: number;
  readonly stepMs: number;
}

/** Runs {@link BadThenNext}; the two jobs as the store holds them when the clock has run. */
export async function badThenNext(c: BadThenNext): Promise<{ bad: Job; next: Job }> {
  const env = testEnv(c.seed);
  const store = await openJobStore(env, faultyDisk(), c.dir);
  const bad = defineWorker<unknown>({ ...c.bad, name: 'bad' });
  const w = defineWorker({ name: 'w', perform: () => undefined });
  const runner = await JobRunner.start({ env, store, config: { workers: [bad, w], queues: { default: 1 }, stager: { intervalMs: 50 } } });
  const a = await runner.enqueue(bad, {});
  const b = await runner.enqueue(w, {});
  await run(env, c.runMs, c.stepMs);
  const out = { bad: runner.get(a.job.id)!, next: runner.get(b.job.id)! };
  await settle(env, runner.stop(), 100, 60_000);
  await store.close();
  return out;
}

/** A directory name for case `label` under `prefix` (one store per case). */
export const dirOf = (prefix: string, label: string): string => `/${prefix}-${label.replace(/ /g, '-')}`;
