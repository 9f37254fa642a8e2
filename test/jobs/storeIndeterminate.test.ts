/**
 * The store's `ORDO_STORE_COMMIT_INDETERMINATE` under the job runner, on the virtual clock: a
 * synced commit refused after its WAL write — `committed` (the marker write failed: durable and
 * applied) or `unknown` (the sync writer died with it: maybe on disk, not applied; the store is
 * dead until reopened). Simulated here by a memory disk that refuses a write the way the real
 * adapter does (`KvError` with `durable: true | 'unknown'`); one test drives the real RocksDB
 * fault point `kv.marker.enospc` end to end.
 *
 * What a user of Oban or BullMQ expects: an enqueue that is not known to have failed is never
 * reported as "not enqueued" (a caller retrying it would create a duplicate); the job it stored
 * runs once; a claim or a completion in such a commit is acted on as the store shows it (never
 * a job left `executing` under a live runner, never a job performed twice, a worker's
 * transactional effects applied once); after a reopen the rows settle what an `unknown` did.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { JobRunner, JobsCommitIndeterminateError, defineWorker, jobTables, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import type { TestEnv } from '../../src/env/env.ts';
import { effectTables, run, settle, testEnv } from './helpers.ts';
import { refusingDisk } from './refusingDisk.ts';

const tables = { ...jobTables(), ...effectTables };
let dirs = 0;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** A runner over a refusing disk; performs counted per job, each writing its effect in the completing transaction. */
async function setup(seed: number, limit = 2, ms = 100) {
  const env: TestEnv = testEnv(seed);
  const disk = refusingDisk();
  const dir = `/indeterminate-${++dirs}`;
  const performs = new Map<string, number>();
  const w = defineWorker<{ n: number }>({
    name: 'w',
    perform: async (_a, { job, signal }) => {
      performs.set(job.id, (performs.get(job.id) ?? 0) + 1);
      await new Promise<void>((resolve, reject) => {
        const timer = env.clock.setTimeout(() => resolve(), ms);
        signal.addEventListener('abort', () => (env.clock.clearTimeout(timer), reject(signal.reason)));
      });
      return { ok: true, effects: (tx) => void tx.put('effects', { id: job.id, n: ((tx.get('effects', job.id)?.['n'] as number) ?? 0) + 1 }) };
    },
  });
  const quick = defineWorker<{ n: number }>({
    name: 'quick',
    perform: async (_a, { job }) => {
      performs.set(job.id, (performs.get(job.id) ?? 0) + 1);
      await new Promise<void>((r) => env.clock.setTimeout(() => r(), ms));
    },
  });
  const config: JobRunnerConfig = { workers: [w, quick], queues: { default: limit }, pruner: false, shutdownMs: 1000, pollMs: 200, lifeline: { intervalMs: 1000 } };
  const state = { store: await openStore({ env, dir, kv: disk.kv, tables }) as Store, runner: undefined as unknown as JobRunner };
  state.runner = await JobRunner.start({ env, store: state.store, config });
  cleanups.push(async () => {
    await settle(env, state.runner.stop());
    await state.store.close();
  });
  return {
    env, disk, w, quick, performs, state,
    /** The tree's restart of a failed store: the runner stops, the store is reopened, a new runner starts on it. */
    async reopen() {
      await settle(env, state.runner.stop());
      await state.store.close();
      state.store = await openStore({ env, dir, kv: disk.kv, tables, expectExisting: true });
      state.runner = await JobRunner.start({ env, store: state.store, config });
    },
  };
}

const refusedWith = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'resolved', (e: unknown) => e);

