import { afterEach, expect } from 'vitest';
import { Simulation } from '../../src/chaos/simulation.ts';
import type { Clock } from '../../src/env/clock.ts';
import type { Store } from '../../src/store/store.ts';
import { _setFaultHook, type FaultHook } from '../../src/env/faults.ts';

/**
 * What the strict commit pipeline's simulated tests (commitPipeline.test.ts,
 * pipelineAttack.test.ts) share: the timeline pumped in the background, the marker and WAL
 * failures of a plan by their 1-based number, a commit's outcome read from its rejection, a run
 * collecting its failed checks, and its end (close, reopen, compare).
 */

export type Outcome = 'ok' | 'committed' | 'unknown' | 'refused';

let restoreHook: FaultHook | undefined;
let hooked = false;
afterEach(() => {
  if (hooked) _setFaultHook(restoreHook);
  hooked = false;
});

/** Runs the simulation's timeline in the background (virtual time jumps to each next event). */
export function pump(sim: Simulation): () => void {
  let running = true;
  void (async () => {
    while (running) {
      await sim.run(Number.MAX_SAFE_INTEGER);
      await new Promise((r) => setImmediate(r));
    }
  })();
  return () => void (running = false);
}

/**
 * Installs a fault hook (restored after the test) failing the `markFails`-th `kv.marker.fail`
 * and the `walFails`-th `kv.write.eio` points counted while `armed()` holds.
 */
export function planFaults(plan: { readonly markFails: readonly number[]; readonly walFails: readonly number[] }, armed: () => boolean): void {
  const counts = new Map<string, number>();
  restoreHook = _setFaultHook({
    point(name) {
      if (!armed() || (name !== 'kv.marker.fail' && name !== 'kv.write.eio')) return false;
      const k = (counts.get(name) ?? 0) + 1;
      counts.set(name, k);
      return (name === 'kv.marker.fail' ? plan.markFails : plan.walFails).includes(k);
    },
    delayMs: () => 0,
  });
  hooked = true;
}

/** A rejected commit's outcome: the indeterminate's `outcome`, else refused. */
export const rejected = (e: { code?: string; outcome?: string }): Outcome =>
  e.code === 'ORDO_STORE_COMMIT_INDETERMINATE' ? (e.outcome as Outcome) : 'refused';

/** What a run's body gets: its simulation (pumped in the background) and `check`, which records a failed check. */
export interface SimRun {
  readonly sim: Simulation;
  check(ok: boolean, what: string): void;
}

/** Runs `body` on a pumped simulation of `seed`; the pump stops however it ends, then no check may have failed. */
export async function simRun(seed: number, body: (run: SimRun) => Promise<void>): Promise<void> {
  const sim = new Simulation({ seed, strategy: { kind: 'fifo' } });
  const stop = pump(sim);
  const failures: string[] = [];
  try {
    await body({ sim, check: (ok, what) => void (ok || failures.push(what)) });
  } finally {
    stop();
  }
  expect(failures).toEqual([]);
}

/**
 * A run's end: closes `store` (then `closed()`), lets `settleMs` virtual ms pass (late writes
 * land), reopens the store with `open`, hands it to `compare` and closes it.
 */
export async function reopenCompare(o: { readonly store: Store; readonly closed: () => void; readonly clock: Clock; readonly settleMs?: number; readonly open: () => Promise<Store>; readonly compare: (again: Store) => void }): Promise<void> {
  await o.store.close();
  o.closed();
  const ms = o.settleMs;
  if (ms !== undefined) await new Promise((r) => o.clock.setTimeout(r, ms));
  const again = await o.open();
  try {
    o.compare(again);
  } finally {
    await again.close();
  }
}
