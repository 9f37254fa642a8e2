import { OrdoError } from '../errors.ts';

/**
 * Typed errors of the table store. Every error has a literal `code`, names the ids involved
 * (table, key, attribute) and carries the bad value; recognise them by `code`, never by text.
 * Expected outcomes (a key not found) are returned values, not errors.
 */
export abstract class StoreError extends OrdoError {}

/**
 * What is wrong in a {@link StoreValidationError}: `bad_value` is a `json`/`any` value that
 * would not survive a round trip through the disk (BigInt, a cycle, a Date, a Map, NaN, -0, a
 * function, a Symbol, `undefined` inside an array…); `bad_declaration` a table declaration
 * that cannot be opened (unknown type, a default of the wrong type…).
 */
export type StoreValidationProblem = 'unknown_table' | 'unknown_attribute' | 'missing' | 'wrong_type' | 'bad_key' | 'bad_batch' | 'bad_value' | 'bad_declaration';

/** A record does not fit its table: unknown attribute, missing key/attribute, wrong type. */
export class StoreValidationError extends StoreError {
  readonly code = 'ORDO_STORE_VALIDATION' as const;
  readonly table: string;
  readonly attribute: string | undefined;
  readonly value: unknown;
  readonly problem: StoreValidationProblem;
  constructor(
    table: string,
    attribute: string | undefined,
    value: unknown,
    problem: StoreValidationProblem,
    detail = '',
  ) {
    super(`table ${table}: ${problem}${attribute !== undefined ? ` attribute ${attribute}` : ''} value ${safeJson(value)}${detail ? ` (${detail})` : ''}`);
    this.table = table;
    this.attribute = attribute;
    this.value = value;
    this.problem = problem;
  }
}

/** A stored value failed its checksum or does not parse: names the table and the key. */
export class StoreCorruptError extends StoreError {
  readonly code = 'ORDO_STORE_CORRUPT' as const;
  readonly table: string;
  readonly key: unknown;
  readonly detail: string;
  constructor(
    table: string,
    key: unknown,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`table ${table}: corrupt value at key ${safeJson(key)}: ${detail}`, options);
    this.table = table;
    this.key = key;
    this.detail = detail;
  }
}

/** The declared schema differs from the stored one in a way that needs a numbered migration. */
export class StoreSchemaRefusedError extends StoreError {
  readonly code = 'ORDO_STORE_SCHEMA_REFUSED' as const;
  readonly table: string;
  readonly changes: readonly SchemaChange[];
  constructor(
    table: string,
    changes: readonly SchemaChange[],
  ) {
    super(
      `table ${table}: schema change needs a numbered migration: ${changes.map((c) => `${c.kind} ${c.attribute ?? ''}${c.detail ? ` (${c.detail})` : ''}`.trim()).join('; ')}`,
    );
    this.table = table;
    this.changes = changes;
  }
}

/** One refused difference between the stored and declared schema of a table. */
export interface SchemaChange {
  readonly kind: 'removed_attribute' | 'renamed_attribute' | 'retyped_attribute' | 'reordered_attributes' | 'added_without_default' | 'changed_key' | 'changed_type' | 'changed_storage';
  readonly attribute?: string;
  readonly detail?: string;
}

/** The data was written by a newer schema version than this code knows (rolling deploy). */
export class StoreNewerSchemaError extends StoreError {
  readonly code = 'ORDO_STORE_NEWER_SCHEMA' as const;
  readonly storedVersion: number;
  readonly knownVersion: number;
  readonly dir: string;
  constructor(
    storedVersion: number,
    knownVersion: number,
    dir: string,
  ) {
    super(`${dir}: store is at schema version ${storedVersion}, this code knows up to ${knownVersion}; refusing to open (no downgrade)`);
    this.storedVersion = storedVersion;
    this.knownVersion = knownVersion;
    this.dir = dir;
  }
}

/**
 * The data directory is held: by another process (RocksDB's LOCK, `by: 'another_process'`) or
 * by a live handle of this process that the opener does not own (`by: 'this_process'`; see
 * `LiveHandleRegistry`). Never resolved by closing the other holder's handle.
 */
