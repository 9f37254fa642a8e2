/**
 * Leader-only plugins under a store outage (Oban #72, #1026; seed steps 11–16: a stager that
 * crashed on every database error until the root gave up). Each plugin round that the store
 * refuses is reported (the runner degraded) and tried again — soon, not a whole interval later:
 * a cron tick refused at the top of its minute and retried only a minute later would find the
 * next slot due and fire that one instead, skipping the refused slot. And across a leader change
 * during the outage, the stored last fire time is what keeps every slot fired once: no double
 * fire, no skip. On the virtual clock, two runners on one store.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, jobTables, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import type { KvAdapter } from '../../src/env/kv.ts';
import { effectTables, fakeCluster, fakeLeadership, faultyDisk, run, settle, testEnv, T0 } from './helpers.ts';
import { refusingDisk } from './refusingDisk.ts';

const MIN = 60_000;
let dirs = 0;

/** `bClaims: false`: b's queue starts paused (no stored flag: each node's config), so only a claims — b only leads. */
async function twoNodes(seed: number, kv: KvAdapter, bClaims = true) {
  const env = testEnv(seed);
  const store: Store = await openStore({ env, dir: `/plugin-outage-${++dirs}`, kv, tables: { ...jobTables(), ...effectTables } });
  const fired: number[] = [];
  const tick = defineWorker<Record<string, never>>({ name: 'tick', perform: (_a, { job }) => void fired.push(job.meta['cronAt'] as number) });
  const later = defineWorker<{ n: number }>({ name: 'later', perform: () => undefined });
  const live = new Map([['a', 'a1'], ['b', 'b1']]);
  const la = fakeLeadership('a', true);
  const lb = fakeLeadership('b', false);
  const config: JobRunnerConfig = {
    workers: [tick, later],
    queues: { default: 2 },
    crontab: [{ name: 'every-minute', expression: '* * * * *', worker: tick, args: {} }],
    pruner: { maxAgeMs: 5 * MIN, intervalMs: 30_000 },
  };
  const a = await JobRunner.start({ env, store, config, cluster: fakeCluster('a', 'a1', live), leadership: la });
  const b = await JobRunner.start({ env, store, config: bClaims ? config : { ...config, queues: { default: { limit: 2, paused: true } } }, cluster: fakeCluster('b', 'b1', live), leadership: lb });
  /** Cron jobs stored, by slot (each slot's job id is `cron:<name>:<slot>`). */
  const slots = () => store.keys('ordo_jobs').filter((k) => String(k).startsWith('cron:')).map((k) => Number(String(k).split(':').pop())).sort((x, y) => x - y);
  const stop = async () => {
    await settle(env, a.stop());
    await settle(env, b.stop());
    await store.close();
  };
  return { env, store, fired, la, lb, a, b, later, slots, stop };
}

/** The virtual time from now to 5 s before the top of the minute after next. */
const toBeforeTop = (now: number): number => 2 * MIN - (now % MIN) - 5000;

describe('a store outage during a cron tick, across a leader change', () => {
  it('the refused slot is fired once after the outage by the new leader — no double fire, no skip', async () => {
    const disk = faultyDisk();
    const t = await twoNodes(31, disk.kv, false);
    await run(t.env, toBeforeTop(t.env.clock.now()), 500);
    const slot = t.env.clock.now() + 5000; // the top of this minute: a's tick is refused
    disk.failing = true;
    await run(t.env, 10_000, 100);
    expect(t.a.health()).toMatchObject({ status: 'degraded', leader: true });
    expect(t.slots()).not.toContain(slot);
    // the lease moves while the store still refuses: b's first round is refused too
    t.la.set(false);
    t.lb.set(true);
    await run(t.env, 15_000, 100);
    expect(t.b.health().status).toBe('degraded');
    disk.failing = false;
    // recovered 25 s into the minute: the refused slot is fired within it, before the next is due
    await run(t.env, 30_000, 100);
    expect(t.slots()).toContain(slot);
    await run(t.env, 3 * MIN, 500);
    const s = t.slots();
    expect(s.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < s.length; i++) expect(s[i]! - s[i - 1]!, `slot after ${new Date(s[i - 1]!).toISOString()}`).toBe(MIN);
    expect(s).toContain(slot + 3 * MIN);
    expect([...t.fired].sort((x, y) => x - y)).toEqual(s);
    expect(t.b.health()).toMatchObject({ status: 'ok', leader: true });
    expect(t.a.health()).toMatchObject({ status: 'ok', leader: false });
    await t.stop();
  });

  it('a tick whose commit is refused after its WAL write (committed): the leader after it does not fire that slot again', async () => {
    const disk = refusingDisk();
    // only a claims: two claims racing right after the refusal would both commit (a store defect
    // of its failed state, reported to the store's lane) — what is tested here is the cron slot
    const t = await twoNodes(32, disk.kv, false);
    await run(t.env, toBeforeTop(t.env.clock.now()), 500);
    const slot = t.env.clock.now() + 5000;
    disk.ctl.next = 'committed'; // the next write is a's tick at the top of the minute
    await run(t.env, 10_000, 100);
    expect(disk.ctl.refused).toBe(1);
    expect(t.slots()).toContain(slot);
    t.la.set(false);
    t.lb.set(true);
    await run(t.env, 3 * MIN, 500);
    const s = t.slots();
    for (let i = 1; i < s.length; i++) expect(s[i]! - s[i - 1]!).toBe(MIN);
    expect(s.filter((x) => x === slot)).toHaveLength(1);
    expect([...t.fired].sort((x, y) => x - y)).toEqual(s);
    await t.stop();
  });
});

describe('stager and pruner under a store outage', () => {
  it('a job due during the outage is staged once the store is back (within a stager interval), and old final jobs are still pruned', async () => {
    const disk = faultyDisk();
    const t = await twoNodes(33, disk.kv);
    const due = (await t.a.enqueue(t.later, { n: 1 }, { scheduleIn: 20_000 })).job.id;
    await run(t.env, 10_000, 100);
    disk.failing = true;
    await run(t.env, 30_000, 100);
    expect(t.a.get(due)?.state).toBe('scheduled');
    expect(t.a.health().status).toBe('degraded');
    disk.failing = false;
    await run(t.env, 3000, 100);
    expect(t.a.get(due)?.state).toBe('completed');
    // completed at ~T0 + 43 s: pruned once older than 5 min, by the next pruner round after that
    await run(t.env, 6 * MIN, 1000);
    expect(t.a.get(due)).toBeUndefined();
    expect(t.env.clock.now()).toBeGreaterThan(T0 + 6 * MIN);
    await t.stop();
  });
});
