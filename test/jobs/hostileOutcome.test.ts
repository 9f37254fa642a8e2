/**
 * A perform that throws something unreadable (a null-prototype object, a throwing toString or
 * message getter), or hands back something that is not a JobOutcome (a JS worker returning a number, a
 * string, `true`; a snooze that is not a finite number) is a failure of that attempt — recorded
 * with a typed error and retried — never an exception out of the runner's outcome reaction (an
 * unhandled rejection) nor an outcome the store refuses for ever (the write retried, its slot held).
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker } from '../../src/jobs/index.ts';
import { faultyDisk, openJobStore, run, settle, testEnv } from './helpers.ts';

describe('hostile outcomes', () => {
  for (const [label, thrown] of [
    ['a null-prototype object', Object.create(null) as unknown],
    ['an object whose toString throws', { toString: () => { throw new Error('no'); } }],
    ['a symbol', Symbol('s')],
    ['an error whose message is a getter that throws', Object.defineProperty(new Error('x'), 'message', { get: () => { throw new Error('no'); } })],
  ] as const) {
    it(`a perform that throws ${label}: the attempt fails with an error entry, and the next job runs`, async () => {
      const env = testEnv(184);
      const store = await openJobStore(env, faultyDisk(), `/thrown-${label.replace(/ /g, '-')}`);
      const bad = defineWorker({ name: 'bad', maxAttempts: 1, perform: () => { throw thrown; } });
      const w = defineWorker({ name: 'w', perform: () => undefined });
      const runner = await JobRunner.start({ env, store, config: { workers: [bad, w], queues: { default: 1 }, stager: { intervalMs: 50 } } });
      const a = await runner.enqueue(bad, {});
      const b = await runner.enqueue(w, {});
      await run(env, 5_000, 50);
      const ja = runner.get(a.job.id)!;
      expect(ja.state).toBe('discarded');
      expect(ja.errors.length).toBe(1);
      expect(runner.get(b.job.id)!.state).toBe('completed');
      await settle(env, runner.stop(), 100, 60_000);
      await store.close();
    });
  }

  for (const [label, outcome] of [
    ['a number', 42],
    ['a string', 'ok'],
    ['true', true],
    ['a NaN snooze', { snooze: NaN }],
    ['an Infinity snooze', { snooze: Infinity }],
  ] as const) {
    it(`${label}: the attempt fails with an error entry, and the next job of the queue runs`, async () => {
      const env = testEnv(182);
      const store = await openJobStore(env, faultyDisk(), `/hostile-${label.replace(/ /g, '-')}`);
      const bad = defineWorker({ name: 'bad', maxAttempts: 1, perform: () => outcome as never });
      const w = defineWorker({ name: 'w', perform: () => undefined });
      const runner = await JobRunner.start({ env, store, config: { workers: [bad, w], queues: { default: 1 }, stager: { intervalMs: 50 } } });
      const a = await runner.enqueue(bad, {});
      const b = await runner.enqueue(w, {});
      await run(env, 5_000, 50);
      const ja = runner.get(a.job.id)!;
      expect(ja.state).toBe('discarded');
      expect(ja.errors.length).toBe(1);
      expect(ja.errors[0]!.code).toBe('ORDO_JOBS_BAD_OUTCOME');
      expect(runner.get(b.job.id)!.state).toBe('completed');
      await settle(env, runner.stop(), 100, 60_000);
      await store.close();
    });
  }
});