export class StoreLockedError extends StoreError {
  readonly code = 'ORDO_STORE_LOCKED' as const;
  /** The canonical data directory. */
  readonly dir: string;
  /** Who holds it. */
  readonly by: 'another_process' | 'this_process';
  constructor(dir: string, options?: { cause?: unknown; by?: 'another_process' | 'this_process'; detail?: string }) {
    const by = options?.by ?? 'another_process';
    super(`${dir}: ${by === 'this_process' ? 'already open by a live handle in this process' : 'locked by another process'}${options?.detail ? ` (${options.detail})` : ''}`, options);
    this.dir = dir;
    this.by = by;
  }
}

/** `expectExisting` was set and the data directory (or its database) is missing. */
export class StoreMissingDirError extends StoreError {
  readonly code = 'ORDO_STORE_MISSING_DIR' as const;
  readonly dir: string;
  constructor(dir: string) {
    super(`${dir}: data directory missing and expectExisting is set; refusing to create an empty store`);
    this.dir = dir;
  }
}

/** A transaction kept conflicting and ran out of retries. */
export class StoreTxRetriesError extends StoreError {
  readonly code = 'ORDO_STORE_TX_RETRIES' as const;
  readonly attempts: number;
  readonly conflict: { table: string; key?: unknown };
  constructor(
    attempts: number,
    conflict: { table: string; key?: unknown },
  ) {
    super(`transaction conflicted ${attempts} times (last on table ${conflict.table}${conflict.key !== undefined ? ` key ${safeJson(conflict.key)}` : ''})`);
    this.attempts = attempts;
    this.conflict = conflict;
  }
}

/**
 * Why an I/O operation failed, by cause: the disk is full, the file system is read-only, a
 * synced write was not answered within the commit deadline (`timeout`), or anything else.
 */
export type StoreIoReason = 'no_space' | 'read_only' | 'timeout' | 'io';

/**
 * A disk operation failed; of a commit, nothing was applied. `reason` classifies the cause
 * (`no_space`: the disk or quota is full; `read_only`: the file system refuses writes).
 */
export class StoreIoError extends StoreError {
  readonly code = 'ORDO_STORE_IO' as const;
  /** The data directory. */
  readonly dir: string;
  /** What was being done (`open`, `commit`, `backup`…). */
  readonly operation: string;
  /** The cause, classified. */
  readonly reason: StoreIoReason;
  constructor(dir: string, operation: string, options?: { cause?: unknown; reason?: StoreIoReason }) {
    const reason = options?.reason ?? ioReasonOf(options?.cause);
    const why = reason === 'no_space' ? 'disk full: ' : reason === 'read_only' ? 'read-only file system: ' : '';
    super(`${dir}: ${operation} failed: ${why}${(options?.cause as Error)?.message ?? 'unknown'}`, options);
    this.dir = dir;
    this.operation = operation;
    this.reason = reason;
  }
}

/** Classifies a failure's cause (a `KvError`'s kind, an errno). @internal */
export function ioReasonOf(cause: unknown): StoreIoReason {
  const c = cause as { kind?: unknown; code?: unknown } | undefined;
  if (c?.kind === 'nospace' || c?.code === 'ENOSPC' || c?.code === 'EDQUOT') return 'no_space';
  if (c?.kind === 'readonly' || c?.code === 'EROFS') return 'read_only';
  if (c?.code === 'ORDO_STORE_COMMIT_TIMEOUT') return 'timeout';
  return 'io';
}

/** The store is closed (or closing). */
export class StoreClosedError extends StoreError {
  readonly code = 'ORDO_STORE_CLOSED' as const;
  readonly dir: string;
  constructor(dir: string) {
    super(`${dir}: store is closed`);
    this.dir = dir;
  }
}

/**
 * A replicated batch refused because an earlier sequence of the same stream could not be
 * written: the stream position never moves past a batch that is not on disk. The replicator
 * stops and is restarted from the recorded position; a call at or below `failedSeq` re-opens
 * the stream.
 */
