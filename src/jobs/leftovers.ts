/**
 * Performs a drain left running (they ignored their abort), per data directory, for the life of
 * the process. Their jobs stay `executing` under the runner (`node/incarnation`) that claimed
 * them, holding their global slots. A runner started again in the same process on the same
 * store (a supervisor restart, or a restart after the store was reopened) takes that runner id
 * again while any of them still runs: every node's lifeline reads the rows and slots by runner
 * id, so the job is neither rescued nor its slot dropped while its first perform runs, and the
 * new runner's start-up reconciliation (reconcile.ts) skips it; when that perform ends its job
 * is given back through the store handle open on that directory now (the old one may be closed).
 *
 * Keyed by the store's directory, not its handle: a store reopened in this process is a new
 * handle on the same rows.
 */
import type { Store } from '../store/index.ts';

/** dir → runner id → slot tokens of the attempts whose performs still run. */
const byDir = new Map<string, Map<string, Set<string>>>();
/** `dir \n runner` → the store handle the runner of that id runs on now. */
const current = new Map<string, Store>();

const key = (store: Store, runner: string): string => `${store.dir}\n${runner}`;

/** A perform of `runner` (the attempt holding slot `token`) outlived its drain. */
export function leftoverStarted(store: Store, runner: string, token: string): void {
  let m = byDir.get(store.dir);
  if (!m) byDir.set(store.dir, (m = new Map()));
  let s = m.get(runner);
  if (!s) m.set(runner, (s = new Set()));
  s.add(token);
}

/**
 * A perform counted by {@link leftoverStarted} has ended. Returns the store handle to give its
 * job back through: the one a runner of that id runs on now, else `store`.
 */
export function leftoverEnded(store: Store, runner: string, token: string): Store {
  const m = byDir.get(store.dir);
  const s = m?.get(runner);
  s?.delete(token);
  if (s && s.size === 0) m!.delete(runner);
  if (m && m.size === 0) byDir.delete(store.dir);
  return current.get(key(store, runner)) ?? store;
}

/** How many performs of `runner` left by a drain still run. */
export function leftoversOf(store: Store, runner: string): number {
  return byDir.get(store.dir)?.get(runner)?.size ?? 0;
}

/** The slot tokens of `runner`'s attempts whose performs a drain left running. */
export function leftoverTokens(store: Store, runner: string): ReadonlySet<string> {
  return byDir.get(store.dir)?.get(runner) ?? new Set();
}

/** A runner id of node `name` on `store` whose left performs still run, if any. */
export function runnerWithLeftovers(store: Store, name: string): string | undefined {
  for (const [runner, s] of byDir.get(store.dir) ?? []) if (s.size > 0 && runner.startsWith(`${name}/`)) return runner;
  return undefined;
}

/** The runner `runner` runs on `store` from now on (until the returned function is called). */
export function runsOn(store: Store, runner: string): () => void {
  const k = key(store, runner);
  current.set(k, store);
  return () => {
    if (current.get(k) === store) current.delete(k);
  };
}

/** Simulation only: the process died (`kill -9`) — its performs with it. */
export function leftoversGone(store: Store, runner: string): void {
  byDir.get(store.dir)?.delete(runner);
}
