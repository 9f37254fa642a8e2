/**
 * The runner's store operations, each one transaction over the job tables. Reads that pick
 * candidates are dirty index reads (RAM); the transaction then re-reads each candidate by key,
 * so it conflicts only with commits to those rows, and two nodes claiming the same job resolve
 * like any lost race: the loser re-runs and sees the job taken.
 *
 * @internal
 */
import type { Row, Store, Tx } from '../store/index.ts';
import { JOB_TABLES, claimedJob, laneRange, toJob, toRow } from './tables.ts';
import type { EnqueueResult, Job, JobError, JobState, UniqueOptions } from './types.ts';
import { FINAL_STATES } from './types.ts';
import { isDuplicate, replaced } from './unique.ts';
import { readSafely, thrownText } from '../errors.ts';
import { dropSlots, slotToken, withSlots, type SlotsChange } from './slots.ts';

const T = JOB_TABLES;

function getJob(tx: Tx, id: string): Job | undefined {
  const r = tx.get(T.jobs, id);
  return r ? toJob(r) : undefined;
}

/** Inserts `job` (or finds its unique duplicate / an existing job with its id). */
export async function insertJob(store: Store, job: Job, unique: UniqueOptions | undefined, now: number): Promise<EnqueueResult> {
  return store.transaction((tx) => insertInTx(tx, job, unique, now));
}

/**
 * Inserts several jobs in one transaction (see `Batcher`); `claimBy`: see {@link insertInTx}.
 * An item's `claimBy` holds only while no available job of its queue sorts ahead of it in lane
 * order ({@link availableAhead}), checked again on every run of the transaction: a run after a
 * conflict sees what the commits it lost to made available, and a job one of them made
 * available ahead of this one is not jumped (the item is inserted `available`, for the claims).
 */
export async function insertMany(store: Store, items: ReadonlyArray<{ job: Job; unique: UniqueOptions | undefined; now: number; claimBy?: string | undefined }>): Promise<EnqueueResult[]> {
  return store.transaction((tx) => items.map((i) => insertInTx(tx, i.job, i.unique, i.now, i.claimBy !== undefined && !availableAhead(store, i.job) ? i.claimBy : undefined)));
}

/**
 * Whether an available job of `job`'s queue sorts ahead of `job` in lane order (priority, then
 * `scheduledAt`, then id): the first entry of the queue's available lane, read from the
 * committed rows (RAM, not the transaction's read set — a read set over the lane would make
 * every insert conflict with every commit to the jobs table). A commit still in flight when
 * this runs is concurrent with the insert: their order is the store's, as between two claims.
 */
export function availableAhead(store: Store, job: Pick<Job, 'id' | 'queue' | 'priority' | 'scheduledAt'>): boolean {
  const [from, to] = laneRange(['available', job.queue]);
  const first = store.indexRange(T.jobs, 'lane', from, to, { limit: 1 })[0];
  if (!first) return false;
  const p = first['priority'] as number;
  if (p !== job.priority) return p < job.priority;
  const at = first['scheduledAt'] as number;
  if (at !== job.scheduledAt) return at < job.scheduledAt;
  return (first['id'] as string) < job.id;
}

/**
 * {@link insertJob} inside a caller's transaction (the cron plugin's, with its fire time).
 * `claimBy` (a runner with a free slot for it and nothing waiting in the queue): a new job due
 * now is stored already claimed by that runner — `executing`, attempt 1 — one commit instead
 * of an insert and a claim; the lifeline rescues it like any claimed job if that runner dies.
 */
