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
import { claim, errorEntry, finish, finishMany, rescue } from './engine.ts';
import { Batcher } from './batcher.ts';
import { JobsTimeoutError } from './errors.ts';
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
}

/** Options of one queue. */
export interface QueueOptions {
  readonly name: string;
  readonly limit: number;
  readonly paused: boolean;
}

export class Queue {
  readonly name: string;
  limit: number;
  paused: boolean;
  readonly running = new Map<string, Running>();
  private claiming = false;
  private claimInflight: Promise<void> | undefined;
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
  private readonly finisher: Batcher<{ claimed: Job; change: (j: Job) => Job }, 'done' | 'fenced'>;

  constructor(env: Env, store: Store, by: string, workers: ReadonlyMap<string, WorkerDef<never>>, o: QueueOptions, hooks: QueueHooks) {
    this.env = env;
    this.store = store;
    this.by = by;
    this.workers = workers;
    this.hooks = hooks;
    this.name = o.name;
    this.limit = o.limit;
    this.paused = o.paused;
    this.finisher = new Batcher((items) => finishMany(store, items));
  }

  /** Claims and starts jobs while there is room. Safe to call any time, as often as wanted. */
  dispatch(): void {
    if (this.stopped || this.paused) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    const free = this.limit - this.running.size;
    if (free <= 0) return;
    this.claiming = true;
    this.again = false;
    this.claimInflight = claim(this.store, this.name, free, this.by, this.env.clock.now()).then(
      async (jobs) => {
        this.claiming = false;
        if (jobs.length > 0) this.hooks.storeOk();
        if (this.stopped) {
          // claimed while stopping: give them back at once (attempt returned), never orphaned
          if (!this.halted) await rescue(this.store, jobs, this.env.clock.now(), 'shutdown', true).catch((err) => this.hooks.storeFailed(`drain ${this.name}`, err));
          return;
        }
        for (const j of jobs) this.start(j);
        // more may be waiting: a full batch, or a notification that came while claiming
        if (this.again || jobs.length === free) this.dispatch();
      },
      (err) => {
        this.claiming = false;
        this.hooks.storeFailed(`claim ${this.name}`, err);
      },
    );
  }

  private start(job: Job): void {
    if (this.stopped) return;
    const worker = this.workers.get(job.worker);
    const abort = new AbortController();
    const r: Running = { job, abort, startedAt: this.env.clock.now(), settled: false, performDone: false };
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

  private release(r: Running): void {
    if (!r.settled || !r.performDone) return;
    if (this.running.get(r.job.id) === r) this.running.delete(r.job.id);
    for (const w of this.drainWaiters) w();
    this.dispatch();
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
    const write = (attempt: number): void => {
      if (this.running.get(r.job.id) !== r) return void (r.settled = true); // drained: returned to available
      const ch = (j: Job): Job => {
        const next = change(j);
        final = next.state;
        return next;
      };
      // outcomes without effects share one transaction per turn; effects get their own
      (effects ? finish(this.store, r.job, ch, effects) : this.finisher.add({ claimed: r.job, change: ch })).then(
        (res) => {
          this.hooks.storeOk();
          r.settled = true;
          if (res === 'done') this.hooks.finished(r.job, final, this.env.clock.now() - r.startedAt);
          this.release(r);
        },
        (err) => {
          // the outcome is kept and written again: the job is not lost, its slot stays taken
          this.hooks.storeFailed(`record ${r.job.id}`, err);
          if (this.stopped) return void (r.settled = true);
          this.env.clock.setTimeout(() => write(attempt + 1), Math.min(5000, 50 * 2 ** Math.min(attempt, 7)));
        },
      );
    };
    write(0);
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
    const left = [...this.running.values()];
    this.running.clear();
    for (const r of left) r.abort.abort(new Error('the job runner is stopping'));
    if (left.length === 0) return 0;
    try {
      return await rescue(this.store, left.map((r) => r.job), this.env.clock.now(), 'shutdown', true);
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
