/**
 * Oban's default retry backoff (`Oban.Worker.backoff/1`), in milliseconds: after attempt `n`
 * the job waits `15 + 2^n` seconds, plus up to 10 % upward jitter
 * (`Backoff.jitter(mode: :inc, mult: 0.1)`). With more than 20 max attempts the exponent is
 * scaled onto 0‥20 (`round(n / maxAttempts * 20)`), so a job allowed 100 attempts does not wait
 * 2^100 s.
 *
 * `random` is a draw in [0, 1) (pass `env.random.next`, so a run replays).
 *
 * @example
 * import { obanBackoff } from 'ordo/jobs';
 *
 * console.log(obanBackoff(1, 20, () => 0)); // 17_000 ms: 15 s + 2^1 s
 * console.log(obanBackoff(3, 20, () => 0.5)); // 23_000 * 1.05 = 24_150 ms (jitter truncated to whole seconds, as Oban)
 */
export function obanBackoff(attempt: number, maxAttempts: number, random: () => number): number {
  const clamped = maxAttempts <= 20 ? attempt : Math.round((attempt / maxAttempts) * 20);
  const seconds = Math.trunc(2 ** clamped + 15);
  const diff = Math.trunc(random() * 0.1 * seconds);
  return (seconds + diff) * 1000;
}
