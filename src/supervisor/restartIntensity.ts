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
 * addRestart([], 0, { maxRestarts: 1, periodMs: 1000 }); // { ok: true, restarts: [0] }
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