export function insertInTx(tx: Tx, job: Job, unique: UniqueOptions | undefined, now: number, claimBy?: string): EnqueueResult {
  if (claimBy !== undefined && job.state === 'available' && job.scheduledAt <= now) {
    const claimed: Job = { ...job, state: 'executing', attempt: job.attempt + 1, attemptedAt: now, attemptedBy: claimBy };
    const r = insertInTx(tx, claimed, unique, now);
    // a conflict returns the existing job; a fresh insert returns the claimed one
    return r.conflict ? r : { job: claimed, conflict: false };
  }
  {
    const same = getJob(tx, job.id);
    if (same) return { job: same, conflict: true };
    if (unique && job.uniqueKey !== null) {
      const ptr = tx.get(T.unique, job.uniqueKey);
      const existing = ptr ? getJob(tx, ptr['jobId'] as string) : undefined;
      if (existing && isDuplicate(unique, existing, now)) {
        const next = replaced(unique, existing, job);
        if (next) tx.put(T.jobs, toRow(next));
        return { job: next ?? existing, conflict: true };
      }
      tx.put(T.unique, { uniqueKey: job.uniqueKey, jobId: job.id });
    }
    tx.put(T.jobs, toRow(job));
    return { job, conflict: false };
  }
}

/** Available jobs of `queue` in claim order (priority, then time), dirty read. */
export function availableOf(store: Store, queue: string, limit: number): Job[] {
  const [from, to] = laneRange(['available', queue]);
  return store.indexRange(T.jobs, 'lane', from, to, { limit }).map((r) => toJob(r));
}

/** What a transaction claims besides its other work: up to `want` of `candidates` (job ids, re-read by key), within the global limit. */
export interface ClaimNext {
  readonly queue: string;
  readonly by: string;
  readonly now: number;
  readonly want: number;
  readonly candidates: readonly string[];
  /** The global limit's part (slots given back, the limit), when the queue has one. */
  readonly slots?: SlotsChange | undefined;
  /**
   * Set by the claim's (last) run: how many candidates it found taken (gone, or no longer
   * available). A claim that got fewer than it wanted because of them may have more waiting
   * behind its candidates (its read was only as long as `want`): its queue claims again.
   */
  taken?: number;
}

function claimInTx(tx: Tx, c: ClaimNext): Job[] {
  const got: Job[] = [];
  c.taken = 0;
  const take = (n: number): Job[] => {
    for (const id of c.candidates) {
      if (got.length >= n) break;
      const r = tx.get(T.jobs, id);
      if (!r || r['state'] !== 'available') {
        c.taken!++;
        continue;
      }
      const next = claimedJob(r, c.by, c.now);
      tx.put(T.jobs, toRow(next));
      got.push(next);
    }
    return got;
  };
  const want = c.candidates.length > 0 ? c.want : 0;
  // slot tokens only for a global limit (withSlots without one is just the claim)
  if (c.slots) withSlots(tx, c.queue, c.by, c.slots, want, (n) => take(n).map(slotToken));
  else if (want > 0) take(want);
  return got;
}

/**
 * What the last run of a transaction's function returned: when the commit ends with
 * `ORDO_REPL_INDETERMINATE` (it may have landed) this is what it would have written.
 */
export interface Seen<T> {
  value?: T;
}

const seenBy = <T>(seen: Seen<T> | undefined, v: T): T => {
  if (seen) seen.value = v;
  return v;
};

/**
 * The next claim's candidates: a dirty read of up to `want` available jobs, skipping those
 * another claim of this node has in flight (overlapping candidates would make this node's own
 * transactions conflict and wait for each other's commit). Some may be taken by the time the
 * claim runs (another node's claim): the claim then says so ({@link ClaimNext.taken}) and its
 * queue claims again, rather than every claim reading a margin of candidates it rarely needs
 * (the index read, which decodes each entry, was ~4 % of a no-op job's CPU at twice `want`).
 */
export function nextClaim(store: Store, queue: string, want: number, by: string, now: number, slots?: SlotsChange, skip?: ReadonlySet<string>): ClaimNext {
  if (want <= 0) return { queue, by, now, want, candidates: [], slots };
  const n = want;
  const [from, to] = laneRange(['available', queue]);
  // ids only: the transaction re-reads each by key (no job object per candidate read here)
  const read = store.indexRange(T.jobs, 'lane', from, to, { limit: n + (skip?.size ?? 0) });
  const candidates: string[] = [];
  for (const r of read) {
    if (candidates.length >= n) break;
    const id = r['id'] as string;
    if (!skip || !skip.has(id)) candidates.push(id);
  }
  return { queue, by, now, want, candidates, slots };
}

