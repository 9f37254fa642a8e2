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
 * The store's own `ORDO_STORE_COMMIT_INDETERMINATE` (a synced commit refused after its WAL
 * write) is settled the same way at once: `committed` is applied to RAM before the commit
 * rejects, so the rows show it; `unknown` is not applied, so the rows say "not here" — the
 * store has failed, and what the disk holds is settled by its reopen (a claim that did land,
 * or a completion that did not, leaves its job `executing` under this runner's id: the next
 * runner's start-up reconciliation returns it, see reconcile.ts; a completion that did land is
 * final).
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
export interface ReplIndeterminateCommit {
  readonly code: 'ORDO_REPL_INDETERMINATE';
  readonly settled: Promise<CommitSettlement>;
  readonly msgId?: string;
}

/**
 * The part of `StoreCommitIndeterminateError` the runner relies on: a synced commit refused
 * after its WAL write. `committed` — durable and already applied to RAM (the rows show it);
 * `unknown` — not applied, maybe on disk (a reopen settles it). Either way the store has
 * failed: nothing more is written through this handle until it recovers or is reopened.
 */
export interface StoreIndeterminateCommit {
  readonly code: 'ORDO_STORE_COMMIT_INDETERMINATE';
  readonly outcome: 'committed' | 'unknown';
}

/** A commit that may have landed: replicated (settled later) or local (settled at once by the store). */
export type IndeterminateCommit = ReplIndeterminateCommit | StoreIndeterminateCommit;

/** Whether `err` is the store's `ORDO_STORE_COMMIT_INDETERMINATE`. */
export function isStoreIndeterminate(err: unknown): err is StoreIndeterminateCommit {
  const e = err as { code?: unknown; outcome?: unknown } | undefined;
  return e?.code === 'ORDO_STORE_COMMIT_INDETERMINATE' && (e.outcome === 'committed' || e.outcome === 'unknown');
}

/** Whether `err` says the commit's outcome is unknown (it may have landed). */
export function isIndeterminate(err: unknown): err is IndeterminateCommit {
  if (isStoreIndeterminate(err)) return true;
  const e = err as { code?: unknown; settled?: unknown } | undefined;
  return e?.code === 'ORDO_REPL_INDETERMINATE' && typeof (e.settled as Promise<unknown> | undefined)?.then === 'function';
}

/** How long the runner waits for a settlement before it reads the rows back (the replicator settles within its 120 s duplicate window plus its settle timeout). */
export const SETTLE_WAIT_MS = 200_000;
/** After a `committed` settlement: how long to wait for this node to apply the batch. */
export const APPLY_WAIT_MS = 30_000;

/** What a settlement says about a commit. */
export type Settled = 'committed' | 'lost' | 'unknown';

/** Waits for `err.settled`, at most `waitMs` (then `unknown`; also at once when `cut` aborts, its timer cleared). Never rejects. */
export async function settlementOf(env: Env, err: IndeterminateCommit, waitMs = SETTLE_WAIT_MS, cut?: AbortSignal): Promise<Settled> {
  // the store's own: `committed` is applied already; `unknown` is not in RAM (the rows read back say "not landed here")
  if (err.code === 'ORDO_STORE_COMMIT_INDETERMINATE') return err.outcome === 'committed' ? 'committed' : 'unknown';
  let timer: TimerHandle | undefined;
  let onCut: (() => void) | undefined;
  const timeout = new Promise<Settled>((resolve) => {
    timer = env.clock.setTimeout(() => resolve('unknown'), waitMs);
    if (cut) cut.addEventListener('abort', (onCut = () => resolve('unknown')), { once: true });
  });
  const settled = err.settled.then(
    (o): Settled => (o.committed === true ? 'committed' : o.committed === false ? 'lost' : 'unknown'),
    (): Settled => 'unknown',
  );
  try {
    return cut?.aborted ? 'unknown' : await Promise.race([settled, timeout]);
  } finally {
    env.clock.clearTimeout(timer);
    if (onCut) cut?.removeEventListener('abort', onCut);
  }
}

/** Resolves `true` once `pred()` holds (checked now and every `stepMs`), `false` after `waitMs` or once `cut` aborts. */
export async function until(env: Env, pred: () => boolean, waitMs = APPLY_WAIT_MS, stepMs = 20, cut?: AbortSignal): Promise<boolean> {
  const end = env.clock.now() + waitMs;
  while (!pred()) {
    if (env.clock.now() >= end || cut?.aborted) return false;
    await new Promise<void>((r) => env.clock.setTimeout(() => r(), stepMs));
  }
  return true;
}

/** Resolves `true` once `p` settles, `false` after `ms` (virtual clock), whichever is first. Never rejects. */
export async function within(env: Env, p: Promise<unknown>, ms: number): Promise<boolean> {
  let t: TimerHandle | undefined;
  const late = new Promise<boolean>((resolve) => (t = env.clock.setTimeout(() => resolve(false), ms)));
  const ok = await Promise.race([p.then(() => true, () => true), late]);
  env.clock.clearTimeout(t);
  return ok;
}
