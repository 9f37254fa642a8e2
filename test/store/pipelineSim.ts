import { afterEach } from 'vitest';
import type { Simulation } from '../../src/chaos/simulation.ts';
import { _setFaultHook, type FaultHook } from '../../src/env/faults.ts';

/**
 * What the strict commit pipeline's simulated tests (commitPipeline.test.ts,
 * pipelineAttack.test.ts) share: the timeline pumped in the background, the marker and WAL
 * failures of a plan by their 1-based number, and a commit's outcome read from its rejection.
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
