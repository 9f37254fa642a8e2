/**
 * Which transaction function is running in the current async context, so that a
 * `store.transaction` called from inside it joins it (see `TxRunner.run`). The store's own
 * background work (the group commit's flush, change listeners, the replicator) runs outside
 * any transaction's context: a listener's transaction never joins an unrelated one. @internal
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Tx } from './transaction.ts';

/** The running transaction of this async context: its runner (one per store) and its `tx`. @internal */
export interface RunningTx {
  readonly runner: object;
  readonly tx: Tx;
}

const running = new AsyncLocalStorage<RunningTx>();

/**
 * Transaction functions that have not settled yet. An `AsyncLocalStorage` that has run once
 * keeps async hooks on for the rest of the process (Node 20: promise hooks, a tax on every
 * promise of every subsystem — the kernel's calls and restarts included, ~75 ns an awaited
 * promise); so when the last one settles the storage is disabled, and the next transaction's
 * `run` turns it on again. Invisible to joining: only an unfinished transaction is ever joined
 * (`TxRunner.run` checks `finished`), and while none is open there is none to join.
 */
let open = 0;
/** A check that turns the storage off is queued (see {@link settled}). */
let offQueued = false;

/**
 * One transaction function settled. The storage goes off at the end of the current run of
 * microtasks if none is open by then, not at once: 64 writers each running a short function
 * would otherwise turn the promise hooks on and off 64 times a group commit (Node 20:
 * `setPromiseHooks` and the hook lists rebuilt each time, ~6 % of the synced write path's
 * main-thread time), where the next writer's function starts a few microtasks later.
 */
function settled(): void {
  if (--open !== 0 || offQueued) return;
  offQueued = true;
  queueMicrotask(turnOff);
}

function turnOff(): void {
  offQueued = false;
  if (open === 0) running.disable();
}

/** The transaction whose function this code runs in, if any. @internal */
export function runningTx(): RunningTx | undefined {
  return running.getStore();
}

/** Runs `fn` as the function of transaction `r`. @internal */
export function runAsTx<T>(r: RunningTx, fn: () => T): T {
  open++;
  let out: T;
  try {
    out = running.run(r, fn);
  } catch (err) {
    settled();
    throw err;
  }
  if (typeof (out as { then?: unknown } | null)?.then !== 'function') {
    settled();
    return out;
  }
  return (out as PromiseLike<unknown>).then(
    (v) => {
      settled();
      return v;
    },
    (err: unknown) => {
      settled();
      throw err;
    },
  ) as T;
}

/** Runs `fn` (and everything it schedules) outside any transaction's context. @internal */
export function outsideTx<T>(fn: () => T): T {
  return running.getStore() === undefined ? fn() : running.exit(fn);
}

/**
 * @internal For tests: how many transaction functions are open, and whether the context
 * storage is on (it is off whenever none is open, so no async hooks tax the process).
 */
export function txContextState(): { readonly open: number; readonly enabled: boolean } {
  return { open, enabled: (running as unknown as { enabled?: boolean }).enabled !== false };
}
