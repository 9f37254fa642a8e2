import { createHash } from 'node:crypto';
/**
 * Migration execution at open: the plan (declared vs stored schema, pending numbered
 * migrations) and running it — backup, numbered migrations in one transaction, automatic
 * changes (back-filled attributes, built and dropped indexes), the new catalog. Called by
 * `StoreOpening.migrate` (`openStore.ts`). @internal
 */
import type { Env } from '../env/env.ts';
import type { KvOp } from '../env/kv.ts';
import type { CommitOp, Migration, NormalTableDef, Row, SchemaVersionRecord, TableDef } from './types.ts';
import type { Store } from './store.ts';
import type { StoreState } from './storeState.ts';
import { Tx } from './transaction.ts';
import { INDEX_MARK, META, indexDiskKey, indexPrefix, metaKey } from './layout.ts';
import { prefixEnd, toBytes } from './keyCodec.ts';
import { encodeValue } from './valueCodec.ts';
import { diffTable, normalizeTable, validateRecord } from './schema.ts';
import type { SchemaDiff } from './schema.ts';
import { StoreArgumentError, StoreMigrationError, StoreSchemaRefusedError } from './errors.ts';
import type { StoreValidationError } from './errors.ts';
import { backupKv } from './backup.ts';
import { deferredRecordOp } from './deferredMigrations.ts';
import type { DeferredMigration } from './types.ts';

/** The `META.catalog` record. @internal */
export interface Catalog {
  nextId: number;
  tables: NormalTableDef[];
}

/** One table of a {@link Plan}: its declared definition and, when stored, the stored one and the difference. @internal */
export interface PlannedTable {
  readonly name: string;
  readonly declared: NormalTableDef;
  readonly stored?: NormalTableDef;
  readonly diff?: SchemaDiff;
}

/** What an open has to do to the schema. @internal */
export interface Plan {
  readonly tables: PlannedTable[];
  readonly pending: Migration[];
  readonly fresh?: boolean;
}

/** What {@link makePlan} reads of the open options. @internal */
export interface PlanOptions {
  readonly tables?: Readonly<Record<string, TableDef>>;
  readonly migrations?: readonly Migration[];
}

/**
 * Compares the declared tables with the stored catalog: refuses incompatible changes
 * (`ORDO_STORE_SCHEMA_REFUSED`), duplicate migration versions, and lists the pending
 * migrations (above `version`). Stored tables the code no longer declares are kept. @internal
 */
export function makePlan(catalog: Catalog, o: PlanOptions, version: number): Plan {
  checkMigrations(o.migrations);
  if (o.tables !== undefined && (o.tables === null || typeof o.tables !== 'object' || Array.isArray(o.tables))) throw new StoreArgumentError('tables', o.tables, 'an object of table definitions by name');
  const stored = new Map(catalog.tables.map((t) => [t.name, t]));
  if (!o.tables) return { tables: catalog.tables.map((t) => ({ name: t.name, declared: t, stored: t })), pending: [] };
  const migrations = [...(o.migrations ?? [])].sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) throw new StoreMigrationError(migrations[i]!.version, migrations[i]!.description, 'duplicate migration version');
  }
  const pending = migrations.filter((m) => m.version > version);
  let nextId = catalog.nextId;
  const tables: PlannedTable[] = [];
  for (const name of Object.keys(o.tables)) {
    const def = o.tables[name]!;
    const s = stored.get(name);
    const declared = normalizeTable(name, def, s?.id ?? nextId++);
    if (!s) {
      tables.push({ name, declared });
      continue;
    }
    const diff = diffTable(s, declared);
    const hard = diff.refused.filter((c) => c.kind === 'changed_key' || c.kind === 'changed_type' || c.kind === 'changed_storage');
    if (hard.length > 0 || (diff.refused.length > 0 && pending.length === 0 && s.storage === 'disc')) {
      throw new StoreSchemaRefusedError(name, hard.length > 0 ? hard : diff.refused);
    }
    tables.push({ name, declared, stored: s, diff });
  }
  // stored tables the code no longer declares are kept as they are: never dropped
  for (const s of catalog.tables) if (!Object.hasOwn(o.tables, s.name)) tables.push({ name: s.name, declared: s, stored: s });
  return { tables, pending };
}

