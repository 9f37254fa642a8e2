// Opt-in restart backoff (BackoffSpec in src/supervisor/types.ts): growth, cap, reset,
// seeded jitter, intensity charged when a delayed restart is attempted, cancellation.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelay, retryDelay } from '../../src/supervisor/backoff.ts';
import { createSeededRandom, type Random } from '../../src/env/random.ts';
import { restartChild, terminateChild, type BackoffSpec, type Pid } from '../../src/index.ts';
import { crash, fixture, pidOf, rows, startSup, w, watch } from '../support/otp.ts';

/** Crashes child `id` and returns how long its restart took (virtual ms until ready again). */
async function crashAndTime(f: ReturnType<typeof fixture>, sup: Pid, id: string): Promise<number> {
  const before = f.readies().length;
  const t0 = f.env.clock.now();
  crash(f.kernel, await pidOf(f.kernel, sup, id));
  await f.settle();
  while (f.readies().length === before) {
    const next = f.env.clock.nextAt();
    if (next === undefined) throw new Error('no restart pending');
    await f.env.clock.advance(next - f.env.clock.now());
  }
  return f.env.clock.now() - t0;
}

async function delays(seed: number, backoff: BackoffSpec, n: number, onFlags = false): Promise<number[]> {
  const f = fixture(seed);
  const child = onFlags ? w('c') : w('c', { backoff });
  const sup = await startSup(f.kernel, { maxRestarts: 1000, periodMs: 1000, children: [child], ...(onFlags ? { backoff } : {}) });
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await crashAndTime(f, sup, 'c'));
  return out;
}