describe('an enqueue whose synced commit is refused after its WAL write', () => {
  it('committed: rejects typed, naming each job as stored; the jobs run once, and a retry by id is a conflict, not a duplicate', async () => {
    const t = await setup(1);
    t.disk.ctl.next = 'committed';
    // two enqueues in one turn share one commit (and are stored already claimed: free slots)
    const [e1, e2] = await Promise.all([refusedWith(t.state.runner.enqueue(t.w, { n: 1 })), refusedWith(t.state.runner.enqueue(t.w, { n: 2 }))]);
    for (const e of [e1, e2]) {
      expect(e).toBeInstanceOf(JobsCommitIndeterminateError);
      expect(e).toMatchObject({ code: 'ORDO_JOBS_COMMIT_INDETERMINATE', operation: 'enqueue', outcome: 'committed', queue: 'default', cause: { code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'committed' } });
    }
    const ids = [e1, e2].map((e) => (e as JobsCommitIndeterminateError).jobIds[0]!);
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) expect(t.state.runner.get(id)).toBeDefined();
    expect(t.state.runner.health()).toMatchObject({ status: 'degraded', lastStoreError: { operation: 'enqueue', code: 'ORDO_STORE_COMMIT_INDETERMINATE' } });
    // the disk has room again: the runner goes on (the store's probe passes) and runs each job once
    await run(t.env, 2000, 10);
    for (const id of ids) {
      expect(t.state.runner.get(id)?.state, id).toBe('completed');
      expect(t.performs.get(id), id).toBe(1);
      expect(t.state.store.get('effects', id)?.['n'], id).toBe(1);
    }
    // the caller follows the error's advice: the same id again is the stored job, not a second one
    const again = await t.state.runner.enqueue(t.w, { n: 1 }, { id: ids[0]! });
    expect(again).toMatchObject({ conflict: true, job: { id: ids[0], state: 'completed' } });
    expect(t.state.runner.health().status).toBe('ok');
    expect(t.state.runner.metrics().finished).toEqual({ completed: 2 });
  });

  it('committed while the queue is busy (inserted available, not claimed): the job is there and runs once', async () => {
    const t = await setup(2, 1, 500);
    const first = (await t.state.runner.enqueue(t.w, { n: 0 })).job.id;
    t.disk.ctl.next = 'committed';
    const e = await refusedWith(t.state.runner.enqueue(t.w, { n: 1 }));
    expect(e).toMatchObject({ code: 'ORDO_JOBS_COMMIT_INDETERMINATE', outcome: 'committed' });
    const id = (e as JobsCommitIndeterminateError).jobIds[0]!;
    expect(t.state.runner.get(id)?.state).toBe('available');
    await run(t.env, 3000, 10);
    for (const j of [first, id]) {
      expect(t.state.runner.get(j)?.state).toBe('completed');
      expect(t.performs.get(j)).toBe(1);
    }
  });

  it.each(['unknown-landed', 'unknown-lost'] as const)('%s: rejects typed (outcome unknown); after the reopen the caller retries by id and the job exists and runs exactly once', async (fate) => {
    const t = await setup(3);
    t.disk.ctl.next = fate;
    const e = await refusedWith(t.state.runner.enqueue(t.w, { n: 1 }));
    expect(e).toBeInstanceOf(JobsCommitIndeterminateError);
    expect(e).toMatchObject({ operation: 'enqueue', outcome: 'unknown', cause: { code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'unknown' } });
    const id = (e as JobsCommitIndeterminateError).jobIds[0]!;
    expect(t.state.runner.get(id)).toBeUndefined(); // not applied here: the disk settles it
    expect(t.state.runner.health().status).toBe('degraded');
    expect(t.state.store.failed).toBeDefined();
    await run(t.env, 500, 10);
    expect(t.performs.get(id)).toBeUndefined(); // nothing runs what the store cannot show
    await t.reopen();
    const again = await t.state.runner.enqueue(t.w, { n: 1 }, { id });
    expect(again.conflict).toBe(fate === 'unknown-landed');
    // landed: the old runner's claim is an orphan of a runner that is gone — the lifeline returns it
    await run(t.env, 5000, 10);
    expect(t.state.runner.get(id)?.state).toBe('completed');
    expect(t.performs.get(id)).toBe(1);
    expect(t.state.store.get('effects', id)?.['n']).toBe(1);
    expect(t.state.runner.list({ state: 'completed' }).map((j) => j.id)).toEqual([id]);
  });
});

