/**
 * A runner's start-up reconciliation of its own rows. The runner id (`node/incarnation`) can
 * outlive a runner: in cluster mode the incarnation is discovery's, which persists across a
 * restart of the store child or of the runner, and a single-node runner restarted while a perform
 * its drain left still runs takes its old id again (leftovers.ts). A perform of that id still
 * running in this process — left by a drain, or of a runner whose child was killed rather than
 * drained — is never reconciled: its row and slot stay its own. Rows the store shows
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
 * One exception, as an Oban user expects: a claim this process knows it never started a perform
 * for — made by a commit of unknown outcome that did not show when it settled, and landed (the
 * store's reopen replays it) — is returned with its attempt given back and no error entry, so a
 * `maxAttempts: 1` job accepted by the store still runs once. A row this process has no such
 * knowledge of (a claim of an earlier process, a completion that did not land) may have run: it
 * is charged, as the lifeline would.
 *
 * @internal Built by the runner.
 */
import type { Store } from '../store/index.ts';
import { executingByRunner, rescue, type SlotRelease } from './engine.ts';
import { claimSettled, claimsNeverStarted, performsInFlight } from './leftovers.ts';
import { slotToken, tokensHeldBy } from './slots.ts';
import type { Job } from './types.ts';

/** Why a reconciled job went back (its error entry). */
export const RECONCILED = 'rescued: its runner restarted and no perform runs it (start-up reconciliation)';

/** What a runner reconciles at start: its orphaned rows and the slots they (or nothing) hold. */
export interface Reconcile {
  readonly jobs: readonly Job[];
  readonly releases: readonly SlotRelease[];
  /** Slot tokens of `jobs` whose claims this process never started a perform for (attempt given back). */
  readonly unstarted: ReadonlySet<string>;
  readonly self: string;
}

/** Reads (dirty, RAM) what runner `self` must reconcile on `store` before it claims anything. */
export function toReconcile(store: Store, self: string): Reconcile | undefined {
  const running = performsInFlight(store, self);
  const jobs = (executingByRunner(store).get(self) ?? []).filter((j) => !running.has(slotToken(j)));
  const releases: SlotRelease[] = [];
  for (const [queue, tokens] of tokensHeldBy(store, self)) {
    const stale = tokens.filter((t) => !running.has(t));
    // the limit plays no part in a release that claims nothing
    if (stale.length > 0) releases.push({ queue, by: self, slots: { limit: tokens.length, release: stale } });
  }
  const never = claimsNeverStarted(store, self);
  const unstarted = new Set(jobs.map(slotToken).filter((t) => never.has(t)));
  return jobs.length > 0 || releases.length > 0 ? { jobs, releases, unstarted, self } : undefined;
}

/** Writes `r` (one transaction); resolves with how many jobs went back. */
export async function reconcile(store: Store, r: Reconcile, now: number): Promise<number> {
  const n = await rescue(store, r.jobs, now, RECONCILED, (j) => r.unstarted.has(slotToken(j)), undefined, r.releases);
  for (const t of r.unstarted) claimSettled(store, r.self, t);
  return n;
}
