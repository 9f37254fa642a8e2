/**
 * Deferred replicated migrations: the part of the store that lets a cluster run a numbered
 * migration of replicated tables once, on the leader, through replication (see
 * `OpenStoreOptions.deferReplicatedMigrations` and `Store.runDeferredMigrations`).
 *
 * While a migration is deferred, the catalog already holds the declared (new) definitions and
 * the store's schema version is the highest the code knows, but the rows of the replicated
 * tables still have their old shape. The old definitions are kept (`legacy`) so that
 * pre-migration batches arriving from the stream, or a pre-migration peer snapshot, still
 * validate. @internal
 */
import type { KvOp } from '../env/kv.ts';
import type { DeferredMigration, Migration, NormalTableDef, Row, SchemaVersionRecord } from './types.ts';
import type { Tx } from './transaction.ts';
import { META, metaKey } from './layout.ts';
import { encodeValue } from './valueCodec.ts';
import { validateRecord } from './schema.ts';
import { StoreMigrationError, StoreValidationError } from './errors.ts';

/** The `META.deferred` record. @internal */
export interface DeferredRecord {
  readonly migrations: DeferredMigration[];
  /** Replicated tables' definitions from before the deferred migrations. */
  readonly legacy: NormalTableDef[];
}

/** What the store keeps about deferred migrations (part of its state). @internal */
export interface DeferredState {
  schemaVersion: number;
  history: SchemaVersionRecord[];
  deferred: DeferredMigration[];
  legacy: Map<string, NormalTableDef>;
  /** The code's numbered migrations by version. */
  migrations: ReadonlyMap<number, Migration>;
}

/** The KV op that writes (or, when nothing is deferred, deletes) the deferred record. @internal */
export function deferredRecordOp(deferred: readonly DeferredMigration[], legacy: ReadonlyMap<string, NormalTableDef>): KvOp {
  if (deferred.length === 0) return { type: 'del', column: 'meta', key: metaKey(META.deferred) };
  const rec: DeferredRecord = { migrations: [...deferred], legacy: [...legacy.values()] };
  return { type: 'put', column: 'meta', key: metaKey(META.deferred), value: encodeValue(rec) };
}

/** The state after `versions` were applied, and the meta ops that record it (history + deferred list). @internal */
export interface Migrated {
  readonly history: SchemaVersionRecord[];
  readonly deferred: DeferredMigration[];
  readonly legacy: Map<string, NormalTableDef>;
  readonly ops: KvOp[];
}

/**
 * Records `versions` as applied: added to the history when missing (a node that ran them
 * locally has them already), removed from the deferred list. Pure: the caller writes `ops` in
 * the same WriteBatch as the rows, then adopts the state with {@link adoptMigrated}. @internal
 */
export function migratedState(s: DeferredState, versions: readonly number[], at: number): Migrated {
  const deferredBy = new Map(s.deferred.map((d) => [d.version, d]));
  const have = new Set(s.history.map((h) => h.version));
  const history = [...s.history];
  for (const v of [...new Set(versions)].sort((a, b) => a - b)) {
    if (have.has(v)) continue;
    const description = deferredBy.get(v)?.description ?? s.migrations.get(v)?.description ?? `replicated migration ${v}`;
    history.push({ version: v, appliedAt: at, description });
  }
  const deferred = s.deferred.filter((d) => !versions.includes(d.version));
  const legacy = deferred.length === 0 ? new Map<string, NormalTableDef>() : s.legacy;
  const ops: KvOp[] = [
    { type: 'put', column: 'meta', key: metaKey(META.version), value: encodeValue({ version: s.schemaVersion, history }) },
    deferredRecordOp(deferred, legacy),
  ];
  return { history, deferred, legacy, ops };
}

/** Adopts what {@link migratedState} computed, once its ops are written. @internal */
export function adoptMigrated(s: DeferredState, m: Migrated): void {
  s.history = m.history;
  s.deferred = m.deferred;
  s.legacy = m.legacy;
}

/** Checks a batch's `migrations` field: absent, or a non-empty array of positive integers. @internal */
export function checkMigrationsField(migrations: unknown): readonly number[] | undefined {
  if (migrations === undefined) return undefined;
  if (!Array.isArray(migrations) || migrations.length === 0 || !migrations.every((v) => Number.isInteger(v) && (v as number) > 0)) {
    throw new StoreValidationError('?', undefined, migrations, 'bad_batch', 'migrations must be a non-empty array of positive integers');
  }
  return migrations as number[];
}

/**
 * Validates a replicated row against the table's declared definition; while a migration of the
 * table is deferred and `legacyOk`, a row of the old shape (a batch written before the
 * migration) is accepted against the old definition instead. @internal
 */
export function validateReplicatedRow(def: NormalTableDef, legacy: NormalTableDef | undefined, value: unknown, legacyOk: boolean): Row {
  try {
    return validateRecord(def, value as Row);
  } catch (err) {
    if (!legacyOk || !legacy || !(err instanceof StoreValidationError)) throw err;
    try {
      return validateRecord(legacy, value as Row);
    } catch {
      throw err;
    }
  }
}

/** The `Migration` objects of the deferred list, in order; a version the code no longer has is an error. @internal */
export function deferredToRun(s: DeferredState): Migration[] {
  return s.deferred.map((d) => {
    const m = s.migrations.get(d.version);
    if (!m) throw new StoreMigrationError(d.version, d.description, 'deferred migration is not among the migrations this code declares');
    return m;
  });
}

/**
 * Runs `ms`' `up` in order in `tx`, then makes every row of `tables` fit its declared
 * definition (defaults fill gaps), as `openStore` does after numbered migrations. @internal
 */
export async function runUps(tx: Tx, ms: readonly Migration[], tables: readonly NormalTableDef[]): Promise<void> {
  for (const m of ms) {
    try {
      await m.up(tx);
    } catch (err) {
      throw new StoreMigrationError(m.version, m.description, (err as Error).message, { cause: err });
    }
  }
  const last = ms[ms.length - 1];
  if (!last) return;
  for (const def of tables) {
    for (const row of tx.range(def.name)) {
      let fixed: Row;
      try {
        fixed = validateRecord(def, row);
      } catch (err) {
        throw new StoreMigrationError(last.version, last.description, `row of ${def.name} does not fit the declared schema after migrating: ${(err as Error).message}`, { cause: err });
      }
      if (JSON.stringify(fixed) !== JSON.stringify(row)) tx.replaceObject(def.name, row, fixed);
    }
  }
}
