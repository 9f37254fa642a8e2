import { runScenario, type RunOptions, type RunReport } from './runner.ts';
import type { Scenario, TimelineFault } from './scenario.ts';
import { createRealClock } from '../env/clock.ts';

/** A minimised counterexample: the same seed, fewer faults, a shorter horizon, the same violation. */
export interface ShrinkResult {
  /** False when the failure did not reproduce from its fault list alone (nothing was minimised). */
  readonly reproduced: boolean;
  readonly seed: number;
  readonly faults: readonly TimelineFault[];
  readonly horizonMs: number;
  /** The run of the minimised counterexample. */
  readonly report: RunReport;
  /** How many runs the shrinker made, and how long it took (wall ms). */
  readonly runs: number;
  readonly elapsedMs: number;
}

/**
 * Minimises a failing run (fast-check's idea, applied to a fault schedule): keeps the seed,
 * replays the run with exactly its fired faults (random faults off), removes faults by delta
 * debugging (halves, then chunks, then one at a time) while the same invariant is still
 * violated, then shortens the horizon to just past the violation. `budgetMs` bounds the work
 * (wall clock of the shrinker itself, never of the simulation).
 *
 * @example
 * import { restForOneService, runScenario, shrink, sweep } from 'ordo/chaos';
 *
 * const { failed } = await sweep(restForOneService, { seeds: 10 });
 * for (const { seed } of failed.slice(0, 1)) {
 *   const failing = await runScenario(restForOneService, { seed });
 *   const min = await shrink(restForOneService, failing);
 *   console.log(min.faults, min.report.replay);
 * }
 */
export async function shrink(scenario: Scenario, failing: RunReport, options: { budgetMs?: number; now?: () => number; base?: Partial<RunOptions> } = {}): Promise<ShrinkResult> {
  const clock = createRealClock();
  const now = options.now ?? (() => clock.now());
  const started = now();
  const budget = options.budgetMs ?? 5000;
  const target = failing.violation?.invariant;
  let runs = 0;
  let best: RunReport | undefined;
  const seed = failing.seed;
  const fails = async (faults: readonly TimelineFault[], horizonMs: number): Promise<RunReport | undefined> => {
    runs++;
    const r = await runScenario(scenario, { ...options.base, seed, faults, horizonMs, source: options.base?.source });
    return r.outcome === 'fail' && r.violation?.invariant === target ? r : undefined;
  };
  let faults = [...failing.faults];
  let horizon = options.base?.horizonMs ?? scenario.horizonMs;
  best = target === undefined ? undefined : await fails(faults, horizon);
  if (!best) return { reproduced: false, seed, faults, horizonMs: horizon, report: failing, runs, elapsedMs: now() - started };
  const outOfTime = (): boolean => now() - started > budget;
  // ddmin over the fault list.
  let n = 2;
  while (faults.length >= 2 && !outOfTime()) {
    const size = Math.ceil(faults.length / n);
    let reduced = false;
    for (let i = 0; i < faults.length && !outOfTime(); i += size) {
      const complement = [...faults.slice(0, i), ...faults.slice(i + size)];
      const r = await fails(complement, horizon);
      if (r) {
        faults = complement;
        best = r;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= faults.length) break;
      n = Math.min(faults.length, n * 2);
    }
  }
  if (faults.length === 1 && !outOfTime()) {
    const r = await fails([], horizon);
    if (r) {
      faults = [];
      best = r;
    }
  }
  // The horizon: just past the violation, else the smallest of a few steps that still fails.
  const t = best.violation!.t;
  for (const h of [t + 1, t + 100, Math.round(t * 1.5) + 1, Math.round((t + horizon) / 2)]) {
    if (h >= horizon || outOfTime()) continue;
    const r = await fails(faults, h);
    if (r) {
      horizon = h;
      best = r;
      break;
    }
  }
  return { reproduced: true, seed, faults, horizonMs: horizon, report: best, runs, elapsedMs: now() - started };
}
