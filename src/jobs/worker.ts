import { JobsConfigError } from './errors.ts';
import type { Job, JobContext, JobOutcome, UniqueOptions, WorkerDef } from './types.ts';
import { JOB_STATES } from './types.ts';

/** What {@link defineWorker} takes. Only `name` and `perform` are required. */
export interface WorkerOptions<Args> {
  /** Unique among the runner's workers; stored with each job. */
  readonly name: string;
  /** Default `default`. */
  readonly queue?: string;
  /** Default 20 (Oban's). */
  readonly maxAttempts?: number;
  /** 0 (first) … 9; default 0. */
  readonly priority?: number;
  /** Per-attempt time limit: `ctx.signal` aborts, the attempt fails with `ORDO_JOBS_TIMEOUT`. */
  readonly timeoutMs?: number;
  readonly unique?: UniqueOptions;
  /** Override the retry delay (ms) after `job.attempt`; default Oban's curve. */
  readonly backoff?: (job: Job<Args>, random: () => number) => number;
  perform(args: Args, ctx: JobContext<Args>): Promise<JobOutcome> | JobOutcome;
}

/**
 * Defines a worker whose jobs carry `Args`. The definition is the typed handle: pass it to
 * `runner.enqueue(worker, args)` (args type-checked) and list it in the runner's `workers`.
 *
 * `perform` completes the job by returning nothing; `{ error }` or a throw retries it after the
 * backoff; `{ discard }`, `{ cancel }`, `{ snooze: ms }` as in Oban. `{ ok: true, effects(tx) }`
 * writes the job's effects in the **same store transaction** that completes it, so they apply
 * exactly once even when the node is killed and the job is rescued and run again.
 *
 * @example
 * import { createRealEnv } from 'ordo';
 * import { openStore } from 'ordo/store';
 * import { JobRunner, defineWorker, jobTables } from 'ordo/jobs';
 *
 * const credit = defineWorker<{ user: string; amount: number }>({
 *   name: 'credit',
 *   queue: 'payments',
 *   perform: (args) => ({ ok: true, effects: (tx) => {
 *     const u = tx.get('balances', args.user);
 *     tx.put('balances', { user: args.user, amount: ((u?.['amount'] as number | undefined) ?? 0) + args.amount });
 *   } }),
 * });
 * const env = createRealEnv();
 * const balances = { type: 'set', key: 'user', attributes: { user: { type: 'string' }, amount: { type: 'integer', default: 0 } } } as const;
 * const store = await openStore({ env, dir: './data/store', tables: { balances, ...jobTables() } });
 * const runner = await JobRunner.start({ env, store, config: { workers: [credit], queues: { payments: 1 } } });
 * await runner.enqueue(credit, { user: 'u1', amount: 5 });
 * await runner.stop();
 * await store.close();
 */
export function defineWorker<Args>(o: WorkerOptions<Args>): WorkerDef<Args> {
  if (typeof o.name !== 'string' || o.name.length === 0) throw new JobsConfigError('worker.name', o.name, 'must be a non-empty string');
  if (typeof o.perform !== 'function') throw new JobsConfigError(`worker ${o.name}.perform`, o.perform, 'must be a function');
  const maxAttempts = o.maxAttempts ?? 20;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new JobsConfigError(`worker ${o.name}.maxAttempts`, maxAttempts, 'must be a positive integer');
  const priority = o.priority ?? 0;
  checkPriority(`worker ${o.name}.priority`, priority);
  if (o.timeoutMs !== undefined && !(o.timeoutMs > 0)) throw new JobsConfigError(`worker ${o.name}.timeoutMs`, o.timeoutMs, 'must be > 0');
  if (o.unique) checkUnique(`worker ${o.name}.unique`, o.unique);
  const queue = o.queue ?? 'default';
  checkName(`worker ${o.name}.queue`, queue);
  return {
    name: o.name,
    queue,
    maxAttempts,
    priority,
    timeoutMs: o.timeoutMs,
    unique: o.unique,
    ...(o.backoff ? { backoff: o.backoff } : {}),
    perform: o.perform,
  };
}

/** @internal */
export function checkPriority(field: string, p: unknown): void {
  if (!Number.isInteger(p) || (p as number) < 0 || (p as number) > 9) throw new JobsConfigError(field, p, 'must be an integer 0..9');
}

/** @internal queue and worker names: letters, digits, `_-.` */
export function checkName(field: string, n: unknown): void {
  if (typeof n !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(n)) throw new JobsConfigError(field, n, 'must match [A-Za-z0-9_.-]{1,64}');
}

/** @internal */
export function checkUnique(field: string, u: UniqueOptions): void {
  for (const f of u.fields ?? []) if (!['worker', 'queue', 'args', 'meta'].includes(f)) throw new JobsConfigError(`${field}.fields`, f, 'must be worker, queue, args or meta');
  for (const s of u.states ?? []) if (!JOB_STATES.includes(s)) throw new JobsConfigError(`${field}.states`, s, `must be one of ${JOB_STATES.join(', ')}`);
  if (u.periodMs !== undefined && u.periodMs !== 'infinity' && !(u.periodMs > 0)) throw new JobsConfigError(`${field}.periodMs`, u.periodMs, "must be > 0 or 'infinity'");
  for (const [s, fs] of Object.entries(u.replace ?? {})) {
    if (!JOB_STATES.includes(s as never)) throw new JobsConfigError(`${field}.replace`, s, 'unknown state');
    for (const f of fs ?? []) if (!['args', 'meta', 'priority', 'maxAttempts', 'scheduledAt'].includes(f)) throw new JobsConfigError(`${field}.replace.${s}`, f, 'not a replaceable field');
  }
}
