/**
 * Pinned, documented behaviour across the lane layout change (52500a5): rows written before it
 * carry the lane with the id last (`[..., scheduledAt, id]`), rows written since without it. The
 * key codec sorts a shorter tuple first, so where lanes tie on queue, priority and scheduledAt,
 * every new-layout entry sorts before every old-layout one, each group in id order. Ties between
 * the two layouts are claimed (and listed) new-first, not in id order; lanes that do not tie
 * keep their order. An old row takes the new layout the next time it is written. From the
 * adversarial review of issue 10 (which found src/jobs/tables.ts claiming "read the same").
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, JOB_TABLES } from '../../src/jobs/index.ts';
import { toRow } from '../../src/jobs/tables.ts';
import type { Job } from '../../src/jobs/index.ts';
import { T0, faultyDisk, oldLayoutRow, openJobStore, run, settle, testEnv } from './helpers.ts';

const job = (id: string, over: Partial<Job> = {}): Job => ({
  id, queue: 'default', worker: 'w', args: { id }, meta: {}, state: 'available', priority: 0, attempt: 0, maxAttempts: 20,
  insertedAt: T0 - 1000, scheduledAt: T0 - 1000, attemptedAt: null, attemptedBy: null, finishedAt: null, errors: [], uniqueKey: null, timeoutMs: null, ...over,
});
const oldRow = oldLayoutRow;

describe('mixed lane layouts, equal lanes', () => {
  it('ties across the two layouts are claimed new-layout first, each layout in id order; lanes that do not tie keep their order', async () => {
    const env = testEnv(77);
    const store = await openJobStore(env, faultyDisk(), '/lane-tie-mixed');
    await store.transaction((tx) => {
      tx.put(JOB_TABLES.jobs, oldRow(job('a-old')));
      tx.put(JOB_TABLES.jobs, oldRow(job('c-old')));
      tx.put(JOB_TABLES.jobs, toRow(job('b-new')));
      tx.put(JOB_TABLES.jobs, toRow(job('d-new')));
      // not tied: earlier, and a higher priority (a lower number), in either layout
      tx.put(JOB_TABLES.jobs, oldRow(job('z-old-early', { scheduledAt: T0 - 2000 })));
      tx.put(JOB_TABLES.jobs, toRow(job('y-new-urgent', { priority: -1 })));
    });
    const order: string[] = [];
    const w = defineWorker<{ id: string }>({ name: 'w', perform: (a) => void order.push(a.id) });
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 1 }, pruner: false } });
    const expected = ['y-new-urgent', 'z-old-early', 'b-new', 'd-new', 'a-old', 'c-old'];
    expect(runner.list({ state: 'available' }).map((j) => j.id).sort()).toEqual([...expected].sort());
    await run(env, 1000, 50);
    expect(order).toEqual(expected);
    await settle(env, runner.stop());
    await store.close();
  });
});
