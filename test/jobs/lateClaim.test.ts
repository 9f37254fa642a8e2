/**
 * A replicated claim of unknown outcome (`ORDO_REPL_INDETERMINATE`) that lands *after* its
 * runner stopped and a runner of the same id (cluster mode: discovery's incarnation outlives a
 * restart of the jobs child) started again. The stopped runner's watch for late claims is gone
 * with it; the job must not sit `executing` under a live runner id until `rescueAfterMs` (an
 * hour). Expected: the runner of that id running when it lands returns it at once — attempt
 * given back, fenced by the attempt, its global slot released — and it runs exactly once.
 *
 * On the virtual clock, one store whose job tables replicate through a {@link FlakyStream}.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, jobTables, JOB_TABLES, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { openStore } from '../../src/store/index.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import { fakeCluster, fakeLeadership, run, settle, testEnv } from './helpers.ts';
import { claims, FlakyStream } from './flakyStream.ts';

let dirs = 0;

async function world(seed: number, queue: 'g' | 'h') {
  const env = testEnv(seed);
  const store = await openStore({ env, dir: `/late-claim-${++dirs}`, kv: createMemoryKv(), tables: jobTables({ replicated: true }) });
  const stream = new FlakyStream(store, env);
  store.setReplicator(stream);
  const performs = new Map<string, number>();
  const worker = defineWorker<{ ms: number }>({
    name: 'w',
    queue,
    perform: async ({ ms }, { job }) => {
      performs.set(job.id, (performs.get(job.id) ?? 0) + 1);
      await new Promise<void>((r) => env.clock.setTimeout(() => r(), ms));
    },
  });
  // g: a global limit (the claim also takes a slot); h: none. rescueAfterMs stays the default hour
  const config: JobRunnerConfig = { workers: [worker], queues: { g: { limit: 2, globalLimit: 2 }, h: 2 }, pruner: false, shutdownMs: 1000, lifeline: { intervalMs: 1000 } };
  const input = { env, store, config, cluster: fakeCluster('a', 'a1', new Map([['a', 'a1']])), leadership: fakeLeadership('a', true) };
  return { env, store, stream, worker, performs, input };
}

const held = (store: Awaited<ReturnType<typeof world>>['store']): unknown => store.get(JOB_TABLES.slots, 'g')?.['held'] ?? {};

describe('a claim of unknown outcome that lands after its runner was restarted under the same id', () => {
  it('lands while the next runner runs: returned at once (attempt given back), then run exactly once', async () => {
    const w = await world(41, 'h');
    const first = await JobRunner.start(w.input);
    // settles `unknown` at 3 s, the rows not showing it; lands (is applied here) at 8 s
    w.stream.arm({ fate: 'unknown-landed', settleMs: 3000, lagMs: 8000, match: claims });
    const { job } = await settle(w.env, first.enqueue(w.worker, { ms: 500 }, { scheduleIn: 1000 }), 10);
    await run(w.env, 4500, 50);
    expect(w.stream.injected).toEqual(['unknown-landed']);
    await settle(w.env, first.stop(), 10);
    const next = await settle(w.env, JobRunner.start(w.input), 10);
    expect(next.node).toBe(first.node);
    expect(w.performs.get(job.id)).toBeUndefined();
    // the late batch lands at ~9 s; a prompt return is well inside 5 s of it (the lifeline would wait an hour)
    await run(w.env, 10_000, 50);
    expect(next.get(job.id)).toMatchObject({ state: 'completed', attempt: 1, errors: [] });
    expect(w.performs.get(job.id)).toBe(1);
    await run(w.env, 5000, 100);
    expect(w.performs.get(job.id)).toBe(1);
    await settle(w.env, next.stop(), 10);
    await w.store.close();
  });

  it('on a queue with a global limit: its slot is given back once, none leaked, the job run exactly once', async () => {
    const w = await world(42, 'g');
    const first = await JobRunner.start(w.input);
    w.stream.arm({ fate: 'unknown-landed', settleMs: 3000, lagMs: 8000, match: claims });
    const { job } = await settle(w.env, first.enqueue(w.worker, { ms: 500 }), 10);
    await run(w.env, 4000, 50);
    expect(w.stream.injected).toEqual(['unknown-landed']);
    // its stop's slot write waits behind the late batch in the stream; the next start is made meanwhile
    const stopping = first.stop();
    const next = await settle(w.env, JobRunner.start(w.input), 10);
    await settle(w.env, stopping, 10);
    await run(w.env, 10_000, 50);
    expect(next.get(job.id)).toMatchObject({ state: 'completed', attempt: 1, errors: [] });
    expect(w.performs.get(job.id)).toBe(1);
    expect(held(w.store)).toEqual({});
    await settle(w.env, next.stop(), 10);
    await w.store.close();
  });
});
