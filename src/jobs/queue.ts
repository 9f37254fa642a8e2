/**
 * One queue on one node (Oban's producer): claims available jobs up to its concurrency limit,
 * runs them, and records each outcome in the store — with the worker's effects in the same
 * transaction. A store failure never throws out of here: claims are retried on the next poll,
 * finished outcomes are kept (their slot stays taken) and written again until the store takes
 * them. A commit whose outcome is unknown (`ORDO_REPL_INDETERMINATE`, or the store's
 * `ORDO_STORE_COMMIT_INDETERMINATE`) is settled first, never taken for "nothing written" (see
 * uncertain.ts).
 *
 * @internal Built by the runner.
 */
import type { Env } from '../env/env.ts';
import type { TimerHandle } from '../env/clock.ts';
import type { Store } from '../store/index.ts';
import { leftoverEnded, leftoverStarted, leftoversOf } from './leftovers.ts';
import { availableOf, claim, finish, finishMany, nextClaim, rescue, type Seen } from './engine.ts';
import { JobsCompletionLostError, JobsDrainDeadlineError, JobsHaltedError, JobsTimeoutError, JobsUnknownWorkerError } from './errors.ts';
import { changeOf, isFailure } from './outcome.ts';
import { slotToken, type SlotsChange } from './slots.ts';
import type { Job, JobOutcome, WorkerDef } from './types.ts';
import { isIndeterminate, isStoreIndeterminate, type IndeterminateCommit } from './uncertain.ts';
import { QueueSettler } from './queueSettle.ts';
import { DRAIN_GRACE_MS, LazyAbort, type Finishing, type QueueHooks, type QueueOptions, type Running } from './queueTypes.ts';

export class Queue {
  readonly name: string;
  limit: number;
  paused: boolean;
  readonly globalLimit: number | undefined;
  /** Attempts running on this node, by slot token (a perform that outlived its timeout stays while its job runs again). */
  readonly running = new Map<string, Running>();
  private claiming = false;
  /** Slots the claim in flight may fill. */
  private reserved = 0;
  /** Slots of jobs a commit of unknown outcome may have claimed for this node. */
  private uncertain = 0;
  private claimInflight: Promise<void> | undefined;
  /** Global slots (tokens) to give back with the next transaction: performs that ended after their outcome was written, releases not proven committed. */
  private readonly pendingRelease = new Set<string>();
  private finishing: Finishing[] = [];
  private finishScheduled = false;
  private readonly flushes = new Set<Promise<void>>();
  private halted = false;
  private again = false;
  private stopped = false;
  /** The drain's deadline passed: performs were aborted, and a failure they end with is the abort's (the job goes back to available). */
  private aborting = false;
  private retryTimer: TimerHandle | undefined;
  private readonly drainWaiters = new Set<() => void>();
  private readonly env: Env;
  private readonly store: Store;
  private readonly by: string;
  private readonly workers: ReadonlyMap<string, WorkerDef<never>>;
  private readonly hooks: QueueHooks;

  constructor(env: Env, store: Store, by: string, workers: ReadonlyMap<string, WorkerDef<never>>, o: QueueOptions, hooks: QueueHooks) {
    this.env = env;
    this.store = store;
    this.by = by;
    this.workers = workers;
    this.hooks = hooks;
    this.name = o.name;
    this.limit = o.limit;
    this.paused = o.paused;
    this.globalLimit = o.globalLimit;
    this.settle = new QueueSettler({
      env, store, by, name: o.name, hooks,
      giveBackLater: (tokens) => this.giveBackLater(tokens),
      giveBack: (jobs) => this.track(this.giveBack(jobs)),
      isRunning: (token) => this.running.has(token),
    });
  }

  /** Settles this queue's commits of unknown outcome (queueSettle.ts). */
  private readonly settle: QueueSettler;

  private slots(release: readonly string[]): SlotsChange | undefined {
    return this.globalLimit === undefined ? undefined : { limit: this.globalLimit, release };
  }