/**
 * Claims up to `n` available jobs of `queue` for runner `by` in one transaction (Oban's fetch
 * of the queue's free demand): each becomes `executing`, attempt + 1. With a global limit it
 * also gives back `slots.release` slots and takes one per job claimed.
 */
export async function claim(store: Store, c: ClaimNext, seen?: Seen<Job[]>): Promise<Job[]> {
  if (c.candidates.length === 0 && !(c.slots && c.slots.release.length > 0)) return seenBy(seen, []);
  return store.transaction((tx) => seenBy(seen, claimInTx(tx, c)));
}

/**
 * True when `j` is still the attempt `claimed` (not rescued, cancelled or re-claimed since). The
 * claim time counts too (as in the slot token): a snooze or a give-back returns the attempt, so
 * the same runner claiming the job again gets the same attempt number.
 */
export const sameAttempt = (j: Job | undefined, claimed: Job): j is Job =>
  !!j && j.state === 'executing' && j.attemptedBy === claimed.attemptedBy && j.attempt === claimed.attempt && j.attemptedAt === claimed.attemptedAt;

/** {@link sameAttempt} of the stored row `r` itself (no job object made to compare it). */
const sameAttemptRow = (r: Row | undefined, claimed: Job): r is Row =>
  !!r && r['state'] === 'executing' && r['attemptedBy'] === claimed.attemptedBy && r['attempt'] === claimed.attempt && r['attemptedAt'] === claimed.attemptedAt;

/**
 * Ends attempt `claimed` with `change`, running `effects` in the same transaction (and the
 * global limit's release, when `next` carries one). `'fenced'` (nothing written, effects not
 * applied) when the job is no longer that attempt.
 */
export async function finish(store: Store, claimed: Job, change: (j: Job) => Job, effects?: (tx: Tx) => void, next?: ClaimNext, seen?: Seen<'done' | 'fenced'>): Promise<'done' | 'fenced'> {
  return store.transaction((tx) => {
    if (next) claimInTx(tx, { ...next, want: 0 });
    const j = getJob(tx, claimed.id);
    if (!sameAttempt(j, claimed)) return seenBy(seen, 'fenced' as const);
    effects?.(tx);
    tx.put(T.jobs, toRow(change(j)));
    return seenBy(seen, 'done' as const);
  });
}

/**
 * The outcome of a perform that ended after its runner's drain left it running (it ignored its
 * abort): written as it says, with its effects, fenced by the attempt (`'fenced'`: the job is no
 * longer that attempt, nothing written), and `release`'s global slot given back in the same
 * transaction.
 */
export async function finishLate(store: Store, claimed: Job, change: (j: Job) => Job, effects: ((tx: Tx) => void) | undefined, release?: SlotRelease): Promise<'done' | 'fenced'> {
  return store.transaction((tx) => {
    if (release) withSlots(tx, release.queue, release.by, release.slots, 0, () => []);
    const j = getJob(tx, claimed.id);
    if (!sameAttempt(j, claimed)) return 'fenced' as const;
    effects?.(tx);
    tx.put(T.jobs, toRow(change(j)));
    return 'done' as const;
  });
}

/**
 * Several {@link finish}es without effects in one transaction, each fenced on its own — and the
 * next claim in the same transaction (BullMQ's `moveToCompleted` fetching the next job): the
 * slots these outcomes free go straight to the jobs claimed, one commit instead of two.
 */
