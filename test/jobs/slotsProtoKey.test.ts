/**
 * A global-limit slots row whose entry is keyed `__proto__` (a damaged or hostile row; the store
 * keeps such a json key as an own property): its slots are counted like any runner's — the limit
 * holds — and its holder is seen (the lifeline can drop it once it is not a live member). Red on
 * the old code: the entries were copied into a plain object, where `out['__proto__'] = tokens`
 * set the copy's prototype, so those slots vanished from the sum (the runner claimed all three
 * with two held: five running under a limit of three) and from the holders.
 *
 * On the virtual clock, over a memory disk.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, JOB_TABLES, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { slotHolders, slotsTaken } from '../../src/jobs/slots.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { T0, fakeCluster, fakeLeadership, faultyDisk, openJobStore, run, settle } from './helpers.ts';

const LIMIT = 3;

describe('a slots row entry keyed __proto__', () => {
  it('is counted against the global limit and seen as a holder', async () => {
    const env = createTestEnv({ startMs: T0, seed: 91 });
    const store = await openJobStore(env, faultyDisk(), '/slots-proto-key');
    const meter = { running: 0, max: 0 };
    const w = defineWorker<{ ms: number }>({
      name: 'w',
      queue: 'g',
      perform: async ({ ms }) => {
        meter.running++;
        meter.max = Math.max(meter.max, meter.running);
        await new Promise<void>((r) => env.clock.setTimeout(() => r(), ms));
        meter.running--;
      },
    });
    // the lifeline far off: the entry's holder is not a member, and is not to be dropped during the test
    const config: JobRunnerConfig = { workers: [w], queues: { g: { limit: 5, globalLimit: LIMIT } }, pruner: false, pollMs: 200, lifeline: { intervalMs: 3_600_000, graceMs: 3_600_000 } };
    const runner = await JobRunner.start({ env, store, config, cluster: fakeCluster('b', 'b1', new Map([['b', 'b1']])), leadership: fakeLeadership('b', true) });
    // two of the three slots held under the key __proto__ (an own key, as JSON.parse makes it)
    const held = JSON.parse('{"__proto__": ["x#1@0", "y#1@0"]}') as Record<string, unknown>;
    await store.transaction((tx) => void tx.put(JOB_TABLES.slots, { queue: 'g', held, waiting: {} }));
    expect(Object.hasOwn(store.get(JOB_TABLES.slots, 'g')?.['held'] as object, '__proto__'), 'stored as an own key').toBe(true);
    expect(slotsTaken(store, 'g')).toBe(2);
    expect(slotHolders(store).get('__proto__')).toEqual(['g']);
    for (let i = 0; i < 4; i++) await settle(env, runner.enqueue(w, { ms: 1000 }), 10);
    await run(env, 500, 10);
    expect(meter.max, 'one slot left: one perform at a time').toBe(1);
    expect(runner.health().queues['g']).toMatchObject({ running: 1, globalRunning: LIMIT });
    await run(env, 3000, 10);
    expect(meter.max).toBe(1);
    expect((store.get(JOB_TABLES.slots, 'g')?.['held'] as Record<string, unknown>)['__proto__'], 'the entry left as stored').toEqual(['x#1@0', 'y#1@0']);
    await settle(env, runner.stop(), 10);
    await store.close();
  });
});
