/**
 * The outcome of a perform its runner's drain left running (it ignored its abort) that has
 * ended since. It really ran, so its outcome is written as it says — a completion with the
 * worker's effects, a failure charged, a discard, cancel or snooze — fenced by the attempt (only
 * while the row is still `executing` under it), on the store handle a runner of this id runs on
 * now, with its global slot given back in the same transaction. Never given back as if it never
 * ran. Each ends one of three ways, counted in `/metrics` (`ordo_jobs_late_outcomes_total`):
 *
 * - `written` — the outcome is in the store;
 * - `fenced` — the row was no longer that attempt (cancelled, rescued): whoever moved it wrote
 *   its state, nothing is written (effects not applied);
 * - `refused` — the store refused the write (or the worker's effects threw): the job is rescued
 *   with its attempt charged, as the lifeline does.
 *
 * A commit of unknown outcome, or a charged rescue the store refuses too, is handed to the runner
 * of this id (leftovers.ts): its Reconciler waits for the settlement and writes the outcome again,
 * fenced by the attempt — once if it had landed — or rescues it charged, retried on its poll,
 * rather than leaving the row `executing` for the lifeline's `rescueAfterMs`.
 *
 * @internal Used by the queues and the runner's Reconciler.
 */
import type { Env } from '../env/env.ts';
import type { Store, Tx } from '../store/index.ts';
import { errorEntry, finishLate, rescue, sameAttempt } from './engine.ts';
import { JobsBadOutcomeError } from './errors.ts';
import { lateCounted, lateUnsettled, leftoverEnded, type LateDuty, type LateResult } from './leftovers.ts';
import { changeOf, isSnooze } from './outcome.ts';
import type { Running } from './queueTypes.ts';
import { JOB_TABLES, toJob } from './tables.ts';
import type { Job, JobOutcome, WorkerDef } from './types.ts';
import { isIndeterminate, settlementOf, until } from './uncertain.ts';

/** Why a drain rescues, attempt charged, a job whose perform returned before the deadline but whose outcome's write was refused (its error entry). */
export const DRAIN_NOT_WRITTEN = 'shutdown: the perform ended, its outcome was not written';

/** Why a late perform whose outcome was not written is rescued (its error entry). */
export const LATE_NOT_WRITTEN = 'late outcome not written';

/** What a late outcome needs of the queue whose drain left its perform running. */
export interface LateContext {
  readonly env: Env;
  /** The queue's store handle (the data the runner id runs on; the handle may be closed by now). */
  readonly store: Store;
  /** The runner id. */
  readonly by: string;
  readonly queue: string;
  readonly globalLimit: number | undefined;
  readonly workers: ReadonlyMap<string, WorkerDef<never>>;
  /** The process died (simulation): nothing is written. */
  readonly halted: boolean;
  /** Counts the result when no runner holds the id now (the queue's own runner). */
  readonly counted?: ((r: LateResult) => void) | undefined;
}

