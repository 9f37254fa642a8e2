/**
 * docs/jobs.md: "a throw in one worker's effects fails only its own job". The effects of a
 * completion throw on every write: the attempt is a failure of that job (an error entry; a
 * `maxAttempts: 1` job discarded), and the queue goes on with its next job.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker } from '../../src/jobs/index.ts';
import { faultyDisk, openJobStore, run, settle, testEnv } from './helpers.ts';

describe('effects that throw', () => {
  it('fail only their own job, and the next job of the queue runs', async () => {
    const env = testEnv(183);
    const store = await openJobStore(env, faultyDisk(), '/effects-throw');
    const bad = defineWorker({ name: 'bad', maxAttempts: 1, perform: () => ({ ok: true, effects: () => { throw new Error('boom'); } }) as const });
    const w = defineWorker({ name: 'w', perform: () => undefined });
    const runner = await JobRunner.start({ env, store, config: { workers: [bad, w], queues: { default: 1 }, stager: { intervalMs: 50 } } });
    const a = await runner.enqueue(bad, {});
    const b = await runner.enqueue(w, {});
    await run(env, 30_000, 100);
    const ja = runner.get(a.job.id)!;
    expect(runner.get(b.job.id)!.state).toBe('completed');
    expect(ja.state).toBe('discarded');
    expect(ja.errors.map((e) => e.error)).toEqual(['boom']);
    await settle(env, runner.stop(), 100, 60_000);
    await store.close();
  });
});
