import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addRestart } from '../../src/supervisor/restartIntensity.ts';
import { decideRestart } from '../../src/supervisor/decideRestart.ts';
import { restartSet } from '../../src/supervisor/strategies.ts';
import { backoffDelay, nextAttempt } from '../../src/supervisor/backoff.ts';
import { shouldAutoShutdown } from '../../src/supervisor/autoShutdown.ts';
import { validateChildSpec, validateFlags } from '../../src/supervisor/validate.ts';
import { worker } from '../support/machines.ts';

describe('addRestart (OTP add_restart, ms window)', () => {
  const limits = { maxRestarts: 3, periodMs: 5000 };
  it('allows maxRestarts restarts in the window and gives up on the next (3-in-5 s: the 4th)', () => {
    let r: number[] = [];
    for (const t of [0, 10, 20]) {
      const res = addRestart(r, t, limits);
      expect(res.ok).toBe(true);
      r = res.restarts;
    }
    expect(addRestart(r, 35, limits).ok).toBe(false);
  });
  it('slides: restarts older than periodMs stop counting', () => {
    const r = addRestart([2000, 1000, 0], 5000, limits);
    expect(r).toEqual({ ok: true, restarts: [5000, 2000, 1000] });
  });
  it('intensity 0 gives up at the first restart', () => {
    expect(addRestart([], 0, { maxRestarts: 0, periodMs: 1000 }).ok).toBe(false);
  });
  it('matches a brute-force count of restarts inside (now - period, now] for any history', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 40 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 300 }), (gaps, maxRestarts, periodMs) => {
        let restarts: number[] = [];
        let t = 0;
        const all: number[] = [];
        for (const g of gaps) {
          t += g;
          all.push(t);
          const res = addRestart(restarts, t, { maxRestarts, periodMs });
          const inWindow = all.filter((x) => x > t - periodMs).length;
          expect(res.ok).toBe(inWindow <= maxRestarts);
          if (!res.ok) return;
          restarts = res.restarts;
        }
      }),
    );
  });
});

describe('decideRestart (conformance §1.5)', () => {
  const cases: [string, unknown, string, boolean][] = [
    ['permanent', 'normal', 'restart', true],
    ['permanent', 'shutdown', 'restart', true],
    ['permanent', new Error('died'), 'restart', true],
    ['transient', 'normal', 'keep', false],
    ['transient', 'shutdown', 'keep', false],
    ['transient', { shutdown: 'x' }, 'keep', false],
    ['transient', 'killed', 'restart', true],
    ['transient', 'died', 'restart', true],
    ['temporary', 'normal', 'remove', false],
    ['temporary', 'died', 'remove', true],
  ];
  for (const [restart, reason, action, report] of cases) {
    it(`${restart} exiting ${JSON.stringify(reason instanceof Error ? 'Error' : reason)} → ${action}`, () => {
      expect(decideRestart(restart as never, reason)).toEqual({ action, report });
    });
  }
});

describe('restartSet (conformance §1.7)', () => {
  const kids = ['ch7', 'ch3', 'ch10', 'ch2', 'ch5'].map((id) => ({ id, restart: 'permanent' as const }));
  it('one_for_one restarts only the failed child', () => {
    expect(restartSet('one_for_one', kids, 'ch10')).toEqual({ terminate: [], start: ['ch10'], remove: [] });
  });
  it('rest_for_one (order_of_children): stops ch5 then ch2, restarts ch10, ch2, ch5', () => {
    expect(restartSet('rest_for_one', kids, 'ch10')).toEqual({ terminate: ['ch5', 'ch2'], start: ['ch10', 'ch2', 'ch5'], remove: [] });
  });
  it('one_for_all stops every other child in reverse order and starts all in order', () => {
    expect(restartSet('one_for_all', kids, 'ch10')).toEqual({ terminate: ['ch5', 'ch2', 'ch3', 'ch7'], start: ['ch7', 'ch3', 'ch10', 'ch2', 'ch5'], remove: [] });
  });
  it('temporary bystanders are stopped and removed, never restarted', () => {
    const k = [
      { id: 'a', restart: 'permanent' as const },
      { id: 'b', restart: 'temporary' as const },
    ];
    expect(restartSet('one_for_all', k, 'a')).toEqual({ terminate: ['b'], start: ['a'], remove: ['b'] });
  });
});

