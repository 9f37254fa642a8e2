/**
 * One queue on one node (Oban's producer): claims available jobs up to its concurrency limit,
 * runs them, and records each outcome in the store — with the worker's effects in the same
 * transaction. A store failure never throws out of here: claims are retried on the next poll,
 * finished outcomes are kept (their slot stays taken) and written again until the store takes
 * them.
 *
 * @internal Built by the runner.
 */
import type { Env } from '../env/env.ts';
import type { TimerHandle } from '../env/clock.ts';
import type { Store, Tx } from '../store/index.ts';
import { obanBackoff } from './backoff.ts';
import { availableOf, claim, errorEntry, finish, finishMany, nextClaim, rescue } from './engine.ts';
import { JobsTimeoutError } from './errors.ts';
import type { SlotsChange } from './slots.ts';
import type { Job, JobOutcome, WorkerDef } from './types.ts';

/** What a queue reports to its runner. */
export interface QueueHooks {
  storeFailed(operation: string, err: unknown): void;
  storeOk(): void;
  started(job: Job, latencyMs: number): void;
  finished(job: Job, state: string, durationMs: number): void;
}

interface Running {
  job: Job;
  abort: AbortController;
  startedAt: number;
  /** Set once the outcome is written (or fenced): the slot is free when the perform has also settled. */
  settled: boolean;
  performDone: boolean;
  /** The outcome's transaction in flight also gives this slot back (the perform had ended when it was sent). */
  carried: boolean;
}

/** One outcome waiting for the next shared completion transaction. */
interface Finishing {
  readonly r: Running;
  readonly change: (j: Job) => Job;
  done(res: 'done' | 'fenced'): void;
  failed(err: unknown): void;
}

/** Options of one queue. */
export interface QueueOptions {
  readonly name: string;
  readonly limit: number;
  readonly paused: boolean;
  /** At most this many executing cluster-wide (slots in the store, see slots.ts). */
  readonly globalLimit?: number | undefined;
}

