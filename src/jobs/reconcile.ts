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
 * is charged, as the lifeline would. The same for a perform a drain of this id saw end whose
 * give-back did not commit (leftovers.ts): stopping is not the job's failure.
 *
 * **Late claims.** A claim of unknown outcome that lands *after* its runner stopped (a replicated
 * batch this node applies later) shows as a row `executing` under the id while a later runner of
 * that id runs: the {@link Reconciler} of the runner running then returns it at once, attempt
 * given back, fenced by the attempt — the duty is the process's (leftovers.ts), not that of the
 * runner object that made the claim.
 *
 * @internal Built by the runner.
 */
import type { Env } from '../env/env.ts';
import type { Store } from '../store/index.ts';
import { executingByRunner, rescue, type SlotRelease } from './engine.ts';
import { claimSettled, claimsNeverStarted, lateDuties, lateSettled, performsInFlight, returning, type LateResult } from './leftovers.ts';
import { settleLate } from './lateOutcome.ts';
import { slotToken, tokensHeldBy } from './slots.ts';
import { JOB_TABLES, toJob } from './tables.ts';
import type { Job } from './types.ts';
import { isStoreIndeterminate } from './uncertain.ts';

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
  // a late outcome left to settle is written by the Reconciler as the worker said (lateOutcome.ts), not reconciled
  const late = new Set(lateDuties(store, self).map((d) => d.token));
  const jobs = (executingByRunner(store).get(self) ?? []).filter((j) => !running.has(slotToken(j)) && !late.has(slotToken(j)));
  const releases: SlotRelease[] = [];
  for (const [queue, tokens] of tokensHeldBy(store, self)) {
    const stale = tokens.filter((t) => !running.has(t));
    // the limit plays no part in a release that claims nothing
    if (stale.length > 0) releases.push({ queue, by: self, slots: { limit: tokens.length, release: stale } });
  }
  const never = claimsNeverStarted(store, self);
  const ended = returning(store, self);
  const unstarted = new Set(jobs.map(slotToken).filter((t) => never.has(t) || ended.has(t)));
  return jobs.length > 0 || releases.length > 0 ? { jobs, releases, unstarted, self } : undefined;
}

/** Writes `r` (one transaction); resolves with how many jobs went back. */
export async function reconcile(store: Store, r: Reconcile, now: number): Promise<number> {
  const n = await rescue(store, r.jobs, now, RECONCILED, (j) => r.unstarted.has(slotToken(j)), undefined, r.releases);
  for (const t of r.unstarted) claimSettled(store, r.self, t);
  return n;
}

/** Whether runner `self`'s attempt holding slot `token` is still `executing` in the store (RAM). */
export function stillOut(store: Store, self: string, token: string): boolean {
  const row = store.get(JOB_TABLES.jobs, token.slice(0, token.lastIndexOf('#')));
  if (!row || row['state'] !== 'executing' || row['attemptedBy'] !== self) return false;
  return slotToken(toJob(row)) === token;
}

/** What a {@link Reconciler} needs of its runner. */
export interface ReconcilerHost {
  readonly env: Env;
  readonly store: Store;
  /** The runner id. */
  readonly self: string;
  storeFailed(operation: string, err: unknown): void;
  storeOk(): void;
  /** `n` jobs went back to available (or discarded); `queues` may claim them. */
  returned(n: number, queues: ReadonlySet<string>): void;
  /** A late outcome handed to this runner id ended so (lateOutcome.ts). */
  lateEnded(result: LateResult, queue: string): void;
}

/**
 * A runner's reconciliations: the one at start ({@link toReconcile}), each late claim, and each
 * late outcome of unknown outcome (or refused) handed to its runner id (lateOutcome.ts). One at
 * a time; one the store refuses stays pending for {@link Reconciler.run} to retry (the runner's
 * poll). Late outcomes settle each on its own (a settlement can take minutes), until
 * {@link Reconciler.stop}; one left unsettled stays for the next runner of the id.
 */
export class Reconciler {
  private readonly h: ReconcilerHost;
  private readonly pending: Array<{ r: Reconcile; late: boolean }> = [];
  private running = false;
  /** Late outcomes being settled now, by slot token. */
  private readonly settling = new Set<string>();
  private readonly cut = new AbortController();

