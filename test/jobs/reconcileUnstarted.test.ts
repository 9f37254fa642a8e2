/**
 * Start-up reconciliation (reconcile.ts) and the attempt count, as an Oban user expects: a claim
 * this process knows it never started a perform for — an insert stored already claimed whose
 * commit was of unknown outcome and did land (the reopened store replays it) — does not burn an
 * attempt: a `maxAttempts: 1` job the store accepted runs once, it is not discarded unrun. A row
 * this process has no such knowledge of (it may have run) is charged, as the lifeline does.
 *
 * On the virtual clock, over a memory disk that refuses a write the way the real adapter does.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, JobsCommitIndeterminateError, defineWorker, jobTables, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { RECONCILED } from '../../src/jobs/reconcile.ts';
import { effectTables, fakeCluster, fakeLeadership, run, settle, testEnv } from './helpers.ts';
import { refusingDisk } from './refusingDisk.ts';

const tables = { ...jobTables(), ...effectTables };

describe('a landed claim of unknown outcome, maxAttempts 1', () => {
  it('runs once after the reopen: its one attempt never performed', async () => {
    const env = testEnv(31);
    const disk = refusingDisk();
    let performs = 0;
    const once = defineWorker<{ n: number }>({ name: 'once', maxAttempts: 1, perform: () => void performs++ });
    const config: JobRunnerConfig = { workers: [once], queues: { default: 2 }, pruner: false, shutdownMs: 1000, pollMs: 200, lifeline: { intervalMs: 1000 } };
    const cluster = fakeCluster('a', 'a1', new Map([['a', 'a1']]));
    let store: Store = await openStore({ env, dir: '/never-ran', kv: disk.kv, tables });
    let runner = await JobRunner.start({ env, store, config, cluster, leadership: fakeLeadership('a', true) });
    disk.ctl.next = 'unknown-landed';
    const e = await runner.enqueue(once, { n: 1 }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(JobsCommitIndeterminateError);
    const id = (e as JobsCommitIndeterminateError).jobIds[0]!;
    expect(performs).toBe(0);
    await settle(env, runner.stop());
    await store.close();
    store = await openStore({ env, dir: '/never-ran', kv: disk.kv, tables, expectExisting: true });
    runner = await JobRunner.start({ env, store, config, cluster, leadership: fakeLeadership('a', true) });
    await run(env, 2000, 10);
    expect(performs).toBe(1);
    expect(runner.get(id)).toMatchObject({ state: 'completed', attempt: 1 });
    expect(runner.get(id)?.errors.some((x) => x.error.includes(RECONCILED))).toBe(false);
    await settle(env, runner.stop());
    await store.close();
  });
});
