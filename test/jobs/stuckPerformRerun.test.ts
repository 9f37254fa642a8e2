/**
 * A perform that ignores its abort past the drain (its runner killed, or stopped past
 * `shutdownMs` + the grace) and then ends: it really ran, so its outcome is written as it says,
 * fenced by the attempt — never given back uncharged to run again. What an Oban user expects: a
 * `max_attempts: 1` job is never performed twice. From the adversarial review of issue 10 (red on
 * 777ac59 and on the main of that review: the success was thrown away and the attempt given back).
 *
 * On the virtual clock, over a memory disk.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, jobTables } from '../../src/jobs/index.ts';
import { openStore } from '../../src/store/index.ts';
import { createMemoryKv } from '../../src/chaos/index.ts';
import { effectTables, fakeCluster, fakeLeadership, run, settle, testEnv } from './helpers.ts';

type Ending = 'ok' | 'effects' | 'throw';

/** One job of a `maxAttempts` worker whose perform ignores its abort for 10 s, then ends as `ending` says; its runner is killed or stopped while it runs, and a runner of the same id starts on the same store. */
async function leftRunning(how: 'kill' | 'stop', ending: Ending, maxAttempts: number, seed: number) {
  const env = testEnv(seed);
  let performs = 0;
  const w = defineWorker<{ n: number }>({
    name: 'w',
    maxAttempts,
    // ignores its abort, then ends
    perform: async (_args, ctx) => {
      performs++;
      await new Promise<void>((r) => env.clock.setTimeout(() => r(), 10_000));
      if (ending === 'throw') throw new Error('late failure');
      if (ending === 'effects') return { ok: true, effects: (tx) => void tx.put('effects', { id: ctx.job.id, n: ((tx.get('effects', ctx.job.id)?.['n'] as number) ?? 0) + 1 }) };
      return undefined;
    },
  });
  const cluster = fakeCluster('a', 'a1', new Map([['a', 'a1']]));
  const config = { workers: [w], queues: { default: { limit: 1, globalLimit: 1 } }, pruner: false, shutdownMs: 1000, pollMs: 200, lifeline: { intervalMs: 1000 } } as const;
  const store = await openStore({ env, dir: `/stuck-${how}-${ending}-${maxAttempts}`, kv: createMemoryKv(), tables: { ...jobTables(), ...effectTables } });
  const first = await JobRunner.start({ env, store, config, cluster, leadership: fakeLeadership('a', true) });
  const id = (await first.enqueue(w, { n: 1 })).job.id;
  await run(env, 100, 10);
  expect(first.get(id)?.state).toBe('executing');
  if (how === 'kill') first.kill();
  else await settle(env, first.stop(), 10);
  const second = await settle(env, JobRunner.start({ env, store, config, cluster, leadership: fakeLeadership('a', true) }), 10);
  await run(env, 30_000, 50);
  const performed = performs;
  // the global slot the late perform held is given back: a new job runs
  const next = (await second.enqueue(w, { n: 2 })).job.id;
  await run(env, 30_000, 50);
  return { store, id, job: second.get(id), performed, nextJob: second.get(next), done: () => second.halt() };
}

describe('a perform that ignored its abort past the drain, then ended', () => {
  for (const how of ['kill', 'stop'] as const) {
    const runner = how === 'kill' ? 'runner killed' : 'runner stopped, drain deadline passed';
    it(`a maxAttempts: 1 job whose perform ran to completion is never performed a second time (${runner})`, async () => {
      const r = await leftRunning(how, 'ok', 1, 91);
      expect(r.performed).toBe(1);
      expect(r.job).toMatchObject({ state: 'completed', attempt: 1 });
      expect(r.nextJob?.state).toBe('completed');
      r.done();
    });

    it(`its late completion writes the worker's effects exactly once (${runner})`, async () => {
      const r = await leftRunning(how, 'effects', 20, 92);
      expect(r.performed).toBe(1);
      expect(r.job).toMatchObject({ state: 'completed', attempt: 1 });
      expect(r.store.get('effects', r.id)?.['n']).toBe(1);
      r.done();
    });

    it(`its late failure is charged: a maxAttempts: 1 job is discarded with the error, not run again (${runner})`, async () => {
      const r = await leftRunning(how, 'throw', 1, 93);
      expect(r.performed).toBe(1);
      expect(r.job).toMatchObject({ state: 'discarded', attempt: 1 });
      expect(r.job?.errors.map((e) => e.error)).toEqual(['late failure']);
      r.done();
    });
  }
});
