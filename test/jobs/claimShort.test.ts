/**
 * A claim reads only as many candidates as it has free slots: when another runner's claim took
 * some of them first, the short claim claims again at once (it does not leave its slots idle
 * until the next poll while jobs wait).
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, JOB_TABLES } from '../../src/jobs/index.ts';
import { toRow } from '../../src/jobs/tables.ts';
import type { Job } from '../../src/jobs/index.ts';
import { T0, fakeCluster, fakeLeadership, faultyDisk, openJobStore, run, settle, testEnv } from './helpers.ts';

const job = (id: string): Job => ({
  id, queue: 'default', worker: 'hold', args: {}, meta: {}, state: 'available', priority: 0, attempt: 0, maxAttempts: 20,
  insertedAt: T0, scheduledAt: T0, attemptedAt: null, attemptedBy: null, finishedAt: null, errors: [], uniqueKey: null, timeoutMs: null,
});

describe('short claim', () => {
  it('two runners resumed together want the same candidates: the one that lost the race claims the next jobs before any poll', async () => {
    const env = testEnv(41);
    const store = await openJobStore(env, faultyDisk(), '/claim-short');
    const live = new Map([['a', 'a-1'], ['b', 'b-1']]);
    const releases: Array<() => void> = [];
    const ranBy: Record<string, string[]> = { a: [], b: [] };
    const runners: JobRunner[] = [];
    for (const name of ['a', 'b']) {
      const hold = defineWorker({ name: 'hold', perform: (_a, ctx) => new Promise<void>((r) => { ranBy[name]!.push(ctx.job.id); releases.push(r); }) });
      // no poll within the test: only the claim itself can pick up the jobs the race left
      runners.push(await JobRunner.start({ env, store, config: { workers: [hold], queues: { default: { limit: 2, paused: true } }, pollMs: 3_600_000 }, cluster: fakeCluster(name, live.get(name)!, live), leadership: fakeLeadership(name, name === 'a') }));
    }
    await run(env, 100, 10);
    await store.transaction((tx) => {
      for (const id of ['j1', 'j2', 'j3', 'j4']) tx.put(JOB_TABLES.jobs, toRow(job(id)));
    });
    await run(env, 100, 10);
    expect(ranBy).toEqual({ a: [], b: [] });
    // one resume (one change of the queue's row): both runners claim once, reading the first two
    await settle(env, runners[0]!.resume('default'), 10);
    await run(env, 500, 10);
    expect([...ranBy['a']!, ...ranBy['b']!].sort()).toEqual(['j1', 'j2', 'j3', 'j4']);
    expect(ranBy['a']!.length).toBe(2);
    expect(ranBy['b']!.length).toBe(2);
    for (const r of releases) r();
    for (const r of runners) await settle(env, r.stop());
    await store.close();
  });
});