describe('a completion (and the claim in its commit) refused after its WAL write', () => {
  it('committed: the outcome counts once, the job claimed in the same commit starts (never left executing under a live runner)', async () => {
    const t = await setup(4, 1, 100);
    const a = (await t.state.runner.enqueue(t.quick, { n: 1 })).job.id;
    const b = (await t.state.runner.enqueue(t.quick, { n: 2 })).job.id;
    expect(t.state.runner.get(b)?.state).toBe('available');
    await run(t.env, 50, 10);
    t.disk.ctl.next = 'committed'; // a's completion, which claims b
    await run(t.env, 60, 10);
    expect(t.disk.ctl.refused).toBe(1);
    expect(t.state.runner.get(a)?.state).toBe('completed');
    expect(t.state.runner.get(b)?.state).toBe('executing');
    await run(t.env, 2000, 10);
    expect(t.state.runner.get(b)?.state).toBe('completed');
    expect([t.performs.get(a), t.performs.get(b)]).toEqual([1, 1]);
    expect(t.state.runner.metrics().finished).toEqual({ completed: 2 });
    expect(t.state.runner.health()).toMatchObject({ status: 'ok', queues: { default: { running: 0 } } });
  });

  it('committed, with effects in its own transaction: the effect applies once and the outcome counts once', async () => {
    const t = await setup(5, 1, 100);
    const a = (await t.state.runner.enqueue(t.w, { n: 1 })).job.id;
    await run(t.env, 50, 10);
    t.disk.ctl.next = 'committed';
    await run(t.env, 2000, 10);
    expect(t.disk.ctl.refused).toBe(1);
    expect(t.state.runner.get(a)?.state).toBe('completed');
    expect(t.performs.get(a)).toBe(1);
    expect(t.state.store.get('effects', a)?.['n']).toBe(1);
    expect(t.state.runner.metrics().finished).toEqual({ completed: 1 });
    expect(t.state.runner.health()).toMatchObject({ status: 'ok', queues: { default: { running: 0 } } });
  });

  it.each(['unknown-landed', 'unknown-lost'] as const)('%s: after the reopen the job is completed once with its effect once (landed: final; not landed: rescued and run again)', async (fate) => {
    const t = await setup(6, 1, 100);
    const a = (await t.state.runner.enqueue(t.w, { n: 1 })).job.id;
    await run(t.env, 50, 10);
    t.disk.ctl.next = fate;
    await run(t.env, 500, 10);
    expect(t.disk.ctl.refused).toBe(1);
    expect(t.state.runner.health().status).toBe('degraded');
    await t.reopen();
    await run(t.env, 5000, 10);
    expect(t.state.runner.get(a)?.state).toBe('completed');
    expect(t.performs.get(a)).toBe(fate === 'unknown-landed' ? 1 : 2);
    expect(t.state.store.get('effects', a)?.['n']).toBe(1);
  });
});

describe('a drain whose give-back commit is refused after its WAL write', () => {
  it('committed: stop reports the jobs it returned (they are back in available, attempt given back), and they run once after', async () => {
    const t = await setup(21, 2, 10_000);
    const ids = [(await t.state.runner.enqueue(t.w, { n: 1 })).job.id, (await t.state.runner.enqueue(t.w, { n: 2 })).job.id];
    await run(t.env, 50, 10);
    for (const id of ids) expect(t.state.runner.get(id)?.state).toBe('executing');
    const stopping = t.state.runner.stop();
    t.disk.ctl.next = 'committed'; // the next write is the drain's give-back (performs end by their abort)
    expect(await settle(t.env, stopping, 10)).toBe(2);
    expect(t.disk.ctl.refused).toBe(1);
    for (const id of ids) expect(t.state.store.get('ordo_jobs', id), id).toMatchObject({ state: 'available', attempt: 0 });
    await t.reopen();
    await run(t.env, 12_000, 100);
    for (const id of ids) {
      expect(t.state.runner.get(id)?.state, id).toBe('completed');
      expect(t.performs.get(id), id).toBe(2); // the first perform was aborted by the drain
      expect(t.state.store.get('effects', id)?.['n'], id).toBe(1);
    }
  });

  it('unknown: stop reports none returned (the rows do not show it); after the reopen each job completes once, effects once', async () => {
    const t = await setup(22, 2, 10_000);
    const ids = [(await t.state.runner.enqueue(t.w, { n: 1 })).job.id, (await t.state.runner.enqueue(t.w, { n: 2 })).job.id];
    await run(t.env, 50, 10);
    const stopping = t.state.runner.stop();
    t.disk.ctl.next = 'unknown-landed';
    expect(await settle(t.env, stopping, 10)).toBe(0);
    for (const id of ids) expect(t.state.store.get('ordo_jobs', id)?.['state'], id).toBe('executing');
    await t.reopen();
    await run(t.env, 12_000, 100);
    for (const id of ids) {
      expect(t.state.runner.get(id)?.state, id).toBe('completed');
      expect(t.state.store.get('effects', id)?.['n'], id).toBe(1);
    }
  });
});