describe('backoff', () => {
  it('backoffDelay: min(maxMs, initialMs * factor^n), jitter spread by ±jitter around it and never above maxMs', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay({ initialMs: 100, maxMs: 1000, factor: 2 }, n, 0.5))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay({ initialMs: 100, maxMs: 1000 }, 3, 0.5)).toBe(800); // factor defaults to 2
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 1, max: 4, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(20), fc.double({ min: 0, max: 0.999, noNaN: true }), (initialMs, extra, factor, jitter, n, r) => {
        const spec = { initialMs, maxMs: initialMs + extra, factor, jitter };
        const base = Math.min(spec.maxMs, initialMs * factor ** n);
        const d = backoffDelay(spec, n, r);
        expect(d).toBeGreaterThanOrEqual(Math.floor(base * (1 - jitter)) - 1);
        expect(d).toBeLessThanOrEqual(Math.min(spec.maxMs, Math.ceil(base * (1 + jitter)) + 1));
        expect(backoffDelay({ ...spec, jitter: 0 }, n + 1, r)).toBeGreaterThanOrEqual(backoffDelay({ ...spec, jitter: 0 }, n, r));
      }),
      { numRuns: 300 },
    );
  });

  it('consecutive restarts wait initialMs * factor^n, capped at maxMs', async () => {
    expect(await delays(1, { initialMs: 100, maxMs: 1000, factor: 2 }, 6)).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(await delays(1, { initialMs: 50, maxMs: 400, factor: 3 }, 4)).toEqual([50, 150, 400, 400]);
  });

  it('a supervisor-wide backoff applies to children without their own', async () => {
    expect(await delays(1, { initialMs: 100, maxMs: 1000, factor: 2 }, 3, true)).toEqual([100, 200, 400]);
  });

  it('resetAfterMs: a child that stayed up that long starts again from initialMs; a shorter run does not reset', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 1000, periodMs: 1000, children: [w('c', { backoff: { initialMs: 100, maxMs: 10_000, factor: 2, resetAfterMs: 5000 } })] });
    const seen = [await crashAndTime(f, sup, 'c'), await crashAndTime(f, sup, 'c'), await crashAndTime(f, sup, 'c')];
    await f.env.clock.advance(4999);
    seen.push(await crashAndTime(f, sup, 'c')); // up 4999 ms: no reset
    await f.env.clock.advance(5000);
    seen.push(await crashAndTime(f, sup, 'c')); // up 5000 ms: reset
    seen.push(await crashAndTime(f, sup, 'c'));
    expect(seen).toEqual([100, 200, 400, 800, 100, 200]);
  });

  it('seeded jitter is reproducible: same seed → same delays; delays stay within ±jitter', async () => {
    const spec = { initialMs: 1000, maxMs: 100_000, factor: 1, jitter: 0.5 };
    const a = await delays(7, spec, 8);
    const b = await delays(7, spec, 8);
    const c = await delays(8, spec, 8);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    for (const d of [...a, ...c]) {
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1500);
    }
    expect(new Set(a).size).toBeGreaterThan(1);
  });

  it('a delayed restart counts toward intensity when it is attempted, not when the crash happened', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 1, periodMs: 5000, children: [w('c', { backoff: { initialMs: 2000, maxMs: 2000 } })] });
    const mon = watch(f.kernel, sup);
    crash(f.kernel, await pidOf(f.kernel, sup, 'c')); // t=0, attempted (and charged) at t=2000
    await f.env.clock.advance(2000);
    crash(f.kernel, await pidOf(f.kernel, sup, 'c')); // t=2000, attempted at t=4000: 2 restarts in 5 s
    await f.env.clock.advance(1999);
    expect(mon.down).toBe(false);
    expect(await rows(f.kernel, sup)).toEqual([['c', 'restarting']]);
    await f.env.clock.advance(1);
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
    expect(f.reports('reached_max_restart_intensity')).toHaveLength(1);
  });

  it('delays wider than periodMs / maxRestarts keep a crash-looping child from exhausting intensity', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 1, periodMs: 1000, children: [w('c', { backoff: { initialMs: 1500, maxMs: 1500 } })] });
    const mon = watch(f.kernel, sup);
    for (let i = 0; i < 10; i++) await crashAndTime(f, sup, 'c');
    expect(mon.down).toBe(false);
    // the same loop without backoff gives up on the second crash
    const g = fixture();
    const plain = await startSup(g.kernel, { maxRestarts: 1, periodMs: 1000, children: [w('c')] });
    const mon2 = watch(g.kernel, plain);
    crash(g.kernel, await pidOf(g.kernel, plain, 'c'));
    await g.settle();
    crash(g.kernel, await pidOf(g.kernel, plain, 'c'));
    await g.settle();
    expect(mon2.down).toBe(true);
  });

  it('terminateChild cancels a pending delayed restart; restartChild starts it again', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 10, periodMs: 1000, children: [w('c', { backoff: { initialMs: 1000, maxMs: 1000 } })] });
    crash(f.kernel, await pidOf(f.kernel, sup, 'c'));
    await f.env.clock.advance(500);
    expect(await rows(f.kernel, sup)).toEqual([['c', 'restarting']]);
    const readies = f.readies().length;
    expect(await terminateChild(f.kernel, sup, 'c')).toEqual({ ok: true });
    expect(await rows(f.kernel, sup)).toEqual([['c', undefined]]);
    await f.env.clock.advance(5000);
    expect(f.readies().length).toBe(readies);
    expect(await rows(f.kernel, sup)).toEqual([['c', undefined]]);
    expect(f.env.clock.pending()).toBe(0);
    expect(await restartChild(f.kernel, sup, 'c')).toMatchObject({ ok: true });
  });

  describe('retryDelay (the in-place retry loops of discovery, election and replication)', () => {
    /** A Random that counts its draws. */
    const counting = (seed: number): Random & { draws: number } => {
      const r = createSeededRandom(seed);
      const c = { draws: 0, seed, next: () => (c.draws++, r.next()), int: (n: number) => Math.floor(c.next() * n) };
      return c;
    };

    it('without jitter: the cluster loops\' former formula min(5000, 200 * 2^n) exactly, and no draw', () => {
      const spec = { initialMs: 200, maxMs: 5000, factor: 2 };
      const r = counting(3);
      const former = (n: number): number => Math.min(5000, 200 * 2 ** Math.min(n, 10)); // retryDelayMs before the fold
      for (let n = 0; n <= 60; n++) expect(retryDelay(spec, n, r), `attempt ${n}`).toBe(former(n));
      expect(r.draws).toBe(0);
    });

    it('with jitter: exactly one draw, backoffDelay of that draw, within ±jitter and never above maxMs', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.nat(40), fc.integer(), (initialMs, extra, jitter, n, seed) => {
          const spec = { initialMs, maxMs: initialMs + extra, factor: 2, jitter };
          const r = counting(seed);
          const d = retryDelay(spec, n, r);
          expect(r.draws).toBe(1);
          expect(d).toBe(backoffDelay(spec, n, createSeededRandom(seed).next()));
          const base = Math.min(spec.maxMs, initialMs * 2 ** n);
          expect(d).toBeGreaterThanOrEqual(Math.floor(base * (1 - jitter)) - 1);
          expect(d).toBeLessThanOrEqual(Math.min(spec.maxMs, Math.ceil(base * (1 + jitter)) + 1));
        }),
        { numRuns: 300 },
      );
    });
  });
});
