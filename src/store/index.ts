/**
 * Ordo's table store: Mnesia's model (tables, indexes, transactions, RAM-speed reads) on
 * RocksDB's durability. Open it with {@link openStore} or run it as a supervised child with
 * {@link createStoreInitializer}.
 */
export type { AttributeDef, AttributeType, CommitBatch, CommitOp, DeferredMigration, KeyValue, Migration, NormalTableDef, Replicator, ReplicatorCommitOptions, Row, SchemaVersionRecord, Storage, TableDef, TableType } from './types.ts';
export { Store } from './store.ts';
export type { ChangeEvent, StoreSnapshot, TransactionOptions } from './store.ts';
export { Tx } from './transaction.ts';
export type { Page } from './transaction.ts';
export type { Cursor, RangeOptions } from './query.ts';
export { openStore } from './openStore.ts';
export type { OpenStoreOptions } from './openStore.ts';
export { restoreStore } from './restore.ts';
export { storeInitializerMachine, createStoreInitializer } from './initializerMachine.ts';
export type { StoreInitializerInput, StoreInitializerContext, StoreInitializerEvent } from './initializerMachine.ts';
export type { BackupInfo } from './backup.ts';
export type { StoreInfo, TableInfo, VerifyReport } from './admin.ts';
export {
  StoreError,
  StoreValidationError,
  StoreCorruptError,
  StoreSchemaRefusedError,
  StoreNewerSchemaError,
  StoreLockedError,
  StoreMissingDirError,
  StoreTxRetriesError,
  StoreIoError,
  StoreClosedError,
  StoreReplicationGapError,
  StoreMigrationError,
  StoreBackupError,
  StoreArgumentError,
  StoreTxFinishedError,
  StoreCommitIndeterminateError,
  StoreCommitTimeoutError,
  StoreFailedError,
} from './errors.ts';
export type { SchemaChange, StoreIoReason, StoreValidationProblem } from './errors.ts';