  /** Takes every pending release for the transaction being built (never one a perform of this queue holds now). */
  private takeReleases(): string[] {
    if (this.globalLimit === undefined) return [];
    const held = new Set([...this.running.values()].filter((r) => !r.performDone || !r.settled).map((r) => r.token));
    const out = [...this.pendingRelease].filter((t) => !held.has(t));
    this.pendingRelease.clear();
    return out;
  }

  private giveBackLater(tokens: Iterable<string>): void {
    if (this.globalLimit === undefined) return;
    for (const t of tokens) this.pendingRelease.add(t);
  }

  /** Claims and starts jobs while there is room (and gives back ended global slots). Safe to call any time, as often as wanted. */
  dispatch(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    const free = this.paused ? 0 : Math.max(0, this.limit - this.running.size - this.offered - this.uncertain);
    if (free === 0 && (this.globalLimit === undefined || this.pendingRelease.size === 0)) return;
    const release = this.takeReleases();
    if (free === 0 && release.length === 0) return;
    this.claiming = true;
    this.again = false;
    this.reserved = free;
    let taking: readonly string[] = [];
    const seen: Seen<Job[]> = {};
    const claimed = (jobs: readonly Job[], ok: boolean): void => {
      this.untake(taking);
      this.claiming = false;
      this.reserved = 0;
      if (ok && (jobs.length > 0 || release.length > 0)) this.hooks.storeOk();
      this.poke();
      if (this.stopped) return void this.track(this.giveBack(jobs));
      for (const j of jobs) this.start(j);
      // more may be waiting: a full batch, or a notification that came while claiming
      if (this.again || (free > 0 && jobs.length === free)) this.dispatch();
    };
    this.claimInflight = this.serial(() => {
      const c = nextClaim(this.store, this.name, free, this.by, this.env.clock.now(), this.slots(release), this.taking);
      taking = this.take(c.candidates);
      return claim(this.store, c, seen);
    }).then(
      (jobs) => claimed(jobs, true),
      async (err) => {
        if (isIndeterminate(err)) {
          // the claim may have landed: settle it before giving anything back
          const jobs = await this.settle.claimed(`claim ${this.name}`, err, seen.value ?? [], release);
          return claimed(jobs, false);
        }
        this.untake(taking);
        this.claiming = false;
        this.reserved = 0;
        this.giveBackLater(release);
        this.hooks.storeFailed(`claim ${this.name}`, err);
        this.poke();
      },
    );
  }

  /** A job row was written `executing` (any commit, local or replicated): gives back a claim of ours nobody runs (see {@link QueueSettler.executingSeen}). */
  executingSeen(row: Job): void {
    this.settle.executingSeen(row);
  }

  /** An insert that stored `job` claimed by this runner ended with an unknown outcome (see {@link QueueSettler.inserted}). */
  settleInserted(err: IndeterminateCommit, job: Job, now: number): Promise<Job | undefined> {
    return this.settle.inserted(err, job, now);
  }

  /** Slots promised to inserts in flight that claim their job directly (see {@link Queue.offer}). */
  private offered = 0;

  /**
   * How many jobs enqueued now on this node may be stored already claimed by it (at most
   * `want`): free slots, not paused, no global limit, and nothing available waiting ahead of
   * them. Reserves those slots; {@link Queue.accept} settles each.
   */
  offer(want: number): number {
    if (this.stopped || this.paused || this.globalLimit !== undefined) return 0;
    const n = Math.min(want, this.limit - this.running.size - this.reserved - this.offered - this.uncertain);
    if (n <= 0 || availableOf(this.store, this.name, 1).length > 0) return 0;
    this.offered += n;
    return n;
  }

  /** Settles one slot of an {@link Queue.offer}: starts the job if its insert claimed it for this runner, else frees the slot. */
  accept(inserted: Promise<Job | undefined>): void {
    this.track(
      inserted.then(async (job) => {
        this.offered--;
        this.poke();
        if (job && job.state === 'executing' && job.attemptedBy === this.by && job.attempt === 1) {
          if (this.stopped) return this.giveBack([job]);
          this.start(job);
        } else this.dispatch();
      }),
    );
  }

