/**
 * Performs a drain left running (they ignored their abort), per store instance, for the life of
 * the process. Their jobs stay `executing` under the runner (`node/incarnation`) that claimed
 * them, holding their global slots. A runner started again in the same process on the same store
 * (a supervisor restart) takes that runner id again while any of them still runs: every node's
 * lifeline reads the rows and slots by runner id, so the job is neither rescued nor its slot
 * dropped while its first perform runs; the old queue gives both back when that perform ends.
 */
import type { Store } from '../store/index.ts';

const byStore = new WeakMap<Store, Map<string, number>>();

/** A perform of `runner` outlived its drain. */
export function leftoverStarted(store: Store, runner: string): void {
  let m = byStore.get(store);
  if (!m) byStore.set(store, (m = new Map()));
  m.set(runner, (m.get(runner) ?? 0) + 1);
}

/** A perform counted by {@link leftoverStarted} has ended. */
export function leftoverEnded(store: Store, runner: string): void {
  const m = byStore.get(store);
  const n = (m?.get(runner) ?? 0) - 1;
  if (n > 0) m!.set(runner, n);
  else m?.delete(runner);
}

/** How many performs of `runner` left by a drain still run. */
export function leftoversOf(store: Store, runner: string): number {
  return byStore.get(store)?.get(runner) ?? 0;
}

/** A runner id of node `name` on `store` whose left performs still run, if any. */
export function runnerWithLeftovers(store: Store, name: string): string | undefined {
  for (const [runner, n] of byStore.get(store) ?? []) if (n > 0 && runner.startsWith(`${name}/`)) return runner;
  return undefined;
}
