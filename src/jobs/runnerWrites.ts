/**
 * The runner's own writes (split out of runner.ts): the insert transaction of one turn's
 * enqueues — the jobs due now stored already claimed where this node's queue has room —, the id
 * an enqueue of unknown outcome stored, and admin writes whose commit outcome is unknown turned
 * into `ORDO_JOBS_COMMIT_INDETERMINATE`.
 *
 * @internal Used by the runner.
 */
import type { Store } from '../store/index.ts';
import { insertMany } from './engine.ts';
import { JobsCommitIndeterminateError } from './errors.ts';
import type { Queue } from './queue.ts';
import { JOB_TABLES } from './tables.ts';
import type { EnqueueResult, Job, WorkerDef } from './types.ts';
import { isIndeterminate, isStoreIndeterminate } from './uncertain.ts';

/** One enqueue waiting for the turn's insert transaction. */
export interface InsertItem {
  readonly job: Job;
  readonly unique: WorkerDef['unique'];
  readonly now: number;
}

/**
 * One insert transaction for a turn's enqueues. Where this node's queue has free slots and
 * nothing waiting, the best of the batch's jobs due now (lane order: priority, time, id) are
 * stored already claimed by runner `by` — one commit instead of an insert and a claim.
 * `claiming` is false while the runner is not `ok` (nothing is claimed directly then).
 */
export function insertBatch(store: Store, by: string, queues: ReadonlyMap<string, Queue>, claiming: boolean, items: readonly InsertItem[]): Promise<EnqueueResult[]> {
  const byQueue = new Map<string, number[]>();
  items.forEach((it, i) => {
    if (it.job.state !== 'available' || !claiming) return;
    const list = byQueue.get(it.job.queue);
    if (list) list.push(i);
    else byQueue.set(it.job.queue, [i]);
  });
  const direct = new Map<number, Queue>();
  for (const [name, idx] of byQueue) {
    const q = queues.get(name)!;
    const n = q.offer(idx.length);
    // lane order (priority, time, then id — as the claims take them), so a turn's eager claims take the jobs a claim would
    const order = [...idx].sort((a, b) => {
      const x = items[a]!.job;
      const y = items[b]!.job;
      return x.priority - y.priority || x.scheduledAt - y.scheduledAt || (x.id < y.id ? -1 : x.id > y.id ? 1 : a - b);
    });
    for (const i of order.slice(0, n)) direct.set(i, q);
  }
  const p = insertMany(store, direct.size === 0 ? items : items.map((it, i) => (direct.has(i) ? { ...it, claimBy: by } : it)));
  for (const [i, q] of direct) {
    const it = items[i]!;
    // an insert of unknown outcome may have stored the job claimed by this runner: settled first
    q.accept(p.then((rs) => (rs[i]!.conflict ? undefined : rs[i]!.job), (err) => (isIndeterminate(err) ? q.settleInserted(err, it.job, it.now) : undefined)));
  }
  return p;
}

/** The id an enqueue of unknown outcome stored (or may have): `job`'s own, or its unique duplicate's when the committed batch shows one. */
export function storedId(store: Store, job: Job, outcome: 'committed' | 'unknown'): string {
  if (outcome !== 'committed' || job.uniqueKey === null || store.get(JOB_TABLES.jobs, job.id)) return job.id;
  return (store.get(JOB_TABLES.unique, job.uniqueKey)?.['jobId'] as string | undefined) ?? job.id;
}

/**
 * Runs an admin write; one the store reports as `ORDO_STORE_COMMIT_INDETERMINATE` rejects
 * with `ORDO_JOBS_COMMIT_INDETERMINATE` naming what it wrote (`committed`: `onCommitted` runs
 * first — the change is applied), so a caller never repeats it as if nothing happened.
 * `failed` is told of the store error first.
 */
export async function settledWrite<T>(
  operation: string,
  ids: readonly string[],
  queue: string | undefined,
  write: () => Promise<T>,
  failed: (operation: string, err: unknown) => void,
  onCommitted?: () => void,
): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isStoreIndeterminate(err)) throw err;
    failed(operation, err);
    if (err.outcome === 'committed') onCommitted?.();
    throw new JobsCommitIndeterminateError(operation, ids, err.outcome, { cause: err, ...(queue !== undefined ? { queue } : {}) });
  }
}
