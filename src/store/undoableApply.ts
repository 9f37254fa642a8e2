import type { StoreState } from './storeState.ts';
import type { MemTable } from './memTable.ts';
import type { BuiltBatch, Pending } from './writeBatch.ts';

/**
 * Runs `apply` (the group commit's RAM apply of a written batch) and returns a function that takes
 * it back exactly — rows, key order, indexes, digests, commit sequence, change-log keys, stream
 * positions, table versions and, while transactions run (`tracking`), their per-key versions —
 * undoing the row changes in reverse order (each change knows the row it replaced). Used by the
 * overlapped unsynced write, whose outcome is known only after the apply.
 * @internal
 */
export function applyUndoable(s: StoreState, tracking: boolean, batch: readonly Pending[], built: BuiltBatch, apply: () => void): () => void {
  const seq = s.commitSeq;
  const pruned = s.logSeqs.slice(0, built.logPruned);
  const digests: Array<[MemTable, MemTable['digest']]> = [];
  for (const mem of built.digests.keys()) digests.push([mem, mem.digest]);
  const versions = new Map<MemTable, number>();
  const keyVersions: Array<[MemTable, string, number | undefined]> = [];
  const positions: Array<[string, number | undefined]> = [];
  for (let i = 0; i < batch.length; i++) {
    for (const c of built.changes[i]!) {
      if (!versions.has(c.mem)) versions.set(c.mem, c.mem.version);
      if (tracking) {
        const k = c.mem.encKeyOf(c.rowKey);
        keyVersions.push([c.mem, k, c.mem.keyVersions.get(k)]);
      }
    }
    const a = batch[i]!.applied;
    if (a) positions.push([a.stream, s.applied.get(a.stream)]);
  }
  apply();
  return () => {
    for (let i = batch.length - 1; i >= 0; i--) {
      const cs = built.changes[i]!;
      for (let j = cs.length - 1; j >= 0; j--) {
        const c = cs[j]!;
        if (c.row) {
          if (c.old) c.mem.putOver(c.rowKey, c.old, c.row);
          else c.mem.delete(c.rowKey);
        } else if (c.old) c.mem.putOver(c.rowKey, c.old, undefined);
      }
    }
    for (let i = keyVersions.length - 1; i >= 0; i--) {
      const [mem, k, v] = keyVersions[i]!;
      if (v === undefined) mem.keyVersions.delete(k);
      else mem.keyVersions.set(k, v);
    }
    for (const [mem, v] of versions) mem.version = v;
    for (const [mem, dg] of digests) mem.digest = dg;
    for (let i = positions.length - 1; i >= 0; i--) {
      const [stream, p] = positions[i]!;
      if (p === undefined) s.applied.delete(stream);
      else s.applied.set(stream, p);
    }
    if (built.logAdded > 0) s.logSeqs.pop();
    if (pruned.length > 0) s.logSeqs.unshift(...pruned);
    s.commitSeq = seq;
  };

}
