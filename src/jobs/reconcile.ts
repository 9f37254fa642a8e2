/**
 * A runner's start-up reconciliation of its own rows. The runner id (`node/incarnation`) can
 * outlive a runner: in cluster mode the incarnation is discovery's, which persists across a
 * restart of the store child or of the runner, and a single-node runner restarted while a perform
 * its drain left still runs takes its old id again (leftovers.ts). Rows the store shows
 * `executing` under that id when a runner starts, that no perform of this process runs, belong to
 * nobody: a claim of unknown outcome that did land (it comes back through the store's WAL replay
 * at its reopen, never through a commit this runner saw), a completion that did not, a drain
 * whose give-back failed. The lifeline never rescues them — it counts its own runner as live —
 * so without this they would sit `executing` until `rescueAfterMs` (an hour by default).
 *
 * At start, before its first claim, the runner reads those rows and the global slots held under
 * its id, and in one transaction returns each job as the lifeline does (available, or discarded
 * when its attempts are used up; the attempt counts and an error entry says why: a perform may
 * have run), fenced by the attempt, and gives those slots back by token — so it applies once,
 * however often it is retried, and never touches a claim this runner makes afterwards.
 *
 * @internal Built by the runner.
 */
import type { Store } from '../store/index.ts';
import { executingByRunner, rescue, type SlotRelease } from './engine.ts';
import { leftoverTokens } from './leftovers.ts';
import { slotToken, tokensHeldBy } from './slots.ts';
import type { Job } from './types.ts';

/** Why a reconciled job went back (its error entry). */
export const RECONCILED = 'rescued: its runner restarted and no perform runs it (start-up reconciliation)';

/** What a runner reconciles at start: its orphaned rows and the slots they (or nothing) hold. */
export interface Reconcile {
  readonly jobs: readonly Job[];
  readonly releases: readonly SlotRelease[];
}

/** Reads (dirty, RAM) what runner `self` must reconcile on `store` before it claims anything. */
export function toReconcile(store: Store, self: string): Reconcile | undefined {
  const running = leftoverTokens(store, self);
  const jobs = (executingByRunner(store).get(self) ?? []).filter((j) => !running.has(slotToken(j)));
  const releases: SlotRelease[] = [];
  for (const [queue, tokens] of tokensHeldBy(store, self)) {
    const stale = tokens.filter((t) => !running.has(t));
    // the limit plays no part in a release that claims nothing
    if (stale.length > 0) releases.push({ queue, by: self, slots: { limit: tokens.length, release: stale } });
  }
  return jobs.length > 0 || releases.length > 0 ? { jobs, releases } : undefined;
}

/** Writes `r` (one transaction); resolves with how many jobs went back. */
export function reconcile(store: Store, r: Reconcile, now: number): Promise<number> {
  return rescue(store, r.jobs, now, RECONCILED, false, undefined, r.releases);
}
