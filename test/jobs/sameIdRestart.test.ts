/**
 * A runner started again in this process under the id of one killed. In cluster mode the runner
 * id is discovery's incarnation, which outlives a restart of the jobs child: a child that was
 * *killed* (a brutal kill, the supervisor's shutdown timeout, a kill of the tree above) rather
 * than drained kills its runner, whose performs are aborted — one that ignores its abort runs on,
 * and its restarted child takes the same id. What an Oban user expects: a job whose perform still
 * runs is never run a second time concurrently, nor its global slot given away (start-up
 * reconciliation skips every perform of this process, not only those a drain left), and the
 * killed child's runner stops claiming.
 *
 * On the virtual clock, over a memory disk.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { JobRunner, defineWorker, jobRunnerMachine, jobTables, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { openStore } from '../../src/store/index.ts';
import { createMemoryKv } from '../../src/chaos/index.ts';
import type { TestEnv } from '../../src/env/env.ts';
import { effectTables, fakeCluster, fakeLeadership, run, settle, testEnv } from './helpers.ts';

function world(seed: number) {
  const env = testEnv(seed);
  const gauge = { running: 0, max: 0, performs: 0 };
  const w = defineWorker<{ n: number }>({
    name: 'w',
    perform: async () => {
      gauge.performs++;
      gauge.max = Math.max(gauge.max, ++gauge.running);
      await new Promise<void>((r) => env.clock.setTimeout(() => r(), 10_000));
      gauge.running--;
    },
  });
  const config: JobRunnerConfig = { workers: [w], queues: { default: { limit: 1, globalLimit: 1 } }, pruner: false, shutdownMs: 1000, pollMs: 200, lifeline: { intervalMs: 1000 } };
  const cluster = fakeCluster('a', 'a1', new Map([['a', 'a1']]));
  return { env, gauge, w, config, cluster };
}

async function booted(env: TestEnv, actor: { getSnapshot(): { value: unknown } }): Promise<void> {
  for (let i = 0; i < 100 && !JSON.stringify(actor.getSnapshot().value).includes('running'); i++) await run(env, 10, 10);
  expect(JSON.stringify(actor.getSnapshot().value)).toContain('running');
}

describe('a runner started again under the id of one still running', () => {
  it('does not reconcile (run again, or free the slot of) a job whose perform still runs after its runner was killed', async () => {
    const { env, gauge, w, config, cluster } = world(21);
    const store = await openStore({ env, dir: '/same-id', kv: createMemoryKv(), tables: { ...jobTables(), ...effectTables } });
    const first = await JobRunner.start({ env, store, config, cluster, leadership: fakeLeadership('a', true) });
    const id = (await first.enqueue(w, { n: 1 })).job.id;
    await run(env, 100, 10);
    expect(first.get(id)?.state).toBe('executing');
    // its child killed: the perform ignores its abort and runs on (10 s)
    first.kill();
    const second = await settle(env, JobRunner.start({ env, store, config, cluster, leadership: fakeLeadership('a', true) }), 10);
    expect(second.node).toBe(first.node);
    await run(env, 2000, 10);
    expect(gauge.performs).toBe(1);
    expect(gauge.max).toBe(1);
    expect(second.get(id)).toMatchObject({ state: 'executing', attempt: 1 });
    // its perform ended and succeeded: it really ran, so its completion is written (fenced by the attempt), never run again
    await run(env, 20_000, 50);
    expect(second.get(id)).toMatchObject({ state: 'completed', attempt: 1 });
    expect(gauge.performs).toBe(1);
    expect(gauge.max).toBe(1);
    second.halt();
  });

  it('a killed jobs child: its runner stops claiming, and its restart never runs a job twice at once', async () => {
    const { env, gauge, w, config, cluster } = world(22);
    const store = await openStore({ env, dir: '/killed', kv: createMemoryKv(), tables: { ...jobTables(), ...effectTables } });
    const input = { env, store, config, cluster, leadership: fakeLeadership('a', true) };
    const killed = createActor(jobRunnerMachine, { input, clock: env.clock as never });
    killed.start();
    await booted(env, killed);
    const old = killed.getSnapshot().context.service!;
    const id = (await old.enqueue(w, { n: 1 })).job.id;
    await run(env, 100, 10);
    expect(old.get(id)?.state).toBe('executing');
    killed.stop(); // a kill: no `ordo.stop`, no drain
    expect(old.health().status).not.toBe('ok');
    const next = createActor(jobRunnerMachine, { input, clock: env.clock as never });
    next.start();
    await booted(env, next);
    const runner = next.getSnapshot().context.service!;
    expect(runner.node).toBe(old.node);
    const ids = [id];
    for (let n = 2; n <= 4; n++) ids.push((await runner.enqueue(w, { n })).job.id);
    await run(env, 60_000, 50);
    expect(gauge.max).toBe(1); // globalLimit 1, across the killed runner and its successor
    for (const j of ids) expect(runner.get(j)?.state).toBe('completed');
    next.send({ type: 'ordo.stop' });
    await run(env, 3000, 50);
    expect(next.getSnapshot().status).toBe('done');
  });
});
