import type { MemTable } from './memTable.ts';
import type { StoreState } from './storeState.ts';
import type { BuiltBatch, Pending } from './writeBatch.ts';
import type { KvWriting } from '../env/kv.ts';
import { StoreCommitTimeoutError } from './errors.ts';

/** Ops from which an unsynced batch is written on the engine's other thread while it is applied to RAM (below: a thread hop costs more than it saves). */
const OVERLAP_MIN_OPS = 256;

/**
 * The engine's overlapped write ({@link KvDb.beginWrite}) for `batch` if it is worth it and
 * safe: at least {@link OVERLAP_MIN_OPS} ops, nothing synced (a synced batch takes the sync
 * writer), no corrupt row in a table it touches (taking back a rewrite of a corrupt row would
 * need its corruption records back). @internal
 */
export function overlapWriting(s: StoreState, table: (name: string) => MemTable, batch: readonly Pending[]): KvWriting | undefined {
  const db = s.db;
  if (db.beginWrite === undefined) return undefined;
  let n = 0;
  for (const p of batch) {
    n += p.ops.length;
    if (p.replaceTables) for (const t of p.replaceTables) n += table(t).rows.size;
  }
  if (n < OVERLAP_MIN_OPS) return undefined;
  const overlappable = (name: string): boolean => {
    const mem = table(name);
    return mem.corrupt.size === 0 && mem.corruptHash.size === 0 && mem.corruptIndex.size === 0 && !(mem.def.storage === 'disc' && mem.def.durability === 'sync');
  };
  let last: string | undefined;
  for (const p of batch) {
    if (p.extra && p.extra.length > 0 && !p.applied) return undefined;
    for (const t of p.replaceTables ?? []) if (!overlappable(t)) return undefined;
    for (const op of p.ops) {
      if (op.table === last) continue;
      last = op.table;
      if (!overlappable(last)) return undefined;
    }
  }
  return db.beginWrite();
}

/** What {@link writeOverlapped} needs from the group commit. @internal */
export interface OverlapHost {
  /** The batch's RAM apply, and a function that takes it back exactly. */
  applyUndoable(batch: readonly Pending[], built: BuiltBatch): () => void;
  /** A write went unanswered (or RAM is part applied): the failure is left only by a reopen. */
  unanswered(): void;
  /** Settles `batch` as indeterminate and fails the store. */
  indeterminate(batch: readonly Pending[], built: BuiltBatch, durable: 'unknown', cause: unknown): void;
}

/**
 * Writes `built` through `w` and applies it to RAM meanwhile: `finish` waits synchronously, so
 * no other code runs between the apply and the write's outcome; a refused write takes the
 * apply back before the refusal is handled (nobody ever read the rows). An unanswered write
 * (`durable: 'unknown'`) throws a {@link StoreCommitTimeoutError} (caused by the engine's
 * error) and leaves the failure to a reopen, as a synced one does. An apply that throws part
 * way still waits for the write (the writer is free again), then settles the batch as
 * `unknown` and fails the store until reopened (RAM is neither the old state nor the new).
 * Returns true (applied), `'settled'` (the batch is settled) or throws the engine's error.
 * @internal
 */
export function writeOverlapped(s: StoreState, h: OverlapHost, w: KvWriting, batch: readonly Pending[], built: BuiltBatch): true | 'settled' {
  w.commit(built.kvOps, built.streamed);
  let undo: () => void;
  try {
    undo = h.applyUndoable(batch, built);
  } catch (applyErr) {
    let written: unknown;
    try {
      w.finish(s.commitDeadlineMs);
      written = true;
    } catch (err) {
      written = (err as { durable?: unknown })?.durable ?? false;
    }
    s.env.logger.error({ report: 'store_apply_failed', dir: s.dir, commits: batch.length, written, err: applyErr }, 'store apply threw during an overlapped write; RAM is part applied');
    h.unanswered();
    h.indeterminate(batch, built, 'unknown', applyErr);
    return 'settled';
  }
  try {
    w.finish(s.commitDeadlineMs);
  } catch (err) {
    undo();
    if ((err as { durable?: unknown })?.durable === 'unknown') {
      h.unanswered();
      throw new StoreCommitTimeoutError(s.dir, s.commitDeadlineMs, built.seq, batch.length, { cause: err, bulk: true });
    }
    throw err;
  }
  return true;
}
