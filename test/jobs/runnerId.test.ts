/**
 * One runner id (`node/incarnation`) runs once per store data in a process. Two `JobRunner`
 * objects started directly (not through the machine) under one id would both claim, and every
 * node's lifeline takes them for one runner. What an Oban user expects, and what these show on
 * the virtual clock over a memory disk:
 *
 * - a start under the id of a live runner is refused with `ORDO_JOBS_RUNNER_ID_IN_USE` naming
 *   the id; the live one keeps claiming, alone (never more performs than its limit);
 * - a start under the id of a runner that is stopping waits for its stop (its drain's give-back)
 *   before it claims: the job the drain returns is run once more, not charged, never two at once;
 * - a single-node runner started next to a live one that took a drained runner's id (leftovers)
 *   draws its own id rather than sharing it.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, JobsRunnerIdInUseError, defineWorker, jobTables, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { openStore } from '../../src/store/index.ts';
import { createMemoryKv } from '../../src/chaos/index.ts';
import { effectTables, fakeCluster, fakeLeadership, run, settle, testEnv } from './helpers.ts';

let dirs = 0;

function world(seed: number, o: { ignoreAbort?: boolean; ms?: number } = {}) {
  const env = testEnv(seed);
  const gauge = { running: 0, max: 0, performs: 0 };
  const w = defineWorker<{ n: number }>({
    name: 'w',
    perform: async (_a, { signal }) => {
      gauge.performs++;
      gauge.max = Math.max(gauge.max, ++gauge.running);
      try {
        await new Promise<void>((resolve, reject) => {
          env.clock.setTimeout(() => resolve(), o.ms ?? 2000);
          if (!o.ignoreAbort) signal.addEventListener('abort', () => reject(signal.reason));
        });
      } finally {
        gauge.running--;
      }
    },
  });
  const config: JobRunnerConfig = { workers: [w], queues: { default: 1 }, pruner: false, shutdownMs: 1000, pollMs: 200, lifeline: { intervalMs: 1000 } };
  return { env, gauge, w, config };
}

describe('one runner id per store data in a process', () => {
  it('a start under a live runner’s id is refused, naming the id; the live one keeps claiming alone', async () => {
    const { env, gauge, w, config } = world(31);
    const store = await openStore({ env, dir: `/runner-id-${++dirs}`, kv: createMemoryKv(), tables: { ...jobTables(), ...effectTables } });
    const input = { env, store, config, cluster: fakeCluster('a', 'a1', new Map([['a', 'a1']])), leadership: fakeLeadership('a', true) };
    const first = await JobRunner.start(input);
    const err = await JobRunner.start(input).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(JobsRunnerIdInUseError);
    expect(err).toMatchObject({ code: 'ORDO_JOBS_RUNNER_ID_IN_USE', runner: 'a/a1', dir: store.dir });
    const ids: string[] = [];
    for (let n = 0; n < 4; n++) ids.push((await first.enqueue(w, { n })).job.id);
    await run(env, 12_000, 50);
    // limit 1 on the one runner of that id: a second claiming runner would run two at once
    expect(gauge.max).toBe(1);
    expect(gauge.performs).toBe(4);
    for (const id of ids) expect(first.get(id)).toMatchObject({ state: 'completed', attempt: 1 });
    expect(first.health().status).toBe('ok');
    // once it has stopped, its id is free
    await settle(env, first.stop(), 10);
    const again = await JobRunner.start(input);
    const late = (await again.enqueue(w, { n: 9 })).job.id;
    await run(env, 3000, 50);
    expect(again.get(late)?.state).toBe('completed');
    await settle(env, again.stop(), 10);
    await store.close();
  });

  it('a start under a stopping runner’s id waits for its drain: the job it gives back runs once more, uncharged, never two at once', async () => {
    const { env, gauge, w, config } = world(32, { ms: 60_000 });
    const store = await openStore({ env, dir: `/runner-id-${++dirs}`, kv: createMemoryKv(), tables: { ...jobTables(), ...effectTables } });
    const input = { env, store, config: { ...config, shutdownMs: 5000 }, cluster: fakeCluster('a', 'a1', new Map([['a', 'a1']])), leadership: fakeLeadership('a', true) };
    const first = await JobRunner.start(input);
    const id = (await first.enqueue(w, { n: 1 })).job.id;
    await run(env, 100, 10);
    expect(first.get(id)?.state).toBe('executing');
    const order: string[] = [];
    const stopping = first.stop().then((n) => (order.push('stopped'), n));
    const next = JobRunner.start(input).then((r) => (order.push('started'), r));
    const second = await settle(env, next, 10);
    expect(await stopping).toBe(1);
    expect(order).toEqual(['stopped', 'started']);
    expect(second.node).toBe('a/a1');
    await run(env, 70_000, 100);
    expect(gauge.max).toBe(1);
    expect(gauge.performs).toBe(2);
    expect(second.get(id)).toMatchObject({ state: 'completed', attempt: 1, errors: [] });
    await settle(env, second.stop(), 10);
    await store.close();
  });

  it('single node: a runner started next to one that took a drained runner’s id draws its own', async () => {
    const { env, w, config } = world(33, { ignoreAbort: true, ms: 30_000 });
    const store = await openStore({ env, dir: `/runner-id-${++dirs}`, kv: createMemoryKv(), tables: { ...jobTables(), ...effectTables } });
    const drained = await JobRunner.start({ env, store, config });
    await drained.enqueue(w, { n: 1 });
    await run(env, 100, 10);
    await settle(env, drained.stop(), 10); // its perform ignores the abort: left running under its id
    const kept = await JobRunner.start({ env, store, config });
    expect(kept.node).toBe(drained.node);
    const other = await JobRunner.start({ env, store, config });
    expect(other.node).not.toBe(kept.node);
    kept.halt();
    other.halt();
  });

  it('a runner whose boot signal aborts after it started claiming (its child stopped first) is killed, never left claiming under its id', async () => {
    const { env, w, config } = world(34, { ms: 60_000 });
    const store = await openStore({ env, dir: `/runner-id-${++dirs}`, kv: createMemoryKv(), tables: { ...jobTables(), ...effectTables } });
    const input = { env, store, config, cluster: fakeCluster('a', 'a1', new Map([['a', 'a1']])), leadership: fakeLeadership('a', true) };
    const boot = new AbortController();
    const orphan = await JobRunner.start(input, boot.signal);
    const { job } = await orphan.enqueue(w, { n: 1 });
    await run(env, 100, 10);
    expect(orphan.get(job.id)?.state).toBe('executing');
    boot.abort();
    await run(env, 3000, 10);
    expect(orphan.health().status).toBe('stopped');
    expect(orphan.get(job.id)).toMatchObject({ state: 'available', attempt: 0 });
    // its id is free: the restarted child's runner starts and runs the job
    const next = await JobRunner.start(input);
    await run(env, 61_000, 100);
    expect(next.get(job.id)).toMatchObject({ state: 'completed', attempt: 1 });
    await settle(env, next.stop(), 10);
    await store.close();
  });
});