export class Queue {
  readonly name: string;
  limit: number;
  paused: boolean;
  readonly globalLimit: number | undefined;
  readonly running = new Map<string, Running>();
  private claiming = false;
  /** Slots the claim in flight may fill. */
  private reserved = 0;
  private claimInflight: Promise<void> | undefined;
  /** Global slots of performs that ended after their outcome was written: given back by the next transaction. */
  private pendingRelease = 0;
  private finishing: Finishing[] = [];
  private finishScheduled = false;
  private readonly flushes = new Set<Promise<void>>();
  private halted = false;
  private again = false;
  private stopped = false;
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
  }

  private slots(release: number): SlotsChange | undefined {
    return this.globalLimit === undefined ? undefined : { limit: this.globalLimit, release };
  }

  /** Claims and starts jobs while there is room (and gives back ended global slots). Safe to call any time, as often as wanted. */
  dispatch(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    const free = this.paused ? 0 : Math.max(0, this.limit - this.running.size - this.offered);
    const release = this.globalLimit === undefined ? 0 : this.pendingRelease;
    if (free === 0 && release === 0) return;
    this.claiming = true;
    this.again = false;
    this.reserved = free;
    this.pendingRelease -= release;
    let taking: readonly Job[] = [];
    this.claimInflight = this.serial(() => {
      const c = nextClaim(this.store, this.name, free, this.by, this.env.clock.now(), this.slots(release), this.taking);
      taking = this.take(c.candidates);
      return claim(this.store, c);
    }).then(
      async (jobs) => {
        this.untake(taking);
        this.claiming = false;
        this.reserved = 0;
        if (jobs.length > 0 || release > 0) this.hooks.storeOk();
        if (this.stopped) return this.giveBack(jobs);
        for (const j of jobs) this.start(j);
        // more may be waiting: a full batch, or a notification that came while claiming
        if (this.again || (free > 0 && jobs.length === free)) this.dispatch();
      },
      (err) => {
        this.untake(taking);
        this.claiming = false;
        this.reserved = 0;
        this.pendingRelease += release;
        this.hooks.storeFailed(`claim ${this.name}`, err);
      },
    );
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
    const n = Math.min(want, this.limit - this.running.size - this.reserved - this.offered);
    if (n <= 0 || availableOf(this.store, this.name, 1).length > 0) return 0;
    this.offered += n;
    return n;
  }

  /** Settles one slot of an {@link Queue.offer}: starts the job if its insert claimed it for this runner, else frees the slot. */
  accept(inserted: Promise<Job | undefined>): void {
    this.track(
      inserted.then(async (job) => {
        this.offered--;
        if (job && job.state === 'executing' && job.attemptedBy === this.by && job.attempt === 1) {
          if (this.stopped) return this.giveBack([job]);
          this.start(job);
        } else this.dispatch();
      }),
    );
  }

  /** Candidates a claim of this node has in flight (the next claim skips them). */
  private readonly taking = new Set<string>();
  private take(jobs: readonly Job[]): readonly Job[] {
    for (const j of jobs) this.taking.add(j.id);
    return jobs;
  }
  private untake(jobs: readonly Job[]): void {
    for (const j of jobs) this.taking.delete(j.id);
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
    await rescue(this.store, jobs, this.env.clock.now(), 'shutdown', true).catch((err) => this.hooks.storeFailed(`drain ${this.name}`, err));
  }

  private start(job: Job): void {
    if (this.stopped) return;
    const worker = this.workers.get(job.worker);
    const abort = new AbortController();
    const r: Running = { job, abort, startedAt: this.env.clock.now(), settled: false, performDone: false, carried: false };
    this.running.set(job.id, r);
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
      if (!worker) return resolve({ error: new Error(`no worker ${job.worker} on this node`) });
      let p: Promise<JobOutcome>;
      try {
        p = Promise.resolve(worker.perform(job.args as never, { job: job as Job<never>, signal: abort.signal }));
      } catch (err) {
        p = Promise.reject(err);
      }
      const performed = p.then(resolve, (err) => resolve({ error: err }));
      // the slot is held until perform itself settles, even past a timeout: never more than
      // `limit` performs of this queue run at once
      void performed.finally(() => {
        this.env.clock.clearTimeout(timer);
        r.performDone = true;
        this.release(r);
      });
    });
    void outcome.then((o) => this.record(r, o));
  }

  /** Frees `r`'s slot once its outcome is written and its perform has ended. */
  private release(r: Running): void {
    if (!r.settled || !r.performDone) return;
    if (!this.free(r)) return;
    for (const w of this.drainWaiters) w();
    this.dispatch();
  }

  private free(r: Running): boolean {
    if (this.running.get(r.job.id) !== r) return false;
    this.running.delete(r.job.id);
    // a slot whose outcome transaction did not carry it is given back by the next one
    if (this.globalLimit !== undefined && !r.carried) this.pendingRelease++;
    return true;
  }

  /** The state change an outcome makes. */
  private changeOf(o: JobOutcome): { change: (j: Job) => Job; effects?: (tx: Tx) => void; state: string } {
    const now = this.env.clock.now();
    if (o === undefined || o === null || 'ok' in o) {
      return { state: 'completed', change: (j) => ({ ...j, state: 'completed', finishedAt: now }), ...(o && 'ok' in o && o.effects ? { effects: o.effects } : {}) };
    }
    if ('discard' in o) return { state: 'discarded', change: (j) => ({ ...j, state: 'discarded', finishedAt: now, errors: [...j.errors, errorEntry(j, o.discard, now)] }) };
    if ('cancel' in o) return { state: 'cancelled', change: (j) => ({ ...j, state: 'cancelled', finishedAt: now, errors: [...j.errors, errorEntry(j, o.cancel, now)] }) };
    if ('snooze' in o) return { state: 'scheduled', change: (j) => ({ ...j, state: 'scheduled', attempt: j.attempt - 1, scheduledAt: now + Math.max(0, o.snooze) }) };
    const err = 'error' in o ? o.error : o;
    return {
      state: 'retryable',
      change: (j) => {
        const errors = [...j.errors, errorEntry(j, err, now)];
        if (j.attempt >= j.maxAttempts) return { ...j, state: 'discarded', finishedAt: now, errors };
        const w = this.workers.get(j.worker);
        const rnd = (): number => this.env.random.next();
        const delay = w?.backoff ? w.backoff(j as Job<never>, rnd) : obanBackoff(j.attempt, j.maxAttempts, rnd);
        return { ...j, state: 'retryable', scheduledAt: now + Math.max(0, delay), errors };
      },
    };
  }

  private record(r: Running, o: JobOutcome): void {
    if (r.settled) return;
    const { change, effects, state } = this.changeOf(o);
    let final = state;
    const ch = (j: Job): Job => {
      const next = change(j);
      final = next.state;
      return next;
    };
    const write = (attempt: number): void => {
      if (this.running.get(r.job.id) !== r) return void (r.settled = true); // drained: returned to available
      const done = (res: 'done' | 'fenced'): void => {
        this.hooks.storeOk();
        r.settled = true;
        if (res === 'done') this.hooks.finished(r.job, final, this.env.clock.now() - r.startedAt);
      };
      const failed = (err: unknown): void => {
        // the outcome is kept and written again: the job is not lost, its slot stays taken
        r.carried = false;
        this.hooks.storeFailed(`record ${r.job.id}`, err);
        if (this.stopped) return void (r.settled = true);
        this.env.clock.setTimeout(() => write(attempt + 1), Math.min(5000, 50 * 2 ** Math.min(attempt, 7)));
      };
      if (effects) {
        // effects get their own transaction (a worker's throw there fails only its own job)
        r.carried = r.performDone && this.globalLimit !== undefined;
        const next = this.globalLimit === undefined ? undefined : nextClaim(this.store, this.name, 0, this.by, this.env.clock.now(), this.slots(r.carried ? 1 : 0));
        this.serial(() => finish(this.store, r.job, ch, effects, next)).then((res) => {
          done(res);
          this.release(r);
        }, failed);
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
    void p.finally(() => this.flushes.delete(p));
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
    let extra = 0;
    let taking: readonly Job[] = [];
    let out: { results: Array<'done' | 'fenced'>; claimed: Job[] };
    try {
      out = await this.serial(() => {
        extra = this.globalLimit === undefined ? 0 : this.pendingRelease;
        this.pendingRelease -= extra;
        const want = claimNext && !this.stopped && !this.paused ? Math.max(0, Math.min(carried.length, this.limit - (this.running.size - carried.length) - this.reserved - this.offered)) : 0;
        const next = want > 0 || this.globalLimit !== undefined ? nextClaim(this.store, this.name, want, this.by, this.env.clock.now(), this.slots(carried.length + extra), this.taking) : undefined;
        taking = this.take(next?.candidates ?? []);
        return finishMany(this.store, batch.map((b) => ({ claimed: b.r.job, change: b.change })), next);
      });
    } catch (err) {
      this.untake(taking);
      this.pendingRelease += extra;
      for (const b of batch) b.r.carried = false;
      if (batch.length === 1) return batch[0]!.failed(err);
      await Promise.all(batch.map((b) => this.finishBatch([b], false)));
      return;
    }
    this.untake(taking);
    batch.forEach((b, i) => b.done(out.results[i]!));
    // the carried slots pass to the jobs claimed in the same commit; the others free when their perform ends
    for (const b of batch) if (b.r.carried) this.free(b.r);
    if (this.stopped) await this.giveBack(out.claimed);
    else for (const j of out.claimed) this.start(j);
    for (const b of batch) if (!b.r.carried) this.release(b.r);
    for (const w of this.drainWaiters) w();
    this.dispatch();
  }

  /** Aborts the local attempt of `id` (a cancel from any node). */
  abortJob(id: string, reason: unknown): boolean {
    const r = this.running.get(id);
    if (!r) return false;
    r.abort.abort(reason);
    return true;
  }

  /** Polls again after `ms` (the fallback when notifications may be missing, and after a store error). */
  pollIn(ms: number): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    this.retryTimer = this.env.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.dispatch();
    }, ms);
  }

  /**
   * Stops claiming and waits up to `deadlineMs` for running jobs; then aborts the rest and returns
   * them to `available` (attempt given back), so none is lost. Resolves with how many were returned.
   */
  async drain(deadlineMs: number): Promise<number> {
    this.stopped = true;
    this.env.clock.clearTimeout(this.retryTimer);
    await this.claimInflight;
    await Promise.all(this.flushes);
    if (this.running.size > 0) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          if (this.running.size > 0) return;
          this.env.clock.clearTimeout(t);
          this.drainWaiters.delete(done);
          resolve();
        };
        const t = this.env.clock.setTimeout(() => {
          this.drainWaiters.delete(done);
          resolve();
        }, deadlineMs);
        this.drainWaiters.add(done);
      });
    }
    await Promise.all(this.flushes);
    const left = [...this.running.values()];
    this.running.clear();
    for (const r of left) r.abort.abort(new Error('the job runner is stopping'));
    // this runner's global slots go with it (its performs are over or aborted)
    const drop = this.globalLimit === undefined ? undefined : { runners: new Set([this.by]), queues: [this.name] };
    if (left.length === 0 && !drop) return 0;
    try {
      return await rescue(this.store, left.map((r) => r.job), this.env.clock.now(), 'shutdown', true, drop);
    } catch (err) {
      // still executing in the store: the lifeline of the next boot returns them (never lost)
      this.hooks.storeFailed(`drain ${this.name}`, err);
      return 0;
    }
  }

  /** Simulation only: the process died — forget everything, write nothing. */
  halt(): void {
    this.stopped = true;
    this.halted = true;
    this.env.clock.clearTimeout(this.retryTimer);
    for (const r of this.running.values()) r.abort.abort(new Error('halted'));
    this.running.clear();
  }
}
