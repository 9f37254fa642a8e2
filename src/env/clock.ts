/**
 * The clock every Ordo component reads time and schedules timers through.
 *
 * Its shape is a superset of xstate's `Clock` (`setTimeout`/`clearTimeout`), so the same
 * object is passed to `createActor(machine, { clock })` and delayed transitions run on it.
 *
 * @example
 * import { createTestEnv } from 'ordo';
 *
 * const env = createTestEnv();
 * const t = env.clock.setTimeout(() => env.logger.info('tick'), 100);
 * env.clock.clearTimeout(t); // never fires
 */
export interface Clock {
  /** Milliseconds on this clock's timeline (monotonic for the virtual clock). */
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** Opaque timer handle; compare only with `clearTimeout`. */
export type TimerHandle = unknown;

/** The longest delay one Node timer takes: past it (`Infinity` too) Node fires after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A real-clock timer longer than {@link MAX_TIMER_MS}: Node timers of at most that, one after another. */
class LongTimer {
  t: NodeJS.Timeout | undefined;
}

/**
 * The real clock: `performance.now()`-based monotonic time and Node's timers. A delay past
 * 2^31 - 1 ms (~24.8 days; `Infinity`: never) waits in steps: Node fires a timer that long after
 * 1 ms (a worker's `timeoutMs: Infinity` timed every job out at once).
 */
export function createRealClock(): Clock {
  const origin = Date.now() - performance.now();
  return {
    now: () => origin + performance.now(),
    setTimeout: (fn, ms) => {
      const wait = Math.max(0, ms);
      if (!(wait > MAX_TIMER_MS)) return setTimeout(fn, wait);
      const long = new LongTimer();
      const due = performance.now() + wait;
      const step = (): void => {
        const left = due - performance.now();
        long.t = left > MAX_TIMER_MS ? setTimeout(step, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
      };
      step();
      return long;
    },
    clearTimeout: (handle) => {
      if (handle instanceof LongTimer) clearTimeout(handle.t);
      else if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
    },
  };
}