/** Checks the `migrations` option: an array of `{ version, description, up }`, versions positive integers. @internal */
export function checkMigrations(migrations: unknown): void {
  if (migrations === undefined) return;
  if (!Array.isArray(migrations)) throw new StoreArgumentError('migrations', migrations, 'an array of migrations');
  for (const m of migrations as unknown[]) {
    if (m === null || typeof m !== 'object') throw new StoreArgumentError('migrations[]', m, 'a migration object { version, description, up }');
    const { version, description, up } = m as Partial<Record<keyof Migration, unknown>>;
    if (!Number.isSafeInteger(version) || (version as number) < 1) throw new StoreArgumentError('migration.version', version, 'a positive integer');
    if (typeof description !== 'string') throw new StoreArgumentError(`migration ${String(version)}.description`, description, 'a string');
    if (typeof up !== 'function') throw new StoreArgumentError(`migration ${String(version)}.up`, up, 'a function (tx) => ...');
  }
}

/** The in-progress record of a migration (`META.migration`), removed when it completes. @internal */
export interface MigrationMarker {
  readonly startedAt: number;
  readonly from: number;
  readonly pending: readonly number[];
  /** {@link schemaHash} of every table definition the migration moves the catalog to. */
  readonly target?: string;
  readonly table?: string;
  readonly backfilled?: number;
}

/** A digest of table definitions (order-independent): the schema a migration moves to, compared at open. @internal */
export function schemaHash(defs: readonly NormalTableDef[]): string {
  const sorted = [...defs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 32);
}

/** The meta ops that write the catalog, the schema version and history, and the deferred record. @internal */
export function catalogOps(st: StoreState, catalog: Catalog): KvOp[] {
  const tables = [...st.tables.values()].map((m) => m.def);
  const next: Catalog = { nextId: Math.max(catalog.nextId, ...tables.map((t) => t.id + 1)), tables };
  return [
    { type: 'put', column: 'meta', key: metaKey(META.catalog), value: encodeValue(next) },
    { type: 'put', column: 'meta', key: metaKey(META.version), value: encodeValue({ version: st.schemaVersion, history: st.history }) },
    deferredRecordOp(st.deferred, st.legacy),
  ];
}

/** Everything a migration run needs. @internal */
export interface MigrationContext {
  readonly env: Env;
  readonly dir: string;
  readonly backupDir: string;
  readonly migrationBatchSize: number;
  readonly deferReplicatedMigrations: boolean;
  readonly st: StoreState;
  readonly store: Store;
  readonly catalog: Catalog;
  readonly plan: Plan;
  /** Migrations deferred by an earlier open that this open runs locally. */
  readonly resumed: readonly DeferredMigration[];
}

/**
 * Runs a non-fresh store's migration (rows already in RAM): backup, numbered migrations (one
 * atomic transaction for all pending ones: a crash leaves the old data and the old version,
 * and reopening runs them again), then automatic changes in resumable batches (added
 * attributes back-filled with their defaults, indexes built or dropped), then the new catalog.
 * See `StoreOpening.migrate` for deferred replicated migrations. @internal
 */
