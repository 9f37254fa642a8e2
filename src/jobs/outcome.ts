/**
 * What a perform's outcome writes: the job's next state (completed, retryable on the worker's
 * backoff or Oban's, discarded, cancelled, scheduled again for a snooze) and the worker's effects.
 *
 * @internal
 */
import type { Env } from '../env/env.ts';
import type { Row, Tx } from '../store/index.ts';
import { obanBackoff } from './backoff.ts';
import { errorEntry } from './engine.ts';
import { JobsBadBackoffError, JobsBadOutcomeError } from './errors.ts';
import { completedRow } from './tables.ts';
import type { Job, JobOutcome, WorkerDef } from './types.ts';

/** The state change an outcome makes, and the effects it writes with it. */
export interface OutcomeChange {
  readonly change: (j: Job) => Job;
  /** The same change made to the stored row directly (the completion: no job object in between). */
  readonly row?: (r: Row) => Row;
  readonly effects?: (tx: Tx) => void;
  readonly state: string;
}

/**
 * What a perform handed back, as a {@link JobOutcome} the runner can write: a plain copy read
 * once here (each field by one read, any throw caught), else the failure `{ error:
 * JobsBadOutcomeError }`. Refused: a primitive (`'ok' in 42` would throw out of the outcome's
 * reaction, the job left executing and its slot held), a snooze whose delay is not a finite
 * number (a `scheduledAt` the store refuses, the write retried for ever), an `ok` that is not
 * `true` (`{ ok: false, error }` was taken for a completion), effects that are not a function,
 * and an outcome whose fields cannot be read (a getter or proxy trap that throws: read later,
 * in the outcome's reaction or its transaction, that throw left the job executing with its
 * slot held, its write retried for ever). Effects that hand back a promise fail their
 * transaction with this error too ({@link syncEffects}).
 */
export function checkedOutcome(o: unknown, jobId: string): JobOutcome {
  if (o === undefined || o === null) return o as JobOutcome;
  if (typeof o !== 'object' && typeof o !== 'function') return { error: new JobsBadOutcomeError(jobId, o, 'a value that is not an outcome object') };
  const v = o as Record<string, unknown>;
  try {
    if ('ok' in v) {
      // `{ ok: false, error }` (the admin answers' own shape) is not a completion
      if (v['ok'] !== true) return { error: new JobsBadOutcomeError(jobId, o, 'an ok that is not true') };
      const effects = v['effects'];
      if (!effects) return COMPLETED;
      if (typeof effects !== 'function') return { error: new JobsBadOutcomeError(jobId, o, 'effects that are not a function') };
      return { ok: true, effects: syncEffects(jobId, effects as (tx: Tx) => unknown) };
    }
    if ('discard' in v) return { discard: v['discard'] as string };
    if ('cancel' in v) return { cancel: v['cancel'] as string };
    if ('snooze' in v) {
      const ms = Math.max(0, v['snooze'] as number);
      return Number.isFinite(ms) ? { snooze: ms } : { error: new JobsBadOutcomeError(jobId, o, 'a snooze that is not a finite number of ms') };
    }
    return { error: 'error' in v ? v['error'] : o };
  } catch (err) {
    return { error: new JobsBadOutcomeError(jobId, o, 'an outcome that cannot be read', { cause: err }) };
  }
}

/** `{ ok: true }` without effects, as {@link checkedOutcome} hands it on (internal: never shown to a worker). */
const COMPLETED: JobOutcome = Object.freeze({ ok: true as const });

/**
 * Worker effects run as the synchronous part of the completion's transaction: effects that hand
 * back a promise (an `async` function) are refused — a throw there, so the attempt fails with
 * {@link JobsBadOutcomeError} and nothing is written — since their writes after an `await` reach
 * a finished transaction: the job was completed and those effects never applied (a silent loss).
 */
function syncEffects(jobId: string, effects: (tx: Tx) => unknown): (tx: Tx) => void {
  return (tx) => {
    const p = effects(tx);
    if (p === undefined || p === null || typeof (p as { then?: unknown }).then !== 'function') return;
    // its later writes are refused by the finished transaction (ORDO_STORE_TX_FINISHED): already
    // this attempt's failure, recorded in its error entry — not an unhandled rejection as well
    (p as PromiseLike<unknown>).then(undefined, () => undefined);
    throw new JobsBadOutcomeError(jobId, p, 'effects that returned a promise (effects run inside the completion transaction: they must be synchronous)');
  };
}

