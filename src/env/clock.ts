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

/** The real clock: `performance.now()`-based monotonic time and Node's timers. */
export function createRealClock(): Clock {
  const origin = Date.now() - performance.now();
  return {
    now: () => origin + performance.now(),
    setTimeout: (fn, ms) => {
      const t = setTimeout(fn, Math.max(0, ms));
      return t;
    },
    clearTimeout: (handle) => {
      if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
    },
  };
}