  /** Candidates a claim of this node has in flight (the next claim skips them). */
  private readonly taking = new Set<string>();
  private take(ids: readonly string[]): readonly string[] {
    for (const id of ids) this.taking.add(id);
    return ids;
  }
  private untake(ids: readonly string[]): void {
    for (const id of ids) this.taking.delete(id);
  }

  private lane: Promise<unknown> = Promise.resolve();
  /**
   * With a global limit every transaction of the queue reads and writes its slots row: run them
   * one at a time on this node (concurrent ones would only conflict and wait for each other).
   */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    if (this.globalLimit === undefined) return f();
    const p = this.lane.then(f, f);
    this.lane = p.catch(() => undefined);
    return p;
  }

  /** Claimed while stopping: given back at once (attempt returned), never orphaned. */
  private async giveBack(jobs: readonly Job[]): Promise<void> {
    if (this.halted || jobs.length === 0) return;
    const release = this.globalLimit === undefined ? undefined : { queue: this.name, by: this.by, slots: { limit: this.globalLimit, release: jobs.map(slotToken) } };
    await rescue(this.store, jobs, this.env.clock.now(), 'shutdown', true, undefined, release).catch((err) => this.hooks.storeFailed(`drain ${this.name}`, err));
  }

  private start(job: Job): void {
    const token = slotToken(job);
    if (this.stopped || this.running.has(token)) return;
    const worker = this.workers.get(job.worker);
    const abort = new LazyAbort();
    const r: Running = { job, token, abort, startedAt: this.env.clock.now(), settled: false, performDone: false, carried: false, stuck: false, returning: false };
    this.running.set(token, r);
    this.hooks.started(job, r.startedAt - Math.max(job.scheduledAt, job.insertedAt));
    let timer: TimerHandle | undefined;
    const timeoutMs = job.timeoutMs ?? worker?.timeoutMs;
    const outcome = new Promise<JobOutcome>((resolve) => {
      if (timeoutMs !== undefined) {
        timer = this.env.clock.setTimeout(() => {
          const e = new JobsTimeoutError(job.id, timeoutMs);
          abort.abort(e);
          resolve({ error: e });
        }, timeoutMs);
      }
      if (!worker) return resolve({ error: new JobsUnknownWorkerError(job.worker) });
      let p: Promise<JobOutcome>;
      try {
        p = Promise.resolve(worker.perform(job.args as never, abort.contextOf(job as Job<never>)));
      } catch (err) {
        p = Promise.reject(err);
      }
      const performed = p.then(resolve, (err) => resolve({ error: err }));
      // the slot is held until perform itself settles, even past a timeout: never more than
      // `limit` performs of this queue run at once
      void performed.finally(() => {
        this.env.clock.clearTimeout(timer);
        r.performDone = true;
        if (r.stuck) return void this.lateEnd(r);
        this.release(r);
        this.poke();
      });
    });
    void outcome.then((o) => this.record(r, o));
  }

  /** Frees `r`'s slot once its outcome is written and its perform has ended. */
  private release(r: Running): void {
    if (!r.settled || !r.performDone || r.returning) return;
    if (!this.free(r)) return;
    this.poke();
    this.dispatch();
  }

  private free(r: Running): boolean {
    if (this.running.get(r.token) !== r) return false;
    this.running.delete(r.token);
    // a slot whose outcome transaction did not carry it is given back by the next one
    if (!r.carried) this.giveBackLater([r.token]);
    return true;
  }

  private poke(): void {
    for (const w of this.drainWaiters) w();
  }

  private record(r: Running, o: JobOutcome): void {
    if (r.settled || r.stuck) return;
    if (this.aborting && isFailure(o)) {
      // the drain aborted it and it stopped: returned to available by the drain, attempt given back
      r.settled = true;
      r.returning = true;
      return this.poke();
    }
    const { change, effects, state } = changeOf(this.env, this.workers, o);
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
          // the drain returns it to available (attempt given back)
          r.settled = true;
          r.returning = true;
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
        this.track(
          this.serial(() => finish(this.store, r.job, ch, effects, next, seen)).then(
            (res) => {
              this.hooks.storeOk();
              done(res);
              this.release(r);
            },
            async (err) => {
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
      this.finishing.push({ r, change: ch, done, failed });
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

  private track(p: Promise<void>): void {
    this.flushes.add(p);
    void p.finally(() => {
      this.flushes.delete(p);
      this.poke();
    });
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
        return finishMany(this.store, batch.map((b) => ({ claimed: b.r.job, change: b.change })), next, seen);
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

  /** Resolves once {@link Queue.idle} holds or at `at` (virtual clock). */
  private async idleBy(at: number): Promise<void> {
    if (this.idle()) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        if (!this.idle()) return;
        this.env.clock.clearTimeout(t);
        this.drainWaiters.delete(done);
        resolve();
      };
      const t = this.env.clock.setTimeout(() => {
        this.drainWaiters.delete(done);
        resolve();
      }, Math.max(0, at - this.env.clock.now()));
      this.drainWaiters.add(done);
    });
  }

  /**
   * Stops claiming and waits up to `deadlineMs` for running jobs. Then (Oban's shutdown) it aborts
   * every perform still running and gives them {@link DRAIN_GRACE_MS} to end: the jobs whose
   * perform has ended go back to `available` in one transaction, attempt given back (stopping is
   * not the job's failure); a perform still running after that leaves its job `executing`, owned
   * by this runner, for the lifeline to rescue once this runner is gone from membership (it keeps
   * its global slot until then) — never run twice at once. A runner restarted in this process
   * keeps the runner id while such a perform runs (`leftovers.ts`), and no drain of that id
   * drops its slots until it ends. Resolves with how many were returned.
   */
  async drain(deadlineMs: number): Promise<number> {
    this.stopped = true;
    this.env.clock.clearTimeout(this.retryTimer);
    await this.idleBy(this.env.clock.now() + deadlineMs);
    if (!this.idle()) {
      this.aborting = true;
      for (const r of this.running.values()) if (!r.performDone) r.abort.abort(new JobsDrainDeadlineError(r.job.id, deadlineMs));
      await this.idleBy(this.env.clock.now() + DRAIN_GRACE_MS);
    }
    const left = [...this.running.values()];
    this.running.clear();
    const stuck = left.filter((r) => !r.performDone);
    const ended = left.filter((r) => r.performDone);
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
      return await rescue(this.store, ended.map((r) => r.job), this.env.clock.now(), 'shutdown', true, drop, release, seen);
    } catch (err) {
      this.hooks.storeFailed(`drain ${this.name}`, err);
      // refused after its WAL write but durable and applied: they are back in available
      if (isStoreIndeterminate(err) && err.outcome === 'committed') return seen.value ?? 0;
      // still executing in the store: the next start under this id (reconcile.ts) or the lifeline returns them (never lost)
      return 0;
    }
  }

  /** A perform the drain left running has ended: its job goes back to available (if still its attempt) and its slot is given back. */
  private lateEnd(r: Running): void {
    // the store may have been reopened since: the handle a runner of this id runs on now
    const store = leftoverEnded(this.store, this.by, r.token);
    if (this.halted) return;
    const release = this.globalLimit === undefined ? undefined : { queue: this.name, by: this.by, slots: { limit: this.globalLimit, release: [r.token] } };
    rescue(store, r.settled && !r.returning ? [] : [r.job], this.env.clock.now(), 'shutdown', true, undefined, release).then(
      (n) => this.env.logger.info({ report: 'jobs_late_perform_ended', queue: this.name, job: r.job.id, returned: n }, 'a perform left running at shutdown has ended'),
      (err) => this.env.logger.warn({ report: 'jobs_late_perform_ended', queue: this.name, job: r.job.id, err }, 'a perform left running at shutdown has ended; its job is left to the lifeline'),
    );
  }

  /** Simulation only: the process died — forget everything, write nothing. */
  halt(): void {
    this.stopped = true;
    this.halted = true;
    this.env.clock.clearTimeout(this.retryTimer);
    for (const r of this.running.values()) r.abort.abort(new JobsHaltedError(r.job.id));
    this.running.clear();
  }
}