export async function runMigration(c: MigrationContext): Promise<void> {
  const { env, st, plan: p } = c;
  const defer = c.deferReplicatedMigrations;
  const deferNow = defer ? p.pending.filter((m) => m.replicated) : [];
  const resumed = c.resumed.map((d) => {
    const m = st.migrations.get(d.version);
    if (!m) throw new StoreMigrationError(d.version, d.description, 'deferred migration is not among the migrations this code declares');
    return m;
  });
  // deferred ones first (they are older), then this code's pending ones that run here
  const local = [...resumed, ...p.pending.filter((m) => !deferNow.includes(m))];
  const deferring = defer && (deferNow.length > 0 || st.deferred.length > 0);
  const rewritesData = local.length > 0 || deferNow.length > 0 || p.tables.some((t) => t.diff && (t.diff.added.length > 0 || t.diff.addedIndexes.length > 0 || t.diff.droppedIndexes.length > 0));
  if (rewritesData) {
    const at = env.clock.now();
    const target = p.pending.length > 0 ? p.pending[p.pending.length - 1]!.version : st.schemaVersion;
    await env.io.fs.mkdir(c.backupDir, { recursive: true });
    const info = await backupKv(env, st.db, `${c.backupDir}/pre-migration-v${st.schemaVersion}-to-v${target}-${Math.floor(at)}.ndjson`, st.schemaVersion);
    env.logger.info({ report: 'store_backup', dir: c.dir, path: info.path, entries: info.entries }, 'backup before migration');
  }
  const marker: MigrationMarker = { startedAt: env.clock.now(), from: st.schemaVersion, pending: p.pending.map((m) => m.version), target: schemaHash(p.tables.map((t) => t.declared)) };
  // switch every table to its declared definition; indexes are rebuilt in RAM from rows
  for (const t of p.tables) {
    const mem = st.tables.get(t.name)!;
    mem.redefine(t.declared);
    for (const i of [...mem.indexes.keys()]) if (!t.declared.indexes.includes(i)) mem.indexes.delete(i);
    for (const i of t.declared.indexes) if (t.diff?.addedIndexes.includes(i) || !t.stored) mem.buildIndex(i);
  }
  for (const t of p.tables) for (const i of t.diff?.addedIndexes ?? []) await writeIndex(st, t.declared, i);
  if (deferNow.length > 0) {
    // the replicated tables' rows keep their old shape until the deferred migrations run
    st.deferred = [...st.deferred, ...deferNow.map((m) => ({ version: m.version, description: m.description }))];
    for (const t of p.tables) if (t.declared.replicated && t.stored && t.diff?.changed && !st.legacy.has(t.name)) st.legacy.set(t.name, t.stored);
  }
  const history: SchemaVersionRecord[] = [];
  if (local.length > 0 || deferNow.length > 0) {
    const tx = new Tx(c.store);
    for (const m of local) {
      try {
        await m.up(tx);
      } catch (err) {
        throw new StoreMigrationError(m.version, m.description, (err as Error).message, { cause: err });
      }
      history.push({ version: m.version, appliedAt: env.clock.now(), description: m.description });
    }
    conform(p, tx, local[local.length - 1] ?? deferNow[deferNow.length - 1]!, deferring, resumed.length > 0);
    st.schemaVersion = Math.max(st.schemaVersion, ...p.pending.map((m) => m.version));
    st.history = [...st.history, ...history];
    if (resumed.length > 0) {
      st.deferred = [];
      st.legacy = new Map();
    }
    await c.store.enqueue({ ops: tx.ops, extra: catalogOps(st, c.catalog) });
  } else {
    // the back-fill rewrites rows in batches, not atomically: its in-progress marker names the
    // schema being migrated to, and until it is cleared only code declaring that schema may open
    // the store (older code would meet rows with attributes it does not know). Numbered
    // migrations need none: they commit atomically with the catalog.
    await st.db.write([{ type: 'put', column: 'meta', key: metaKey(META.migration), value: encodeValue(marker) }], { sync: true });
    await backfill(c, deferring, marker);
    // a commit of its own: sealed and under the watermark (integrity.ts)
    await c.store.enqueue({ ops: [], extra: catalogOps(st, c.catalog) });
  }
  for (const t of p.tables) for (const i of t.diff?.droppedIndexes ?? []) await dropIndex(st, t.stored!, i);
  await st.db.write([{ type: 'del', column: 'meta', key: metaKey(META.migration) }], { sync: true });
  env.logger.info({ report: 'store_migrated', dir: c.dir, schemaVersion: st.schemaVersion, migrations: history.map((h) => h.version), deferred: st.deferred.map((d) => d.version) }, 'store migrated');
}

/**
 * After the numbered migrations ran: every row must fit the declared schema; defaults fill
 * gaps. `skipReplicated` while a replicated migration is deferred (those rows are rewritten
 * when it runs); `replicatedToo` when deferred migrations ran here (their tables' catalog
 * entries did not change at this open, but their rows did).
 */
