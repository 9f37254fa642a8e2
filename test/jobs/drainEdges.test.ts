/**
 * Two edges of a runner's drain, on the virtual clock over a memory disk:
 *
 * - **A give-back that does not commit.** A drain returns the jobs whose performs it saw end
 *   (aborted by the stop) to `available`, attempt given back. If the store refuses that write,
 *   the rows stay `executing` under the runner id; the next runner of that id (cluster mode: the
 *   same incarnation) returns them at start as the drain meant to — attempt given back, no
 *   error entry — rather than charging an attempt as for a perform that may have run.
 * - **`kill()` during a stop.** A kill (the supervisor's shutdown timeout, a brutal kill of the
 *   tree above) of a runner whose drain is under way cuts the drain short: the deadline is now,
 *   its performs are aborted, and those that end go back to `available` within the abort's grace.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { JobRunner, defineWorker, jobRunnerMachine, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { fakeCluster, fakeLeadership, faultyDisk, openJobStore, run, settle, testEnv } from './helpers.ts';

let dirs = 0;

function world(seed: number, shutdownMs: number) {
  const env = testEnv(seed);
  const performs = new Map<string, number>();
  const w = defineWorker<{ ms: number }>({
    name: 'w',
    perform: async ({ ms }, { job, signal }) => {
      performs.set(job.id, (performs.get(job.id) ?? 0) + 1);
      await new Promise<void>((resolve, reject) => {
        env.clock.setTimeout(() => resolve(), ms);
        signal.addEventListener('abort', () => reject(signal.reason));
      });
    },
  });
  const config: JobRunnerConfig = { workers: [w], queues: { default: 2 }, pruner: false, shutdownMs, pollMs: 200, lifeline: { intervalMs: 1000 } };
  return { env, w, config, performs };
}

describe('a drain whose give-back does not commit', () => {
  it('the next runner of that id returns its jobs at start with their attempt given back, not charged', async () => {
    const { env, w, config, performs } = world(51, 1000);
    const disk = faultyDisk();
    const store = await openJobStore(env, disk, `/drain-edges-${++dirs}`);
    const input = { env, store, config, cluster: fakeCluster('a', 'a1', new Map([['a', 'a1']])), leadership: fakeLeadership('a', true) };
    const first = await JobRunner.start(input);
    const { job } = await first.enqueue(w, { ms: 60_000 });
    await run(env, 100, 10);
    expect(first.get(job.id)).toMatchObject({ state: 'executing', attempt: 1 });
    const stopping = first.stop();
    await run(env, 500, 10);
    // the disk fails before the deadline: the drain aborts the perform, and its give-back is refused
    disk.failing = true;
    expect(await settle(env, stopping, 10)).toBe(0);
    expect(first.get(job.id)).toMatchObject({ state: 'executing', attempt: 1 });
    disk.failing = false;
    const next = await settle(env, JobRunner.start(input), 10);
    expect(next.node).toBe(first.node);
    await run(env, 70_000, 100);
    // run once more after the drain, as its first attempt (the aborted one was given back)
    expect(next.get(job.id)).toMatchObject({ state: 'completed', attempt: 1, errors: [] });
    expect(performs.get(job.id)).toBe(2);
    await settle(env, next.stop(), 10);
    await store.close();
  });
});

describe('kill() while a stop drains', () => {
  it('cuts the drain short: its performs are aborted and their jobs returned within the grace, not after shutdownMs', async () => {
    const { env, w, config } = world(52, 60_000);
    const store = await openJobStore(env, faultyDisk(), `/drain-edges-${++dirs}`);
    const runner = await JobRunner.start({ env, store, config });
    const { job } = await runner.enqueue(w, { ms: 120_000 });
    await run(env, 100, 10);
    let returned: number | undefined;
    void runner.stop().then((n) => (returned = n));
    await run(env, 1000, 10);
    expect(runner.health().status).toBe('stopping');
    runner.kill();
    await run(env, 3000, 10);
    expect(returned).toBe(1);
    expect(runner.health().status).toBe('stopped');
    expect(runner.get(job.id)).toMatchObject({ state: 'available', attempt: 0, errors: [] });
    await store.close();
  });

  it('through the machine: a jobs child killed while it drains (its shutdown timed out) stops within the grace', async () => {
    const { env, w, config } = world(53, 60_000);
    const store = await openJobStore(env, faultyDisk(), `/drain-edges-${++dirs}`);
    const actor = createActor(jobRunnerMachine, { input: { env, store, config }, clock: env.clock as never });
    actor.start();
    await run(env, 50, 10);
    const runner = actor.getSnapshot().context.service!;
    const { job } = await runner.enqueue(w, { ms: 120_000 });
    await run(env, 100, 10);
    actor.send({ type: 'ordo.stop' });
    await run(env, 1000, 10);
    expect(runner.health().status).toBe('stopping');
    actor.stop(); // the supervisor's kill after the child's shutdownMs
    await run(env, 3000, 10);
    expect(runner.health().status).toBe('stopped');
    expect(runner.get(job.id)).toMatchObject({ state: 'available', attempt: 0, errors: [] });
    await store.close();
  });
});
