import { ScenarioError } from './errors.ts';

/**
 * A latency or duration distribution in a scenario, in virtual ms: a constant, a uniform
 * range, an exponential with a mean (capped at 20× the mean), or weighted choices.
 *
 * @example
 * import type { Distribution } from 'ordo/chaos';
 *
 * const d: Distribution = { uniform: [1, 5] };
 * const slowStart: Distribution = { choice: [[9, 5], [1, 2000]] }; // 10 % of starts take 2 s
 * console.log(d, slowStart);
 */
export type Distribution =
  | number
  | { readonly uniform: readonly [number, number] }
  | { readonly exponential: number }
  | { readonly choice: ReadonlyArray<readonly [weight: number, ms: number]> };

/** Draws from `d` with `next` (a float in [0, 1)); validates it, naming `field` on error. */
export function sample(d: Distribution | undefined, next: () => number, field = 'distribution'): number {
  if (d === undefined) return 0;
  if (typeof d === 'number') {
    if (!(d >= 0)) throw new ScenarioError(undefined, field, d, 'a duration must be a number ≥ 0');
    return d;
  }
  if ('uniform' in d) {
    const [a, b] = d.uniform;
    return Math.round(a + next() * (b - a));
  }
  if ('exponential' in d) return Math.round(Math.min(-Math.log(1 - next()) * d.exponential, 20 * d.exponential));
  if ('choice' in d) {
    const total = d.choice.reduce((s, [w]) => s + w, 0);
    let x = next() * total;
    for (const [w, ms] of d.choice) {
      if ((x -= w) < 0) return ms;
    }
    return d.choice[d.choice.length - 1]?.[1] ?? 0;
  }
  throw new ScenarioError(undefined, field, d, 'unknown distribution (number, { uniform }, { exponential } or { choice })');
}
