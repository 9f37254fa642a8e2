import type { Tx } from '../store/index.ts';

/**
 * A job's state, as Oban's: `scheduled` (waits for its time) and `retryable` (waits for its
 * backoff) are staged to `available`; a producer claims `available` jobs into `executing`;
 * `completed`, `discarded` (attempts exhausted or discarded by the worker) and `cancelled` are
 * final.
 */
export type JobState = 'available' | 'scheduled' | 'executing' | 'retryable' | 'completed' | 'discarded' | 'cancelled';

/** Every state, in Oban's order. */
export const JOB_STATES: readonly JobState[] = ['available', 'scheduled', 'executing', 'retryable', 'completed', 'discarded', 'cancelled'];

/** The final states: a job reaches exactly one of them, once. */
export const FINAL_STATES: readonly JobState[] = ['completed', 'discarded', 'cancelled'];

/** One recorded failure of a job. */
export interface JobError {
  readonly attempt: number;
  /** `env.clock.now()` when it was recorded. */
  readonly at: number;
  readonly error: string;
  readonly code?: string;
}

/** A job as stored (the `ordo_jobs` table), with its args typed by its worker. */
export interface Job<Args = unknown> {
  readonly id: string;
  readonly queue: string;
  readonly worker: string;
  readonly args: Args;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly state: JobState;
  /** 0 (first) … 9 (last), as Oban. */
  readonly priority: number;
  /** Attempts started so far (the running one included). */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly insertedAt: number;
  /** When it becomes (or became) available. */
  readonly scheduledAt: number;
  readonly attemptedAt: number | null;
  /** `node/incarnation` of the runner executing it (fences completions after a rescue). */
  readonly attemptedBy: string | null;
  /** When it reached its final state. */
  readonly finishedAt: number | null;
  readonly errors: readonly JobError[];
  readonly uniqueKey: string | null;
  readonly timeoutMs: number | null;
}

/** What `perform` hands back. Returning nothing (or `{ ok: true }`) completes the job. */
export type JobOutcome =
  | void
  | undefined
  /** Completed; `effects` run synchronously in the completing transaction (one returning a promise fails the attempt: `ORDO_JOBS_BAD_OUTCOME`). */
  | { readonly ok: true; readonly effects?: (tx: Tx) => void }
  /** Record the error and retry after the backoff (or discard when attempts are exhausted). */
  | { readonly error: unknown }
  /** Finish as `discarded` at once, whatever attempts remain. */
  | { readonly discard: string }
  /** Finish as `cancelled`. */
  | { readonly cancel: string }
  /** Try again in `ms` without charging the attempt. */
  | { readonly snooze: number };

/** What `perform` receives besides the args. */
export interface JobContext<Args = unknown> {
  readonly job: Job<Args>;
  /** Aborted when the job times out, is cancelled, or the runner stops past `shutdownMs`. */
  readonly signal: AbortSignal;
}

/**
 * A worker: its name, default options, and `perform`. Built by `defineWorker<Args>()`; the
 * `Args` type travels with the definition, so `runner.enqueue(worker, args)` type-checks args.
 */
export interface WorkerDef<Args = unknown> {
  readonly name: string;
  readonly queue: string;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly timeoutMs: number | undefined;
  readonly unique: UniqueOptions | undefined;
  /** ms to wait before attempt `job.attempt + 1`; unset: Oban's curve (`obanBackoff`). */
  backoff?(job: Job<Args>, random: () => number): number;
  // methods, not function properties: a list of workers of different Args stays assignable
  perform(args: Args, ctx: JobContext<Args>): Promise<JobOutcome> | JobOutcome;
}

/** A field a uniqueness check compares. */
export type UniqueField = 'worker' | 'queue' | 'args' | 'meta';

/** A field a unique conflict may replace on the existing job. */
export type ReplaceField = 'args' | 'meta' | 'priority' | 'maxAttempts' | 'scheduledAt';

/**
 * Oban's unique-job options: a job is a duplicate of an existing one with equal `fields` (only
 * `keys` of args/meta when given), inserted within `periodMs` (`'infinity'`: while it is kept),
 * in one of `states`. On a duplicate, `enqueue` returns the existing job with `conflict: true`,
 * after replacing the fields `replace` lists for the existing job's state.
 */
export interface UniqueOptions {
  readonly fields?: readonly UniqueField[];
  readonly keys?: readonly string[];
  /** Default 60 000 (Oban's 60 s). */
  readonly periodMs?: number | 'infinity';
  /** Default: every state but `discarded` and `cancelled` (Oban's). */
  readonly states?: readonly JobState[];
  readonly replace?: Partial<Record<JobState, readonly ReplaceField[]>>;
}

/** Options of one `enqueue`. Unset fields come from the worker. */
export interface EnqueueOptions {
  readonly queue?: string;
  readonly priority?: number;
  readonly maxAttempts?: number;
  /** Absolute time on `env.clock` (ms). */
  readonly scheduledAt?: number;
  /** Relative to now (ms). */
  readonly scheduleIn?: number;
  readonly meta?: Record<string, unknown>;
  readonly unique?: UniqueOptions | false;
  /** This job's timeout: a finite number of ms > 0 (else `ORDO_JOBS_CONFIG`); omitted, the worker's. */
  readonly timeoutMs?: number;
  /** A fixed id (idempotent inserts: an existing id is a conflict). */
  readonly id?: string;
}

/** `enqueue`'s result: the stored job, and whether it was a unique conflict (then it is the existing one). */
export interface EnqueueResult<Args = unknown> {
  readonly job: Job<Args>;
  readonly conflict: boolean;
}
