import { OrdoError } from '../errors.ts';

/**
 * Typed errors of the job runner. Each has a literal `code`, names what is wrong and carries
 * the bad value; recognise them by `code`, never by text. Expected outcomes (a job not found, a
 * unique conflict) are returned as discriminated results, not thrown.
 */
export abstract class JobsError extends OrdoError {}

/** A runner option is invalid: refused when the spec is built, before anything boots. */
export class JobsConfigError extends JobsError {
  readonly code = 'ORDO_JOBS_CONFIG' as const;
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, problem: string, options?: { cause?: unknown }) {
    super(`jobs option ${field}: ${problem} (got ${safeJson(value)})`, options);
    this.field = field;
    this.value = value;
  }
}

/**
 * A named module (notifier, peer) does not exist — the seed's step 4 (`Oban.Peers.PG` is not in
 * the installed version) refused at spec time with the name and the ones that exist.
 */
export class JobsUnknownModuleError extends JobsError {
  readonly code = 'ORDO_JOBS_UNKNOWN_MODULE' as const;
  readonly kind: 'notifier' | 'peer';
  readonly value: unknown;
  readonly known: readonly string[];
  constructor(kind: 'notifier' | 'peer', value: unknown, known: readonly string[]) {
    super(`unknown ${kind} ${safeJson(value)}: expected one of ${known.join(', ')}`);
    this.kind = kind;
    this.value = value;
    this.known = known;
  }
}

/**
 * A worker name the runner does not know (its registry is fixed at spec time): named by an
 * `enqueue`, or by a stored job this runner claimed (`jobId` set; the attempt fails with this
 * error). Looked up in the registry only — a name on `Object.prototype` (`constructor`,
 * `toString`, `__proto__`) is unknown like any other, never resolved to a prototype function.
 */
export class JobsUnknownWorkerError extends JobsError {
  readonly code = 'ORDO_JOBS_UNKNOWN_WORKER' as const;
  readonly worker: string;
  /** The job that names it, when it is a stored job's. */
  readonly jobId: string | undefined;
  constructor(worker: string, jobId?: string) {
    super(`${jobId === undefined ? '' : `job ${jobId}: `}no worker named ${safeJson(worker)} is registered with this runner`);
    this.worker = worker;
    this.jobId = jobId;
  }
}

/** The store refused a job write (outage, closed store): the job was not enqueued. */
export class JobsStoreError extends JobsError {
  readonly code = 'ORDO_JOBS_STORE' as const;
  readonly operation: string;
  constructor(operation: string, options?: { cause?: unknown }) {
    super(`job store ${operation} failed${options?.cause instanceof Error ? `: ${options.cause.message}` : ''}`, options);
    this.operation = operation;
  }
}

/**
 * A runner was started under the id (`node/incarnation`) of one that runs, on the same store
 * data, in this process: two runners of one id would both claim, and every other node's
 * lifeline would take them for one. Refused; the running one is untouched. Stop (or kill) it
 * first — a start under the id of a runner that is stopping is accepted, and waits for its drain.
 */
export class JobsRunnerIdInUseError extends JobsError {
  readonly code = 'ORDO_JOBS_RUNNER_ID_IN_USE' as const;
  /** The runner id in use. */
  readonly runner: string;
  /** The store's directory. */
  readonly dir: string;
  constructor(runner: string, dir: string) {
    super(`a job runner with id ${safeJson(runner)} already runs on the store at ${safeJson(dir)} in this process: stop it before starting another under its id`);
    this.runner = runner;
    this.dir = dir;
  }
}

/** The runner is stopping or stopped: no new jobs are taken. */
export class JobsStoppedError extends JobsError {
  readonly code = 'ORDO_JOBS_STOPPED' as const;
  constructor(operation: string) {
    super(`the job runner is stopped; ${operation} refused`);
  }
}

