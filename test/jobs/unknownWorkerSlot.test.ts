/**
 * A job whose worker this runner does not know (enqueued by a runner that had it, or by another
 * node) is claimed, fails with JobsUnknownWorkerError and is retried — and its slot is given back:
 * the next job of the queue runs. (Claim from the jobs lane: "a job whose worker is unknown never
 * sets performDone, so its slot looks held forever".)
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker } from '../../src/jobs/index.ts';
import { faultyDisk, openJobStore, run, settle, testEnv } from './helpers.ts';

describe('unknown worker', () => {
  it('a job of an unknown worker fails and frees its slot for the next job', async () => {
    const env = testEnv(181);
    const disk = faultyDisk();
    const store = await openJobStore(env, disk);
    const gone = defineWorker({ name: 'gone', maxAttempts: 1, perform: () => undefined });
    const w = defineWorker({ name: 'w', perform: () => undefined });
    const first = await JobRunner.start({ env, store, config: { workers: [gone, w], queues: { default: 1 } } });
    const lost = await first.enqueue(gone, {}, { scheduleIn: 1_000 });
    await settle(env, first.stop());
    // a runner without that worker: the job is claimed, and must not keep the queue's one slot
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 1 }, stager: { intervalMs: 50 } } });
    await run(env, 2_000, 50);
    expect(runner.get(lost.job.id)!.errors.length).toBe(1);
    const next = await runner.enqueue(w, {});
    await run(env, 5_000, 50);
    expect(runner.get(next.job.id)!.state).toBe('completed');
    await settle(env, runner.stop(), 100, 60_000);
    await store.close();
  });
});
