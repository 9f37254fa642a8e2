// The pure decision functions (no actors, no clock): decideRestart (§1.5), restartSet (§1.7),
// shouldAutoShutdown (§1.9), addRestart (§1.6).
import { describe, expect, it } from 'vitest';
import { addRestart } from '../../src/supervisor/restartIntensity.ts';
import { decideRestart } from '../../src/supervisor/decideRestart.ts';
import { restartSet } from '../../src/supervisor/strategies.ts';
import { shouldAutoShutdown } from '../../src/supervisor/index.ts';

describe('decideRestart (§1.5 table)', () => {
  const normalClass = ['normal', 'shutdown', { shutdown: 'x' }];
  const abnormal = ['killed', 'died', new Error('x'), { shutdown: 1, other: 2 }];
  it('permanent: always restart, always reported', () => {
    for (const r of [...normalClass, ...abnormal]) expect(decideRestart('permanent', r)).toEqual({ action: 'restart', report: true });
  });
  it('transient: keep on normal-class (no report), restart on abnormal (reported)', () => {
    for (const r of normalClass) expect(decideRestart('transient', r)).toEqual({ action: 'keep', report: false });
    for (const r of abnormal) expect(decideRestart('transient', r)).toEqual({ action: 'restart', report: true });
  });
  it('temporary: always removed; reported only when abnormal', () => {
    for (const r of normalClass) expect(decideRestart('temporary', r)).toEqual({ action: 'remove', report: false });
    for (const r of abnormal) expect(decideRestart('temporary', r)).toEqual({ action: 'remove', report: true });
  });
});

describe('restartSet (§1.7)', () => {
  const kids = [
    { id: 'a', restart: 'permanent' as const },
    { id: 'b', restart: 'temporary' as const },
    { id: 'c', restart: 'transient' as const },
    { id: 'd', restart: 'permanent' as const },
  ];
  it('one_for_one / simple_one_for_one: only the failed child', () => {
    expect(restartSet('one_for_one', kids, 'c')).toEqual({ terminate: [], start: ['c'], remove: [] });
    expect(restartSet('simple_one_for_one', kids, 'c')).toEqual({ terminate: [], start: ['c'], remove: [] });
  });
  it('one_for_all: the others stopped in reverse order, temporaries removed, all others started in order', () => {
    expect(restartSet('one_for_all', kids, 'c')).toEqual({ terminate: ['d', 'b', 'a'], start: ['a', 'c', 'd'], remove: ['b'] });
  });
  it('rest_for_one: those after the failed child stopped in reverse order; the failed one and those after started in order', () => {
    expect(restartSet('rest_for_one', kids, 'a')).toEqual({ terminate: ['d', 'c', 'b'], start: ['a', 'c', 'd'], remove: ['b'] });
    expect(restartSet('rest_for_one', kids, 'd')).toEqual({ terminate: [], start: ['d'], remove: [] });
  });
  it('an unknown failed id touches nothing', () => {
    expect(restartSet('one_for_all', kids, 'zz')).toEqual({ terminate: [], start: [], remove: [] });
  });
});

describe('shouldAutoShutdown (§1.9)', () => {
  it('never, or a non-significant child: no', () => {
    expect(shouldAutoShutdown('never', true, 0)).toBe(false);
    expect(shouldAutoShutdown('any_significant', false, 0)).toBe(false);
    expect(shouldAutoShutdown('all_significant', false, 0)).toBe(false);
  });
  it('any_significant: yes; all_significant: only when no significant child is left', () => {
    expect(shouldAutoShutdown('any_significant', true, 3)).toBe(true);
    expect(shouldAutoShutdown('all_significant', true, 1)).toBe(false);
    expect(shouldAutoShutdown('all_significant', true, 0)).toBe(true);
  });
});

describe('addRestart (§1.6)', () => {
  it('intensity I: the (I+1)-th restart in the window gives up; intensity 0 gives up at once', () => {
    const limits = { maxRestarts: 3, periodMs: 5000 };
    let r: number[] = [];
    for (const t of [0, 1000, 2000]) {
      const a = addRestart(r, t, limits);
      expect(a.ok).toBe(true);
      r = a.restarts;
    }
    expect(addRestart(r, 3000, limits).ok).toBe(false);
    expect(addRestart([], 0, { maxRestarts: 0, periodMs: 1000 }).ok).toBe(false);
  });
  it('the window slides; a restart at t stops counting at t + periodMs exactly (documented difference from OTP)', () => {
    expect(addRestart([0], 999, { maxRestarts: 1, periodMs: 1000 }).ok).toBe(false);
    expect(addRestart([0], 1000, { maxRestarts: 1, periodMs: 1000 })).toEqual({ ok: true, restarts: [1000] });
  });
});
