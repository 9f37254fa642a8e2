import { JobsConfigError } from './errors.ts';
import type { EnqueueOptions, Job, WorkerDef } from './types.ts';
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
  const unique = o.unique === false ? undefined : (o.unique ?? w.unique);
  const meta = o.meta ?? {};
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
    errors: [],
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

/** An id's random tail: eight base-36 digits. */
function randomPart(random: () => number): string {
  return Math.floor(random() * 36 ** 8).toString(36).padStart(8, '0');
}
