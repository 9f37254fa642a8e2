/**
 * The shapes and constants of one queue (queue.ts): what it reports to its runner, its options,
 * the state of each attempt it runs.
 *
 * @internal
 */
import type { Row } from '../store/index.ts';
import type { Job, JobContext } from './types.ts';
import type { Settled } from './uncertain.ts';
import type { LateResult } from './leftovers.ts';

/** What a queue reports to its runner. */
export interface QueueHooks {
  storeFailed(operation: string, err: unknown): void;
  storeOk(): void;
  started(job: Job, latencyMs: number): void;
  finished(job: Job, state: string, durationMs: number): void;
  /** A commit's outcome is unknown: the runner is degraded until the returned function is called with how it settled. */
  uncertain(operation: string, err: unknown): (outcome: Settled) => void;
  /** The outcome of a perform a drain left running ended so (lateOutcome.ts), no runner holding the id now. */
  lateEnded?(result: LateResult): void;
}

/** One attempt running on this queue. */
export interface Running {
  job: Job;
  /** The global slot this attempt holds (see slotToken). */
  token: string;
  abort: LazyAbort;
  startedAt: number;
  /** Set once the outcome is written (or fenced): the slot is free when the perform has also settled. */
  settled: boolean;
  performDone: boolean;
  /** The outcome's transaction in flight also gives this slot back (the perform had ended when it was sent). */
  carried: boolean;
  /** Still running when the drain gave up on it: left `executing` for the lifeline. */
  stuck: boolean;
  /** Its outcome is not written: the drain returns the job to available (stays in `running` until then). */
  returning: boolean;
  /**
   * A returning job goes back with its attempt given back: its perform ended by the drain's abort
   * (a failure after the deadline), or it snoozed (a snooze never charges the attempt) and that
   * write was refused. Unset, a returning job's outcome was refused: it ran, returned charged.
   */
  uncharged?: boolean;
}

/** One outcome waiting for the next shared completion transaction. */
export interface Finishing {
  readonly r: Running;
  readonly change: (j: Job) => Job;
  /** The same change made to the stored row directly, when the outcome has one (a completion). */
  readonly row: ((r: Row) => Row) | undefined;
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


/** After the drain's deadline aborts the performs still running: how long they get to end. */
export const DRAIN_GRACE_MS = 1000;

/**
 * An attempt's abort signal, made when first asked for (by the perform reading `ctx.signal`, or
 * by an abort): most performs never look at it, and an AbortController per job is ~1% of the
 * runner's CPU. An abort before anyone asked still leaves the signal aborted with its reason.
 */
export class LazyAbort {
  private c: AbortController | undefined;

  /** The attempt's signal. */
  get signal(): AbortSignal {
    return (this.c ??= new AbortController()).signal;
  }

  /** The perform's context: the job, and the signal made only if the perform reads it. */
  contextOf(job: Job<never>): JobContext<never> {
    const abort = this;
    return {
      job,
      get signal(): AbortSignal {
        return abort.signal;
      },
    };
  }

  /** Aborts the signal with `reason` (once; later calls do nothing, as AbortController's). */
  abort(reason: unknown): void {
    (this.c ??= new AbortController()).abort(reason);
  }
}
