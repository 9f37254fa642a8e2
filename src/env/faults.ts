/**
 * Fault points (FoundationDB's BUGGIFY): named places in Ordo's I/O and runtime seams where a
 * simulation may inject a fault. Outside a simulation no hook is installed and every call is
 * one `undefined` check (measured in `bench/chaos.ts`).
 *
 * @example
 * import { faults } from 'ordo/env';
 *
 * const dir = './data/store';
 * if (faults.point('kv.write.eio', dir)) throw new Error(`${dir}: EIO (simulated)`); // false outside a simulation
 * const extra = faults.delayMs('actor.start.slow', 'repo'); // 0 outside a simulation
 * console.log(extra);
 */
export interface FaultHook {
  /** True when the fault named `name` (for `subject`, e.g. a child or a directory) fires now. */
  point(name: string, subject: string | undefined): boolean;
  /** A delay to add at `name`, in virtual ms (0: none). */
  delayMs(name: string, subject: string | undefined): number;
}

let hook: FaultHook | undefined;

/** The fault points. Both are free (false / 0) when no simulation is running. */
export const faults = {
  /** Whether the fault `name` fires here. */
  point(name: string, subject?: string): boolean {
    return hook !== undefined && hook.point(name, subject);
  },
  /** Extra virtual delay at `name`, or 0. */
  delayMs(name: string, subject?: string): number {
    return hook === undefined ? 0 : hook.delayMs(name, subject);
  },
};

/** @internal Installs the simulation's fault hook (the chaos engine only); returns the previous one. */
export function _setFaultHook(next: FaultHook | undefined): FaultHook | undefined {
  const prev = hook;
  hook = next;
  return prev;
}