function conform(plan: Plan, tx: Tx, m: Migration, skipReplicated: boolean, replicatedToo: boolean): void {
  for (const t of plan.tables) {
    if (skipReplicated && t.declared.replicated) continue;
    if (t.stored && !t.diff?.changed && !(replicatedToo && t.declared.replicated)) continue;
    for (const row of tx.range(t.name)) {
      let fixed: Row;
      try {
        fixed = validateRecord(t.declared, row);
      } catch (err) {
        const e = err as StoreValidationError;
        throw new StoreMigrationError(m.version, m.description, `row of ${t.name} does not fit the declared schema after migrating: ${e.message}`, { cause: err });
      }
      if (JSON.stringify(fixed) !== JSON.stringify(row)) tx.replaceObject(t.name, row, fixed);
    }
  }
}

/**
 * Back-fills added attributes in batches; each batch is durable, so a crash resumes here.
 * Local on every node even for replicated tables: defaults are deterministic, so every node
 * computes the same rows — except while a replicated migration is deferred (`skipReplicated`):
 * those rows have the old shape and are conformed when it runs.
 */
async function backfill(c: MigrationContext, skipReplicated: boolean, marker: MigrationMarker): Promise<void> {
  const size = c.migrationBatchSize;
  for (const t of c.plan.tables) {
    if (!t.diff || t.diff.added.length === 0) continue;
    if (skipReplicated && t.declared.replicated) continue;
    const mem = c.st.tables.get(t.name)!;
    let ops: CommitOp[] = [];
    let done = 0;
    for (const rk of [...mem.order.scan()]) {
      const row = mem.rows.get(rk)!;
      if (t.diff.added.every((a) => Object.hasOwn(row, a.name))) continue;
      const fixed = Object.freeze(validateRecord(t.declared, row));
      const key = mem.def.key.length === 1 ? fixed[mem.def.key[0]!] : mem.def.key.map((k) => fixed[k]);
      // a bag object's identity is its content: the old object goes, or the table holds both
      if (mem.def.type === 'bag') ops.push({ table: t.name, op: 'delete', key, value: row });
      ops.push({ table: t.name, op: 'put', key, value: fixed });
      if (ops.length >= size) {
        done += ops.filter((op) => op.op === 'put').length;
        await c.store.enqueue({ ops, extra: [{ type: 'put', column: 'meta', key: metaKey(META.migration), value: encodeValue({ ...marker, table: t.name, backfilled: done }) }] });
        ops = [];
      }
    }
    if (ops.length > 0) await c.store.enqueue({ ops, extra: [] });
    c.env.logger.info({ report: 'store_backfill', table: t.name, attributes: t.diff.added.map((a) => a.name), rows: done + ops.filter((op) => op.op === 'put').length }, 'added attributes back-filled');
  }
}

async function writeIndex(st: StoreState, def: NormalTableDef, attr: string): Promise<void> {
  const mem = st.tables.get(def.name)!;
  let ops: KvOp[] = [];
  for (const [rk, row] of mem.rows) {
    const e = mem.indexEntry(attr, row, rk);
    if (e === undefined) continue;
    ops.push({ type: 'put', column: 'idx', key: indexDiskKey(def.id, attr, e), value: INDEX_MARK });
    if (ops.length >= 5000) {
      await st.db.write(ops, { sync: false });
      ops = [];
    }
  }
  await st.db.write(ops, { sync: true });
}

async function dropIndex(st: StoreState, def: NormalTableDef, attr: string): Promise<void> {
  const prefix = indexPrefix(def.id, attr);
  const it = st.db.iterator('idx', { gte: toBytes(prefix), lt: toBytes(prefixEnd(prefix)) });
  for (let chunk = await it.next(5000); chunk.length > 0; chunk = await it.next(5000)) {
    await st.db.write(chunk.map(([k]) => ({ type: 'del', column: 'idx', key: k })), { sync: false });
  }
  await it.close();
}
