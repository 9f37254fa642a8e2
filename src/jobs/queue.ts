/**
 * One queue on one node (Oban's producer): claims available jobs up to its concurrency limit,
 * runs them, and records each outcome in the store — with the worker's effects in the same
 * transaction. A store failure never throws out of here: claims are retried on the next poll,
 * finished outcomes are kept (their slot stays taken) and written again until the store takes
 * them. A commit whose outcome is unknown (`ORDO_REPL_INDETERMINATE`, or the store's
 * `ORDO_STORE_COMMIT_INDETERMINATE`) is settled first, never taken for "nothing written" (see
 * uncertain.ts).
 *
 * Claims and starts are {@link QueueCore}'s (queueCore.ts); this adds the outcomes, the drain
 * and the halt.
 *
 * @internal Built by the runner.
 */
import type { TimerHandle } from '../env/clock.ts';
import type { Tx } from '../store/index.ts';
import { leftoverStarted, leftoversOf, performEnded } from './leftovers.ts';
import { DRAIN_NOT_WRITTEN, lateEnded } from './lateOutcome.ts';
import { finish, finishMany, nextClaim, rescue, type Seen } from './engine.ts';
import { JobsCompletionLostError, JobsDrainDeadlineError, JobsHaltedError } from './errors.ts';
import { changeOf, isFailure, isSnooze } from './outcome.ts';
import { slotToken } from './slots.ts';
import type { Job, JobOutcome } from './types.ts';
import { isIndeterminate, isStoreIndeterminate } from './uncertain.ts';
import { DRAIN_GRACE_MS, type Finishing, type Running } from './queueTypes.ts';
import { QueueCore } from './queueCore.ts';

/** One queue on one node: {@link QueueCore}'s claims and starts, plus outcomes, drain and halt (see the file comment). */
export class Queue extends QueueCore {
  private finishing: Finishing[] = [];
  private finishScheduled = false;
  /** The drain's deadline passed: performs were aborted, and a failure they end with is the abort's (the job goes back to available). */
  private aborting = false;
  private retryTimer: TimerHandle | undefined;

  protected record(r: Running, o: JobOutcome): void {
    if (r.settled || r.stuck) return;
    if (this.aborting && isFailure(o)) {
      // the drain aborted it and it stopped: returned to available by the drain, attempt given
      // back — the abort came first, whatever the failure says (its own is logged)
      this.afterAbort(r, undefined, o);
      r.settled = true;
      r.returning = true;
      r.uncharged = true;
      return this.poke();
    }
    const { change, row, effects, state } = changeOf(this.env, this.workers, o);
    let final = state;
    const ch = (j: Job): Job => {
      const next = change(j);
      final = next.state;
      return next;
    };
    const write = (attempt: number): void => {
      if (this.running.get(r.token) !== r) return void (r.settled = true); // drained: returned to available
      const done = (res: 'done' | 'fenced'): void => {
        r.settled = true;
        if (res === 'done') this.hooks.finished(r.job, final, this.env.clock.now() - r.startedAt);
        this.poke();
      };
      const failed = (err: unknown): void => {
        // the outcome is kept and written again: the job is not lost, its slot stays taken
        r.carried = false;
        this.hooks.storeFailed(`record ${r.job.id}`, err);
        if (this.stopped) {
          // the drain rescues it with the attempt charged: it ran and returned, its outcome is
          // refused (effects not applied) — but for a snooze, whose write would have given the
          // attempt back (a maxAttempts: 1 job that snoozed was discarded, though it never failed)
          r.settled = true;
          r.returning = true;
          r.uncharged = isSnooze(o);
          return this.poke();
        }
        this.env.clock.setTimeout(() => write(attempt + 1), Math.min(5000, 50 * 2 ** Math.min(attempt, 7)));
      };
      if (effects) {
        // effects get their own transaction (a worker's throw there fails only its own job)
        r.carried = r.performDone && this.globalLimit !== undefined;
        const release = r.carried ? [r.token] : [];
        const next = this.globalLimit === undefined ? undefined : nextClaim(this.store, this.name, 0, this.by, this.env.clock.now(), this.slots(release));
        const seen: Seen<'done' | 'fenced'> = {};
        // the worker's effects threw (nothing written): a failure of this job, not of the store —
        // written as the attempt's failure, without effects (else the same throw on every retry)
        let threw: { err: unknown } | undefined;
        const guarded = (tx: Tx): void => {
          try {
            effects(tx);
          } catch (err) {
            threw = { err };
            throw err;
          }
        };
        this.track(
          this.serial(() => finish(this.store, r.job, ch, guarded, next, seen)).then(
            (res) => {
              this.hooks.storeOk();
              done(res);
              this.release(r);
            },
            async (err) => {
              if (threw) {
                r.carried = false;
                return this.record(r, { error: threw.err });
              }
              if (!isIndeterminate(err)) return failed(err);
              const ended = await this.settle.finished(`record ${r.job.id}`, err, [r], release);
              if (ended[0]) {
                done(ended[0]);
                this.release(r);
              } else failed(err);
            },
          ),
        );
        return;
      }
      // `row` writes the outcome's own state (`final` stays `state`)
      this.finishing.push({ r, change: ch, row, done, failed });
      if (!this.finishScheduled) {
        this.finishScheduled = true;
        queueMicrotask(() => this.flushFinishing());
      }
    };
    write(0);
  }

