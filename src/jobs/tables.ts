import type { Row, Store, TableDef } from '../store/index.ts';
import type { Job, JobError, JobState } from './types.ts';
import { JOB_STATES } from './types.ts';
import { setOwn } from '../store/values.ts';

/** Names of the runner's tables (declare them with {@link jobTables}). */
export const JOB_TABLES = {
  jobs: 'ordo_jobs',
  unique: 'ordo_jobs_unique',
  cron: 'ordo_jobs_cron',
  queues: 'ordo_jobs_queues',
  /** Global limits: per queue, the slots each runner holds (see `globalLimit`). */
  slots: 'ordo_jobs_slots',
} as const;

/** Options of {@link jobTables}. */
export interface JobTablesOptions {
  /** Replicated over the cluster's stream (cluster mode). Default false. */
  readonly replicated?: boolean;
  /** `async`: a commit does not wait for fdatasync (Redis `appendfsync everysec`-like); default `sync`. */
  readonly durability?: 'sync' | 'async';
}

/**
 * The runner's table declarations, to merge into the store's `tables` (the store declares its
 * tables at open). In cluster mode pass `replicated: true` and list the names in the
 * replication child's `tables`.
 *
 * @example
 * import { createRealEnv } from 'ordo';
 * import { openStore } from 'ordo/store';
 * import { jobTables } from 'ordo/jobs';
 *
 * const appTables = { users: { type: 'set', key: 'id', attributes: { id: { type: 'string' } } } } as const;
 * const store = await openStore({ env: createRealEnv(), dir: './data/store', tables: { ...appTables, ...jobTables() } });
 * await store.close();
 */
export function jobTables(o: JobTablesOptions = {}): Record<string, TableDef> {
  const common = { replicated: o.replicated ?? false, durability: o.durability ?? 'sync' } as const;
  return {
    [JOB_TABLES.jobs]: {
      ...common,
      key: 'id',
      attributes: {
        id: { type: 'string' },
        queue: { type: 'string' },
        worker: { type: 'string' },
        args: { type: 'any' },
        meta: { type: 'json', default: {} },
        state: { type: 'string' },
        priority: { type: 'integer', default: 0 },
        attempt: { type: 'integer', default: 0 },
        maxAttempts: { type: 'integer', default: 20 },
        insertedAt: { type: 'number' },
        scheduledAt: { type: 'number' },
        attemptedAt: { type: 'number', nullable: true },
        attemptedBy: { type: 'string', nullable: true },
        finishedAt: { type: 'number', nullable: true },
        errors: { type: 'json', default: [] },
        uniqueKey: { type: 'string', nullable: true },
        timeoutMs: { type: 'number', nullable: true },
        // the one ordering index every reader uses (see laneOf)
        lane: { type: 'json' },
      },
      indexes: ['lane'],
    },
    [JOB_TABLES.unique]: {
      ...common,
      key: 'uniqueKey',
      attributes: { uniqueKey: { type: 'string' }, jobId: { type: 'string' } },
    },
    [JOB_TABLES.cron]: {
      ...common,
      key: 'name',
      attributes: { name: { type: 'string' }, expression: { type: 'string' }, lastFireAt: { type: 'number' } },
    },
    [JOB_TABLES.queues]: {
      ...common,
      key: 'queue',
      attributes: { queue: { type: 'string' }, paused: { type: 'boolean', default: false } },
    },
    [JOB_TABLES.slots]: {
      ...common,
      key: 'queue',
      attributes: { queue: { type: 'string' }, held: { type: 'json', default: {} }, waiting: { type: 'json', default: {} } },
    },
  };
}

/**
 * A job's position in the `lane` index — one index ordering every read the runner makes:
 * available jobs by queue, priority, time; scheduled/retryable ones by due time (the stager);
 * executing ones by runner (the lifeline); final ones by finish time (the pruner).
 *
 * The job's id is not in it: an index entry is the lane followed by the row's key (the id's
 * encoding, which sorts as the id), so jobs with the same lane already sort by id. Leaving it
 * out makes every row and every index entry shorter (a job row is written three times, and
 * each write encodes its lane four times: the old and new entry, on disk and in RAM). Rows
 * written with the older lane (the id last, before 52500a5) are found by the same ranges (every
 * range the runner reads is a prefix of the lane): staged, claimed, rescued, pruned, listed and
 * counted as before. One order differs: where lanes tie (same queue, priority and scheduledAt),
 * the shorter new entry sorts first, so across the two layouts ties go new-layout first, each
 * layout in id order (test/jobs/laneTieMixed.test.ts). An old row takes the new lane the next
 * time it is written; old rows are not rewritten when the table opens.
 */
export function laneOf(j: Pick<Job, 'state' | 'queue' | 'priority' | 'scheduledAt' | 'attemptedBy' | 'finishedAt'>): unknown[] {
  switch (j.state) {
    case 'available':
      return ['available', j.queue, j.priority, j.scheduledAt];
    case 'scheduled':
    case 'retryable':
      return [j.state, j.scheduledAt];
    case 'executing':
      return ['executing', j.attemptedBy ?? ''];
    default:
      return finalLane(j.state, j.finishedAt ?? 0);
  }
}

