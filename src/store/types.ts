/** Attribute value types a table can declare. `any` accepts every JSON value. */
export type AttributeType = 'string' | 'number' | 'integer' | 'boolean' | 'json' | 'any';

/** One attribute of a table. */
export interface AttributeDef {
  readonly type: AttributeType;
  /** Filled in when a write omits the attribute; also how an added attribute migrates. */
  readonly default?: unknown;
  /** Accepts `null` (and an omitted value with no default becomes `null`). */
  readonly nullable?: boolean;
}

/** A table's kind, as in Mnesia. */
export type TableType = 'set' | 'ordered_set' | 'bag';

/** `disc`: every row in RAM for reads, every write durable (Mnesia `disc_copies`). `ram`: never on disk. */
export type Storage = 'disc' | 'ram';

/**
 * A table declaration.
 *
 * @example
 * import type { TableDef } from 'ordo/store';
 *
 * const userBuxPoints: TableDef = {
 *   type: 'ordered_set',
 *   key: 'user_id',
 *   attributes: { user_id: { type: 'string' }, bux_balance: { type: 'integer', default: 0 } },
 *   indexes: ['bux_balance'],
 * };
 * console.log(userBuxPoints.key);
 */
export interface TableDef {
  readonly type?: TableType;
  /** The key attribute, or several for a composite key (the key value is then a tuple). */
  readonly key: string | readonly string[];
  /** Attributes in declaration order (the order is part of the schema). */
  readonly attributes: Readonly<Record<string, AttributeDef>>;
  /** Attributes with a secondary index. */
  readonly indexes?: readonly string[];
  readonly storage?: Storage;
  /** `sync` (default for `disc`): a write's promise resolves once it is on disk. */
  readonly durability?: 'sync' | 'async';
  /** Replicated by the cluster over JetStream; the store only records the flag. */
  readonly replicated?: boolean;
}

/** A table declaration with every default filled in (what the catalog stores). */
export interface NormalTableDef {
  readonly name: string;
  readonly id: number;
  readonly type: TableType;
  readonly key: readonly string[];
  readonly attributes: ReadonlyArray<{ readonly name: string } & AttributeDef>;
  readonly indexes: readonly string[];
  readonly storage: Storage;
  readonly durability: 'sync' | 'async';
  readonly replicated: boolean;
}

/** A stored row: attribute name → value. */
export type Row = Record<string, unknown>;

/** A key value: a scalar, or a tuple for composite keys. */
export type KeyValue = unknown;

/** One write in a {@link CommitBatch}. `value` is the full row for `put`. */
export interface CommitOp {
  readonly table: string;
  readonly op: 'put' | 'delete';
  readonly key: KeyValue;
  readonly value?: Row;
}

/**
 * What one committed transaction (or dirty write) changed, JSON-serialisable: the unit
 * the change feed, `subscribe`, and replication carry. For a `bag` table a `delete` with a
 * `value` deletes that one object; without `value` it deletes every object under the key.
 */
export interface CommitBatch {
  readonly ops: readonly CommitOp[];
  readonly schemaVersion: number;
  /**
   * Versions of the deferred replicated migrations this batch carries out (see
   * `Store.runDeferredMigrations`). Applying it records them in the schema history and
   * removes them from the deferred list, in the same write. May come with zero `ops`.
   */
  readonly migrations?: readonly number[];
}

/** How the store hands a batch to its replicator. */
export interface ReplicatorCommitOptions {
  /**
   * `false` for dirty writes: no conflict check (Mnesia's dirty ops have no isolation); the
   * batch lands wherever the stream is. Default `true`.
   */
  readonly check?: boolean;
  /**
   * For transactions: the replicator calls it synchronously right before it fixes the stream
   * position the batch expects; `false` means what the transaction read has changed since —
   * it throws a conflict instead of publishing.
   */
  readonly stillValid?: () => boolean;
}

/**
 * Hands replicated batches to the cluster (see `Store.setReplicator`). A lost race rejects
 * with an error whose `code` is `ORDO_REPL_CONFLICT`, after the local store has caught up with
 * the batches that won; the store then re-runs the transaction (or re-submits it unchanged
 * when nothing it read has changed).
 */
export interface Replicator {
  commit(batch: CommitBatch, opts?: ReplicatorCommitOptions): Promise<void>;
}

/** A numbered migration (`004_…`'s `schema_version` model). Runs in one atomic transaction. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  /**
   * This migration rewrites replicated tables: in a cluster it runs once, on the leader,
   * through replication. Only deferred when the store is opened with
   * `deferReplicatedMigrations` (else it runs locally, like any other). Its writes must touch
   * replicated tables only.
   */
  readonly replicated?: boolean;
  up(tx: import('./transaction.ts').Tx): Promise<void> | void;
}

/** One row of the `schema_version` history. */
export interface SchemaVersionRecord {
  readonly version: number;
  /** `env.clock.now()` when applied (ms). */
  readonly appliedAt: number;
  readonly description: string;
}

/** A replicated migration whose `up` has not run yet on this store (see `Store.deferredMigrations`). */
export interface DeferredMigration {
  readonly version: number;
  readonly description: string;
}
