import type { BackoffSpec } from './types.ts';

/**
 * The delay before restart attempt `attempt` (0-based count of consecutive restarts):
 * `min(maxMs, initialMs * factor^attempt)`, spread by ±`jitter` using `random` in [0, 1).
 * Pure: the supervisor draws `random` from the seeded `env.random`.
 *
 * @example
 * backoffDelay({ initialMs: 100, maxMs: 1000, factor: 2 }, 3, 0.5); // 800
 */
export function backoffDelay(spec: BackoffSpec, attempt: number, random: number): number {
  const factor = spec.factor ?? 2;
  const base = Math.min(spec.maxMs, spec.initialMs * Math.pow(factor, attempt));
  const jitter = spec.jitter ?? 0;
  const spread = base * (1 + jitter * (2 * random - 1));
  return Math.max(0, Math.min(spec.maxMs, Math.round(spread)));
}

/** The attempt counter after a crash: reset to 0 if the child had stayed up `resetAfterMs`. */
export function nextAttempt(spec: BackoffSpec, attempt: number, upForMs: number | undefined): number {
  if (spec.resetAfterMs !== undefined && upForMs !== undefined && upForMs >= spec.resetAfterMs) return 0;
  return attempt;
}
