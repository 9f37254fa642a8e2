/**
 * The global concurrency limit (Oban Pro's `global_limit`): per queue, one row of the
 * `ordo_jobs_slots` table lists the slots each runner (`node/incarnation`) has taken, one token
 * per claimed attempt ({@link slotToken}). A runner takes slots in the same transaction that
 * claims the jobs, and gives them back — by token, so a release sent twice frees once — in the
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
 * The row's format is the slot protocol ({@link SLOTS_PROTOCOL}). A runner rewrites only its own
 * entry: a count of an older version's runner (protocol 1) is counted and kept as a count, so a
 * rolling deploy never exceeds the limit; an entry it cannot read refuses the queue's claims
 * (`ORDO_JOBS_SLOTS_PROTOCOL`) rather than count it as nothing.
 *
 * @internal
 */
import type { Row, Store, Tx } from '../store/index.ts';
import { JOB_TABLES } from './tables.ts';
import { JobsSlotsProtocolError } from './errors.ts';

/**
 * The global-limit part of one transaction: the queue's cluster-wide limit and the slots this
 * runner gives back, by token ({@link slotToken}). A release names the slots it frees, so
 * giving one back twice — a commit whose outcome was unknown, released again — frees it once.
 */
export interface SlotsChange {
  readonly limit: number;
  readonly release: readonly string[];
}

/**
 * The slot an attempt holds: one per job, attempt and claim time (a perform that outlived its
 * timeout keeps its own; a job claimed again after a snooze or a give-back, which return the
 * attempt, gets a new one).
 */
export function slotToken(j: { readonly id: string; readonly attempt: number; readonly attemptedAt: number | null }): string {
  return `${j.id}#${j.attempt}@${j.attemptedAt ?? 0}`;
}

const T = JOB_TABLES.slots;

/**
 * The slot protocol of this version: a runner's entry in a slots row is the list of its slot
 * tokens. Protocol 1 (before aa2ef19) wrote a count. A later protocol must write entries this
 * one reads, or objects carrying their protocol as `v` (this one then refuses to claim, naming it).
 */
export const SLOTS_PROTOCOL = 2;

/** The largest protocol-1 count read as a count (slots one runner holds); a larger one is unreadable, refused like a later protocol's entry. */
const LEGACY_COUNT_MAX = 65_536;

/** The slot protocol entry `v` of a slots row was written in: 1 (a count), 2 (tokens), a later one's `v`, or `unknown`. */
export function entryProtocol(v: unknown): number | 'unknown' {
  if (Array.isArray(v)) return v.every((t) => typeof t === 'string') ? SLOTS_PROTOCOL : 'unknown';
  // a count above LEGACY_COUNT_MAX is not one any runner wrote (a damaged or spoofed entry): unreadable
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= LEGACY_COUNT_MAX ? 1 : 'unknown';
  const ver = typeof v === 'object' && v !== null ? (v as { v?: unknown }).v : undefined;
  return typeof ver === 'number' && ver > SLOTS_PROTOCOL ? ver : 'unknown';
}

/**
 * A copy of a stored runner → value map with no prototype: a key on `Object.prototype` read from
 * a damaged or hostile row is an entry like any other — `__proto__` written into a plain object
 * set its prototype (the entry lost from the count), `constructor` read a function through it.
 */
const own = <V>(stored: unknown): Record<string, V> => Object.assign(Object.create(null) as Record<string, V>, (stored as Record<string, V> | undefined) ?? {});

/** The entries of a slots row as stored (every runner's, whatever its protocol: written back as they are). */
const rawOf = (row: Row | undefined): Record<string, unknown> => own(row?.['held']);

/**
 * Runner → the tokens of the slots it holds. A count (protocol 1: a runner of a version before
 * tokens) reads as that many anonymous slots — counted, and freed only by that runner or with it.
 * An entry of a protocol this version cannot read counts as none here (dirty reads); a claim
 * refuses it ({@link withSlots}).
 */
function heldOf(row: Row | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const [r, v] of Object.entries(rawOf(row))) {
    const p = entryProtocol(v);
    out[r] = p === SLOTS_PROTOCOL ? (v as string[]) : p === 1 ? Array.from({ length: v as number }, (_, i) => `legacy#${i}`) : [];
  }
  return out;
}

/** The entries of `row` this version cannot read (neither a count nor tokens), by runner. */
function unreadable(row: Row | undefined): Array<[string, unknown]> {
  return Object.entries(rawOf(row)).filter(([, v]) => { const p = entryProtocol(v); return p !== 1 && p !== SLOTS_PROTOCOL; });
}

