import type { TableDigest } from './integrity.ts';
import type { MemTable } from './memTable.ts';
import type { BuiltBatch, Pending } from './writeBatch.ts';
import { StoreCommitTimeoutError } from './errors.ts';

/**
 * The strict synced commit pipeline (issue 10): the group commit's bookkeeping for a batch
 * written while the batch before it waits for its durable watermark.
 *
 * A synced batch on the strict watermark is acknowledged only once its WAL write **and** the
 * marker naming it are durable (docs/store.md, "The durable watermark"). Its engine reports the
 * first (`KvWriteOptions.onDurable`); from then on the next batch's WAL write may run while the
 * marker's fdatasync does. What does not change:
 * - A batch is applied to RAM, delivered to the change feed and its commits settled only at its
 *   own acknowledgement (or its "durable but unproven" refusal), in commit order: a batch
 *   written behind another waits for that one to settle first. So no reader sees a row an
 *   acknowledgement could still be refused for that it could not see before.
 * - So the batch behind is built on the state the one ahead *will* leave (its commit sequence,
 *   change-log keys and table digests: {@link CommitBase}), not on RAM; and it may not touch a
 *   key the one ahead writes (its build reads the replaced row from RAM), nor replace a table,
 *   nor carry raw or replicated ops ({@link canFollow}): such a batch waits, as before.
 * @internal
 */
export interface CommitBase {
  readonly seq: number;
  readonly logSeqs: readonly number[];
  /** Digests of the tables the batches in flight touch (the others: `mem.digest`); `undefined`: none. */
  readonly digests: ReadonlyMap<MemTable, TableDigest> | undefined;
}

/** One group flush, from its build to its settling. @internal */
export interface Flight {
  batch: readonly Pending[];
  /** The state it is built on. */
  base: CommitBase;
  built: BuiltBatch | undefined;
  /** Its engine reported it durable in the WAL while its mark is still being made durable. */
  walDurable: boolean;
  /** Settled: `true` applied to RAM, `false` not; `undefined` while in flight. */
  applied: boolean | undefined;
  /** Its write was refused (it is not followed any more). */
  writeRefused: boolean;
  /**
   * Written while a batch ahead of it was refused as durable but unproven (`'committed'`: its
   * marker failed) or of unknown outcome (`'unknown'`: not applied, and this one was built on
   * it): never acknowledged, refused the same way once its own write is done.
   */
  doomed: 'committed' | 'unknown' | undefined;
  /** Resolves once it settled (never rejects). */
  done: Promise<void> | undefined;
  /** The flight it was written behind (pipelined): settled before it, its base is the state after that one. */
  readonly prev: Flight | undefined;
  /** Its keys for {@link canFollow}, built once (for the `batch` it was built from). */
  follow?: FollowIndex | undefined;
}

/** What {@link canFollow} needs of a flight: whether a commit of it stands alone, else its keys per table. @internal */
export interface FollowIndex {
  readonly batch: readonly Pending[];
  /** A commit of the batch stands alone ({@link standsAlone}): nothing may follow it. */
  readonly alone: boolean;
  readonly keys: ReadonlyMap<string, ReadonlySet<string>>;
}

/** The state after `f`: its base plus its batch (`f` built). */
export function baseAfter(f: Flight): CommitBase {
  const b = f.built!;
  const logSeqs = f.base.logSeqs.slice(b.logPruned);
  if (b.logAdded > 0) logSeqs.push(b.logAdded);
  let digests = f.base.digests;
  if (b.digests.size > 0) {
    const m = new Map(digests ?? []);
    for (const [mem, dg] of b.digests) m.set(mem, dg);
    digests = m;
  }
  return { seq: b.seq, logSeqs, digests };
}

/** A commit that must wait for the batches ahead to be applied before it is built. */
function standsAlone(p: Pending): boolean {
  return p.replaceTables !== undefined || (p.extra?.length ?? 0) > 0 || p.applied !== undefined;
}

/**
 * Whether `queue` may be built and written behind `flights` (in flight, none applied yet):
 * plain commits only ({@link standsAlone}), none touching a key (per table) that one of the
 * flights writes. Each flight's keys are indexed once ({@link followIndex}), not on every call:
 * the queue is checked again each turn while a marker is being made durable.
 */
export function canFollow(queue: readonly Pending[], flights: readonly Flight[]): boolean {
  const idx: FollowIndex[] = [];
  for (const f of flights) {
    const fi = followIndex(f);
    if (fi.alone) return false;
    if (fi.keys.size > 0) idx.push(fi);
  }
  for (const p of queue) {
    if (standsAlone(p)) return false;
    for (let i = 0; i < p.ops.length; i++) {
      const t = p.ops[i]!.table;
      const k = p.encKeys[i]!;
      for (const fi of idx) if (fi.keys.get(t)?.has(k)) return false;
    }
  }
  return true;
}

/** `f`'s {@link FollowIndex}, built on first use (again only if its batch was replaced: a commit that could not be encoded dropped). */
export function followIndex(f: Flight): FollowIndex {
  const cached = f.follow;
  if (cached !== undefined && cached.batch === f.batch) return cached;
  const keys = new Map<string, Set<string>>();
  let alone = false;
  for (const p of f.batch) {
    if (standsAlone(p)) {
      alone = true;
      break;
    }
    for (let i = 0; i < p.ops.length; i++) {
      const t = p.ops[i]!.table;
      let set = keys.get(t);
      if (!set) keys.set(t, (set = new Set()));
      set.add(p.encKeys[i]!);
    }
  }
  return (f.follow = { batch: f.batch, alone, keys });
}

/** How a refused write's error says the batch is: durable (`true`), maybe (`'unknown'`, a timeout too), or not written (`false`). */
function durableOf(err: unknown): { durable: boolean | 'unknown'; timeout: boolean } {
  const timeout = err instanceof StoreCommitTimeoutError;
  const d = (err as { durable?: unknown } | undefined)?.durable;
  return { durable: timeout ? 'unknown' : d === true ? true : d === 'unknown' ? 'unknown' : false, timeout };
}

/** `f`'s write was refused as durable, or of unknown outcome: the flights written behind it (after it in `flights`) are {@link Flight.doomed}. */
export function doomBehind(flights: readonly Flight[], f: Flight, err: unknown): void {
  const { durable } = durableOf(err);
  if (durable === false) return;
  const kind = durable === true ? 'committed' : 'unknown';
  for (let i = flights.indexOf(f) + 1; i > 0 && i < flights.length; i++) {
    const g = flights[i]!;
    if (g.doomed !== 'unknown') g.doomed = kind;
  }
}

/**
 * How a {@link Flight.doomed} flight settles once the batch ahead did (`err`: its own write's
 * refusal, if any): its write durable (resolved, or refused as durable) — applied and refused
 * `'committed'` (`durable: true`); doomed `'unknown'` or its own outcome unknown — not applied,
 * `'unknown'`. `undefined`: the ordinary outcome (not doomed, or its own WAL write failed).
 */
export function behindOutcome(f: Flight, err: unknown): { durable: true | 'unknown'; timeout: boolean } | undefined {
  if (f.doomed === undefined) return undefined;
  const own = err === undefined ? { durable: true as const, timeout: false } : durableOf(err);
  if (own.durable === false) return undefined;
  return { durable: f.doomed === 'committed' && own.durable === true ? true : 'unknown', timeout: own.timeout };
}
