/**
 * Eager claim (config `eagerClaim`, default on): an enqueue into an idle local queue stores its
 * job already claimed — one commit from enqueue to start —, never ahead of an available job
 * that sorts before it, and `eagerClaim: false` turns it off.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, JobsConfigError, defineWorker, JOB_TABLES, type Job, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { toRow } from '../../src/jobs/tables.ts';
import { uniqueKeyOf } from '../../src/jobs/unique.ts';
import { T0, faultyDisk, openJobStore, run, settle, testEnv } from './helpers.ts';

const row = (id: string, over: Partial<Job> = {}): Job => ({
  id, queue: 'default', worker: 'w', args: {}, meta: {}, state: 'available', priority: 0, attempt: 0, maxAttempts: 20,
  insertedAt: T0, scheduledAt: T0, attemptedAt: null, attemptedBy: null, finishedAt: null, errors: [], uniqueKey: null, timeoutMs: null, ...over,
});

async function setup(seed: number, extra: Partial<JobRunnerConfig> = {}) {
  const env = testEnv(seed);
  const store = await openJobStore(env, faultyDisk(), `/eager-${seed}`);
  const started: string[] = [];
  const releases = new Map<string, () => void>();
  const w = defineWorker<{ n: number }>({
    name: 'w',
    perform: (_a, { job }) => new Promise<void>((r) => {
      started.push(job.id);
      releases.set(job.id, r);
    }),
  });
  const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 1 }, pruner: false, pollMs: 3_600_000, ...extra } });
  // every transaction the runner runs from here on, and every state a job row is written with
  let txs = 0;
  const orig = store.transaction.bind(store);
  store.transaction = ((fn, o) => (txs++, orig(fn, o))) as typeof store.transaction;
  const states = new Map<string, string[]>();
  store.subscribe(JOB_TABLES.jobs, (ev) => {
    if (ev.op !== 'put') return;
    const id = ev.value['id'] as string;
    states.set(id, [...(states.get(id) ?? []), ev.value['state'] as string]);
  });
  return { env, store, runner, w, started, releases, states, txs: () => txs };
}

describe('eager claim', () => {
  it('an enqueue into an idle queue is stored already claimed and starts from that one commit (no claim transaction)', async () => {
    const t = await setup(71);
    const { job } = await settle(t.env, t.runner.enqueue(t.w, { n: 1 }), 10);
    await run(t.env, 50, 10);
    expect(t.started).toEqual([job.id]);
    // one transaction between enqueue and start: the insert, which wrote the row executing
    expect(t.txs()).toBe(1);
    expect(t.states.get(job.id)).toEqual(['executing']);
    const j = t.runner.get(job.id)!;
    expect([j.state, j.attempt, j.attemptedBy]).toEqual(['executing', 1, t.runner.node]);
    t.releases.get(job.id)!();
    await run(t.env, 50, 10);
    expect(t.runner.get(job.id)!.state).toBe('completed');
    expect(t.runner.metrics().started).toBe(1);
    await settle(t.env, t.runner.stop());
    await t.store.close();
  });

  it('eagerClaim: false inserts the job available and the queue claims it in a transaction of its own', async () => {
    const t = await setup(72, { eagerClaim: false });
    const { job } = await settle(t.env, t.runner.enqueue(t.w, { n: 1 }), 10);
    await run(t.env, 50, 10);
    expect(t.started).toEqual([job.id]);
    expect(t.txs()).toBe(2);
    expect(t.states.get(job.id)).toEqual(['available', 'executing']);
    t.releases.get(job.id)!();
    await run(t.env, 50, 10);
    expect(t.runner.get(job.id)!.state).toBe('completed');
    await settle(t.env, t.runner.stop());
    await t.store.close();
  });

  it('eagerClaim must be a boolean', async () => {
    const env = testEnv(73);
    const store = await openJobStore(env, faultyDisk(), '/eager-73');
    const w = defineWorker({ name: 'w', perform: () => undefined });
    await expect(JobRunner.start({ env, store, config: { workers: [w], queues: { default: 1 }, eagerClaim: 'yes' as never } })).rejects.toBeInstanceOf(JobsConfigError);
    await store.close();
  });

  it('an insert re-run after a conflict does not claim its job past one a commit it lost to made available ahead of it', async () => {
    const t = await setup(74);
    const unique = { periodMs: 'infinity' as const };
    const key = uniqueKeyOf(unique, { worker: 'w', queue: 'default', args: { n: 1 }, meta: {} });
    // in one turn: a commit making `ahead` available (priority 0, earlier) that also writes the
    // unique pointer the enqueue reads (of a job that no longer exists: no duplicate), then the
    // enqueue into the idle queue (limit 1). The insert's first run sees neither (the commit is
    // still queued) and offers to claim; the commit conflicts it, and its second run sees `ahead`.
    const wrote = t.store.transaction((tx) => {
      tx.put(JOB_TABLES.unique, { uniqueKey: key, jobId: 'gone' });
      tx.put(JOB_TABLES.jobs, toRow(row('ahead', { scheduledAt: T0 - 1000, insertedAt: T0 - 1000 })));
    });
    const enq = t.runner.enqueue(t.w, { n: 1 }, { unique });
    await settle(t.env, wrote, 10);
    const { job, conflict } = await settle(t.env, enq, 10);
    expect(conflict).toBe(false);
    await run(t.env, 50, 10);
    // the job ahead runs first; the new one waits available for the slot
    expect(t.started).toEqual(['ahead']);
    expect(t.states.get(job.id)).toEqual(['available']);
    t.releases.get('ahead')!();
    await run(t.env, 50, 10);
    expect(t.started).toEqual(['ahead', job.id]);
    t.releases.get(job.id)!();
    await run(t.env, 50, 10);
    expect(t.runner.get(job.id)!.state).toBe('completed');
    await settle(t.env, t.runner.stop());
    await t.store.close();
  });
});
