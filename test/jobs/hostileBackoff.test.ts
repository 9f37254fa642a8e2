/**
 * A worker's `backoff` that throws or returns something that is not a finite number of ms: the
 * failed job is still written (retryable after the default backoff, its error entry kept) and the
 * queue goes on — not a failure write the store refuses (a NaN `scheduledAt`) or that throws, retried
 * for ever with the job left executing and its slot held.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker } from '../../src/jobs/index.ts';
import { faultyDisk, openJobStore, run, settle, testEnv } from './helpers.ts';

describe('hostile backoff', () => {
  for (const [label, backoff] of [
    ['returns NaN', () => NaN],
    ['returns Infinity', () => Infinity],
    ['throws', () => { throw new Error('no backoff'); }],
  ] as const) {
    it(`a backoff that ${label}: the job is retryable with its error entry, the next job runs`, async () => {
      const env = testEnv(185);
      const store = await openJobStore(env, faultyDisk(), `/backoff-${label.replace(/ /g, '-')}`);
      const bad = defineWorker({ name: 'bad', maxAttempts: 3, backoff, perform: () => ({ error: 'once' }) });
      const w = defineWorker({ name: 'w', perform: () => undefined });
      const runner = await JobRunner.start({ env, store, config: { workers: [bad, w], queues: { default: 1 }, stager: { intervalMs: 50 } } });
      const a = await runner.enqueue(bad, {});
      const b = await runner.enqueue(w, {});
      await run(env, 2_000, 50);
      const ja = runner.get(a.job.id)!;
      expect(ja.state).toBe('retryable');
      expect(ja.errors.map((e) => e.error)).toEqual(['once']);
      expect(Number.isFinite(ja.scheduledAt)).toBe(true);
      expect(runner.get(b.job.id)!.state).toBe('completed');
      await settle(env, runner.stop(), 100, 60_000);
      await store.close();
    });
  }
});
