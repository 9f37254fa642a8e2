/**
 * The pruner on the virtual clock: final jobs older than `maxAgeMs` are deleted — in
 * transactions of at most PRUNE_CHUNK rows (a large in-process delete holds the event loop),
 * until none is due — and nothing else is: younger final jobs and jobs still to run are kept.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, JOB_TABLES } from '../../src/jobs/index.ts';
import { PRUNE_CHUNK } from '../../src/jobs/plugins.ts';
import { faultyDisk, openJobStore, run, settle, testEnv } from './helpers.ts';

describe('pruner', () => {
  it('deletes old final jobs in small transactions, keeps young and unfinished ones', async () => {
    const env = testEnv(21);
    const store = await openJobStore(env, faultyDisk(), '/pruner');
    const w = defineWorker<{ fail: boolean }>({ name: 'w', perform: (a) => (a.fail ? { discard: 'no' } : undefined) });
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 50 }, pruner: { maxAgeMs: 60_000, intervalMs: 30_000 } } });
    const old: string[] = [];
    for (let i = 0; i < 3 * PRUNE_CHUNK + 50; i++) old.push((await runner.enqueue(w, { fail: i % 7 === 0 })).job.id);
    await run(env, 1000, 100);
    expect(runner.list({ state: 'completed', limit: 10_000 }).length + runner.list({ state: 'discarded', limit: 10_000 }).length).toBe(old.length);
    const later = (await runner.enqueue(w, { fail: false }, { scheduleIn: 10 * 60_000 })).job.id;
    await run(env, 40_000, 500);
    const young = (await runner.enqueue(w, { fail: false })).job.id;
    // deletes per commit, once the old jobs are due (finished > 60 s ago)
    const deletes: number[] = [];
    const off = store.onCommit((b) => {
      const n = b.ops.filter((o) => o.table === JOB_TABLES.jobs && o.op === 'delete').length;
      if (n > 0) deletes.push(n);
    });
    await run(env, 60_000, 100);
    off();
    for (const id of old) expect(runner.get(id), id).toBeUndefined();
    expect(runner.get(young)?.state).toBe('completed');
    expect(runner.get(later)?.state).toBe('scheduled');
    expect(deletes.reduce((a, b) => a + b, 0)).toBe(old.length);
    expect(Math.max(...deletes)).toBeLessThanOrEqual(PRUNE_CHUNK);
    expect(deletes.length).toBeGreaterThanOrEqual(4);
    await settle(env, runner.stop());
    await store.close();
  });
});

describe('pruner rounds', () => {
  it('a round that ends full starts the next after the pause, not after the interval: pruning is not capped at limit per interval', async () => {
    const env = testEnv(22);
    const store = await openJobStore(env, faultyDisk(), '/pruner-rounds');
    const w = defineWorker({ name: 'w', perform: () => undefined });
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 50 }, pruner: { maxAgeMs: 60_000, intervalMs: 30_000, limit: 150 } } });
    const ids: string[] = [];
    for (let i = 0; i < 10 * PRUNE_CHUNK; i++) ids.push((await runner.enqueue(w, {})).job.id);
    await run(env, 2000, 100);
    expect(runner.list({ state: 'completed', limit: 10_000 }).length).toBe(ids.length);
    // due from ~62 s; the round at 90 s finds them: one round of 150 per 30 s interval would leave 850 at 95 s
    await run(env, 93_000, 100);
    expect(ids.filter((id) => runner.get(id) !== undefined)).toEqual([]);
    expect(runner.metrics().pruned).toBe(ids.length);
    await settle(env, runner.stop());
    await store.close();
  });

  it('a transaction failing mid-round does not shorten the next round', async () => {
    const env = testEnv(23);
    const disk = faultyDisk();
    const store = await openJobStore(env, disk, '/pruner-fail');
    const w = defineWorker({ name: 'w', perform: () => undefined });
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 50 }, pruner: { maxAgeMs: 60_000, intervalMs: 30_000, limit: 250 } } });
    for (let i = 0; i < 6 * PRUNE_CHUNK; i++) await runner.enqueue(w, {});
    await run(env, 2000, 100);
    const deletes: number[] = [];
    const off = store.onCommit((b) => {
      const n = b.ops.filter((o) => o.table === JOB_TABLES.jobs && o.op === 'delete').length;
      if (n > 0) deletes.push(n);
    });
    // the first chunk of a round lands, the disk then fails for the rest of it
    while (deletes.length === 0) await run(env, 5, 5);
    disk.failing = true;
    await run(env, 100, 5);
    disk.failing = false;
    await run(env, 60_000, 100);
    off();
    // the round the failure cut short ended; the next is whole: 100, 100, 50 (a shortened one: 100, 50)
    expect(deletes.slice(1, 4)).toEqual([100, 100, 50]);
    expect(deletes.reduce((a, b) => a + b, 0)).toBe(6 * PRUNE_CHUNK);
    await settle(env, runner.stop());
    await store.close();
  });
});