  private flushFinishing(): void {
    this.finishScheduled = false;
    if (this.halted) return;
    const batch = this.finishing;
    this.finishing = [];
    if (batch.length > 0) this.track(this.finishBatch(batch, true));
  }

  /**
   * Writes the outcomes of one turn in one transaction, which also claims the next jobs into the
   * slots these outcomes free (one commit per turn instead of a completion and a claim). If the
   * shared transaction fails, each outcome is written alone, so one bad item never fails its
   * neighbours.
   */
  private async finishBatch(batch: readonly Finishing[], claimNext: boolean): Promise<void> {
    const carried = batch.filter((b) => b.r.performDone);
    for (const b of carried) b.r.carried = true;
    let release: string[] = [];
    let taking: readonly string[] = [];
    const seen: Seen<{ results: Array<'done' | 'fenced'>; claimed: Job[] }> = {};
    let out: { results: Array<'done' | 'fenced' | undefined>; claimed: Job[] };
    let unsettled: unknown;
    try {
      out = await this.serial(() => {
        release = [...carried.map((b) => b.r.token), ...this.takeReleases()];
        const want = claimNext && !this.stopped && !this.paused ? Math.max(0, Math.min(carried.length, this.limit - (this.running.size - carried.length) - this.reserved - this.offered - this.uncertain)) : 0;
        const next = want > 0 || this.globalLimit !== undefined ? nextClaim(this.store, this.name, want, this.by, this.env.clock.now(), this.slots(release), this.taking) : undefined;
        taking = this.take(next?.candidates ?? []);
        return finishMany(this.store, batch.map((b) => ({ claimed: b.r.job, change: b.change, row: b.row })), next, seen);
      });
      this.hooks.storeOk();
    } catch (err) {
      if (isIndeterminate(err)) {
        // it may have landed: settle it, then act on what the store holds
        const claimed = seen.value?.claimed ?? [];
        this.uncertain += claimed.length;
        const results = await this.settle.finished(`complete ${this.name}`, err, batch.map((b) => b.r), release, claimed);
        this.uncertain -= claimed.length;
        const got = results.some((x) => x !== undefined) ? claimed.filter((j) => this.settle.mine(j)) : [];
        this.giveBackLater(claimed.filter((j) => !got.includes(j)).map(slotToken));
        // not shown yet is not proof of not landed (this node may apply it later)
        this.settle.watch(claimed.filter((j) => !got.includes(j)));
        out = { results, claimed: got };
        // the store's own unknown: not written here, maybe on disk (its reopen settles it)
        if (isStoreIndeterminate(err)) unsettled = err;
      } else {
        this.untake(taking);
        this.giveBackLater(release);
        for (const b of batch) b.r.carried = false;
        if (batch.length === 1) return batch[0]!.failed(err);
        await Promise.all(batch.map((b) => this.finishBatch([b], false)));
        return;
      }
    }
    this.untake(taking);
    batch.forEach((b, i) => {
      const res = out.results[i];
      if (res) return b.done(res);
      b.r.carried = false;
      b.failed(unsettled ?? new JobsCompletionLostError(b.r.job.id, b.r.job.attempt));
    });
    // the carried slots pass to the jobs claimed in the same commit; the others free when their perform ends
    for (const b of batch) if (b.r.carried && b.r.settled) this.free(b.r);
    if (this.stopped) await this.giveBack(out.claimed);
    else for (const j of out.claimed) this.start(j);
    for (const b of batch) if (!b.r.carried) this.release(b.r);
    this.poke();
    this.dispatch();
  }

  /** Aborts the local attempt of `id` (a cancel from any node). */
  abortJob(id: string, reason: unknown): boolean {
    let found = false;
    for (const r of this.running.values()) {
      if (r.job.id !== id) continue;
      r.abort.abort(reason);
      found = true;
    }
    return found;
  }