describe('backoff', () => {
  const spec = { initialMs: 100, maxMs: 1000, factor: 2 };
  it('grows by factor and caps at maxMs', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(spec, n, 0.5))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  it('jitter spreads within ±jitter and never exceeds maxMs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 }), fc.double({ min: 0, max: 0.999, noNaN: true }), (n, r) => {
        const d = backoffDelay({ ...spec, jitter: 0.2 }, n, r);
        const base = Math.min(1000, 100 * 2 ** n);
        expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.8));
        expect(d).toBeLessThanOrEqual(1000);
      }),
    );
  });
  it('resets the attempt counter after resetAfterMs of uptime', () => {
    expect(nextAttempt({ ...spec, resetAfterMs: 5000 }, 4, 6000)).toBe(0);
    expect(nextAttempt({ ...spec, resetAfterMs: 5000 }, 4, 100)).toBe(4);
    expect(nextAttempt(spec, 4, 1e9)).toBe(4);
  });
});

describe('shouldAutoShutdown (conformance §1.9)', () => {
  it('never / non-significant never shut down', () => {
    expect(shouldAutoShutdown('never', true, 0)).toBe(false);
    expect(shouldAutoShutdown('any_significant', false, 0)).toBe(false);
  });
  it('any_significant: the first significant exit; all_significant: the last', () => {
    expect(shouldAutoShutdown('any_significant', true, 3)).toBe(true);
    expect(shouldAutoShutdown('all_significant', true, 1)).toBe(false);
    expect(shouldAutoShutdown('all_significant', true, 0)).toBe(true);
  });
});

describe('validation carries the bad value (conformance §1.1–1.2)', () => {
  const start = { machine: worker };
  const bad: [Record<string, unknown>, string, unknown][] = [
    [{ start }, 'id', undefined],
    [{ id: 'c' }, 'start', undefined],
    [{ id: 'c', start: 'mfa' }, 'start', 'mfa'],
    [{ id: 'c', start, restart: 'prmanent' }, 'restart', 'prmanent'],
    [{ id: 'c', start, significant: 'maybe' }, 'significant', 'maybe'],
    [{ id: 'c', start, type: 'wrker' }, 'type', 'wrker'],
    [{ id: 'c', start, shutdownMs: -10 }, 'shutdownMs', -10],
  ];
  for (const [spec, field, value] of bad) {
    it(`${field} = ${JSON.stringify(value)} → InvalidChildSpecError`, () => {
      const v = validateChildSpec(spec);
      expect(v.ok).toBe(false);
      if (v.ok) return;
      expect(v.error).toMatchObject({ code: 'ORDO_INVALID_CHILD_SPEC', field, value });
    });
  }
  it('significant + permanent and significant under never are bad combinations', () => {
    expect(validateChildSpec({ id: 'c', start, significant: true }, 'any_significant')).toMatchObject({ ok: false, error: { code: 'ORDO_BAD_COMBINATION' } });
    expect(validateChildSpec({ id: 'c', start, significant: true, restart: 'transient' }, 'never')).toMatchObject({ ok: false, error: { code: 'ORDO_BAD_COMBINATION' } });
  });
  it('defaults: permanent, 5000 ms for workers, infinity for supervisors', () => {
    expect(validateChildSpec({ id: 'c', start })).toMatchObject({ ok: true, value: { restart: 'permanent', shutdownMs: 5000, type: 'worker', significant: false } });
    expect(validateChildSpec({ id: 'c', start, type: 'supervisor' })).toMatchObject({ ok: true, value: { shutdownMs: 'infinity' } });
  });
  it('flags: each bad flag → InvalidSupervisorFlagsError with the value; unknown keys ignored', () => {
    expect(validateFlags({ strategy: 'none_for_one' })).toMatchObject({ ok: false, error: { code: 'ORDO_INVALID_SUPERVISOR_FLAGS', flag: 'strategy', value: 'none_for_one' } });
    expect(validateFlags({ maxRestarts: Infinity })).toMatchObject({ ok: false, error: { flag: 'maxRestarts', value: Infinity } });
    expect(validateFlags({ periodMs: 0 })).toMatchObject({ ok: false, error: { flag: 'periodMs', value: 0 } });
    expect(validateFlags({ autoShutdown: 'sometimes' })).toMatchObject({ ok: false, error: { flag: 'autoShutdown', value: 'sometimes' } });
    expect(validateFlags({ strategy: 'simple_one_for_one', autoShutdown: 'any_significant' })).toMatchObject({ ok: false, error: { code: 'ORDO_BAD_COMBINATION' } });
    expect(validateFlags({ silly_flag: true })).toMatchObject({ ok: true, value: { strategy: 'one_for_one', maxRestarts: 1, periodMs: 5000 } });
  });
});
