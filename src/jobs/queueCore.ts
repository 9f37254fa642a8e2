/**
 * The claiming half of one queue on one node (Oban's producer): claims available jobs up to its
 * concurrency limit (and within the global one), stores jobs enqueued here already claimed when
 * it has room, and starts each claimed job's perform. Recording outcomes, the drain and the
 * halt are {@link Queue}'s (queue.ts), which extends this. Split out of queue.ts.
 *
 * @internal Built by the runner, through Queue.
 */
import type { Env } from '../env/env.ts';
import type { TimerHandle } from '../env/clock.ts';
import type { Store } from '../store/index.ts';
import { availableOf, claim, errorEntry, nextClaim, rescue, type ClaimNext, type Seen } from './engine.ts';
import { JobsTimeoutError, JobsUnknownWorkerError } from './errors.ts';
import { slotToken, type SlotsChange } from './slots.ts';
import { performEnded, performStarted } from './leftovers.ts';
import type { Job, JobOutcome, WorkerDef } from './types.ts';
import { isIndeterminate, type IndeterminateCommit } from './uncertain.ts';
import { QueueSettler } from './queueSettle.ts';
import { checkedOutcome, isFailure } from './outcome.ts';
import { LazyAbort, type QueueHooks, type QueueOptions, type Running } from './queueTypes.ts';

/** A settled promise: `NOW.then(f)` runs `f` a microtask later (no AsyncResource per call, as `queueMicrotask` makes). */
const NOW: Promise<void> = Promise.resolve();

/** One queue's state, its claims and its starts (see the file comment). */
export abstract class QueueCore {
  readonly name: string;
  limit: number;
  paused: boolean;
  readonly globalLimit: number | undefined;
  /** Attempts running on this node, by slot token (a perform that outlived its timeout stays while its job runs again). */
  readonly running = new Map<string, Running>();
  protected claiming = false;
  /** Slots the claim in flight may fill. */
  protected reserved = 0;
  /** Slots of jobs a commit of unknown outcome may have claimed for this node. */
  protected uncertain = 0;
  protected claimInflight: Promise<void> | undefined;
  /** Global slots (tokens) to give back with the next transaction: performs that ended after their outcome was written, releases not proven committed. */
  protected readonly pendingRelease = new Set<string>();
  protected readonly flushes = new Set<Promise<void>>();
  protected halted = false;
  protected again = false;
  protected stopped = false;
  protected readonly drainWaiters = new Set<() => void>();
  protected readonly env: Env;
  protected readonly store: Store;
  protected readonly by: string;
  protected readonly workers: ReadonlyMap<string, WorkerDef<never>>;
  protected readonly hooks: QueueHooks;

