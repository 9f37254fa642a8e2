/**
 * Commits whose outcome is unknown. On replicated job tables a claim or a completion can end
 * with `ORDO_REPL_INDETERMINATE` (`ReplIndeterminateError`): the batch may be in the stream. It
 * is not a failure, so the runner never treats it as "nothing written" (that would give global
 * slots back a second time and leave the jobs it claimed `executing` under a live runner until
 * `rescueAfterMs`). It waits for the error's `settled` promise and then acts on the store:
 *
 * - **committed** — the batch is in the stream; this node applies it shortly after (the
 *   settlement is observed before the local apply), so the runner waits until its rows show it,
 *   then proceeds as committed (starts the jobs it claimed, counts the outcomes written);
 * - **not committed** — it can never land: as a failed commit (outcomes written again, slots
 *   given back by the next transaction, claimed jobs not started);
 * - **unknown**, or no settlement within {@link SETTLE_WAIT_MS} — the rows are read back by job
 *   id and the runner acts on what is there.
 *
 * Global slots are released by token (`slotToken`): whatever is not proven released is given
 * back again, which frees nothing twice.
 *
 * @internal
 */
import type { Env } from '../env/env.ts';
import type { TimerHandle } from '../env/clock.ts';
import type { CommitSettlement } from '../cluster/index.ts';

/** The part of `ReplIndeterminateError` the runner relies on. */
export interface IndeterminateCommit {
  readonly code: 'ORDO_REPL_INDETERMINATE';
  readonly settled: Promise<CommitSettlement>;
  readonly msgId?: string;
}

/** Whether `err` says the commit's outcome is unknown (it may have landed). */
export function isIndeterminate(err: unknown): err is IndeterminateCommit {
  const e = err as { code?: unknown; settled?: unknown } | undefined;
  return e?.code === 'ORDO_REPL_INDETERMINATE' && typeof (e.settled as Promise<unknown> | undefined)?.then === 'function';
}

/** How long the runner waits for a settlement before it reads the rows back (the replicator settles within its 120 s duplicate window plus its settle timeout). */
export const SETTLE_WAIT_MS = 200_000;
/** After a `committed` settlement: how long to wait for this node to apply the batch. */
export const APPLY_WAIT_MS = 30_000;

/** What a settlement says about a commit. */
export type Settled = 'committed' | 'lost' | 'unknown';

/** Waits for `err.settled`, at most `waitMs` (then `unknown`). Never rejects. */
export async function settlementOf(env: Env, err: IndeterminateCommit, waitMs = SETTLE_WAIT_MS): Promise<Settled> {
  let timer: TimerHandle | undefined;
  const timeout = new Promise<Settled>((resolve) => (timer = env.clock.setTimeout(() => resolve('unknown'), waitMs)));
  const settled = err.settled.then(
    (o): Settled => (o.committed === true ? 'committed' : o.committed === false ? 'lost' : 'unknown'),
    (): Settled => 'unknown',
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    env.clock.clearTimeout(timer);
  }
}

/** Resolves `true` once `pred()` holds (checked now and every `stepMs`), `false` after `waitMs`. */
export async function until(env: Env, pred: () => boolean, waitMs = APPLY_WAIT_MS, stepMs = 20): Promise<boolean> {
  const end = env.clock.now() + waitMs;
  while (!pred()) {
    if (env.clock.now() >= end) return false;
    await new Promise<void>((r) => env.clock.setTimeout(() => r(), stepMs));
  }
  return true;
}