export class StoreReplicationGapError extends StoreError {
  readonly code = 'ORDO_STORE_REPL_GAP' as const;
  readonly stream: string;
  readonly seq: number;
  readonly failedSeq: number;
  constructor(stream: string, seq: number, failedSeq: number, options?: { cause?: unknown }) {
    super(`stream ${stream}: refusing seq ${seq}: the apply of seq ${failedSeq} failed and was not written; re-apply from the recorded position`, options);
    this.stream = stream;
    this.seq = seq;
    this.failedSeq = failedSeq;
  }
}

/** A numbered migration failed; nothing of it was committed. */
export class StoreMigrationError extends StoreError {
  readonly code = 'ORDO_STORE_MIGRATION' as const;
  readonly version: number;
  readonly description: string;
  constructor(
    version: number,
    description: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`migration ${version} (${description}) failed: ${detail}`, options);
    this.version = version;
    this.description = description;
  }
}

/** A backup file is damaged or incomplete, or the restore target is not empty. */
export class StoreBackupError extends StoreError {
  readonly code = 'ORDO_STORE_BACKUP' as const;
  readonly path: string;
  constructor(
    path: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${detail}`, options);
    this.path = path;
  }
}

/**
 * The store's files are damaged, or what RocksDB recovered is behind what the store
 * acknowledged: refused at open, nothing deleted. Names the `file` when known; `missing`
 * states the lost commits (`recovered` < `acknowledged`). `ordo store repair` accepts a
 * loss explicitly (backup first, recorded in the schema history); otherwise restore a backup.
 */
export class StoreDamagedError extends StoreError {
  readonly code = 'ORDO_STORE_CORRUPT' as const;
  /** The data directory. */
  readonly dir: string;
  /** The damaged file (or the one that proves the loss), when known. */
  readonly file: string | undefined;
  /** What is wrong, in words. */
  readonly detail: string;
  /** Commits acknowledged but not recovered, when that is what is wrong. */
  readonly missing: { readonly recovered: number; readonly acknowledged: number } | undefined;
  /** The table whose data (rows, or its on-disk index) could not be read, when the damage is found reading one. */
  readonly table: string | undefined;
  constructor(dir: string, detail: string, options?: { cause?: unknown; file?: string; missing?: { recovered: number; acknowledged: number }; table?: string }) {
    super(`${dir}: store damaged${options?.file ? ` (${options.file})` : ''}: ${detail}`, options);
    this.dir = dir;
    this.file = options?.file;
    this.detail = detail;
    this.missing = options?.missing;
    this.table = options?.table;
  }
}

/** An argument of a store call or an open option is out of its domain (`retries: NaN`, `limit: 0`, migration version 1.5…). */
export class StoreArgumentError extends StoreError {
  readonly code = 'ORDO_STORE_ARGUMENT' as const;
  readonly argument: string;
  readonly value: unknown;
  constructor(argument: string, value: unknown, expected: string) {
    super(`${argument}: expected ${expected}, got ${safeJson(value)}`);
    this.argument = argument;
    this.value = value;
  }
}

/** The store failed (a write to disk failed; RocksDB refuses further writes until reopened): every later write rejects with this. */
export class StoreFailedError extends StoreError {
  readonly code = 'ORDO_STORE_FAILED' as const;
  /** The data directory. */
  readonly dir: string;
  /** The cause, classified (`no_space` after a full disk). */
  readonly reason: StoreIoReason;
  constructor(dir: string, options: { cause: unknown }) {
    const reason = ioReasonOf((options.cause as { cause?: unknown })?.cause ?? options.cause);
    super(`${dir}: store failed after a disk error${reason === 'no_space' ? ' (disk full)' : reason === 'read_only' ? ' (read-only file system)' : reason === 'timeout' ? ' (a write went unanswered)' : ''}; it must be reopened (the store-initializer child restarts): ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
    this.dir = dir;
    this.reason = reason;
  }
}

/**
 * A synced batch that the disk (or the sync writer thread) did not answer within the commit
 * deadline (`OpenStoreOptions.commitDeadlineMs`) — or an unsynced bulk batch its writer thread
 * did not answer (`bulk: true`, `cause` the engine's error). It is the `cause` of the
 * `ORDO_STORE_COMMIT_INDETERMINATE` (`outcome: 'unknown'`) its commits reject with: the batch
 * may still reach the WAL later, so it is neither applied nor reported as not committed; the
 * store fails and stays failed until it is reopened (the reopen's WAL replay settles it).
 */