export async function finishMany(
  store: Store,
  items: ReadonlyArray<{ claimed: Job; change: (j: Job) => Job; row?: ((r: Row) => Row) | undefined }>,
  next?: ClaimNext,
  seen?: Seen<{ results: Array<'done' | 'fenced'>; claimed: Job[] }>,
): Promise<{ results: Array<'done' | 'fenced'>; claimed: Job[] }> {
  return store.transaction((tx) => {
    const results = items.map(({ claimed, change, row }) => {
      if (row) {
        // the change made to the stored row (a completion): no job object and copy per job
        const r = tx.get(T.jobs, claimed.id);
        if (!sameAttemptRow(r, claimed)) return 'fenced' as const;
        tx.put(T.jobs, row(r));
        return 'done' as const;
      }
      const j = getJob(tx, claimed.id);
      if (!sameAttempt(j, claimed)) return 'fenced' as const;
      tx.put(T.jobs, toRow(change(j)));
      return 'done' as const;
    });
    return seenBy(seen, { results, claimed: next ? claimInTx(tx, next) : [] });
  });
}

/** An error entry for the job's current attempt. */
export function errorEntry(j: Job, err: unknown, now: number): JobError {
  const code = readSafely(() => (err as { code?: unknown } | null | undefined)?.code);
  return { attempt: j.attempt, at: now, error: thrownText(err).slice(0, 2000), ...(typeof code === 'string' ? { code } : {}) };
}


/** Moves scheduled and retryable jobs due at `now` to available. Returns the queues touched and the next due time. */
export async function stage(store: Store, now: number, limit: number): Promise<{ queues: Set<string>; nextDue: number | undefined }> {
  const due: Job[] = [];
  let nextDue: number | undefined;
  for (const state of ['scheduled', 'retryable'] as const) {
    const [from] = laneRange([state]);
    const rows = store.indexRange(T.jobs, 'lane', from, [state, now, ['\uffff']], { limit }).map((r) => toJob(r));
    due.push(...rows);
    const [, to] = laneRange([state]);
    const next = store.indexRange(T.jobs, 'lane', [state, now, ['\uffff']], to, { limit: 1 })[0];
    if (next && (nextDue === undefined || (next['scheduledAt'] as number) < nextDue)) nextDue = next['scheduledAt'] as number;
  }
  const queues = new Set<string>();
  if (due.length === 0) return { queues, nextDue };
  await store.transaction((tx) => {
    queues.clear();
    for (const c of due) {
      const j = getJob(tx, c.id);
      if (!j || (j.state !== 'scheduled' && j.state !== 'retryable') || j.scheduledAt > now) continue;
      tx.put(T.jobs, toRow({ ...j, state: 'available' }));
      queues.add(j.queue);
    }
  });
  return { queues, nextDue: due.length >= limit ? now : nextDue };
}

/** Deletes final jobs that finished before `before` (at most `limit`). Returns how many. */
export async function prune(store: Store, before: number, limit: number): Promise<number> {
  const victims: Job[] = [];
  for (const state of FINAL_STATES) {
    const [from] = laneRange([state]);
    victims.push(...store.indexRange(T.jobs, 'lane', from, [state, before, ['\uffff']], { limit: limit - victims.length }).map((r) => toJob(r)));
  }
  if (victims.length === 0) return 0;
  return store.transaction((tx) => {
    let n = 0;
    for (const c of victims) {
      const j = getJob(tx, c.id);
      if (!j || !FINAL_STATES.includes(j.state) || (j.finishedAt ?? 0) >= before) continue;
      tx.delete(T.jobs, j.id);
      if (j.uniqueKey !== null && tx.get(T.unique, j.uniqueKey)?.['jobId'] === j.id) tx.delete(T.unique, j.uniqueKey);
      n++;
    }
    return n;
  });
}

/** Executing jobs, dirty read, grouped by the runner (`node/incarnation`) that claimed them. */
export function executingByRunner(store: Store): Map<string, Job[]> {
  const [from, to] = laneRange(['executing']);
  const out = new Map<string, Job[]>();
  for (const r of store.indexRange(T.jobs, 'lane', from, to)) {
    const j = toJob(r);
    const k = j.attemptedBy ?? '';
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(j);
  }
  return out;
}

/** Global slots of one runner and queue given back by a {@link rescue}. */
export interface SlotRelease {
  readonly queue: string;
  readonly by: string;
  readonly slots: SlotsChange;
}

