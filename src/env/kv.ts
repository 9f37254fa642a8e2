import { OrdoError } from '../errors.ts';

/**
 * The key-value seam under Ordo's table store: the small subset of an ordered, column-family
 * key-value engine the store needs. The real implementation is RocksDB
 * (`src/env/rocksdb.ts`); the simulated one is `memory-level` (`src/chaos/memoryKv.ts`). Both
 * pass the same contract test (`test/store/kvContract.test.ts`).
 *
 * Semantics every implementation guarantees:
 * - `write` applies all its ops atomically across columns; with `sync: true` the data is on
 *   stable storage when the promise resolves.
 * - Keys are compared as unsigned bytes (memcmp).
 * - Iterators created synchronously one after another, with no write in between, see one
 *   point-in-time view (this is how the store takes a consistent backup while writes go on).
 * - Every column that exists on disk is named at `open` (RocksDB requires it).
 */
export interface KvAdapter {
  /** Opens (or, with `createIfMissing`, creates) the database at `dir`. */
  open(dir: string, options: KvOpenOptions): Promise<KvDb>;
  /** True when `dir` holds a database (without opening or creating anything). */
  exists(dir: string): Promise<boolean>;
}

/** Options for {@link KvAdapter.open}. */
export interface KvOpenOptions {
  /** Every column family the database has or should have. */
  readonly columns: readonly string[];
  readonly createIfMissing: boolean;
}

/** One write in an atomic batch. */
export type KvOp =
  | { readonly type: 'put'; readonly column: string; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly column: string; readonly key: Uint8Array };

/** A key range; bounds are byte strings, all optional. */
export interface KvRange {
  readonly gte?: Uint8Array;
  readonly gt?: Uint8Array;
  readonly lte?: Uint8Array;
  readonly lt?: Uint8Array;
  readonly reverse?: boolean;
  readonly limit?: number;
}

/** A forward (or reverse) cursor over one column. */
export interface KvIterator {
  /** Up to `n` entries; an empty array means the end. */
  next(n: number): Promise<Array<[Buffer, Buffer]>>;
  close(): Promise<void>;
}

/** An open database. */
export interface KvDb {
  readonly dir: string;
  /** Atomically applies `ops`; with `sync` the batch is durable when this resolves. */
  write(ops: readonly KvOp[], options: { readonly sync: boolean }): Promise<void>;
  get(column: string, key: Uint8Array): Promise<Buffer | undefined>;
  /** A cursor whose view is fixed when this (synchronous) call returns. */
  iterator(column: string, range?: KvRange): KvIterator;
  close(): Promise<void>;
  /**
   * Runs `fn` once the current turn's pending callbacks and promise continuations have run
   * (real: `setImmediate`; simulated: a chain of microtasks). The store's group commit uses it
   * to gather every write issued in one turn into a single synced batch.
   */
  defer(fn: () => void): void;
}

/** Why a key-value operation failed, as data (the store maps these to its typed errors). */
export type KvErrorKind = 'locked' | 'missing' | 'corrupt' | 'io' | 'closed';

/** A key-value failure with a machine-readable `kind`. */
export class KvError extends OrdoError {
  readonly code = 'ORDO_KV_ERROR' as const;
  readonly kind: KvErrorKind;
  readonly dir: string;
  constructor(
    kind: KvErrorKind,
    message: string,
    dir: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.kind = kind;
    this.dir = dir;
    this.name = 'KvError';
  }
}
