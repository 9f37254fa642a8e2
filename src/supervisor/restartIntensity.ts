import { __chaosBugs } from '../env/testBugs.ts';

/**
 * OTP's `add_restart`: a sliding window of restart timestamps (newest first).
 *
 * Called once per restart event, *before* the attempt (a one_for_all group restart counts
 * once; each retry of a failed restart counts again). With `maxRestarts` = I, the (I+1)-th
 * restart whose timestamps all lie within `periodMs` gives up.
 *
 * Difference from OTP: the window is milliseconds, not whole seconds, so a restart at `t`
 * stops counting at `t + periodMs` exactly (OTP's effective window is Period..Period+1 s).
 *
 * @example
 * import { addRestart } from './restartIntensity.ts';
 *
 * console.log(addRestart([], 0, { maxRestarts: 1, periodMs: 1000 })); // { ok: true, restarts: [0] }
 */
export function addRestart(
  restarts: readonly number[],
  now: number,
  limits: { maxRestarts: number; periodMs: number },
): { ok: boolean; restarts: number[] } {
  const threshold = now - limits.periodMs;
  const kept: number[] = [now];
  for (const r of restarts) {
    if (r > threshold) kept.push(r);
    else break;
  }
  // __chaosBugs.intensityMiscount (test-only): forgets to count the new restart.
  const counted = __chaosBugs.intensityMiscount ? kept.length - 1 : kept.length;
  return { ok: counted <= limits.maxRestarts, restarts: kept };
}

/**
 * @internal The supervisor's running form of {@link addRestart}: the same sliding window, kept
 * oldest-first in one array with a moving head, so charging a restart costs O(1) amortized
 * instead of copying the whole window (which a supervisor with a large `maxRestarts` and a
 * restart-heavy child would otherwise pay on every restart). `addRestart` stays the
 * specification; a property test checks that both agree on every sequence.
 */
export class RestartWindow {
  private readonly times: number[] = [];
  private head = 0;
  private readonly limits: { maxRestarts: number; periodMs: number };

  constructor(limits: { maxRestarts: number; periodMs: number }) {
    this.limits = limits;
  }

  /** Charges one restart at `now` (times never decrease); false when the supervisor must give up. */
  charge(now: number): boolean {
    const threshold = now - this.limits.periodMs;
    const t = this.times;
    while (this.head < t.length && t[this.head]! <= threshold) this.head++;
    if (this.head > 64 && this.head * 2 > t.length) {
      t.splice(0, this.head);
      this.head = 0;
    }
    t.push(now);
    // __chaosBugs.intensityMiscount (test-only): forgets to count the new restart.
    return t.length - this.head - (__chaosBugs.intensityMiscount ? 1 : 0) <= this.limits.maxRestarts;
  }

  /** The restarts inside the window as of the last charge, newest first (as `addRestart` returns them). */
  get restarts(): number[] {
    return this.times.slice(this.head).reverse();
  }

  /** How many restarts the window holds as of the last charge. */
  get size(): number {
    return this.times.length - this.head;
  }
}
