import { JobsConfigError } from './errors.ts';
import type { EnqueueOptions, Job, WorkerDef } from './types.ts';
import { NO_ERRORS, NO_META } from './tables.ts';
import { uniqueKeyOf } from './unique.ts';
import { checkPriority } from './worker.ts';

/**
 * A new job row from a worker, its args and the enqueue options (the worker's defaults filled
 * in, options checked). Ids sort by insertion time (base-36 ms) with a random tail.
 *
 * @internal
 */
export function buildJob(w: WorkerDef<never>, args: unknown, o: EnqueueOptions & { queue: string }, now: number, random: () => number): Job {
  const queue = o.queue;
  const priority = o.priority ?? w.priority;
  checkPriority('priority', priority);
  const scheduledAt = o.scheduledAt ?? now + (o.scheduleIn ?? 0);
  if (!Number.isFinite(scheduledAt)) throw new JobsConfigError('scheduledAt', scheduledAt, 'must be a finite time');
  const maxAttempts = o.maxAttempts ?? w.maxAttempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new JobsConfigError('maxAttempts', maxAttempts, 'must be a positive integer');
  // as a worker's (defineWorker), and stored: finite (0 or less timed the job out at once; NaN or Infinity the store refused, untyped)
  if (o.timeoutMs !== undefined && !(o.timeoutMs > 0 && Number.isFinite(o.timeoutMs))) throw new JobsConfigError('timeoutMs', o.timeoutMs, 'must be a finite number of ms > 0 (omit it for the worker\'s)');
  const unique = o.unique === false ? undefined : (o.unique ?? w.unique);
  const meta = o.meta ?? NO_META;
  // drawn even for a given id: the Env's random sequence stays what it was
  const rand = randomPart(random);
  // fields written out (no object spread: V8's slow path, once per enqueue)
  return {
    id: o.id ?? `${timePart(now)}-${rand}`,
    worker: w.name,
    queue,
    args,
    meta,
    state: scheduledAt > now ? 'scheduled' : 'available',
    priority,
    attempt: 0,
    maxAttempts,
    insertedAt: now,
    scheduledAt,
    attemptedAt: null,
    attemptedBy: null,
    finishedAt: null,
    errors: NO_ERRORS,
    uniqueKey: unique ? uniqueKeyOf(unique, { worker: w.name, queue, args, meta }) : null,
    timeoutMs: o.timeoutMs ?? null,
  };
}

/** The last millisecond whose id prefix was made, and that prefix (a turn's enqueues share one `now`). */
let lastMs = NaN;
let lastPart = '';

/** An id's time part: whole milliseconds in base 36, nine digits (ids sort by insertion time). */
function timePart(now: number): string {
  const ms = Math.max(0, Math.floor(now));
  if (ms !== lastMs) {
    lastMs = ms;
    lastPart = ms.toString(36).padStart(9, '0');
  }
  return lastPart;
}

/** Every two-digit base-36 string, `00` … `zz`, by value. */
const PAIRS: readonly string[] = Array.from({ length: 36 * 36 }, (_, i) => i.toString(36).padStart(2, '0'));
const P2 = 36 ** 2;
const P4 = 36 ** 4;

/**
 * An id's random tail: eight base-36 digits, `Math.floor(random() * 36 ** 8)` written out with
 * leading zeros — from a table of digit pairs (a radix `toString` and a `padStart` per enqueue
 * were ~1% of a no-op job's CPU). @internal exported for its test
 */
export function randomPart(random: () => number): string {
  const x = Math.floor(random() * 36 ** 8);
  const hi = Math.floor(x / P4);
  const lo = x - hi * P4;
  const a = Math.floor(hi / P2);
  const c = Math.floor(lo / P2);
  return PAIRS[a]! + PAIRS[hi - a * P2]! + PAIRS[c]! + PAIRS[lo - c * P2]!;
}
