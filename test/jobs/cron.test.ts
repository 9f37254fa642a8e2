import { describe, expect, it } from 'vitest';
import { JobRunner, JobsConfigError, defineWorker, lastSlot, parseCron } from '../../src/jobs/index.ts';
import { fakeCluster, fakeLeadership, faultyDisk, openJobStore, run, testEnv, T0 } from './helpers.ts';

const MIN = 60_000;

describe('cron expressions', () => {
  it('parses aliases, lists, ranges, steps and names; refuses bad ones with a typed error naming them', () => {
    const d = parseCron('@daily');
    expect([...d.minutes]).toEqual([0]);
    expect([...d.hours]).toEqual([0]);
    const s = parseCron('*/15 9-17 * JAN,jul MON-FRI');
    expect([...s.minutes]).toEqual([0, 15, 30, 45]);
    expect([...s.months]).toEqual([1, 7]);
    expect([...s.weekdays]).toEqual([1, 2, 3, 4, 5]);
    for (const bad of ['* * *', '61 * * * *', '* * * * MOO', '5-1 * * * *', '*/0 * * * *']) {
      expect(() => parseCron(bad)).toThrow(JobsConfigError);
    }
    expect(() => parseCron('@daily', 'Mars/Olympus')).toThrow(/time zone/);
  });

  it('finds the latest slot in a time zone (local midnight in New York, across a DST change)', () => {
    const s = parseCron('@daily', 'America/New_York');
    // 2024-03-11T12:00Z: the day after the spring-forward change; local midnight was 04:00Z
    const now = Date.UTC(2024, 2, 11, 12, 0);
    expect(new Date(lastSlot(s, now, now - 3 * 86_400_000)!).toISOString()).toBe('2024-03-11T04:00:00.000Z');
    // the day before the change, midnight was 05:00Z
    expect(new Date(lastSlot(s, Date.UTC(2024, 2, 10, 4, 59), 0)!).toISOString()).toBe('2024-03-09T05:00:00.000Z');
    // a yearly entry after a long outage is found in few steps, and nothing after `after`
    const y = parseCron('@yearly', 'Europe/Paris');
    expect(new Date(lastSlot(y, Date.UTC(2025, 5, 1), 0)!).toISOString()).toBe('2024-12-31T23:00:00.000Z');
    expect(lastSlot(y, Date.UTC(2025, 5, 1), Date.UTC(2025, 0, 1))).toBeUndefined();
  });
});

describe('cron across leader changes (two runners on one store)', () => {
  async function twoNodes(seed: number) {
    const env = testEnv(seed);
    const store = await openJobStore(env, faultyDisk());
    const fired: number[] = [];
    const tick = defineWorker<Record<string, never>>({ name: 'tick', perform: (_a, { job }) => void fired.push(job.meta['cronAt'] as number) });
    const live = new Map([['a', 'a1'], ['b', 'b1']]);
    const la = fakeLeadership('a', true);
    const lb = fakeLeadership('b', false);
    const config = { workers: [tick], queues: { default: 2 }, crontab: [{ name: 'every-minute', expression: '* * * * *', worker: tick, args: {} }], pruner: false as const };
    const a = await JobRunner.start({ env, store, config, cluster: fakeCluster('a', 'a1', live), leadership: la });
    const b = await JobRunner.start({ env, store, config, cluster: fakeCluster('b', 'b1', live), leadership: lb });
    const slots = () => store.keys('ordo_jobs').filter((k) => String(k).startsWith('cron:')).map((k) => Number(String(k).split(':').pop()));
    return { env, store, fired, la, lb, a, b, slots };
  }

  it('a handover fires every slot exactly once, none skipped (even one missed while nobody led)', async () => {
    const { env, fired, la, lb, a, b, slots, store } = await twoNodes(3);
    await run(env, 5 * MIN + 1000, 500);
    la.set(false);
    // nobody leads across the next slot; b takes over 40 s later and fires the missed slot once
    await run(env, MIN, 500);
    lb.set(true);
    await run(env, 4 * MIN, 500);
    const s = slots().sort((x, y) => x - y);
    expect(s.length).toBeGreaterThanOrEqual(9);
    for (let i = 1; i < s.length; i++) expect(s[i]! - s[i - 1]!).toBe(MIN);
    expect(new Set(fired).size).toBe(fired.length);
    expect(fired.sort()).toEqual(s);
    await a.stop();
    await b.stop();
    await store.close();
  });

  it('two nodes that both believe they lead (Oban #1488) still fire each slot once', async () => {
    const { env, fired, lb, a, b, slots, store } = await twoNodes(4);
    lb.set(true); // a never hears it lost the lease
    await run(env, 10 * MIN, 250);
    const s = slots();
    expect(s.length).toBeGreaterThanOrEqual(9);
    expect(new Set(s).size).toBe(s.length);
    expect(fired.length).toBe(s.length);
    expect(new Set(fired).size).toBe(fired.length);
    expect(env.clock.now()).toBeGreaterThan(T0);
    await a.stop();
    await b.stop();
    await store.close();
  });
});
