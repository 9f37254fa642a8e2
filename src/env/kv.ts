import { OrdoError, thrownText } from '../errors.ts';
import type { Clock } from './clock.ts';

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
  /**
   * The canonical spelling of `dir` (real: `realpath` of the directory, or of its nearest
   * existing parent plus the rest), so `d`, `d/`, `d/.` and a relative path name one store.
   * Optional: without it the store normalises the spelling lexically.
   */
  canonical?(dir: string): Promise<string>;
}

/** Options for {@link KvAdapter.open}. */
export interface KvOpenOptions {
  /** Every column family the database has or should have. */
  readonly columns: readonly string[];
  readonly createIfMissing: boolean;
  /**
   * Open guarded: whatever the engine deletes or replaces while it opens can be put back, and
   * is, unless {@link KvDb.release} is called before {@link KvDb.close}. The store opens guarded
   * and releases only after it checked what it got (so a refused open loses no file).
   */
  readonly guard?: boolean;
}

/**
 * The store's identity and durable commit watermark, kept by the adapter where a damaged
 * engine cannot erase it (real: the `ORDO_STORE` file beside RocksDB's files).
 */
export interface KvMarker {
  /** The file holding it (named in errors). */
  readonly file: string;
  /** Random id of the store, fixed at creation. */
  readonly id: string;
  /** The highest durably recorded `mark` (0: none yet): at or below the last synced write that resolved. */
  readonly mark: number;
  /** Update counter (which slot is newest). */
  readonly epoch: number;
  /** The directory held a store before it had a marker (its history before adoption is unproven). */
  readonly adopted: boolean;
}

/** Options of {@link KvDb.write}. */
export interface KvWriteOptions {
  readonly sync: boolean;
  /**
   * With `sync`: once the batch is durable, record `mark` as the durable watermark. The write
   * may resolve before the mark itself is durable (real: the marker's fdatasync runs off the
   * critical path, after the WAL's, at most one in flight; `close` makes the last one durable),
   * but a mark is never recorded before the batch it names is durable. Marks must increase.
   */
  readonly mark?: number;
  /**
   * With `sync` and `mark`: called once the batch is durable in the WAL while the write still
   * waits for its mark to be durable (real: the strict watermark, after the WAL's fdatasync and
   * before the marker's), so the caller may issue its next write then; marks are made durable
   * in order, so a later mark covers this one too. An engine may never call it (one that
   * acknowledges on the WAL's durability, or keeps no mark): the write's settling says it all.
   * Never called for a batch that is not durable in the WAL; a write that rejects after it is
   * refused with `durable: true` — so is one whose callback threw (its mark made durable first).
   */
  readonly onDurable?: (() => void) | undefined;
}

/**
 * An unsynced batch being written on another thread ({@link KvDb.beginWrite}): its ops are sent
 * in pieces as the caller builds them, `commit` starts the write, `finish` waits for it
 * **synchronously** — so no other code runs on the caller's thread between `commit` and the
 * outcome, and work done there in between (a RAM apply) can be taken back before anything reads
 * it if the write failed. Atomic like `write`: written whole or not at all; one at a time, and
 * no other write of the same database between `beginWrite` and `finish` or `abort`.
 */