  constructor(h: ReconcilerHost) {
    this.h = h;
  }

  /** Whether something is left to write. */
  get due(): boolean {
    return this.pending.length > 0 || lateDuties(this.h.store, this.h.self).some((d) => !this.settling.has(d.token));
  }

  /** The runner stopped: late outcomes being settled are left (for the next runner of the id), their waits ended. */
  stop(): void {
    this.cut.abort();
  }

  /** Settles the late outcomes handed to this runner id that nothing settles now. */
  private settleLate(): void {
    const { env, store, self } = this.h;
    for (const d of lateDuties(store, self)) {
      if (this.cut.signal.aborted || this.settling.has(d.token)) continue;
      this.settling.add(d.token);
      void settleLate(env, store, d, this.cut.signal).then((res) => {
        this.settling.delete(d.token);
        if (res === undefined) return;
        if (typeof res === 'object') return this.h.storeFailed(`late outcome ${d.job.id}`, res.err);
        this.h.storeOk();
        lateSettled(store, self, d.token);
        env.logger.info({ report: 'jobs_late_outcome_settled', runner: self, job: d.job.id, attempt: d.job.attempt, result: res }, 'a late outcome of unknown outcome (or refused) is settled');
        this.h.lateEnded(res, d.job.queue);
        if (res === 'refused') this.h.returned(1, new Set([d.job.queue]));
      });
    }
  }

  /** Reads what the runner must return before its first claim. */
  atStart(): void {
    const r = toReconcile(this.h.store, this.h.self);
    if (r) this.pending.push({ r, late: false });
  }

  /**
   * A row `executing` under this runner's id was written (or is there now): if it is a claim of
   * unknown outcome this process never started a perform for, and not already settled by the
   * queue that made it, it is returned (attempt given back) and its slot released.
   */
  lateClaim(job: Job): void {
    const { store, self } = this.h;
    const never = claimsNeverStarted(store, self);
    if (never.size === 0) return; // the common case: one set lookup per claimed row, no token built
    const token = slotToken(job);
    if (!never.has(token)) return;
    // it runs after all (its claim was taken as this runner's once settled): not a claim nobody runs
    if (performsInFlight(store, self).has(token)) return claimSettled(store, self, token);
    if (this.pending.some((p) => p.r.jobs.some((j) => slotToken(j) === token))) return;
    // its global slot, if the queue has a limit (a release of a token not held frees nothing)
    const releases: SlotRelease[] = [{ queue: job.queue, by: self, slots: { limit: 1, release: [token] } }];
    this.pending.push({ r: { jobs: [job], releases, unstarted: new Set([token]), self }, late: true });
    void this.run();
  }

  /** Writes what is pending, one transaction each, in order; a store error leaves the rest for the next call. */
  async run(): Promise<void> {
    this.settleLate();
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const p = this.pending[0]!;
        try {
          this.done(p, await reconcile(this.h.store, p.r, this.h.env.clock.now()));
          this.h.storeOk();
        } catch (err) {
          this.h.storeFailed(p.late ? 'reconcile late claim' : 'reconcile', err);
          // committed: applied all the same (a retry would be fenced, but there is nothing left to do)
          if (!isStoreIndeterminate(err) || err.outcome !== 'committed') return;
          this.done(p, p.r.jobs.filter((j) => this.h.store.get(JOB_TABLES.jobs, j.id)?.['state'] !== 'executing').length);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private done(p: { r: Reconcile; late: boolean }, n: number): void {
    this.pending.splice(this.pending.indexOf(p), 1);
    const { r } = p;
    for (const t of r.unstarted) claimSettled(this.h.store, r.self, t);
    const jobs = r.jobs.map((j) => j.id);
    const slots = r.releases.reduce((a, x) => a + x.slots.release.length, 0);
    if (p.late) this.h.env.logger.warn({ report: 'jobs_uncertain_claim_applied', runner: r.self, jobs, returned: n }, 'a claim of unknown outcome of an earlier runner under this id was applied after it settled: its job is given back');
    else this.h.env.logger.warn({ report: 'jobs_reconciled_at_start', runner: r.self, jobs, returned: n, slots }, 'jobs executing under this runner id that nothing runs were returned at start');
    this.h.returned(n, new Set(r.jobs.map((j) => j.queue)));
  }
}
