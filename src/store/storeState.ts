import type { Env } from '../env/env.ts';
import type { KvAdapter, KvDb } from '../env/kv.ts';
import type { DeferredMigration, Migration, NormalTableDef, SchemaVersionRecord } from './types.ts';
import type { MemTable } from './memTable.ts';

/** Internal state of an open store, handed over by the opener. @internal */
export interface StoreState {
  env: Env;
  dir: string;
  db: KvDb;
  /** The key-value engine `db` was opened with (the data's identity across reopens in this process, with `dir`). */
  engine: KvAdapter;
  tables: Map<string, MemTable>;
  schemaVersion: number;
  history: SchemaVersionRecord[];
  commitSeq: number;
  applied: Map<string, number>;
  changeLogLimit: number;
  /** How long a synced write may go unanswered before its commits are indeterminate and the store fails (ms). */
  commitDeadlineMs: number;
  /** Keys (last commit sequence) of the change-log records on disk, oldest first (read at open). */
  logSeqs: number[];
  onClose: () => void;
  /** Replicated migrations deferred at open whose `up` has not run here (persisted in `META.deferred`). */
  deferred: DeferredMigration[];
  /** Replicated tables' definitions from before the deferred migrations (their rows still have that shape). */
  legacy: Map<string, NormalTableDef>;
  /** The code's numbered migrations by version. */
  migrations: ReadonlyMap<number, Migration>;
  /** Where pre-migration backups go. */
  backupDir: string;
}