export interface KvWriting {
  /** Adds `ops[from, to)` to the batch, after the ops added before. */
  add(ops: readonly KvOp[], from: number, to: number): void;
  /** Adds `ops[from, ops.length)` (the rest of the batch) and starts writing it; returns at once. */
  commit(ops: readonly KvOp[], from: number): void;
  /**
   * Blocks until the write is done: returns once written; throws a {@link KvError} when it was
   * refused (`durable: false`: nothing of it was written), or — no answer within `timeoutMs`
   * (real time) — one with `durable: 'unknown'` (it may still land).
   */
  finish(timeoutMs: number): void;
  /** Drops the batch before `commit` (nothing of it is written). */
  abort(): void;
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
  /**
   * `false`: keys only — an entry's value may be an empty buffer (the engine need not copy it
   * out). The engine still reads every block the cursor passes, as with values (RocksDB keeps
   * values inline in its data blocks and checksums each block it reads), so a keys-only scan
   * finds a damaged block as a full one does. Default true.
   */
  readonly values?: boolean;
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
  /**
   * Atomically applies `ops`; with `sync` the batch is durable when this resolves. A rejection
   * is a `KvError` whose {@link KvError.durable} says whether the batch reached the WAL anyway.
   */
  write(ops: readonly KvOp[], options: KvWriteOptions): Promise<void>;
  /**
   * Optional (the real engine): starts an **unsynced** batch that the engine writes on another
   * thread while the caller goes on working on this one — the store applies a large batch to
   * RAM during its write ({@link KvWriting}). `undefined`: not available now (use `write`); so
   * after a batch whose `finish` got no answer, until the database is reopened (a late answer
   * must never settle another batch). Not
   * an enumerable property on the real engine, so a wrapper that spreads a database to intercept
   * its `write` (`{ ...db, write }`) does not inherit it and still sees every write; a `Proxy`
   * that intercepts `write` must intercept (or hide) this too.
   */
  beginWrite?(): KvWriting | undefined;
  /** The marker read (or created) at open; `undefined` for engines that keep none (simulated). */
  readonly marker?: KvMarker | undefined;
  /**
   * The clock this engine's latencies run on: the real clock for a real disk, whatever the
   * Env's clock is (a test's virtual clock advanced by a minute says nothing about an fsync in
   * flight); `undefined` — the Env's clock (simulated engines, whose latencies are virtual).
   * The store's commit deadline runs on it.
   */
  readonly latencyClock?: Clock | undefined;
  /** Accepts what the guarded open found (see {@link KvOpenOptions.guard}); no-op when unguarded. */
  release?(): Promise<void>;
  /** One value; a damaged block rejects with `KvError('corrupt')` (never kills the process). */
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

/**
 * Why a key-value operation failed, as data (the store maps these to its typed errors):
 * `locked` another holder, `missing` no database and not allowed to create one, `corrupt`
 * damaged files (named in `file` when known), `nospace` the disk (or quota) is full,
 * `readonly` the file system refuses writes, `io` any other I/O failure, `closed` used after close.
 */
export type KvErrorKind = 'locked' | 'missing' | 'corrupt' | 'io' | 'nospace' | 'readonly' | 'closed';

/** An option of a key-value adapter has a value it does not accept: `option` names it, `value` is what was given. */
export class KvOptionsError extends OrdoError {
  readonly code = 'ORDO_KV_OPTIONS' as const;
  /** The option. */
  readonly option: string;
  /** The value given. */
  readonly value: unknown;
  constructor(option: string, value: unknown, expected: string) {
    super(`${option} must be ${expected}, got ${showOption(value)}`);
    this.name = 'KvOptionsError';
    this.option = option;
    this.value = value;
  }
}

/** The given value of an option for a message; never throws (a null-prototype object has no toString). */
function showOption(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return String(value);
  return Object.prototype.toString.call(value);
}

/** A key-value failure with a machine-readable `kind`. */
export class KvError extends OrdoError {
  readonly code = 'ORDO_KV_ERROR' as const;
  /** Why it failed. */
  readonly kind: KvErrorKind;
  /** The database directory. */
  readonly dir: string;
  /** The damaged or failing file, when known. */
  readonly file: string | undefined;
  /**
   * Of a refused write: `true` when its batch **is durable in the WAL anyway** (only what proves
   * it, the durable watermark, could not be written), `'unknown'` when whether it reached the
   * WAL cannot be known (the sync writer thread died with it in flight; a reopen's WAL replay
   * settles it), `false` when nothing of it was written (every other failure).
   */
  readonly durable: boolean | 'unknown';
  constructor(kind: KvErrorKind, message: string, dir: string, options?: { cause?: unknown; file?: string; durable?: boolean | 'unknown' }) {
    super(message, options);
    this.name = 'KvError';
    this.kind = kind;
    this.dir = dir;
    this.file = options?.file;
    this.durable = options?.durable ?? false;
  }
}

/**
 * @internal What an engine does once a synced write with a mark is durable in the WAL on the
 * strict watermark: calls {@link KvWriteOptions.onDurable}, then `markDurable`. A callback that
 * throws never turns the durable batch into a plain refusal (a caller told "not written" might
 * write it again, or believe it lost): the mark is still made durable, then the write is refused
 * with `durable: true`, the callback's error as its cause (with the mark's own failure, if that
 * failed too, in an `AggregateError`). Without a throw it is `markDurable()` itself.
 */
export function markAfterWal(o: KvWriteOptions, dir: string, markDurable: () => Promise<void>): Promise<void> {
  let threw: { err: unknown } | undefined;
  try {
    o.onDurable?.();
  } catch (err) {
    threw = { err };
  }
  const marked = markDurable();
  if (threw === undefined) return marked;
  const { err } = threw;
  const what = `${dir}: the batch of mark ${o.mark} is durable in the WAL, but the write's onDurable callback threw (${thrownText(err)})`;
  return marked.then(
    () => {
      throw new KvError('io', what, dir, { cause: err, durable: true });
    },
    (markErr: unknown) => {
      const kind = markErr instanceof KvError ? markErr.kind : 'io';
      throw new KvError(kind, `${what}; its mark failed too (${thrownText(markErr)})`, dir, { cause: new AggregateError([err, markErr]), durable: true });
    },
  );
}
