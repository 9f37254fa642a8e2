/**
 * An attempt aborted first — its timeout, or the drain's deadline at a stop — whose perform
 * then ends with its own `{ error }`. Chosen: the first outcome wins, as in Oban (a timeout
 * kills the job's process; a shutdown leaves the job to be rescued), so the attempt is the
 * abort's — a timeout's error entry says `ORDO_JOBS_TIMEOUT`, a drain's give-back is uncharged
 * with no entry — and the perform's own later error is never recorded in its place, nor dropped
 * unseen: a `jobs_outcome_after_abort` warn names the job, the attempt, what aborted it and the
 * perform's own error. Real RocksDB, virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { defineWorker, type JobOutcome } from '../../src/jobs/index.ts';
import { onRealStore, runReal, settleReal } from './rocksDisk.ts';

/** On its abort, the perform ends with an error of its own (not the abort's reason). */
const ownErrorOnAbort = (_a: unknown, { signal }: { signal: AbortSignal }): Promise<JobOutcome> =>
  new Promise((resolve) => signal.addEventListener('abort', () => queueMicrotask(() => resolve({ error: Object.assign(new Error('its own failure'), { code: 'APP_OWN' }) }))));

const afterAbort = (records: ReadonlyArray<Record<string, unknown>>) => records.filter((r) => r['report'] === 'jobs_outcome_after_abort');

describe('a perform that ends with its own error after its attempt was aborted', () => {
  it('timeout first: the attempt’s error entry is the timeout’s; the perform’s own error is logged, not recorded', async () => {
    const w = defineWorker({ name: 'w', maxAttempts: 3, timeoutMs: 1_000, perform: ownErrorOnAbort });
    await onRealStore(341, 'abort-first-timeout', { workers: [w], queues: { default: 1 }, pruner: false }, async ({ env, s, runner }) => {
      const id = (await runner.enqueue(w, {})).job.id;
      await runReal(env, s.ctl, 2_000, 50);
      const job = runner.get(id)!;
      expect(job).toMatchObject({ state: 'retryable', attempt: 1 });
      expect(job.errors.map((e) => e.code)).toEqual(['ORDO_JOBS_TIMEOUT']);
      expect(job.errors[0]!.error).toMatch(/timed out after 1000 ms/);
      const logs = afterAbort(env.records);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatchObject({ job: id, attempt: 1, abortedBy: 'ORDO_JOBS_TIMEOUT', error: 'its own failure', code: 'APP_OWN' });
    });
  });

  it('the drain’s deadline first: the job is given back uncharged, no error entry; the perform’s own error is logged', async () => {
    const w = defineWorker({ name: 'w', maxAttempts: 1, perform: ownErrorOnAbort });
    await onRealStore(342, 'abort-first-drain', { workers: [w], queues: { default: 1 }, pruner: false, shutdownMs: 1_000 }, async ({ env, s, runner }) => {
      const id = (await runner.enqueue(w, {})).job.id;
      await runReal(env, s.ctl, 500, 50);
      expect(runner.get(id)).toMatchObject({ state: 'executing', attempt: 1 });
      expect(await settleReal(env, s.ctl, runner.stop(), 50)).toBe(1);
      expect(runner.get(id)).toMatchObject({ state: 'available', attempt: 0, errors: [] });
      const logs = afterAbort(env.records);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toMatchObject({ job: id, attempt: 1, abortedBy: 'ORDO_JOBS_DRAIN_DEADLINE', error: 'its own failure', code: 'APP_OWN' });
    });
  });

  it('control: a perform that rethrows its abort’s reason is not logged as its own', async () => {
    const w = defineWorker({ name: 'w', maxAttempts: 3, timeoutMs: 1_000, perform: (_a, { signal }) => new Promise<JobOutcome>((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason))) });
    await onRealStore(343, 'abort-first-control', { workers: [w], queues: { default: 1 }, pruner: false }, async ({ env, s, runner }) => {
      const id = (await runner.enqueue(w, {})).job.id;
      await runReal(env, s.ctl, 2_000, 50);
      expect(runner.get(id)!.errors.map((e) => e.code)).toEqual(['ORDO_JOBS_TIMEOUT']);
      expect(afterAbort(env.records)).toEqual([]);
    });
  });
});
