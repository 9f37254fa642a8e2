/**
 * An outcome is fenced by the attempt it belongs to: the claim's runner, attempt number *and
 * claim time*. A snooze gives its attempt back, so the same runner id claiming the job again
 * gets the same attempt number — only the claim time (the slot token's `@attemptedAt`) tells
 * the two claims apart. An outcome of the earlier claim written late (a retried or late
 * outcome write whose first try landed) must be fenced, not written over the running claim.
 */
import { describe, expect, it } from 'vitest';
import { finish, finishLate, rescue } from '../../src/jobs/engine.ts';
import { JOB_TABLES, toJob, toRow } from '../../src/jobs/tables.ts';
import type { Job } from '../../src/jobs/index.ts';
import { faultyDisk, openJobStore, testEnv, T0 } from './helpers.ts';

const base: Job = {
  id: 'j1', worker: 'w', queue: 'default', args: {}, meta: {}, state: 'executing', priority: 0,
  attempt: 1, maxAttempts: 5, insertedAt: T0, scheduledAt: T0, attemptedAt: T0, attemptedBy: 'n1/a',
  finishedAt: null, errors: [], uniqueKey: null, timeoutMs: null,
} as Job;

let dirs = 0;
async function world(): Promise<{ store: Awaited<ReturnType<typeof openJobStore>>; old: Job; current: Job }> {
  const env = testEnv(1);
  const store = await openJobStore(env, faultyDisk(), `/stale-fence-${++dirs}`);
  const old = { ...base, attemptedAt: T0 };
  // the earlier claim snoozed (attempt given back), and the same runner claimed it again later
  const current = { ...base, attemptedAt: T0 + 5_000 };
  await store.transaction((tx) => tx.put(JOB_TABLES.jobs, toRow(current)));
  return { store, old, current };
}

const row = (store: Awaited<ReturnType<typeof openJobStore>>): Job => toJob(store.get(JOB_TABLES.jobs, 'j1')!);

describe('fencing by the claim, not only its attempt number', () => {
  it('a late outcome of the earlier claim is fenced: the running claim is left as it is', async () => {
    const { store, old, current } = await world();
    const res = await finishLate(store, old, (j) => ({ ...j, state: 'scheduled', attempt: j.attempt - 1, scheduledAt: T0 }), undefined);
    expect(res).toBe('fenced');
    expect(row(store)).toEqual(current);
  });

  it('an outcome write retried for the earlier claim is fenced', async () => {
    const { store, old, current } = await world();
    expect(await finish(store, old, (j) => ({ ...j, state: 'completed', finishedAt: T0 }))).toBe('fenced');
    expect(row(store)).toEqual(current);
  });

  it("a rescue of the earlier claim does not rescue the running one", async () => {
    const { store, old, current } = await world();
    expect(await rescue(store, [old], T0, 'late outcome not written')).toBe(0);
    expect(row(store)).toEqual(current);
  });

  it('control: the outcome of the running claim itself is written', async () => {
    const { store, current } = await world();
    expect(await finish(store, current, (j) => ({ ...j, state: 'completed', finishedAt: T0 }))).toBe('done');
    expect(row(store).state).toBe('completed');
  });
});
