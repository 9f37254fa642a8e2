/**
 * The real clock's long timers: Node fires a timer past 2^31 - 1 ms (~24.8 days) — or of
 * `Infinity` — after 1 ms, so a worker's `timeoutMs: Infinity` (or 30 days) timed every job out
 * at once. Node's own timers faked (vitest's fake timers keep that overflow rule), no wall clock.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRealClock } from '../../src/env/clock.ts';

const DAY = 24 * 3600 * 1000;

describe('real clock: delays past a Node timer', () => {
  afterEach(() => void vi.useRealTimers());

  it('a 30-day timer fires at 30 days, not after 1 ms; an Infinity one never; both can be cleared', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const clock = createRealClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('30d'), 30 * DAY);
    clock.setTimeout(() => fired.push('never'), Infinity);
    const cleared = clock.setTimeout(() => fired.push('cleared'), 40 * DAY);
    clock.setTimeout(() => fired.push('1s'), 1000);
    vi.advanceTimersByTime(1000);
    expect(fired).toEqual(['1s']);
    vi.advanceTimersByTime(25 * DAY);
    expect(fired).toEqual(['1s']);
    clock.clearTimeout(cleared);
    vi.advanceTimersByTime(5 * DAY - 1001);
    expect(fired).toEqual(['1s']);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['1s', '30d']);
    vi.advanceTimersByTime(400 * DAY);
    expect(fired).toEqual(['1s', '30d']);
  });
});
