/**
 * How one queue settles its commits of unknown outcome (`ORDO_REPL_INDETERMINATE`, or the
 * store's `ORDO_STORE_COMMIT_INDETERMINATE`; see uncertain.ts): a claim, an insert stored
 * already claimed, a completion (with the claim in its commit). Each waits for the settlement,
 * then acts on what the store shows — never on "nothing written". Split out of queue.ts.
 *
 * @internal Built by each Queue.
 */
import type { Env } from '../env/env.ts';
import type { Store } from '../store/index.ts';
import { sameAttempt } from './engine.ts';
import { slotToken } from './slots.ts';
import { claimNeverStarted } from './leftovers.ts';
import { JOB_TABLES, toJob } from './tables.ts';
import type { Job } from './types.ts';
import { settlementOf, until, type IndeterminateCommit } from './uncertain.ts';
import type { QueueHooks, Running } from './queueTypes.ts';

/** What the settler needs of its queue. */
export interface SettlerContext {
  readonly env: Env;
  readonly store: Store;
  /** The runner id (`node/incarnation`). */
  readonly by: string;
  /** The queue's name. */
  readonly name: string;
  readonly hooks: QueueHooks;
  /** Global slots (tokens) to give back with the queue's next transaction. */
  giveBackLater(tokens: Iterable<string>): void;
}

/** One queue's settlements of commits of unknown outcome, and the claims it watches for afterwards. */
export class QueueSettler {
  private readonly c: SettlerContext;

  constructor(c: SettlerContext) {
    this.c = c;
  }

  /** The job as the store shows it now (RAM). */
  row(id: string): Job | undefined {
    const r = this.c.store.get(JOB_TABLES.jobs, id);
    return r ? toJob(r) : undefined;
  }

  /** Whether the store shows `j` as this very attempt (executing, same runner and attempt). */
  mine(j: Job): boolean {
    return sameAttempt(this.row(j.id), j);
  }

  /**
   * `jobs` were claimed by a commit of unknown outcome and the store did not show them when it
   * settled: recorded as claims this process never started (leftovers.ts). If the batch landed
   * after all (this node applies it later), the runner's Reconciler gives the job back — attempt
   * returned, slot released, fenced by the attempt, retried on the runner's poll until written.
   */
  watch(jobs: readonly Job[]): void {
    for (const j of jobs) claimNeverStarted(this.c.store, this.c.by, slotToken(j));
  }

  /**
   * A claim whose commit outcome is unknown: waits for its settlement and returns the jobs it
   * did claim for this runner (as the store shows them). Slots it gave back are given back again
   * unless it is proven committed; slots of jobs it claimed that are not this runner's are too.
   */
  async claimed(op: string, err: IndeterminateCommit, jobs: readonly Job[], released: readonly string[]): Promise<Job[]> {
    const { env, hooks } = this.c;
    const report = hooks.uncertain(op, err);
    const s = await settlementOf(env, err);
    if (s !== 'committed') this.c.giveBackLater(released);
    const mine = (j: Job): boolean => this.mine(j);
    // committed: in the stream, applied here shortly after its settlement was observed
    if (s === 'committed' && !(await until(env, () => jobs.every(mine)))) {
      env.logger.error({ report: 'jobs_commit_not_applied', queue: this.c.name, jobs: jobs.filter((j) => !mine(j)).map((j) => j.id) }, 'a committed claim is not applied on this node yet: its jobs are left to the lifeline');
    }
    const got = s === 'lost' ? [] : jobs.filter(mine);
    this.c.giveBackLater(jobs.filter((j) => !got.includes(j)).map(slotToken));
    if (s !== 'lost') this.watch(jobs.filter((j) => !got.includes(j)));
    report(s);
    return got;
  }

  /**
   * An insert that stored `job` claimed by this runner ended with an unknown outcome: the job
   * as the store shows it once settled if this runner holds it, else `undefined`.
   */
  async inserted(err: IndeterminateCommit, job: Job, now: number): Promise<Job | undefined> {
    const report = this.c.hooks.uncertain(`enqueue ${this.c.name}`, err);
    const claimed: Job = { ...job, state: 'executing', attempt: job.attempt + 1, attemptedAt: now, attemptedBy: this.c.by };
    const s = await settlementOf(this.c.env, err);
    const mine = (): boolean => this.mine(claimed);
    if (s === 'committed') await until(this.c.env, mine);
    report(s);
    if (s !== 'lost' && mine()) return this.row(job.id);
    if (s !== 'lost') this.watch([claimed]);
    return undefined;
  }

  /**
   * Outcomes whose commit's outcome is unknown: waits for the settlement and says, per outcome,
   * whether it is written (`done`, or `fenced` when the job is no longer this attempt but not
   * by this outcome) or not (`undefined`: write it again). Slots it gave back are given back
   * again unless it is proven committed.
   */
  async finished(op: string, err: IndeterminateCommit, rs: readonly Running[], released: readonly string[], claimed: readonly Job[] = []): Promise<Array<'done' | 'fenced' | undefined>> {
    const report = this.c.hooks.uncertain(op, err);
    const s = await settlementOf(this.c.env, err);
    if (s !== 'committed') this.c.giveBackLater(released);
    const ended = (r: Running): boolean => !this.mine(r.job);
    if (s === 'committed') await until(this.c.env, () => rs.every(ended) && claimed.every((j) => this.mine(j)));
    report(s);
    return rs.map((r) => {
      if (s === 'lost' || !ended(r)) return undefined;
      const j = this.row(r.job.id);
      return j && j.attemptedBy === r.job.attemptedBy && j.state !== 'available' ? 'done' : 'fenced';
    });
  }
}
