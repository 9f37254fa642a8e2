/**
 * A perform that returned before its runner's drain deadline — a success, a failure, a discard
 * or a cancel — whose outcome's write the store refuses while the runner stops (a snooze, whose
 * written form gives the attempt back, is returned uncharged: snoozeAtStop.test.ts). It ran,
 * so its attempt stays charged: the drain rescues the job as attempted (what Oban's lifeline
 * does), and if that rescue is refused too, the next runner of that id reconciles it charged.
 * Never given back as unattempted, so a `maxAttempts: 1` job is not performed a second time;
 * its effects, in the refused transaction, are never applied. A perform the drain's abort ended
 * still goes back uncharged (the control). Issue 10's loose end of the last stop: red on the old
 * code (the job went back to `available` with the attempt given back, and ran again).
 *
 * On the virtual clock, over a memory disk that refuses the next writes the test says.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, jobTables, type JobOutcome, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { DRAIN_NOT_WRITTEN } from '../../src/jobs/lateOutcome.ts';
import { RECONCILED } from '../../src/jobs/reconcile.ts';
import { openStore } from '../../src/store/index.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import type { KvOp } from '../../src/env/kv.ts';
import { effectTables, fakeCluster, fakeLeadership, run, settle, testEnv } from './helpers.ts';

type Ending = 'ok' | 'effects' | 'error' | 'discard' | 'cancel' | 'snooze';
// a snooze refused at stop is returned uncharged (its written form gives the attempt back): snoozeAtStop.test.ts
const ENDINGS: readonly Ending[] = ['ok', 'effects', 'error', 'discard', 'cancel'];

let dirs = 0;

/**
 * A `maxAttempts: 1` job whose perform takes 2 s and ends as `ending` says (or, `aborted`, honours
 * the drain's abort); its runner stops (deadline 5 s) while it runs, and the store refuses the
 * next `refuse` writes of rows from the moment its first perform ends. Then a runner of the same id starts.
 */
async function world(ending: Ending | 'aborted', refuse: number, seed: number) {
  const env = testEnv(seed);
  const disk = { refuse: 0, refused: 0 };
  const kv = createMemoryKv({
    // a write of rows (a job's, a slot's, an effect's) is refused; the store's own bookkeeping is not
    beforeWrite: (ops: readonly KvOp[]) => {
      if (disk.refuse === 0 || !ops.some((o) => o.column === 'rows')) return;
      disk.refuse--;
      disk.refused++;
      throw Object.assign(new Error('EIO: simulated refused write'), { code: 'EIO' });
    },
  });
  const performs = new Map<string, number>();
  const w = defineWorker<{ n: number }>({
    name: 'w',
    maxAttempts: 1,
    perform: async (_args, ctx): Promise<JobOutcome> => {
      performs.set(ctx.job.id, (performs.get(ctx.job.id) ?? 0) + 1);
      const first = performs.size === 1 && performs.get(ctx.job.id) === 1;
      await new Promise<void>((resolve, reject) => {
        env.clock.setTimeout(() => resolve(), ending === 'aborted' && first ? 60_000 : 2000);
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
      }).finally(() => void (first && (disk.refuse = refuse)));
      if (ending === 'error') return { error: new Error('its own failure') };
      if (ending === 'discard') return { discard: 'not wanted' };
      if (ending === 'cancel') return { cancel: 'called off' };
      if (ending === 'snooze') return { snooze: 1000 };
      if (ending === 'effects') return { ok: true, effects: (tx) => void tx.put('effects', { id: ctx.job.id, n: ((tx.get('effects', ctx.job.id)?.['n'] as number) ?? 0) + 1 }) };
      return undefined;
    },
  });
  const noop = defineWorker<{ n: number }>({ name: 'noop', perform: () => undefined });
  const config: JobRunnerConfig = { workers: [w, noop], queues: { default: { limit: 1, globalLimit: 1 } }, pruner: false, shutdownMs: ending === 'aborted' ? 1000 : 5000, pollMs: 200, lifeline: { intervalMs: 1000 } };
  const store = await openStore({ env, dir: `/refused-at-stop-${++dirs}`, kv, tables: { ...jobTables(), ...effectTables } });
  const input = { env, store, config, cluster: fakeCluster('a', 'a1', new Map([['a', 'a1']])), leadership: fakeLeadership('a', true) };
  const first = await JobRunner.start(input);
  const id = (await first.enqueue(w, { n: 1 })).job.id;
  await run(env, 100, 10);
  expect(first.get(id)).toMatchObject({ state: 'executing', attempt: 1 });
  await settle(env, first.stop(), 10);
  expect(disk.refused, 'the writes refused').toBe(refuse);
  const afterStop = first.get(id);
  const second = await settle(env, JobRunner.start(input), 10);
  expect(second.node).toBe(first.node);
  await run(env, 30_000, 50);
  // the global slot is not leaked: a new job runs
  const next = (await second.enqueue(noop, { n: 2 })).job.id;
  await run(env, 5000, 50);
  const out = { afterStop, job: second.get(id), performs: performs.get(id), effects: store.get('effects', id), nextJob: second.get(next) };
  await settle(env, second.stop(), 10);
  await store.close();
  return out;
}

describe('an outcome whose write is refused while its runner stops, after a perform that returned before the deadline', () => {
  it.each(ENDINGS)('%s: the drain rescues the job with its attempt charged — a maxAttempts: 1 job is not performed again', async (ending) => {
    const r = await world(ending, 1, 61);
    expect(r.performs).toBe(1);
    expect(r.afterStop).toMatchObject({ state: 'discarded', attempt: 1 });
    expect(r.job).toMatchObject({ state: 'discarded', attempt: 1 });
    expect(r.job?.errors.map((e) => e.error)).toEqual([DRAIN_NOT_WRITTEN]);
    expect(r.effects, 'its effects were in the refused transaction').toBeUndefined();
    expect(r.nextJob?.state).toBe('completed');
  });

  it.each(ENDINGS)('%s: the drain’s rescue refused too — the next runner of that id reconciles it charged, not as unattempted', async (ending) => {
    const r = await world(ending, 2, 62);
    expect(r.performs).toBe(1);
    expect(r.afterStop).toMatchObject({ state: 'executing', attempt: 1 });
    expect(r.job).toMatchObject({ state: 'discarded', attempt: 1 });
    expect(r.job?.errors.map((e) => e.error)).toEqual([RECONCILED]);
    expect(r.effects).toBeUndefined();
    expect(r.nextJob?.state).toBe('completed');
  });

  it('control: a perform the drain’s abort ended goes back uncharged (its give-back refused: returned uncharged by the next runner of the id) and runs once more', async () => {
    const r = await world('aborted', 1, 63);
    expect(r.afterStop).toMatchObject({ state: 'executing', attempt: 1 });
    expect(r.job).toMatchObject({ state: 'completed', attempt: 1, errors: [] });
    expect(r.performs).toBe(2);
  });
});
