/**
 * The `lane` index without the job's id (the index entry's row key orders equal lanes): jobs
 * with the same lane are claimed in id order, and a store holding rows written with the older
 * lane (the id last) is read the same — claimed in order among new rows, staged, pruned,
 * listed and counted — but for ties across the two layouts, which go new-layout first
 * (laneTieMixed.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, JOB_TABLES } from '../../src/jobs/index.ts';
import { toRow } from '../../src/jobs/tables.ts';
import type { Job } from '../../src/jobs/index.ts';
import { T0, faultyDisk, oldLayoutRow, openJobStore, run, settle, testEnv } from './helpers.ts';

const job = (id: string, over: Partial<Job>): Job => ({
  id, queue: 'default', worker: 'w', args: { id }, meta: {}, state: 'available', priority: 0, attempt: 0, maxAttempts: 20,
  insertedAt: T0 - 200_000, scheduledAt: T0 - 200_000, attemptedAt: null, attemptedBy: null, finishedAt: null, errors: [], uniqueKey: null, timeoutMs: null, ...over,
});

const oldRow = oldLayoutRow;

describe('lane layout', () => {
  it('jobs with the same lane are claimed in id order', async () => {
    const env = testEnv(31);
    const store = await openJobStore(env, faultyDisk(), '/lane-ties');
    const ids = ['0c', '0a', '0d', '0b'];
    await store.transaction((tx) => {
      for (const id of ids) tx.put(JOB_TABLES.jobs, toRow(job(id, {})));
    });
    const order: string[] = [];
    const w = defineWorker<{ id: string }>({ name: 'w', perform: (a) => void order.push(a.id) });
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 1 } } });
    await run(env, 2000, 50);
    expect(order).toEqual(['0a', '0b', '0c', '0d']);
    await settle(env, runner.stop());
    await store.close();
  });

  it('rows with the older lane (id last) are claimed in order among new ones, staged, pruned, listed and counted', async () => {
    const env = testEnv(32);
    const store = await openJobStore(env, faultyDisk(), '/lane-mixed');
    await store.transaction((tx) => {
      // available: old p0 earliest, new p0 later, old p1, new p1 latest
      tx.put(JOB_TABLES.jobs, oldRow(job('old-a', { scheduledAt: T0 - 40 })));
      tx.put(JOB_TABLES.jobs, toRow(job('new-a', { scheduledAt: T0 - 30 })));
      tx.put(JOB_TABLES.jobs, oldRow(job('old-b', { priority: 1, scheduledAt: T0 - 50 })));
      tx.put(JOB_TABLES.jobs, toRow(job('new-b', { priority: 1, scheduledAt: T0 - 20 })));
      // scheduled, due in 5 s: the stager must find it
      tx.put(JOB_TABLES.jobs, oldRow(job('old-s', { state: 'scheduled', scheduledAt: T0 + 5000 })));
      // completed two minutes ago (old and new layout): the pruner must delete both
      tx.put(JOB_TABLES.jobs, oldRow(job('old-c', { state: 'completed', attempt: 1, finishedAt: T0 - 120_000 })));
      tx.put(JOB_TABLES.jobs, toRow(job('new-c', { state: 'completed', attempt: 1, finishedAt: T0 - 110_000 })));
    });
    const order: string[] = [];
    const w = defineWorker<{ id: string }>({ name: 'w', perform: (a) => void order.push(a.id) });
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 1 }, pruner: false } });
    expect(runner.list({ state: 'available' }).map((j) => j.id)).toEqual(['old-a', 'new-a', 'old-b', 'new-b']);
    expect(runner.list({ state: 'completed' }).map((j) => j.id)).toEqual(['old-c', 'new-c']);
    await run(env, 1000, 50);
    expect(order).toEqual(['old-a', 'new-a', 'old-b', 'new-b']);
    await run(env, 6000, 100);
    expect(order).toEqual(['old-a', 'new-a', 'old-b', 'new-b', 'old-s']);
    expect(runner.list({ state: 'completed', limit: 100 }).map((j) => j.id).sort()).toEqual(['new-a', 'new-b', 'new-c', 'old-a', 'old-b', 'old-c', 'old-s']);
    await settle(env, runner.stop());
    // the pruner of a runner started again (final jobs older than 60 s): both layouts go
    const pruning = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 1 }, pruner: { maxAgeMs: 60_000, intervalMs: 1000 } } });
    await run(env, 3000, 100);
    expect(pruning.get('old-c')).toBeUndefined();
    expect(pruning.get('new-c')).toBeUndefined();
    expect(pruning.get('old-a')?.state).toBe('completed');
    await settle(env, pruning.stop());
    await store.close();
  });
});