/**
 * Lifeline: returns orphaned executing jobs to `available` (or `discarded` when their attempts
 * are used up), recording why. `returnAttempt` (a graceful drain; a predicate: for the jobs it
 * picks) also gives the attempt back, with no error entry.
 * `drop`: the global-limit slots of these runners are dropped in the same transaction (their
 * performs are gone: a dead runner, or this one stopping). `release`: only these slots of one
 * runner are given back (a drain that leaves a perform running keeps that perform's slot).
 * `seen.value`: how many the last run of the transaction returned (for a commit that ends
 * `ORDO_STORE_COMMIT_INDETERMINATE` with `outcome: 'committed'`: applied all the same).
 */
export async function rescue(
  store: Store,
  jobs: readonly Job[],
  now: number,
  why: string,
  returnAttempt: boolean | ((j: Job) => boolean) = false,
  drop?: { runners: ReadonlySet<string>; queues: Iterable<string> },
  release?: SlotRelease | readonly SlotRelease[],
  seen?: Seen<number>,
): Promise<number> {
  const releases: readonly SlotRelease[] = release === undefined ? [] : 'queue' in release ? [release] : release;
  if (jobs.length === 0 && !drop && !releases.some((r) => r.slots.release.length > 0)) return seenBy(seen, 0);
  return store.transaction((tx) => {
    if (drop) dropSlots(tx, drop.runners, drop.queues);
    for (const r of releases) withSlots(tx, r.queue, r.by, r.slots, 0, () => []);
    let n = 0;
    for (const c of jobs) {
      const j = getJob(tx, c.id);
      if (!sameAttempt(j, c)) continue;
      const back = typeof returnAttempt === 'function' ? returnAttempt(c) : returnAttempt;
      const errors = back ? j.errors : [...j.errors, errorEntry(j, why, now)];
      const attempt = back ? j.attempt - 1 : j.attempt;
      const state: JobState = attempt >= j.maxAttempts ? 'discarded' : 'available';
      tx.put(T.jobs, toRow({ ...j, state, attempt, errors, attemptedBy: null, scheduledAt: now, finishedAt: state === 'discarded' ? now : null }));
      n++;
    }
    return seenBy(seen, n);
  });
}

/** Cancels a job that is not final. `'executing'` when it was running (its runner is told to abort). */
export async function cancelJob(store: Store, id: string, now: number): Promise<{ ok: true; was: JobState; job: Job } | { ok: false; error: 'not_found' | 'final' }> {
  return store.transaction((tx) => {
    const j = getJob(tx, id);
    if (!j) return { ok: false as const, error: 'not_found' as const };
    if (FINAL_STATES.includes(j.state)) return { ok: false as const, error: 'final' as const };
    const next: Job = { ...j, state: 'cancelled', finishedAt: now };
    tx.put(T.jobs, toRow(next));
    return { ok: true as const, was: j.state, job: next };
  });
}

/** Makes a final or waiting job available now (Oban's `retry_job`: a discarded job gets one more attempt). */
export async function retryJob(store: Store, id: string, now: number): Promise<{ ok: true; job: Job } | { ok: false; error: 'not_found' | 'executing' | 'available' }> {
  return store.transaction((tx) => {
    const j = getJob(tx, id);
    if (!j) return { ok: false as const, error: 'not_found' as const };
    if (j.state === 'executing' || j.state === 'available') return { ok: false as const, error: j.state };
    const maxAttempts = j.attempt >= j.maxAttempts ? j.attempt + 1 : j.maxAttempts;
    const next: Job = { ...j, state: 'available', scheduledAt: now, finishedAt: null, maxAttempts };
    tx.put(T.jobs, toRow(next));
    return { ok: true as const, job: next };
  });
}

/** Persists a queue's paused flag (every node follows it). */
export async function setPaused(store: Store, queue: string, paused: boolean): Promise<void> {
  await store.transaction((tx) => void tx.put(T.queues, { queue, paused }));
}