describe('an admin write refused after its WAL write', () => {
  it('cancel, committed: rejects typed naming the job; the job is cancelled and its running perform aborted', async () => {
    const t = await setup(7, 1, 10_000);
    const a = (await t.state.runner.enqueue(t.w, { n: 1 })).job.id;
    await run(t.env, 50, 10);
    t.disk.ctl.next = 'committed';
    const e = await refusedWith(t.state.runner.cancel(a));
    expect(e).toMatchObject({ code: 'ORDO_JOBS_COMMIT_INDETERMINATE', operation: 'cancel', jobIds: [a], outcome: 'committed' });
    expect(t.state.runner.get(a)?.state).toBe('cancelled');
    await run(t.env, 500, 10);
    expect(t.state.runner.health().queues['default']?.running).toBe(0);
    expect(t.state.store.get('effects', a)).toBeUndefined();
  });

  it('pause, unknown: rejects typed naming the queue', async () => {
    const t = await setup(8);
    t.disk.ctl.next = 'unknown-lost';
    const e = await refusedWith(t.state.runner.pause('default'));
    expect(e).toMatchObject({ code: 'ORDO_JOBS_COMMIT_INDETERMINATE', operation: 'pause', jobIds: [], queue: 'default', outcome: 'unknown' });
  });
});

describe('against real RocksDB: the marker write fails (fault point kv.marker.enospc)', () => {
  it('the enqueue rejects typed as committed; after a reopen the job is there exactly once', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { _setFaultHook } = await import('../../src/env/faults.ts');
    const root = mkdtempSync(join(tmpdir(), 'ordo-jobs-marker-'));
    const dir = join(root, 's');
    const env = testEnv(9); // real RocksDB adapter, virtual clock
    const w = defineWorker<{ n: number }>({ name: 'later', perform: () => undefined });
    const config: JobRunnerConfig = { workers: [w], queues: { default: 2 }, pruner: false };
    let store = await openStore({ env, dir, tables });
    let runner = await JobRunner.start({ env, store, config });
    cleanups.push(async () => {
      _setFaultHook(undefined);
      await settle(env, runner.stop());
      await store.close();
      rmSync(root, { recursive: true, force: true });
    });
    let fired = 0;
    // the marker write after the WAL's, and its synchronous retry
    _setFaultHook({ point: (name, subject) => (name === 'kv.marker.enospc' && subject === dir && fired < 2 ? (fired++, true) : false), delayMs: () => 0 });
    const e = await refusedWith(runner.enqueue(w, { n: 1 }, { scheduleIn: 3_600_000 }));
    _setFaultHook(undefined);
    expect(e).toBeInstanceOf(JobsCommitIndeterminateError);
    expect(e).toMatchObject({ operation: 'enqueue', outcome: 'committed', cause: { code: 'ORDO_STORE_COMMIT_INDETERMINATE', reason: 'no_space' } });
    const id = (e as JobsCommitIndeterminateError).jobIds[0]!;
    expect(runner.get(id)?.state).toBe('scheduled');
    await settle(env, runner.stop());
    await store.close();
    store = await openStore({ env, dir, tables, expectExisting: true });
    runner = await JobRunner.start({ env, store, config });
    expect(runner.list().map((j) => [j.id, j.state])).toEqual([[id, 'scheduled']]);
    expect(await runner.enqueue(w, { n: 1 }, { id, scheduleIn: 3_600_000 })).toMatchObject({ conflict: true, job: { id } });
  });
});
