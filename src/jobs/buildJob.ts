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
  const base = { worker: w.name, queue, args, meta };
  const rand = Math.floor(random() * 36 ** 8).toString(36).padStart(8, '0');
  return {
    id: o.id ?? `${Math.max(0, Math.floor(now)).toString(36).padStart(9, '0')}-${rand}`,
    ...base,
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
    uniqueKey: unique ? uniqueKeyOf(unique, base) : null,
    timeoutMs: o.timeoutMs ?? null,
  };
}