/** The lane of a job in final state `state`, finished at `at`. */
function finalLane(state: JobState, at: number): unknown[] {
  return [state, at];
}

/** A tuple sorts after every number and string (the key codec's order): the upper bound of a prefix range. */
const LANE_MAX: unknown[] = [['\uffff']];

/** The lane bounds `[from, to]` of every job whose lane starts with `prefix`. */
export function laneRange(prefix: readonly unknown[]): [unknown[], unknown[]] {
  return [[...prefix], [...prefix, ...LANE_MAX]];
}

/**
 * The meta and errors of a job built without any ({@link buildJob}): frozen, shared, and written
 * as the attributes' defaults ({@link toRow}) — the store's own checked copies of `{}` and `[]` —
 * instead of a fresh `{}` and `[]` the store checks and copies for every job inserted.
 */
export const NO_META: Readonly<Record<string, unknown>> = Object.freeze({});
export const NO_ERRORS: readonly JobError[] = Object.freeze([]);

/** Row → job. */
export function toJob<Args = unknown>(r: Row): Job<Args> {
  return {
    id: r['id'] as string,
    queue: r['queue'] as string,
    worker: r['worker'] as string,
    args: r['args'] as Args,
    meta: (r['meta'] as Record<string, unknown>) ?? {},
    state: r['state'] as JobState,
    priority: r['priority'] as number,
    attempt: r['attempt'] as number,
    maxAttempts: r['maxAttempts'] as number,
    insertedAt: r['insertedAt'] as number,
    scheduledAt: r['scheduledAt'] as number,
    attemptedAt: (r['attemptedAt'] as number | null) ?? null,
    attemptedBy: (r['attemptedBy'] as string | null) ?? null,
    finishedAt: (r['finishedAt'] as number | null) ?? null,
    errors: (r['errors'] as Job['errors']) ?? [],
    uniqueKey: (r['uniqueKey'] as string | null) ?? null,
    timeoutMs: (r['timeoutMs'] as number | null) ?? null,
  };
}

/**
 * Row → the job as claimed by `by` at `now`: `executing`, attempt + 1 (one object: the job read
 * and changed in place, not a job and then its copy — a claim runs once per job).
 */
export function claimedJob(r: Row, by: string, now: number): Job {
  const j: { -readonly [K in keyof Job]: Job[K] } = toJob(r);
  j.state = 'executing';
  j.attempt += 1;
  j.attemptedAt = now;
  j.attemptedBy = by;
  return j;
}

/**
 * The stored row `r` of an `executing` job as completed at `now`: what `toRow` of the completed
 * job makes (every attribute as stored, the final-state lane of {@link laneOf}), without the job
 * object and its completed copy in between (a completion runs once per job).
 */
export function completedRow(r: Row, now: number): Row {
  return { ...r, state: 'completed', finishedAt: now, lane: finalLane('completed', now) };
}

/** Job → row (with its lane). */
export function toRow(j: Job): Row {
  return {
    id: j.id,
    queue: j.queue,
    worker: j.worker,
    args: j.args,
    // undefined: the attribute's default (the same stored value, no copy made of it)
    meta: j.meta === NO_META ? undefined : j.meta,
    state: j.state,
    priority: j.priority,
    attempt: j.attempt,
    maxAttempts: j.maxAttempts,
    insertedAt: j.insertedAt,
    scheduledAt: j.scheduledAt,
    attemptedAt: j.attemptedAt,
    attemptedBy: j.attemptedBy,
    finishedAt: j.finishedAt,
    errors: j.errors === NO_ERRORS ? undefined : j.errors,
    uniqueKey: j.uniqueKey,
    timeoutMs: j.timeoutMs,
    lane: laneOf(j),
  };
}

/** Jobs in `state` (optionally of one queue), in lane order, at most `limit` (default 100); dirty read. */
export function listJobs(store: Store, o: { state?: JobState; queue?: string; limit?: number } = {}): Job[] {
  const states = o.state ? [o.state] : JOB_STATES;
  const out: Job[] = [];
  const limit = o.limit ?? 100;
  for (const s of states) {
    const [from, to] = laneRange(s === 'available' && o.queue ? [s, o.queue] : [s]);
    for (const r of store.indexRange(JOB_TABLES.jobs, 'lane', from, to)) {
      if (out.length >= limit) return out;
      if (!o.queue || r['queue'] === o.queue) out.push(toJob(r));
    }
  }
  return out;
}

/** How many jobs are in each state, per queue (every one of `queues` listed, even empty); dirty read. */
export function countJobs(store: Store, queues: Iterable<string>): Record<string, Partial<Record<JobState, number>>> {
  const jobs: Record<string, Partial<Record<JobState, number>>> = {};
  // own keys, set and looked up: a queue named `__proto__` is counted under its own key
  const per = (q: string): Partial<Record<JobState, number>> => {
    if (!Object.hasOwn(jobs, q)) setOwn(jobs, q, {});
    return jobs[q]!;
  };
  for (const q of queues) per(q);
  for (const s of JOB_STATES) {
    const [from, to] = laneRange([s]);
    for (const r of store.indexRange(JOB_TABLES.jobs, 'lane', from, to)) {
      const counts = per(r['queue'] as string);
      counts[s] = (counts[s] ?? 0) + 1;
    }
  }
  return jobs;
}