/** A job ran past its timeout; its `AbortSignal` was aborted with this reason. */
export class JobsTimeoutError extends JobsError {
  readonly code = 'ORDO_JOBS_TIMEOUT' as const;
  readonly jobId: string;
  readonly timeoutMs: number;
  constructor(jobId: string, timeoutMs: number) {
    super(`job ${jobId} timed out after ${timeoutMs} ms`);
    this.jobId = jobId;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A perform handed back something that is not a {@link JobOutcome} (a number, a string, a
 * boolean; a snooze whose delay is not a finite number of ms; an `ok` that is not `true`; effects
 * that are not a function, or that return a promise; fields that throw when read): that attempt
 * failed with this error (an error entry, then a retry or a discard), the value named.
 */
export class JobsBadOutcomeError extends JobsError {
  readonly code = 'ORDO_JOBS_BAD_OUTCOME' as const;
  readonly jobId: string;
  readonly value: unknown;
  constructor(jobId: string, value: unknown, problem: string, options?: { cause?: unknown }) {
    super(`job ${jobId}: perform returned ${problem} (got ${safeJson(value)})`, options);
    this.jobId = jobId;
    this.value = value;
  }
}

/**
 * A worker's `backoff` threw, or gave no finite number of ms, for a failed attempt of job
 * `jobId`: that job is retried after the default (Oban's) backoff instead, and this error is
 * logged (`jobs_bad_backoff`, once per attempt). Its job's only: never a failure of the other
 * outcomes written with it, nor of the store.
 */
export class JobsBadBackoffError extends JobsError {
  readonly code = 'ORDO_JOBS_BAD_BACKOFF' as const;
  readonly jobId: string;
  readonly worker: string;
  readonly attempt: number;
  /** What the backoff gave: `a throw`, or the number, string or type it returned. */
  readonly got: string;
  constructor(jobId: string, worker: string, attempt: number, got: string) {
    super(`worker ${safeJson(worker)}: its backoff ${got === 'a throw' ? 'threw' : `gave no finite delay (got ${got})`} for job ${jobId} (attempt ${attempt}): the default backoff is used`);
    this.jobId = jobId;
    this.worker = worker;
    this.attempt = attempt;
    this.got = got;
  }
}

/** A perform's `AbortSignal` reason at the drain deadline: the runner stops and `shutdownMs` passed. */
export class JobsDrainDeadlineError extends JobsError {
  readonly code = 'ORDO_JOBS_DRAIN_DEADLINE' as const;
  readonly jobId: string;
  readonly shutdownMs: number;
  constructor(jobId: string, shutdownMs: number) {
    super(`the job runner is stopping: shutdownMs (${shutdownMs} ms) passed while job ${jobId} ran`);
    this.jobId = jobId;
    this.shutdownMs = shutdownMs;
  }
}

/** A perform's `AbortSignal` reason when its job was cancelled while it ran. */
export class JobsCancelledError extends JobsError {
  readonly code = 'ORDO_JOBS_CANCELLED' as const;
  readonly jobId: string;
  constructor(jobId: string) {
    super(`job ${jobId} was cancelled while it ran`);
    this.jobId = jobId;
  }
}

/** A perform's `AbortSignal` reason when its runner was halted (simulation: the process died). */
export class JobsHaltedError extends JobsError {
  readonly code = 'ORDO_JOBS_HALTED' as const;
  readonly jobId: string;
  constructor(jobId: string) {
    super(`the job runner was halted while job ${jobId} ran`);
    this.jobId = jobId;
  }
}

/**
 * A completion commit settled as not committed after `ORDO_REPL_INDETERMINATE` (or its row was
 * no longer this attempt): the job's outcome was not written; the attempt is handled as failed.
 */
export class JobsCompletionLostError extends JobsError {
  readonly code = 'ORDO_JOBS_COMPLETION_NOT_LANDED' as const;
  readonly jobId: string;
  readonly attempt: number;
  constructor(jobId: string, attempt: number, options?: { cause?: unknown }) {
    super(`the completion commit of job ${jobId} (attempt ${attempt}) did not land (settled after ORDO_REPL_INDETERMINATE)`, options);
    this.jobId = jobId;
    this.attempt = attempt;
  }
}

/**
 * A job write whose store commit ended with `ORDO_STORE_COMMIT_INDETERMINATE`: the store has
 * failed and must be reopened, and the write is not "not done". `outcome: 'committed'` — it
 * is durable and applied: the jobs named exist (`runner.get(id)`), do not enqueue them again;
 * `'unknown'` — they may exist: once the store is reopened, look them up, or enqueue again
 * with `options.id` set to the id named (an existing id is returned as a conflict, never
 * stored twice).
 */
export class JobsCommitIndeterminateError extends JobsError {
  readonly code = 'ORDO_JOBS_COMMIT_INDETERMINATE' as const;
  /** The runner call: `enqueue`, `cancel`, `retry`, `pause`, `resume`. */
  readonly operation: string;
  /** The jobs the write stored (or may have stored) or changed; empty for a queue's flag. */
  readonly jobIds: readonly string[];
  /** The queue, for `pause` / `resume` (and an enqueue's queue). */
  readonly queue: string | undefined;
  /** What the store knows of the commit. */
  readonly outcome: 'committed' | 'unknown';
  constructor(operation: string, jobIds: readonly string[], outcome: 'committed' | 'unknown', options: { cause: unknown; queue?: string }) {
    const what = jobIds.length > 0 ? `job${jobIds.length > 1 ? 's' : ''} ${jobIds.join(', ')}` : `queue ${options.queue ?? '?'}`;
    const advice = outcome === 'committed'
      ? `${operation} is durable and applied (${what}); its proof could not be written, the store failed and must be reopened; do not repeat it`
      : `${operation} may or may not be stored (${what}); the store failed and must be reopened; then look ${jobIds.length > 0 ? 'the job up, or enqueue again with options.id set to its id (idempotent)' : 'it up'} — never repeat it blindly`;
    super(`job store ${advice}`, options);
    this.operation = operation;
    this.jobIds = jobIds;
    this.queue = options.queue;
    this.outcome = outcome;
  }
}

/**
 * A global-limit queue's slots row holds an entry of another slot protocol than this runner's
 * ({@link SLOTS_PROTOCOL} of slots.ts: 2, a list of slot tokens per runner) — a rolling deploy
 * mixing versions. Protocol 1 (a count per runner, before slot tokens) is read and kept as it
 * is: the mix stays within the limit, and this error is only logged (`jobs_slots_protocol_mixed`,
 * once per runner). A protocol this version cannot read (a later one, or an entry of no known
 * shape) is refused: no claim of that queue is made while the entry is there (the runner is
 * degraded with this error); its own slots are still given back and its outcomes written.
 */
export class JobsSlotsProtocolError extends JobsError {
  readonly code = 'ORDO_JOBS_SLOTS_PROTOCOL' as const;
  /** The global-limit queue. */
  readonly queue: string;
  /** The runner id (`node/incarnation`) whose entry it is. */
  readonly runner: string;
  /** The protocol of that entry: 1 (counts), a later number, or `unknown` (no known shape). */
  readonly theirs: number | 'unknown';
  /** This runner's protocol. */
  readonly ours: number;
  /** The entry as stored. */
  readonly value: unknown;
  constructor(queue: string, runner: string, theirs: number | 'unknown', ours: number, value: unknown) {
    const what = theirs === 1 ? 'counts its slots (protocol 1, before slot tokens): kept as it is, within the limit' : `is of slot protocol ${theirs}, which this version cannot read: no claim of the queue while it is there`;
    super(`global-limit queue ${safeJson(queue)}: the slots entry of runner ${safeJson(runner)} ${what} (this runner: protocol ${ours}; got ${safeJson(value)})`);
    this.queue = queue;
    this.runner = runner;
    this.theirs = theirs;
    this.ours = ours;
    this.value = value;
  }
}

/**
 * `v` as text for a message; never a throw (a value whose JSON and `String` both throw — a revoked
 * proxy, a getter and a `toString` that throw — would else escape the error's constructor: out
 * of the outcome check, an unhandled rejection, the job left executing with its slot held).
 */
function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    try {
      return String(v);
    } catch {
      return `an unprintable ${typeof v}`;
    }
  }
}