  /** Polls again after `ms` (the fallback when notifications may be missing, and after a store error). */
  pollIn(ms: number): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    this.retryTimer = this.env.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.dispatch();
    }, ms);
  }

  /** Nothing in flight (claims, writes) and every perform of this queue ended with its outcome settled. */
  private idle(): boolean {
    if (this.claiming || this.flushes.size > 0 || this.finishing.length > 0) return false;
    for (const r of this.running.values()) if (!r.performDone || !r.settled) return false;
    return true;
  }

  /** Resolves once {@link Queue.idle} holds, at `at` (virtual clock), or when `cut` aborts. */
  private async idleBy(at: number, cut?: AbortSignal): Promise<void> {
    if (this.idle() || cut?.aborted) return;
    await new Promise<void>((resolve) => {
      const end = (): void => {
        this.env.clock.clearTimeout(t);
        this.drainWaiters.delete(done);
        cut?.removeEventListener('abort', end);
        resolve();
      };
      const done = (): void => void (this.idle() && end());
      const t = this.env.clock.setTimeout(end, Math.max(0, at - this.env.clock.now()));
      this.drainWaiters.add(done);
      cut?.addEventListener('abort', end);
    });
  }

  /**
   * Stops claiming and waits up to `deadlineMs` for running jobs. Then (Oban's shutdown) it aborts
   * every perform still running and gives them {@link DRAIN_GRACE_MS} to end: the jobs whose
   * perform has ended go back to `available` in one transaction — attempt given back for those
   * the abort ended (stopping is not the job's failure) and for a snooze whose write the store
   * refused (a snooze never charges), charged for those that returned another outcome whose
   * write the store refused (they ran; `maxAttempts` counts them, as Oban's lifeline does); a
   * perform still running after that leaves its job `executing`, owned
   * by this runner, for the lifeline to rescue once this runner is gone from membership (it keeps
   * its global slot until then) — never run twice at once. A runner restarted in this process
   * keeps the runner id while such a perform runs (`leftovers.ts`), and no drain of that id
   * drops its slots until it ends. `cut` aborted (the runner was killed) ends the wait for
   * running jobs at once, as the deadline would. Resolves with how many were returned.
   */
  async drain(deadlineMs: number, cut?: AbortSignal): Promise<number> {
    this.stopped = true;
    this.env.clock.clearTimeout(this.retryTimer);
    await this.idleBy(this.env.clock.now() + deadlineMs, cut);
    if (!this.idle()) {
      this.aborting = true;
      for (const r of this.running.values()) if (!r.performDone) r.abort.abort(new JobsDrainDeadlineError(r.job.id, deadlineMs));
      await this.idleBy(this.env.clock.now() + DRAIN_GRACE_MS);
    }
    const left = [...this.running.values()];
    this.running.clear();
    const stuck = left.filter((r) => !r.performDone);
    const ended = left.filter((r) => r.performDone);
    // ended by the abort (or a snooze not written): given back uncharged; ended with another outcome not written: it ran, charged
    for (const r of ended) performEnded(this.store, this.by, r.token, r.uncharged === true);
    const unattempted = new Set(ended.filter((r) => r.uncharged).map((r) => r.job));
    for (const r of stuck) {
      r.stuck = true;
      leftoverStarted(this.store, this.by, r.token);
      this.env.logger.warn(
        { report: 'jobs_perform_ignored_abort', queue: this.name, job: r.job.id, worker: r.job.worker, attempt: r.job.attempt, runner: this.by },
        'a perform still runs past shutdownMs and its abort: its job stays executing for the lifeline to rescue once this runner is gone',
      );
    }
    // this runner's global slots go with it, but for those of performs still running
    const tokens = [...this.pendingRelease, ...ended.map((r) => r.token)];
    this.pendingRelease.clear();
    const g = this.globalLimit;
    const keep = stuck.length > 0 || leftoversOf(this.store, this.by) > 0;
    const drop = g === undefined || keep ? undefined : { runners: new Set([this.by]), queues: [this.name] };
    const release = g === undefined || !keep ? undefined : { queue: this.name, by: this.by, slots: { limit: g, release: tokens } };
    if (ended.length === 0 && !drop && !(release && tokens.length > 0)) return 0;
    const seen: Seen<number> = {};
    try {
      return await rescue(this.store, ended.map((r) => r.job), this.env.clock.now(), DRAIN_NOT_WRITTEN, (j) => unattempted.has(j), drop, release, seen);
    } catch (err) {
      this.hooks.storeFailed(`drain ${this.name}`, err);
      // refused after its WAL write but durable and applied: they are back in available
      if (isStoreIndeterminate(err) && err.outcome === 'committed') return seen.value ?? 0;
      // still executing in the store: the next start under this id (reconcile.ts) or the lifeline returns them (never lost)
      return 0;
    }
  }

  /** A perform the drain left running has ended with `o`: its outcome is written as it says (lateOutcome.ts). */
  protected lateEnd(r: Running, o: JobOutcome): void {
    lateEnded({ env: this.env, store: this.store, by: this.by, queue: this.name, globalLimit: this.globalLimit, workers: this.workers, halted: this.halted, counted: this.hooks.lateEnded }, r, o);
  }

  /** Simulation only: the process died — forget everything, write nothing. */
  halt(): void {
    this.stopped = true;
    this.halted = true;
    this.env.clock.clearTimeout(this.retryTimer);
    for (const r of this.running.values()) {
      r.abort.abort(new JobsHaltedError(r.job.id));
      performEnded(this.store, this.by, r.token);
    }
    this.running.clear();
  }
}
