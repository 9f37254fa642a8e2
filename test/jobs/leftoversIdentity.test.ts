/**
 * The drain-leftover registry (leftovers.ts) is keyed by the store's data — its key-value engine,
 * then its directory — not by the directory string alone. A perform a drain left running in one
 * simulated world (never advanced again) must not leak into a later world in the same process
 * whose fresh memory store has the same directory: a single-node runner there draws its own
 * incarnation from `env.random`, so the same seed gives the same trace whatever ran before.
 *
 * On the virtual clock, over memory disks.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, jobTables, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { openStore } from '../../src/store/index.ts';
import { createMemoryKv } from '../../src/chaos/index.ts';
import { effectTables, run, settle, testEnv } from './helpers.ts';

function world(seed: number) {
  const env = testEnv(seed);
  // ignores its abort and never ends: the drain leaves it running
  const stuck = defineWorker<{ n: number }>({ name: 'stuck', perform: () => new Promise<void>(() => undefined) });
  const config: JobRunnerConfig = { workers: [stuck], queues: { default: 1 }, pruner: false, shutdownMs: 100, pollMs: 50 };
  const kv = createMemoryKv();
  const open = (dir: string) => openStore({ env, dir, kv, tables: { ...jobTables(), ...effectTables } });
  return { env, stuck, config, open };
}

describe('drain leftovers are per store data, not per directory name', () => {
  it("a runner's id on a fresh store depends only on its own seed", async () => {
    const ref = world(2);
    const refStore = await ref.open('/fresh');
    const refRunner = await JobRunner.start({ env: ref.env, store: refStore, config: ref.config });
    const expected = refRunner.node;
    await settle(ref.env, refRunner.stop());
    await refStore.close();

    // an earlier world whose drain left a perform running, then abandoned
    const old = world(1);
    const oldStore = await old.open('/jobs');
    const oldRunner = await JobRunner.start({ env: old.env, store: oldStore, config: old.config });
    await oldRunner.enqueue(old.stuck, { n: 1 });
    await run(old.env, 100, 10);
    await settle(old.env, oldRunner.stop());
    await oldStore.close();

    // a new world, seed 2, its own memory disk, the same directory string
    const w = world(2);
    const store = await w.open('/jobs');
    const runner = await JobRunner.start({ env: w.env, store, config: w.config });
    expect(runner.node).not.toBe(oldRunner.node);
    expect(runner.node).toBe(expected);
    await settle(w.env, runner.stop());
    await store.close();
  });

  it('the same data reopened in the same world still keeps the runner id while the left perform runs', async () => {
    const w = world(3);
    const first = await w.open('/kept');
    const a = await JobRunner.start({ env: w.env, store: first, config: w.config });
    await a.enqueue(w.stuck, { n: 1 });
    await run(w.env, 100, 10);
    await settle(w.env, a.stop());
    await first.close();
    const again = await w.open('/kept');
    const b = await JobRunner.start({ env: w.env, store: again, config: w.config });
    expect(b.node).toBe(a.node);
    await settle(w.env, b.stop());
    await again.close();
  });
});
