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

/** The transaction whose function this code runs in, if any. @internal */
export function runningTx(): RunningTx | undefined {
  return running.getStore();
}

/** Runs `fn` as the function of transaction `r`. @internal */
export function runAsTx<T>(r: RunningTx, fn: () => T): T {
  return running.run(r, fn);
}

/** Runs `fn` (and everything it schedules) outside any transaction's context. @internal */
export function outsideTx<T>(fn: () => T): T {
  return running.getStore() === undefined ? fn() : running.exit(fn);
}