export class StoreCommitTimeoutError extends StoreError {
  readonly code = 'ORDO_STORE_COMMIT_TIMEOUT' as const;
  /** The data directory. */
  readonly dir: string;
  /** The deadline that passed, in ms. */
  readonly deadlineMs: number;
  /** The commit sequence the batch would have advanced the store to. */
  readonly seq: number;
  /** How many commits the batch carried. */
  readonly commits: number;
  /** An unsynced batch of the bulk writer thread (`KvDb.beginWrite`), not a synced one. */
  readonly bulk: boolean;
  constructor(dir: string, deadlineMs: number, seq: number, commits: number, options?: { cause?: unknown; bulk?: boolean }) {
    const bulk = options?.bulk === true;
    super(
      bulk
        ? `${dir}: an unsynced bulk write of ${commits} commit(s) (up to commit sequence ${seq}) was not answered within ${deadlineMs} ms (a hung disk or bulk writer)`
        : `${dir}: a synced write of ${commits} commit(s) (up to commit sequence ${seq}) was not answered within ${deadlineMs} ms (a hung disk or sync writer)`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.bulk = bulk;
    this.dir = dir;
    this.deadlineMs = deadlineMs;
    this.seq = seq;
    this.commits = commits;
  }
}

/**
 * The outcome of a commit is **not a failure to be retried**: the disk write was refused, but
 * the batch may be (`outcome: 'unknown'`) or is (`outcome: 'committed'`) durable on disk.
 * - `'committed'` — committed but unproven: the batch is durable in the WAL and applied (RAM
 *   serves it, the change feed has it), but the durable commit watermark that proves it could
 *   not be written (strict watermark mode: a full disk, an I/O error on the marker file).
 * - `'unknown'` — the write's outcome cannot be known (the sync writer thread died with the
 *   batch in flight, or did not answer within the commit deadline: the cause is then
 *   `ORDO_STORE_COMMIT_TIMEOUT`); RAM does not have it, a reopen's WAL replay settles it.
 *
 * Either way the store has entered its failed state (`ORDO_STORE_FAILED`) so its owner
 * reopens it. Do not retry the commit blindly (it would apply twice): read the data back after
 * the reopen. `tables` are the tables the refused commits wrote.
 */
export class StoreCommitIndeterminateError extends StoreError {
  readonly code = 'ORDO_STORE_COMMIT_INDETERMINATE' as const;
  /** The data directory. */
  readonly dir: string;
  /** The tables the commit wrote. */
  readonly tables: readonly string[];
  /** `'committed'`: durable and applied, its watermark missing; `'unknown'`: maybe on disk, not in RAM. */
  readonly outcome: 'committed' | 'unknown';
  /** The disk failure's cause, classified. */
  readonly reason: StoreIoReason;
  constructor(dir: string, tables: readonly string[], outcome: 'committed' | 'unknown', options: { cause: unknown }) {
    const reason = ioReasonOf(options.cause);
    const what = outcome === 'committed'
      ? 'is durable in the WAL and applied, but its durable watermark could not be written (committed, unproven)'
      : 'may or may not be on disk (its outcome is unknown; a reopen settles it)';
    super(`${dir}: a commit to ${tables.join(', ') || '(no table)'} ${what}; the store has failed and must be reopened; do not retry it blindly: ${(options.cause as Error)?.message ?? String(options.cause)}`, options);
    this.dir = dir;
    this.tables = tables;
    this.outcome = outcome;
    this.reason = reason;
  }
}

/**
 * A write on a transaction whose function has already finished (committed, re-run after a
 * conflict, or failed): the write would be lost, so it is refused.
 */
export class StoreTxFinishedError extends StoreError {
  readonly code = 'ORDO_STORE_TX_FINISHED' as const;
  readonly table: string;
  readonly operation: string;
  readonly value: unknown;
  constructor(table: string, operation: string, value: unknown) {
    super(`table ${table}: ${operation} on a transaction that has already finished (the write would be lost); write inside the transaction function`);
    this.table = table;
    this.operation = operation;
    this.value = value;
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    try {
      return String(v);
    } catch {
      return Object.prototype.toString.call(v);
    }
  }
}
