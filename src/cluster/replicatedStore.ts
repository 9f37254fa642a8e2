/**
 * The store as replication sees it. The seam is declared once, by the lower layer: the batch,
 * op and replicator types are the store's (`src/store/types.ts`), and the store surface the
 * replicator uses is picked from the real {@link Store} — there is no second copy of the
 * contract to drift from it.
 */
import type { Store } from '../store/store.ts';

/**
 * The part of the {@link Store} replication drives:
 *
 * - `setReplicator(r)`: a transaction touching a `replicated` table hands its batch to
 *   `r.commit` instead of writing locally, and resolves when that resolves.
 * - `applyReplicated(batch, pos)`: atomic apply + record of `pos.seq` as the last applied
 *   sequence of `pos.stream`, in one write batch; a seq at or below it is a `'duplicate'`
 *   no-op; a batch that does not fit the schema throws `ORDO_STORE_VALIDATION` and applies
 *   nothing; a newer `schemaVersion` throws `ORDO_STORE_NEWER_SCHEMA`; anything else (I/O, a
 *   closed store) means the batch may not have been written.
 * - `snapshot(tables)` / `loadSnapshot(snap)`: catch-up when the stream no longer holds the
 *   next sequence a node needs (carries the replication positions, adopted atomically).
 * - `deferredMigrations()` / `runDeferredMigrations()`: migrations of replicated tables the
 *   store deferred at open; running them commits one batch carrying `migrations` through the
 *   replicator (`'none'` when nothing is deferred any more: idempotent).
 */
export type ReplicatedStore = Pick<Store, 'setReplicator' | 'applyReplicated' | 'lastAppliedSeq' | 'snapshot' | 'loadSnapshot' | 'deferredMigrations' | 'runDeferredMigrations'>;

/** Where a batch sits in the replication stream (the second argument of `applyReplicated`). */
export type StreamPosition = Parameters<Store['applyReplicated']>[1];
