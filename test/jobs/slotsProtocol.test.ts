/**
 * A rolling deploy on a global-limit queue: runners of two versions share the queue's slots row.
 *
 * - **Protocol 1** (versions before slot tokens, aa2ef19: a count per runner) next to this one
 *   (protocol 2, tokens): the old runner's count is kept as it is — counted as that many slots,
 *   never rewritten as tokens — so the old runner's own arithmetic goes on working, and never more
 *   than the limit runs across both versions. (Protocol 1 cannot add tokens up, so it claims
 *   nothing while a new runner holds a slot: under-use during the deploy, never over the limit.)
 *   A `jobs_slots_protocol_mixed` warn names both versions. Red on the old code: the count was
 *   rewritten as anonymous tokens, which the old runner then read as nothing — its slots vanished
 *   while its performs ran, and 4 ran under a limit of 3.
 * - **A protocol this version cannot read** (a later one): the queue's claims are refused, loudly
 *   — degraded naming both versions (`ORDO_JOBS_SLOTS_PROTOCOL`) — and the entry is left as
 *   stored; once it is gone, the queue runs. Red on the old code: the entry read as no slots, the
 *   runner claimed all three and rewrote the entry as empty.
 *
 * On the virtual clock, over a memory disk; the old runner is played by the old code's slot
 * arithmetic (fixtures/slotsProtocol1.ts) on the same store.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, JOB_TABLES, SLOTS_PROTOCOL, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { T0, fakeCluster, fakeLeadership, faultyDisk, openJobStore, run, settle } from './helpers.ts';
import { withSlotsV1 } from './fixtures/slotsProtocol1.ts';

let dirs = 0;
const LIMIT = 3;

async function world(seed: number, members: Map<string, string>) {
  // warn records kept: the mixed-protocol warn is asserted
  const env = createTestEnv({ level: 'warn', startMs: T0, seed });
  const store = await openJobStore(env, faultyDisk(), `/slots-protocol-${++dirs}`);
  const meter = { running: 0, old: 0, max: 0 };
  const w = defineWorker<{ ms: number }>({
    name: 'w',
    queue: 'g',
    perform: async ({ ms }) => {
      meter.running++;
      meter.max = Math.max(meter.max, meter.running + meter.old);
      await new Promise<void>((r) => env.clock.setTimeout(() => r(), ms));
      meter.running--;
    },
  });
  const config: JobRunnerConfig = { workers: [w], queues: { g: { limit: 5, globalLimit: LIMIT } }, pruner: false, pollMs: 200, lifeline: { intervalMs: 1000, graceMs: 500 } };
  const runner = await JobRunner.start({ env, store, config, cluster: fakeCluster('b', 'b1', members), leadership: fakeLeadership('b', true) });
  const entry = (r: string): unknown => (store.get(JOB_TABLES.slots, 'g')?.['held'] as Record<string, unknown> | undefined)?.[r];
  return { env, store, w, runner, meter, entry };
}

describe('a rolling deploy on a global-limit queue', () => {
  it('a protocol-1 runner (counts) next to this one: its count kept as it is, its arithmetic intact, never more than the limit running', async () => {
    const x = await world(81, new Map([['old', '1'], ['b', 'b1']]));
    // the old runner "old/1" took 2 of the 3 slots; its two performs run
    expect(await x.store.transaction((tx) => withSlotsV1(tx, 'g', 'old/1', LIMIT, 0, 2))).toBe(2);
    x.meter.old = 2;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await settle(x.env, x.runner.enqueue(x.w, { ms: 1000 }), 10)).job.id);
    await run(x.env, 500, 10);
    expect(x.runner.health().queues['g']).toMatchObject({ running: 1, globalRunning: 3 });
    expect(x.entry('old/1'), 'the old runner’s count is left a count').toBe(2);
    // protocol 1 cannot add the new runner's tokens up: it claims nothing while they are there
    expect(await x.store.transaction((tx) => withSlotsV1(tx, 'g', 'old/1', LIMIT, 0, 1))).toBe(0);
    // one of its performs ends: it gives one slot back with its own arithmetic; the other still runs
    await x.store.transaction((tx) => void withSlotsV1(tx, 'g', 'old/1', LIMIT, 1, 0));
    x.meter.old = 1;
    expect(x.entry('old/1')).toBe(1);
    await run(x.env, 3000, 10);
    expect(x.meter.max, 'never more than the limit across both versions').toBeLessThanOrEqual(LIMIT);
    // its last perform ends
    await x.store.transaction((tx) => void withSlotsV1(tx, 'g', 'old/1', LIMIT, 1, 0));
    x.meter.old = 0;
    expect(x.entry('old/1')).toBeUndefined();
    await run(x.env, 5000, 10);
    expect(ids.map((id) => x.runner.get(id)?.state)).toEqual(ids.map(() => 'completed'));
    expect(x.meter.max).toBeLessThanOrEqual(LIMIT);
    const warns = x.env.records.filter((r) => r['report'] === 'jobs_slots_protocol_mixed');
    expect(warns.map((r) => [r['runner'], r['theirs'], r['ours']])).toEqual([['old/1', 1, SLOTS_PROTOCOL]]);
    expect(x.runner.health().status).toBe('ok');
    await settle(x.env, x.runner.stop(), 10);
    await x.store.close();
  });

  it('an entry of a protocol this version cannot read: the queue claims nothing, degraded naming both versions, the entry left as stored; once gone, the queue runs', async () => {
    const x = await world(82, new Map([['future', '1'], ['b', 'b1']]));
    const future = { v: 3, slots: [{ token: 'a#1@0' }] };
    await x.store.transaction((tx) => void tx.put(JOB_TABLES.slots, { queue: 'g', held: { 'future/1': future }, waiting: {} }));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await settle(x.env, x.runner.enqueue(x.w, { ms: 500 }), 10)).job.id);
    await run(x.env, 3000, 10);
    expect(x.meter.max, 'nothing claimed').toBe(0);
    expect(ids.map((id) => x.runner.get(id)?.state)).toEqual(['available', 'available', 'available']);
    expect(x.entry('future/1'), 'left as stored').toEqual(future);
    const h = x.runner.health();
    expect(h.status).toBe('degraded');
    expect(h.reasons.join('\n')).toMatch(/slots: .*"g".*"future\/1".*protocol 3.*this runner: protocol 2/);
    // the later runner leaves (its entry dropped): the queue runs
    await x.store.transaction((tx) => void tx.put(JOB_TABLES.slots, { queue: 'g', held: {}, waiting: {} }));
    await run(x.env, 3000, 10);
    expect(ids.map((id) => x.runner.get(id)?.state)).toEqual(['completed', 'completed', 'completed']);
    expect(x.meter.max).toBeLessThanOrEqual(LIMIT);
    expect(x.runner.health().status).toBe('ok');
    await settle(x.env, x.runner.stop(), 10);
    await x.store.close();
  });
});