  /** Records attempt `r`'s outcome (queue.ts). */
  protected abstract record(r: Running, o: JobOutcome): void;
  /** A perform the drain left running has ended (queue.ts). */
  protected abstract lateEnd(r: Running, o: JobOutcome): void;

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
    });
  }

  /** Settles this queue's commits of unknown outcome (queueSettle.ts). */
  protected readonly settle: QueueSettler;

  protected slots(release: readonly string[]): SlotsChange | undefined {
    return this.globalLimit === undefined ? undefined : { limit: this.globalLimit, release };
  }

  /** Takes every pending release for the transaction being built (never one a perform of this queue holds now). */
  protected takeReleases(): string[] {
    if (this.globalLimit === undefined) return [];
    const held = new Set([...this.running.values()].filter((r) => !r.performDone || !r.settled).map((r) => r.token));
    const out = [...this.pendingRelease].filter((t) => !held.has(t));
    this.pendingRelease.clear();
    return out;
  }

  protected giveBackLater(tokens: Iterable<string>): void {
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
    let c: ClaimNext | undefined;
    const seen: Seen<Job[]> = {};
    const claimed = (jobs: readonly Job[], ok: boolean): void => {
      this.untake(taking);
      this.claiming = false;
      this.reserved = 0;
      if (ok && (jobs.length > 0 || release.length > 0)) this.hooks.storeOk();
      this.poke();
      if (this.stopped) return void this.track(this.giveBack(jobs));
      for (const j of jobs) this.start(j);
      // more may be waiting: a full batch, a notification that came while claiming, or a
      // short one whose candidates (as many as it wanted) were partly taken by another claim
      const short = ok && jobs.length < free && (c?.taken ?? 0) > 0 && c!.candidates.length >= free;
      if (this.again || (free > 0 && jobs.length === free) || short) this.dispatch();
    };
    this.claimInflight = this.serial(() => {
      c = nextClaim(this.store, this.name, free, this.by, this.env.clock.now(), this.slots(release), this.taking);
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

  /** An insert that stored `job` claimed by this runner ended with an unknown outcome (see {@link QueueSettler.inserted}). */
  settleInserted(err: IndeterminateCommit, job: Job, now: number): Promise<Job | undefined> {
    return this.settle.inserted(err, job, now);
  }

  /** Slots promised to inserts in flight that claim their job directly (see {@link Queue.offer}). */
  protected offered = 0;

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
  protected readonly taking = new Set<string>();
  protected take(ids: readonly string[]): readonly string[] {
    for (const id of ids) this.taking.add(id);
    return ids;
  }
  protected untake(ids: readonly string[]): void {
    for (const id of ids) this.taking.delete(id);
  }

  protected lane: Promise<unknown> = Promise.resolve();
  /**
   * With a global limit every transaction of the queue reads and writes its slots row: run them
   * one at a time on this node (concurrent ones would only conflict and wait for each other).
   */
  protected serial<T>(f: () => Promise<T>): Promise<T> {
    if (this.globalLimit === undefined) return f();
    const p = this.lane.then(f, f);
    this.lane = p.catch(() => undefined);
    return p;
  }

  /** Claimed while stopping: given back at once (attempt returned), never orphaned. */
  protected async giveBack(jobs: readonly Job[]): Promise<void> {
    if (this.halted || jobs.length === 0) return;
    const release = this.globalLimit === undefined ? undefined : { queue: this.name, by: this.by, slots: { limit: this.globalLimit, release: jobs.map(slotToken) } };
    await rescue(this.store, jobs, this.env.clock.now(), 'shutdown', true, undefined, release).catch((err) => this.hooks.storeFailed(`drain ${this.name}`, err));
  }

  protected start(job: Job): void {
    const token = slotToken(job);
    if (this.stopped || this.running.has(token)) return;
    const worker = this.workers.get(job.worker);
    const abort = new LazyAbort();
    const r: Running = { job, token, abort, startedAt: this.env.clock.now(), settled: false, performDone: false, carried: false, stuck: false, returning: false };
    this.running.set(token, r);
    performStarted(this.store, this.by, token);
    this.hooks.started(job, r.startedAt - Math.max(job.scheduledAt, job.insertedAt));
    let timer: TimerHandle | undefined;
    const timeoutMs = job.timeoutMs ?? worker?.timeoutMs;
    // The attempt's outcome is the first of perform's result and the timeout, recorded a
    // microtask after it is decided; perform's end is seen right after (the order a promise of
    // the outcome and a `finally` on perform gave, without their five promises per job).
    let decided = false;
    let outcome: JobOutcome;
    const decide = (o: JobOutcome): boolean => {
      if (decided) return false;
      decided = true;
      outcome = o;
      return true;
    };
    const record = (): void => this.record(r, outcome);
    if (timeoutMs !== undefined) {
      timer = this.env.clock.setTimeout(() => {
        const e = new JobsTimeoutError(job.id, timeoutMs);
        abort.abort(e);
        if (decide({ error: e })) void NOW.then(record);
      }, timeoutMs);
    }
    // the slot is held until perform itself settles, even past a timeout: never more than
    // `limit` performs of this queue run at once
    const ended = (): void => {
      this.env.clock.clearTimeout(timer);
      r.performDone = true;
      // the outcome is decided by now (perform's own result, or the timeout)
      if (r.stuck) return void NOW.then(() => this.lateEnd(r, outcome));
      this.release(r);
      this.poke();
    };
    const recordThenEnd = (): void => {
      try {
        record();
      } finally {
        ended();
      }
    };
    // nothing to perform: its end is its outcome's (else the slot would stay held for ever)
    if (!worker) {
      decide({ error: new JobsUnknownWorkerError(job.worker, job.id) });
      return void NOW.then(recordThenEnd);
    }
    let p: Promise<JobOutcome>;
    try {
      p = Promise.resolve(worker.perform(job.args as never, abort.contextOf(job as Job<never>)));
    } catch (err) {
      p = Promise.reject(err);
    }
    // what perform handed back, checked (a value that is not an outcome is its failure)
    const settled = (o: JobOutcome): void => {
      const c = checkedOutcome(o, job.id);
      if (decide(c)) return void NOW.then(recordThenEnd);
      // decided first by the timeout: that is the attempt's outcome (Oban's timeout kills the job)
      this.afterAbort(r, outcome, c);
      void NOW.then(ended);
    };
    void p.then(settled, (err: unknown) => settled({ error: err }));
  }

  /**
   * Attempt `r` was aborted first — `decided` is the abort's outcome (a timeout's error; the
   * drain's abort: the failure it takes as the abort's) — and its perform then ended with `own`.
   * The first outcome stands; a failure of the perform's own (not the abort's reason rethrown)
   * is logged, never recorded in its place nor dropped unseen.
   */
  protected afterAbort(r: Running, decided: JobOutcome, own: JobOutcome): void {
    if (!isFailure(own)) return;
    const err = own && 'error' in own ? own.error : own;
    const reason = r.abort.signal.reason as unknown;
    if (err === reason || (decided && 'error' in decided && err === decided.error)) return;
    const by = (decided && 'error' in decided ? decided.error : reason) as { code?: unknown } | undefined;
    // its text and code as the error entry reads them (never a throw: a hostile thrown value's getters
    // would throw out of the logger here, in perform's reaction — the perform's end never seen)
    const { error, code } = errorEntry(r.job, err, this.env.clock.now());
    this.env.logger.warn(
      { report: 'jobs_outcome_after_abort', queue: this.name, job: r.job.id, worker: r.job.worker, attempt: r.job.attempt, abortedBy: typeof by?.code === 'string' ? by.code : 'abort', error, ...(code === undefined ? {} : { code }) },
      'a perform ended with its own error after its attempt was aborted: the abort came first and stands as the attempt\'s outcome',
    );
  }

  /** Frees `r`'s slot once its outcome is written and its perform has ended. */
  protected release(r: Running): void {
    if (!r.settled || !r.performDone || r.returning) return;
    if (!this.free(r)) return;
    this.poke();
    this.dispatch();
  }

  protected free(r: Running): boolean {
    if (this.running.get(r.token) !== r) return false;
    this.running.delete(r.token);
    performEnded(this.store, this.by, r.token);
    // a slot whose outcome transaction did not carry it is given back by the next one
    if (!r.carried) this.giveBackLater([r.token]);
    return true;
  }

  protected poke(): void {
    for (const w of this.drainWaiters) w();
  }

  protected track(p: Promise<void>): void {
    this.flushes.add(p);
    void p.finally(() => {
      this.flushes.delete(p);
      this.poke();
    });
  }

}