/** Runners whose last claim got fewer slots than it wanted (they get a fair share). */
function waitingOf(row: Row | undefined): Record<string, number> {
  return own(row?.['waiting']);
}

const sum = (held: Record<string, string[]>): number => Object.values(held).reduce((a, b) => a + b.length, 0);

/**
 * Inside a transaction: gives back the slots `g.release` names of `by`'s slots of `queue`, then
 * lets `claimN` claim up to `want` jobs within the global limit (it returns their slot tokens),
 * and records `by`'s slots. Without `g` (no global limit) it is just `claimN(want)`. Returns
 * how many were claimed.
 */
export function withSlots(tx: Tx, queue: string, by: string, g: SlotsChange | undefined, want: number, claimN: (n: number) => readonly string[]): number {
  if (!g) return want > 0 ? claimN(want).length : 0;
  const row = tx.get(T, queue);
  // a claim cannot count slots it cannot read: refused, loudly (a release, claiming nothing, goes on)
  const bad = want > 0 ? unreadable(row)[0] : undefined;
  if (bad) throw new JobsSlotsProtocolError(queue, bad[0], entryProtocol(bad[1]), SLOTS_PROTOCOL, bad[1]);
  const raw = rawOf(row);
  const held = heldOf(row);
  const waiting = waitingOf(row);
  const mine = held[by] ?? [];
  // a token not held (given back already, or dropped by a drain) frees nothing
  const rel = new Set(g.release);
  const kept = mine.filter((t) => !rel.has(t));
  let allowed = Math.max(0, Math.min(want, g.limit - (sum(held) - mine.length) - kept.length));
  // fair share while others wait: a runner that completes and claims in one transaction would
  // otherwise keep every slot busy and starve the other nodes
  const others = new Set([...Object.keys(held), ...Object.keys(waiting)].filter((r) => r !== by && ((held[r]?.length ?? 0) > 0 || waiting[r])));
  if (Object.keys(waiting).some((r) => r !== by)) allowed = Math.max(0, Math.min(allowed, Math.ceil(g.limit / (others.size + 1)) - kept.length));
  const got = allowed > 0 ? claimN(allowed) : [];
  const next = [...kept, ...got];
  // waiting only when slots were refused while it had candidates for them: a runner that is
  // merely short of jobs (got < allowed) is not starved and must not cap the others' share
  const wants = allowed < want && got.length === allowed;
  let changed = kept.length !== mine.length || got.length > 0;
  // only this runner's entry is rewritten: the others' stay as stored (a count stays a count)
  if (changed) {
    if (next.length > 0) raw[by] = next;
    else delete raw[by];
  }
  if (wants !== !!waiting[by]) {
    changed = true;
    if (wants) waiting[by] = 1;
    else delete waiting[by];
  }
  if (changed) tx.put(T, { queue, held: raw, waiting });
  return got.length;
}

/** Inside a transaction: drops every slot `runners` hold (a graceful stop, or the lifeline for dead runners). */
export function dropSlots(tx: Tx, runners: ReadonlySet<string>, queues: Iterable<string>): void {
  for (const queue of queues) {
    const row = tx.get(T, queue);
    // the others' entries stay as stored, whatever their protocol
    const held = rawOf(row);
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
    // an unreadable entry counts as held: its runner, once dead, has it dropped by the lifeline
    // (else it would refuse every claim on the queue for good)
    const entries = new Map<string, number>([...Object.entries(waitingOf(row)), ...Object.entries(heldOf(row)).map(([r, ts]): [string, number] => [r, ts.length]), ...unreadable(row).map(([r]): [string, number] => [r, 1])]);
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

/** Dirty read: queue → the tokens of the global slots `runner` holds there. */
export function tokensHeldBy(store: Store, runner: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const row of store.range(T)) {
    const mine = heldOf(row)[runner];
    if (mine && mine.length > 0) out.set(row['queue'] as string, mine);
  }
  return out;
}

/** Dirty read: the entries of global-limit slots rows written in another slot protocol than {@link SLOTS_PROTOCOL} (a rolling deploy mixing versions). */
export function foreignEntries(store: Store): Array<{ queue: string; runner: string; protocol: number | 'unknown'; value: unknown }> {
  const out: Array<{ queue: string; runner: string; protocol: number | 'unknown'; value: unknown }> = [];
  for (const row of store.range(T)) {
    for (const [runner, value] of Object.entries(rawOf(row))) {
      const protocol = entryProtocol(value);
      if (protocol !== SLOTS_PROTOCOL) out.push({ queue: row['queue'] as string, runner, protocol, value });
    }
  }
  return out;
}