/** Writes the outcome `o` of attempt `r`, whose perform its drain left running (see the file comment). */
export function lateEnded(c: LateContext, r: Running, o: JobOutcome): void {
  // the store may have been reopened since: the handle a runner of this id runs on now
  const store = leftoverEnded(c.store, c.by, r.token);
  if (c.halted) return;
  const { env } = c;
  const release = c.globalLimit === undefined ? undefined : { queue: c.queue, by: c.by, slots: { limit: c.globalLimit, release: [r.token] } };
  const log = { report: 'jobs_late_perform_ended', queue: c.queue, job: r.job.id, attempt: r.job.attempt };
  // its outcome was written already (a timeout's, before the drain): only the slot is left
  if (r.settled && !r.returning) {
    rescue(store, [], env.clock.now(), 'shutdown', false, undefined, release).then(
      () => env.logger.info({ ...log, written: 'before' }, 'a perform left running at shutdown has ended'),
      (err) => env.logger.warn({ ...log, err }, 'a perform left running at shutdown has ended; its global slot is left to the lifeline'),
    );
    return;
  }
  const { change, effects, state } = changeOf(env, c.workers, o);
  const duty: LateDuty = {
    token: r.token,
    job: r.job,
    state,
    err: undefined,
    write: (s) => finishLate(s, r.job, change, effects && ownEffects(r.job, effects, env.clock.now()), release),
    // a snooze never charges its attempt: refused, it is given back uncharged (Oban's snooze: attempt - 1)
    rescue: (s) => rescue(s, [r.job], env.clock.now(), LATE_NOT_WRITTEN, isSnooze(o), undefined, release),
  };
  const count = (res: LateResult): void => lateCounted(c.store, c.by, res, c.counted);
  duty.write(store).then(
    (res) => {
      env.logger.info({ ...log, written: res === 'done' ? state : 'fenced' }, 'a perform left running at shutdown has ended: its outcome is written');
      count(res === 'done' ? 'written' : 'fenced');
    },
    (err) => {
      if (isIndeterminate(err)) {
        env.logger.warn({ ...log, err }, 'a perform left running at shutdown has ended; its outcome commit is of unknown outcome: the runner of this id settles it');
        duty.err = err;
        return lateUnsettled(store, c.by, duty);
      }
      // a snooze is given back uncharged (duty.rescue): said so, never "charged"
      const charged = !isSnooze(o);
      const how = charged ? 'with the attempt charged' : 'uncharged (a snooze)';
      env.logger.warn({ ...log, err, charged }, `a perform left running at shutdown has ended; its outcome is not written, its job is rescued ${how}`);
      duty.rescue(store).then(
        (n) => {
          env.logger.info({ ...log, rescued: n, charged }, `a late perform whose outcome was not written is rescued, ${how}`);
          count('refused');
        },
        (e2) => {
          env.logger.warn({ ...log, err: e2 }, 'a late perform whose outcome was not written: the runner of this id retries it');
          lateUnsettled(store, c.by, duty);
        },
      );
    },
  );
}

/**
 * The worker's effects as run inside a late outcome's transaction: a throw there is the job's
 * (typed `ORDO_JOBS_BAD_OUTCOME`, its text read safely), never what it may look like — an error
 * carrying a store code (`ORDO_STORE_COMMIT_INDETERMINATE`, `ORDO_REPL_INDETERMINATE`) was taken
 * for a commit of unknown outcome and settled, then written again with the same throw, for ever.
 * Refused, the job is rescued with its attempt charged.
 */
function ownEffects(job: Job, effects: (tx: Tx) => void, now: number): (tx: Tx) => void {
  return (tx) => {
    try {
      effects(tx);
    } catch (err) {
      throw new JobsBadOutcomeError(job.id, undefined, `effects that threw: ${errorEntry(job, err, now).error}`);
    }
  };
}

function rowOf(store: Store, id: string): Job | undefined {
  const r = store.get(JOB_TABLES.jobs, id);
  return r ? toJob(r) : undefined;
}

/**
 * Settles late outcome `d` on `store` (the Reconciler's part): waits for its commit's
 * settlement (if it was of unknown outcome), then writes it again — fenced by the attempt, so
 * once if it had landed, and giving its slot back by token — or, when that is refused, rescues
 * the job with its attempt charged. `{ err }` when the store failed again (`d` stays due: tried
 * again on the next call); `undefined` when `cut` aborted first.
 */
export async function settleLate(env: Env, store: Store, d: LateDuty, cut?: AbortSignal): Promise<LateResult | { err: unknown } | undefined> {
  if (d.err) {
    const s = await settlementOf(env, d.err, undefined, cut);
    // committed: in the stream, applied here shortly after the settlement was observed
    if (s === 'committed') await until(env, () => !sameAttempt(rowOf(store, d.job.id), d.job), undefined, undefined, cut);
    if (cut?.aborted) return undefined;
    d.err = undefined;
  }
  try {
    // fenced when the row is no longer that attempt: then it only gives the slot back (by token: freed once)
    if ((await d.write(store)) === 'done') return 'written';
    // fenced: this outcome landed after all (its state, still under this runner), or someone else moved the row
    const j = rowOf(store, d.job.id);
    const landed = j !== undefined && j.attemptedBy === d.job.attemptedBy && (j.state === d.state || (d.state === 'retryable' && j.state === 'discarded'));
    return landed ? 'written' : 'fenced';
  } catch (err) {
    if (isIndeterminate(err)) {
      d.err = err;
      return { err };
    }
    try {
      await d.rescue(store);
      return 'refused';
    } catch (e2) {
      return { err: e2 };
    }
  }
}
