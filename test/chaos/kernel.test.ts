import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Simulation } from '../../src/chaos/simulation.ts';
import { createRandomStreams, streamSeed } from '../../src/chaos/streams.ts';
import { EventQueue, type SimTask } from '../../src/chaos/eventQueue.ts';

const task = (at: number, key: number, seq: number): SimTask => ({ at, key, seq, kind: 'timer', label: `t${seq}`, channel: -1, run: () => undefined, cancelled: false });

describe('random streams', () => {
  it('a stream depends only on (root seed, its name): drawing from or adding another stream shifts nothing', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), fc.nat(50), (seed, a, b, draws) => {
        fc.pre(a !== b);
        const alone = createRandomStreams(seed).stream(a);
        const expected = Array.from({ length: 5 }, () => alone.next());
        const mixed = createRandomStreams(seed);
        const other = mixed.stream(b);
        for (let i = 0; i < draws; i++) other.next();
        const sa = mixed.stream(a);
        expect(Array.from({ length: 5 }, () => sa.next())).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('different names and different roots give different seeds', () => {
    expect(streamSeed(1, 'schedule')).not.toBe(streamSeed(1, 'faults'));
    expect(streamSeed(1, 'schedule')).not.toBe(streamSeed(2, 'schedule'));
    expect(streamSeed(1, 'ab')).not.toBe(streamSeed(1, 'ba'));
  });
});

describe('event queue', () => {
  it('pops in (time, key, sequence) order and skips cancelled tasks (model: a sorted array)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(20), fc.nat(3), fc.boolean()), { maxLength: 60 }), (specs) => {
        const q = new EventQueue();
        const tasks = specs.map(([at, key], i) => task(at, key, i));
        tasks.forEach((t) => q.push(t));
        specs.forEach(([, , cancel], i) => cancel && q.cancel(tasks[i]!));
        const model = tasks.filter((_, i) => !specs[i]![2]).sort((a, b) => a.at - b.at || a.key - b.key || a.seq - b.seq);
        const out: SimTask[] = [];
        for (let t = q.pop(); t; t = q.pop()) out.push(t);
        expect(out.map((t) => t.seq)).toEqual(model.map((t) => t.seq));
        expect(q.live).toBe(0);
      }),
    );
  });
});

describe('simulation clock and scheduler', () => {
  it('timers fire in virtual time order; promise continuations run before the next task', async () => {
    const sim = new Simulation({ seed: 1, strategy: { kind: 'fifo' } });
    const seen: string[] = [];
    sim.clock.setTimeout(() => {
      seen.push(`a@${sim.now}`);
      void Promise.resolve().then(() => seen.push(`a-then@${sim.now}`));
    }, 10);
    sim.clock.setTimeout(() => seen.push(`b@${sim.now}`), 10);
    const cleared = sim.clock.setTimeout(() => seen.push('never'), 5);
    sim.clock.clearTimeout(cleared);
    sim.clock.setTimeout(() => seen.push(`c@${sim.now}`), 30);
    expect(await sim.run(20)).toBe('horizon');
    expect(sim.now).toBe(20);
    expect(seen).toEqual(['a@10', 'a-then@10', 'b@10']);
    expect(sim.timers).toBe(1);
    expect(await sim.run(100)).toBe('idle');
    expect(seen.at(-1)).toBe('c@30');
    expect(sim.timers).toBe(0);
  });

  it('deliveries to one channel keep their order under every strategy; across channels the seed decides', async () => {
    const orders = new Set<string>();
    for (const strategy of [{ kind: 'random' as const }, { kind: 'pct' as const, depth: 3 }, { kind: 'fifo' as const }]) {
      for (let seed = 1; seed <= 30; seed++) {
        const sim = new Simulation({ seed, strategy, deliveryLatency: (_l, r) => Math.floor(r() * 3) });
        const got: string[] = [];
        for (let i = 0; i < 5; i++) {
          sim.scheduler.deliver(1, `send:a${i}`, () => got.push(`a${i}`));
          sim.scheduler.deliver(2, `send:b${i}`, () => got.push(`b${i}`));
        }
        await sim.run(100);
        expect(got.filter((x) => x.startsWith('a'))).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
        expect(got.filter((x) => x.startsWith('b'))).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
        orders.add(got.join(','));
      }
    }
    expect(orders.size).toBeGreaterThan(5);
  });

  it('replay follows a decision log, and reports the first label it cannot follow', async () => {
    const build = (strategy: ConstructorParameters<typeof Simulation>[0]['strategy'], seed: number) => {
      const sim = new Simulation({ seed, strategy });
      const got: string[] = [];
      for (const c of ['x', 'y', 'z']) sim.scheduler.deliver(c.charCodeAt(0), `send:${c}`, () => got.push(c));
      return { sim, got };
    };
    const original = build({ kind: 'random' }, 7);
    await original.sim.run(10);
    const replay = build({ kind: 'replay', log: original.sim.decisions }, 999);
    await replay.sim.run(10);
    expect(replay.got).toEqual(original.got);
    expect(replay.sim.divergence).toBeUndefined();
    const bad = build({ kind: 'replay', log: ['send:y', 'send:q', 'send:x'] }, 1);
    await bad.sim.run(10);
    expect(bad.sim.divergence).toEqual({ step: 1, expected: 'send:q', ready: expect.arrayContaining(['send:x', 'send:z']) });
  });
});
