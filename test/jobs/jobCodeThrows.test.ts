/**
 * Job code that runs inside the runner's outcome transactions — a worker's `backoff` (in the
 * shared `finishMany` of a turn's outcomes), a late outcome's `effects` (in `finishLate`) — and
 * throws, or hands back something hostile. Its failure is its own job's, typed: never the
 * failure of the other outcomes written with it, never taken for a store failure (the runner
 * degraded, the write retried for ever) nor for a commit of unknown outcome (a store code on
 * the thrown value). Real RocksDB, virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { createTestEnv } from '../../src/env/env.ts';
import { JobRunner, defineWorker, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { LATE_NOT_WRITTEN } from '../../src/jobs/lateOutcome.ts';
import { T0, fakeCluster, fakeLeadership } from './helpers.ts';
import { onRealStore, rocksJobStore, runReal, settleReal, writes } from './rocksDisk.ts';

/** A proxy every operation on which throws (`instanceof` included). */
function revoked(): object {
  const p = Proxy.revocable({}, {});
  p.revoke();
  return p.proxy;
}

const reports = (records: ReadonlyArray<Record<string, unknown>>, report: string) => records.filter((r) => r['report'] === report);

describe('job code that throws inside the outcome transactions', () => {
  it.each([
    ['returns a revoked proxy', () => revoked() as unknown as number],
    ['throws a revoked proxy', () => { throw revoked(); }],
  ] as const)('a backoff that %s: its job is retried on the default backoff (ORDO_JOBS_BAD_BACKOFF logged); the outcome written with it lands; no store failure', async (_label, backoff) => {
    const bad = defineWorker({ name: 'bad', maxAttempts: 3, backoff, perform: () => ({ error: 'its failure' }) });
    const w = defineWorker({ name: 'w', perform: () => undefined });
    await onRealStore(361, 'job-code-backoff', { workers: [bad, w], queues: { default: 2 }, pruner: false }, async ({ env, s, runner }) => {
      // one turn: stored claimed in one commit, both outcomes in one finishMany
      const [a, b] = await Promise.all([runner.enqueue(bad, {}), runner.enqueue(w, {})]);
      // the two outcomes' commit (watched, never refused): one batch, not the shared one failed and each written alone
      let together = 0;
      s.ctl.refuse = (ops) => {
        if (writes(ops, a.job.id) && writes(ops, b.job.id)) together++;
        return false;
      };
      await runReal(env, s.ctl, 2_000, 50);
      expect(together, 'both outcomes in one commit').toBe(1);
      const job = runner.get(a.job.id)!;
      expect(job).toMatchObject({ state: 'retryable', attempt: 1 });
      expect(job.errors.map((e) => e.error)).toEqual(['its failure']);
      expect(job.scheduledAt - T0).toBeGreaterThanOrEqual(16_000); // Oban's curve after attempt 1: 17 s
      expect(runner.get(b.job.id)!.state).toBe('completed');
      expect(runner.metrics().storeErrors).toBe(0);
      expect(reports(env.records, 'jobs_store_failed')).toEqual([]);
      const warned = reports(env.records, 'jobs_bad_backoff');
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ job: a.job.id, attempt: 1, err: { code: 'ORDO_JOBS_BAD_BACKOFF', jobId: a.job.id, worker: 'bad' } });
    });
  });

  it('a late outcome whose effects throw an error carrying a store code: rescued charged at once, not settled as a commit of unknown outcome', async () => {
    const env = createTestEnv({ level: 'warn', startMs: T0, seed: 362 });
    const s = await rocksJobStore(env, 'job-code-late-effects');
    const lookalike = Object.assign(new Error('not the store: the worker threw it'), { code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'committed' });
    const w = defineWorker<{ ms: number }>({
      name: 'w',
      maxAttempts: 1,
      perform: async ({ ms }) => {
        // ignores its abort: the drain leaves it running
        await new Promise<void>((r) => env.clock.setTimeout(() => r(), ms));
        return { ok: true, effects: () => { throw lookalike; } };
      },
    });
    const config: JobRunnerConfig = { workers: [w], queues: { default: { limit: 1, globalLimit: 1 } }, pruner: false, shutdownMs: 1000, pollMs: 200, lifeline: { intervalMs: 1000, rescueAfterMs: false } };
    const input = { env, store: s.store, config, cluster: fakeCluster('a', 'a1', new Map([['a', 'a1']])), leadership: fakeLeadership('a', true) };
    const first = await JobRunner.start(input);
    const id = (await first.enqueue(w, { ms: 10_000 })).job.id;
    await runReal(env, s.ctl, 100, 10);
    await settleReal(env, s.ctl, first.stop(), 10);
    const second = await settleReal(env, s.ctl, JobRunner.start(input), 10);
    try {
      expect(second.get(id)).toMatchObject({ state: 'executing', attempt: 1 });
      await runReal(env, s.ctl, 12_000, 50); // the perform ends ~10 s in
      expect(second.get(id)).toMatchObject({ state: 'discarded', attempt: 1 });
      expect(second.get(id)!.errors.map((e) => e.error)).toEqual([LATE_NOT_WRITTEN]);
      expect(second.metrics().lateOutcomes).toMatchObject({ refused: 1, written: 0 });
      expect(second.metrics().storeErrors).toBe(0);
      expect(reports(env.records, 'jobs_commit_unknown')).toEqual([]);
      expect(reports(env.records, 'jobs_late_perform_ended').some((r) => (r['err'] as { code?: string } | undefined)?.code === 'ORDO_JOBS_BAD_OUTCOME')).toBe(true);
    } finally {
      await settleReal(env, s.ctl, second.stop());
      await s.store.close();
      s.dispose();
    }
  });
});
