import type { Random } from '../env/random.ts';
import type { BackoffSpec } from './types.ts';

/**
 * The delay before restart attempt `attempt` (0-based count of consecutive restarts):
 * `min(maxMs, initialMs * factor^attempt)`, spread by ±`jitter` using `random` in [0, 1).
 * Pure: the supervisor draws `random` from the seeded `env.random`.
 *
 * @example
 * import { backoffDelay } from './backoff.ts';
 *
 * console.log(backoffDelay({ initialMs: 100, maxMs: 1000, factor: 2 }, 3, 0.5)); // 800
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

/**
 * The wait before retry `attempt` of a loop that retries in place — a child whose start depends
 * on something outside the process (NATS for discovery, election and replication) and that waits
 * in a `retrying` state instead of crashing. The one retry formula outside the supervisor's own
 * restarts: {@link backoffDelay} on the same {@link BackoffSpec}.
 *
 * When to use: in a machine's `delays` (`after: { retryDelay: 'connecting' }`), with `attempt`
 * the count of failures so far. Details: a spec without `jitter` draws nothing from `random`,
 * so adding or removing a retry loop without jitter does not shift a seeded run's other draws;
 * with `jitter` it draws exactly one `random.next()`. Gotcha: `attempt` is not capped — the
 * delay is (`maxMs` caps it).
 *
 * @example
 * import { createSeededRandom } from 'ordo';
 * import { retryDelay } from './backoff.ts';
 *
 * const spec = { initialMs: 200, maxMs: 5000, factor: 2 };
 * const waits = [1, 2, 3, 4, 5, 6].map((n) => retryDelay(spec, n, createSeededRandom(1)));
 * console.log(waits); // [400, 800, 1600, 3200, 5000, 5000]
 */
export function retryDelay(spec: BackoffSpec, attempt: number, random: Random): number {
  return backoffDelay(spec, attempt, spec.jitter ? random.next() : 0.5);
}