/** Whether the outcome is a failure (a throw or `{ error }`): retryable, or discarded when attempts are used up. */
export function isFailure(o: JobOutcome): boolean {
  return !(o === undefined || o === null || 'ok' in o || 'discard' in o || 'cancel' in o || 'snooze' in o);
}

/** Whether the outcome is a snooze (it gives the attempt back: a refused one is returned uncharged too). */
export function isSnooze(o: JobOutcome): boolean {
  return o !== undefined && o !== null && 'snooze' in o;
}

/** The state change outcome `o` makes at `now`. */
export function changeOf(env: Env, workers: ReadonlyMap<string, WorkerDef<never>>, o: JobOutcome): OutcomeChange {
  const now = env.clock.now();
  if (o === undefined || o === null || 'ok' in o) {
    const change = (j: Job): Job => ({ ...j, state: 'completed', finishedAt: now });
    const row = (r: Row): Row => completedRow(r, now);
    return o && 'ok' in o && o.effects ? { state: 'completed', change, row, effects: o.effects } : { state: 'completed', change, row };
  }
  if ('discard' in o) return { state: 'discarded', change: (j) => ({ ...j, state: 'discarded', finishedAt: now, errors: [...j.errors, errorEntry(j, o.discard, now)] }) };
  if ('cancel' in o) return { state: 'cancelled', change: (j) => ({ ...j, state: 'cancelled', finishedAt: now, errors: [...j.errors, errorEntry(j, o.cancel, now)] }) };
  if ('snooze' in o) return { state: 'scheduled', change: (j) => ({ ...j, state: 'scheduled', attempt: j.attempt - 1, scheduledAt: now + Math.max(0, o.snooze) }) };
  const err = 'error' in o ? o.error : o;
  // this change is the attempt's: run again (a conflict re-runs the transaction, a refused write
  // is written again) it warns of a bad backoff once, not on every run
  const once = { warned: false };
  return {
    state: 'retryable',
    change: (j) => {
      const errors = [...j.errors, errorEntry(j, err, now)];
      if (j.attempt >= j.maxAttempts) return { ...j, state: 'discarded', finishedAt: now, errors };
      const w = workers.get(j.worker);
      const rnd = (): number => env.random.next();
      const delay = (w?.backoff && backoffOf(env, w, j, rnd, once)) ?? obanBackoff(j.attempt, j.maxAttempts, rnd);
      return { ...j, state: 'retryable', scheduledAt: now + Math.max(0, delay), errors };
    },
  };
}

/**
 * The delay worker `w`'s own backoff gives `j`, or `undefined` (logged, once per `once`: per
 * attempt, with a {@link JobsBadBackoffError}) when it throws or gives something that is not a
 * finite number: the default backoff then (else a `scheduledAt` the store refuses, or a throw, on
 * every retry of the failure's write — the job left executing). Never a throw itself: it runs
 * inside the outcome's transaction, where a throw failed the whole batch of outcomes and was
 * taken for a store failure (what it got is described by `typeof`, never `instanceof`, which a
 * revoked proxy makes throw).
 */
function backoffOf(env: Env, w: WorkerDef<never>, j: Job, rnd: () => number, once: { warned: boolean }): number | undefined {
  let d: unknown;
  let threw = false;
  try {
    d = w.backoff!(j as Job<never>, rnd);
  } catch {
    threw = true; // described below, and logged: the thrown value itself is not read (it may throw again)
  }
  if (!threw && typeof d === 'number' && Number.isFinite(d)) return d;
  if (once.warned) return undefined;
  once.warned = true;
  const got = threw ? 'a throw' : typeof d === 'number' ? String(d) : typeof d === 'string' ? JSON.stringify(d.slice(0, 100)) : typeof d;
  const err = new JobsBadBackoffError(j.id, w.name, j.attempt, got);
  env.logger.warn({ report: 'jobs_bad_backoff', worker: w.name, job: j.id, attempt: j.attempt, got, err }, err.message);
  return undefined;
}
