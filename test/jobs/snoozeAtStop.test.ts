/**
 * A perform that snoozes while its runner stops, and the store refuses that snooze's write. A
 * written snooze gives its attempt back (Oban's snooze: `attempt - 1`), so the refused one is
 * returned uncharged too — by the drain's rescue, or, when that is refused as well, by the next
 * runner of the id — with no error entry, and runs again: a `maxAttempts: 1` job that never
 * failed is not discarded. (Oban's lifeline charges every orphan, as the attempt stays as
 * fetched; every other outcome refused at stop is charged here as there — refusedAtStop.test.ts.)
 *
 * Real RocksDB, virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, type JobOutcome, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { T0, fakeCluster, fakeLeadership } from './helpers.ts';
import { rocksJobStore, runReal, settleReal } from './rocksDisk.ts';

/**
 * A `maxAttempts: 1` job that snoozes on its first perform and completes on the next; its runner
 * stops while the first runs, and the store refuses the next `refuse` writes from its end on. The
 * first perform takes 2 s (before the drain's deadline), or, `late`, 10 s ignoring its abort (the
 * drain leaves it running: its outcome is a late one, written while the next runner of the id runs).
 */
async function world(refuse: number, seed: number, late = false) {
  // info records kept: the late path's rescue log is asserted
  const env = createTestEnv({ level: 'info', startMs: T0, seed });
  const s = await rocksJobStore(env, `snooze-at-stop-${refuse}`);
  let left = 0;
  s.ctl.refuse = () => left > 0 && left-- > 0;
  let performs = 0;
  const w = defineWorker<{ n: number }>({
    name: 'w',
    maxAttempts: 1,
    perform: async (): Promise<JobOutcome> => {
      if (++performs > 1) return undefined;
      await new Promise<void>((resolve) => env.clock.setTimeout(() => resolve(), late ? 10_000 : 2000));
      left = refuse;
      return { snooze: 1000 };
    },
  });
  const config: JobRunnerConfig = { workers: [w], queues: { default: { limit: 1, globalLimit: 1 } }, pruner: false, shutdownMs: late ? 1000 : 5000, pollMs: 200, lifeline: { intervalMs: 1000, rescueAfterMs: false } };
  const input = { env, store: s.store, config, cluster: fakeCluster('a', 'a1', new Map([['a', 'a1']])), leadership: fakeLeadership('a', true) };
  const first = await JobRunner.start(input);
  const id = (await first.enqueue(w, { n: 1 })).job.id;
  await runReal(env, s.ctl, 100, 10);
  expect(first.get(id)).toMatchObject({ state: 'executing', attempt: 1 });
  await settleReal(env, s.ctl, first.stop(), 10);
  if (!late) expect(s.ctl.refused, 'the writes refused').toBe(refuse);
  const afterStop = first.get(id);
  const second = await settleReal(env, s.ctl, JobRunner.start(input), 10);
  expect(second.node).toBe(first.node);
  await runReal(env, s.ctl, late ? 20_000 : 10_000, 50);
  if (late) expect(s.ctl.refused, 'the writes refused').toBe(refuse);
  const rescued = env.records.filter((r) => r['report'] === 'jobs_late_perform_ended' && r['rescued'] !== undefined).map((r) => ({ charged: r['charged'], msg: r['msg'] }));
  const out = { afterStop, job: second.get(id), performs, late: second.metrics().lateOutcomes, rescued };
  await settleReal(env, s.ctl, second.stop(), 10);
  await s.store.close();
  s.dispose();
  return out;
}

describe('a snooze whose write is refused while its runner stops', () => {
  it('the drain returns the job uncharged, no error entry; it runs again and completes', async () => {
    const r = await world(1, 321);
    expect(r.afterStop).toMatchObject({ state: 'available', attempt: 0, errors: [] });
    expect(r.performs).toBe(2);
    expect(r.job).toMatchObject({ state: 'completed', attempt: 1, errors: [] });
  });

  it('a late snooze (its perform outlived the drain) whose write is refused: rescued uncharged, it runs again and completes', async () => {
    const r = await world(1, 323, true);
    expect(r.afterStop).toMatchObject({ state: 'executing', attempt: 1 });
    expect(r.late).toMatchObject({ refused: 1 });
    // logged as it is: uncharged (red before: 'attempt charged')
    expect(r.rescued).toEqual([{ charged: false, msg: expect.stringMatching(/rescued, uncharged \(a snooze\)$/) }]);
    expect(r.performs).toBe(2);
    expect(r.job).toMatchObject({ state: 'completed', attempt: 1, errors: [] });
  });

  it('the drain’s rescue refused too: the next runner of the id returns it uncharged; it runs again and completes', async () => {
    const r = await world(2, 322);
    expect(r.afterStop).toMatchObject({ state: 'executing', attempt: 1 });
    expect(r.performs).toBe(2);
    expect(r.job).toMatchObject({ state: 'completed', attempt: 1, errors: [] });
  });
});
