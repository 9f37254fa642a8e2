/**
 * The store contract replication rides on (the store engineer's `src/store`, branch `store`).
 * Declared here as an interface so the replicator builds and is tested before the store lands;
 * the real `Store` is expected to satisfy it structurally.
 */

/** One write of a committed batch. */
export interface CommitOp {
  readonly table: string;
  readonly op: 'put' | 'delete';
  readonly key: unknown;
  readonly value?: Record<string, unknown>;
}

/** A committed batch: one transaction's writes, stamped with the writer's schema version. */
export interface CommitBatch {
  readonly ops: readonly CommitOp[];
  readonly schemaVersion: number;
  /**
   * Versions of the deferred replicated migrations this batch carries out: applying it records
   * them in the store's schema history and removes them from its deferred list, atomically.
   * Such a batch may have no ops.
   */
  readonly migrations?: readonly number[];
}

/** A replicated migration whose `up` has not run yet on this store. */
export interface DeferredMigrationInfo {
  readonly version: number;
  readonly description: string;
}

/** Where a batch sits in the replication stream. */
export interface StreamPosition {
  stream: string;
  seq: number;
}

/** Options of {@link StoreReplicator.commit} (see the store's `ReplicatorCommitOptions`). */
export interface CommitOptions {
  /** `false` for dirty writes: published without a conflict check. Default `true`. */
  readonly check?: boolean;
  /** Called synchronously right before the expected sequence is fixed; `false` → conflict, nothing published. */
  readonly stillValid?: () => boolean;
}

/**
 * What the store hands its replicator. A lost race rejects with `ORDO_REPL_CONFLICT` only
 * after this node has applied the batches that won, so the store's re-run sees them.
 */
export interface StoreReplicator {
  commit(batch: CommitBatch, opts?: CommitOptions): Promise<void>;
}

/**
 * The store, as replication sees it.
 *
 * - `setReplicator(r)`: a transaction touching a `replicated` table hands its batch to
 *   `r.commit` instead of writing locally, and resolves when that resolves.
 * - `applyReplicated(batch, pos)`: atomic apply + record of `pos.seq` as the last applied
 *   sequence of `pos.stream`, in one write batch; a seq at or below it is a `'duplicate'`
 *   no-op; a malformed batch throws and applies nothing; a newer `schemaVersion` throws an
 *   error with code `ORDO_STORE_NEWER_SCHEMA`.
 * - `snapshot(tables)` / `loadSnapshot(snap)`: catch-up when the stream no longer holds the
 *   next sequence a node needs. The snapshot is JSON-serialisable and carries the store's
 *   replication positions (`applied[stream]`), which `loadSnapshot` adopts atomically.
 * - `deferredMigrations()` / `runDeferredMigrations()`: migrations of replicated tables the
 *   store deferred at open; running them commits one batch carrying `migrations` through the
 *   replicator (`'none'` when nothing is deferred any more: idempotent).
 */
export interface ReplicatedStore {
  setReplicator(r: StoreReplicator | undefined): void;
  applyReplicated(batch: CommitBatch, pos: StreamPosition): Promise<'applied' | 'duplicate'>;
  lastAppliedSeq(stream: string): number;
  snapshot(tables?: readonly string[]): unknown;
  loadSnapshot(snapshot: never): Promise<void>;
  deferredMigrations(): readonly DeferredMigrationInfo[];
  runDeferredMigrations(): Promise<'ran' | 'none'>;
}
