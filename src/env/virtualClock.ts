import type { Clock, TimerHandle } from './clock.ts';

interface VTimer {
  id: number;
  at: number;
  seq: number;
  fn: (...args: unknown[]) => void;
}

/**
 * A deterministic clock for tests and simulation. Time moves only when `advance` or
 * `runUntilIdle` is called; timers due at the same instant fire in the order they were set.
 *
 * Between timers it drains the microtask queue (promise continuations) so that async code
 * reacting to a timer runs before the next timer fires — the same interleaving the real
 * event loop gives, but repeatable.
 *
 * @example
 * import { createVirtualClock } from 'ordo';
 *
 * const clock = createVirtualClock();
 * clock.setTimeout(() => console.log('fired'), 1000);
 * await clock.advance(1000); // prints 'fired'
 */
export interface VirtualClock extends Clock {
  /** Move time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): Promise<void>;
  /** Fire timers until none are pending or `limitMs` of virtual time has passed. */
  runUntilIdle(limitMs?: number): Promise<void>;
  /** Let pending promise continuations run without moving time. */
  flush(): Promise<void>;
  /** Number of pending timers. */
  pending(): number;
  /** The time of the next pending timer, if any. */
  nextAt(): number | undefined;
}

/** Drains the microtask queue by yielding to the host's macrotask queue a few times. */
export async function flushMicrotasks(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

export function createVirtualClock(startMs = 0): VirtualClock {
  let now = startMs;
  let nextId = 1;
  let seq = 0;
  const timers = new Map<number, VTimer>();

  const earliest = (): VTimer | undefined => {
    let best: VTimer | undefined;
    for (const t of timers.values()) {
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  };

  const fireDue = async (until: number): Promise<void> => {
    await flushMicrotasks();
    for (;;) {
      const t = earliest();
      if (!t || t.at > until) break;
      timers.delete(t.id);
      now = Math.max(now, t.at);
      t.fn();
      await flushMicrotasks();
    }
    now = Math.max(now, until);
  };

  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { id, at: now + Math.max(0, ms || 0), seq: seq++, fn });
      return id as TimerHandle;
    },
    clearTimeout(handle) {
      if (typeof handle === 'number') timers.delete(handle);
    },
    advance: (ms) => fireDue(now + ms),
    async runUntilIdle(limitMs = 3_600_000) {
      const stop = now + limitMs;
      await flushMicrotasks();
      for (;;) {
        const t = earliest();
        if (!t || t.at > stop) break;
        await fireDue(t.at);
      }
    },
    flush: () => flushMicrotasks(),
    pending: () => timers.size,
    nextAt: () => earliest()?.at,
  };
}
