/**
 * The global concurrency limit (Oban Pro's `global_limit`): per queue, one row of the
 * `ordo_jobs_slots` table holds how many slots each runner (`node/incarnation`) has taken. A
 * runner takes slots in the same transaction that claims the jobs, and gives them back in the
 * transaction that records the outcome once the perform has ended (or in its next claim, when
 * a perform outlived its recorded timeout). Every claim reads the row, so two claims anywhere in
 * the cluster conflict and are serialised by the store (replicated tables: by the stream's
 * expected sequence): the sum of the row never exceeds the limit, and a runner starts a perform
 * only after its slot is committed, so the performs running never exceed it either.
 *
 * While other runners wait for slots (their last claim got fewer than it wanted), a runner takes
 * no more than its fair share, `ceil(limit / runners holding or waiting)`.
 *
 * Nothing of this lives in a leader's memory, so a leader change cannot break it. The leader's
 * part is the arbitration of dead runners: its lifeline drops the slots of a runner that left
 * membership (after the grace) in the same transaction that rescues that runner's jobs, so a
 * `kill -9`'d node's slots come back exactly when its jobs do.
 *
 * @internal
 */
import type { Row, Store, Tx } from '../store/index.ts';
import { JOB_TABLES } from './tables.ts';

/** The global-limit part of one transaction: the queue's cluster-wide limit and the slots this runner gives back. */
export interface SlotsChange {
  readonly limit: number;
  readonly release: number;
}

const T = JOB_TABLES.slots;

function heldOf(row: Row | undefined): Record<string, number> {
  return { ...((row?.['held'] as Record<string, number> | undefined) ?? {}) };
}

/** Runners whose last claim got fewer slots than it wanted (they get a fair share). */
function waitingOf(row: Row | undefined): Record<string, number> {
  return { ...((row?.['waiting'] as Record<string, number> | undefined) ?? {}) };
}

const sum = (held: Record<string, number>): number => Object.values(held).reduce((a, b) => a + b, 0);

/**
 * Inside a transaction: gives back `g.release` of `by`'s slots of `queue`, then lets `claimN`
 * claim up to `want` jobs within the global limit, and records `by`'s slots. Without `g` (no
 * global limit) it is just `claimN(want)`. Returns how many were claimed.
 */
export function withSlots(tx: Tx, queue: string, by: string, g: SlotsChange | undefined, want: number, claimN: (n: number) => number): number {
  if (!g) return want > 0 ? claimN(want) : 0;
  const row = tx.get(T, queue);
  const held = heldOf(row);
  const waiting = waitingOf(row);
  const mine = held[by] ?? 0;
  // never below zero: a drain that dropped this runner's slots may precede a late outcome
  const kept = mine - Math.min(g.release, mine);
  let allowed = Math.max(0, Math.min(want, g.limit - (sum(held) - mine) - kept));
  // fair share while others wait: a runner that completes and claims in one transaction would
  // otherwise keep every slot busy and starve the other nodes
  const others = new Set([...Object.keys(held), ...Object.keys(waiting)].filter((r) => r !== by && ((held[r] ?? 0) > 0 || waiting[r])));
  if (Object.keys(waiting).some((r) => r !== by)) allowed = Math.max(0, Math.min(allowed, Math.ceil(g.limit / (others.size + 1)) - kept));
  const got = allowed > 0 ? claimN(allowed) : 0;
  const next = kept + got;
  // waiting only when slots were refused while it had candidates for them: a runner that is
  // merely short of jobs (got < allowed) is not starved and must not cap the others' share
  const wants = allowed < want && got === allowed;
  let changed = next !== mine;
  if (changed) {
    if (next > 0) held[by] = next;
    else delete held[by];
  }
  if (wants !== !!waiting[by]) {
    changed = true;
    if (wants) waiting[by] = 1;
    else delete waiting[by];
  }
  if (changed) tx.put(T, { queue, held, waiting });
  return got;
}

/** Inside a transaction: drops every slot `runners` hold (a graceful stop, or the lifeline for dead runners). */
export function dropSlots(tx: Tx, runners: ReadonlySet<string>, queues: Iterable<string>): void {
  for (const queue of queues) {
    const row = tx.get(T, queue);
    const held = heldOf(row);
    const waiting = waitingOf(row);
    let changed = false;
    for (const r of runners) {
      if (held[r] === undefined && waiting[r] === undefined) continue;
      delete held[r];
      delete waiting[r];
      changed = true;
    }
    if (changed) tx.put(T, { queue, held, waiting });
  }
}

/** Dirty read: runner → the queues it holds global slots of (or waits for). */
export function slotHolders(store: Store): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const row of store.range(T)) {
    const entries = new Map([...Object.entries(waitingOf(row)), ...Object.entries(heldOf(row))]);
    for (const [runner, n] of entries) {
      if (!(n > 0)) continue;
      let list = out.get(runner);
      if (!list) out.set(runner, (list = []));
      list.push(row['queue'] as string);
    }
  }
  return out;
}

/** Slots taken in a slots row (0 for none). */
export function heldSum(row: Row | undefined): number {
  return sum(heldOf(row));
}

/** Dirty read: slots of `queue` taken cluster-wide. */
export function slotsTaken(store: Store, queue: string): number {
  return sum(heldOf(store.get(T, queue)));
}
