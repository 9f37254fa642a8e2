import { runScenario } from './runner.ts';
import { shrink, type ShrinkResult } from './shrink.ts';
import { sweep, type SweepOptions, type SweepSummary } from './sweep.ts';
import { renderSummary, renderTimeline } from './report.ts';
import type { Scenario } from './scenario.ts';
import { ChaosError } from './errors.ts';

/** A chaos test found a seed whose outcome is not the scenario's `expect`; carries the minimised counterexample. */
export class ChaosTestFailure extends ChaosError {
  readonly code = 'ORDO_CHAOS_FAILED' as const;
  readonly scenario: string;
  readonly seed: number;
  readonly summary: SweepSummary;
  readonly counterexample: ShrinkResult | undefined;
  constructor(scenario: string, seed: number, summary: SweepSummary, counterexample: ShrinkResult | undefined, details: string) {
    super(`chaos scenario ${scenario}: seed ${seed} ${summary.unexpected.length > 0 ? 'had an unexpected outcome' : 'is nondeterministic'} (${summary.unexpected.length} of ${summary.runs} seeds)\n${details}`);
    this.name = 'ChaosTestFailure';
    this.scenario = scenario;
    this.seed = seed;
    this.summary = summary;
    this.counterexample = counterexample;
  }
}

/**
 * Runs a scenario on `seeds` inside a user's test: resolves with the sweep summary when every
 * seed has the expected outcome and the sampled determinism checks agree; otherwise shrinks the
 * first bad seed and rejects with {@link ChaosTestFailure}, whose message holds the summary,
 * the minimised timeline and a one-line replay command. Test-framework agnostic: await it.
 *
 * @example
 * // no-run: a vitest test file (vitest runs it, not node)
 * import { it } from 'vitest';
 * import { chaosTest, restForOneService } from 'ordo/chaos';
 *
 * it('the shop tree survives crashes', () => chaosTest(restForOneService, { seeds: 200 }), 60_000);
 */
export async function chaosTest(scenario: Scenario, options: SweepOptions): Promise<SweepSummary> {
  const summary = await sweep(scenario, options);
  const bad = summary.unexpected[0]?.seed ?? summary.nondeterministic[0];
  if (bad === undefined) return summary;
  const report = await runScenario(scenario, { ...options, seed: bad });
  const min = report.outcome === 'fail' ? await shrink(scenario, report, { base: { source: options.source, oracles: options.oracles } }) : undefined;
  const shown = min?.reproduced ? min.report : report;
  throw new ChaosTestFailure(scenario.name, bad, summary, min, `${renderSummary(shown)}${renderTimeline(shown, { limit: 60 })}`);
}
