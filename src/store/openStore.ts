import type { Env } from '../env/env.ts';
import type { KvAdapter, KvDb, KvOp } from '../env/kv.ts';
import { KvError } from '../env/kv.ts';
import type { DeferredMigration, Migration, Row, SchemaVersionRecord, TableDef } from './types.ts';
import { MemTable } from './memTable.ts';
import { Store } from './store.ts';
import type { StoreState } from './storeState.ts';
import { catalogOps, makePlan, runMigration, schemaHash } from './migrate.ts';
import type { MigrationMarker } from './migrate.ts';
import type { Catalog, Plan } from './migrate.ts';
import { COLUMNS, META, indexPrefix, metaKey, tablePrefix } from './layout.ts';
import { decodeKey, fromBytes, prefixEnd, skipElement, toBytes } from './keyCodec.ts';
import { DecodeProblem, decodeStored, decodeValue } from './valueCodec.ts';
import { freezeParsed } from './values.ts';
import { StoreCorruptError, StoreDamagedError, StoreError, StoreIoError, StoreLockedError, StoreMigrationError, StoreMissingDirError, StoreNewerSchemaError } from './errors.ts';
import { validateOpenOptions, canonicalDir } from './openOptions.ts';
import type { LiveHandleRegistry } from './liveHandles.ts';
import { processHandles } from './liveHandles.ts';
import { checkRecovered, digestKey, readChecked, rowHash, sealOps } from './integrity.ts';
import type { TableDigest } from './integrity.ts';
import type { DeferredRecord } from './deferredMigrations.ts';
import { checkColumnReadable, checkIndexColumn, readLogSeqs } from './columnChecks.ts';

/**
 * Options of {@link openStore}.
 *
 * @example
 * import { createRealEnv } from 'ordo';
 * import { openStore } from 'ordo/store';
 *
 * const env = createRealEnv();
 * const tables = { user_bux_points: { type: 'ordered_set', key: 'user_id', attributes: { user_id: { type: 'string' }, bux_balance: { type: 'integer', default: 0 } } } } as const;
 * await (await openStore({ env, dir: './data/store', tables })).close(); // the first boot creates it
 * const store = await openStore({ env, dir: './data/store', tables, expectExisting: true }); // later boots: a missing dir is refused
 * await store.close();
 */
export interface OpenStoreOptions {
  readonly env: Env;
  readonly dir: string;
  /** Declared tables. Leave out to open the store as stored (tools, the CLI): no migration. */
  readonly tables?: Readonly<Record<string, TableDef>>;
  /** Numbered migrations; the highest version is the schema version this code knows. */
  readonly migrations?: readonly Migration[];
  /** Refuse to create a fresh store: the directory must hold one (an ephemeral machine without its volume). */
  readonly expectExisting?: boolean;
  /** Where pre-migration backups go (default `<dir>/backups`). */
  readonly backupDir?: string;
  /** Change-log records kept (default 10 000). */
  readonly changeLogLimit?: number;
  /**
   * How long a synced write may go unanswered by the disk (or the sync writer thread) before
   * its commits reject with `ORDO_STORE_COMMIT_INDETERMINATE` (`outcome: 'unknown'`, cause
   * `ORDO_STORE_COMMIT_TIMEOUT`) and the store fails (`ORDO_STORE_FAILED`, `reason: 'timeout'`)
   * until it is reopened. Default 60 000 ms (at most 2 147 483 647, what a timer can wait), measured on the engine's latency clock — real time
   * for real RocksDB even under a test's virtual clock (`KvDb.latencyClock`), the env's clock for
   * simulated engines. An answer arriving after
   * the deadline is logged (`store_commit_late`) and changes nothing.
   */
  readonly commitDeadlineMs?: number;
  /** Rows per batch when an added attribute is back-filled (default 1000). */
  readonly migrationBatchSize?: number;
  /** Key-value engine (default `env.io.kv`). */
  readonly kv?: KvAdapter;
  /**
   * Who owns the handle (any value, compared with `Object.is`): a later `openStore` of the same
   * directory with the same owner reclaims (closes) this handle if it is still open — a leak of
   * a crashed initializer. Any other opener of a live directory is refused (`ORDO_STORE_LOCKED`,
   * `by: 'this_process'`). The store-initializer passes its own token.
   */
  readonly owner?: unknown;
  /** The live-handle registry (default: this process's, `processHandles`). */
  readonly registry?: LiveHandleRegistry;
  /**
   * Do not run the `up` of pending migrations flagged `replicated` at open: move the catalog to
   * the declared schema and the schema version to the highest known one, run the other
   * migrations, and record the replicated ones as deferred (`store.deferredMigrations()`), for
   * the cluster to run once, on the leader (`store.runDeferredMigrations()`, driven by the
   * replication child). Default false: everything runs locally — right for a single node
   * without a replication child. Opening with false while migrations are deferred runs them.
   */
  readonly deferReplicatedMigrations?: boolean;
}

/**
 * Opening a store in the initializer's phases: {@link StoreOpening.begin} (check the directory,
 * open RocksDB, read the catalog, refuse incompatible schemas), {@link StoreOpening.migrate},
 * {@link StoreOpening.load}. {@link openStore} runs all three.
 */
export class StoreOpening {
  private loaded = false;
  /** Ops that rebuild on-disk index entries found out of step at load (written at acceptance). */
  private readonly indexRepair: KvOp[] = [];
  /** A migration ran at this open (it removes its own marker). */
  private migrated = false;
  /** @internal the store holds the marker of a migration that completed: removed at load. */
  staleMarker = false;
  private readonly o: OpenStoreOptions;
  private readonly st: StoreState;
  readonly store: Store;
  private readonly catalog: Catalog;
  private readonly plan: Plan;
  private constructor(
    o: OpenStoreOptions,
    st: StoreState,
    store: Store,
    catalog: Catalog,
    plan: Plan,
  ) {
    this.o = o;
    this.st = st;
    this.store = store;
    this.catalog = catalog;
    this.plan = plan;
  }

  /**
   * Phase 1: check the options and the directory, claim it, open RocksDB guarded, prove that
   * what it recovered is what was acknowledged, compare schemas. Throws typed errors; never
   * creates an empty store under `expectExisting` nor where a store existed; a refused open
   * leaves every file as it was.
   */
  static async begin(o: OpenStoreOptions): Promise<StoreOpening> {
    validateOpenOptions(o);
    const { env } = o;
    const kv = (o.kv ?? env.io.kv)!;
    const dir = await canonicalDir(kv, o.dir);
    const lease = await (o.registry ?? processHandles).claim(dir, o.owner, env.logger);
    let db: KvDb | undefined;
    try {
      if (o.expectExisting && !(await kv.exists(dir))) throw new StoreMissingDirError(dir);
      try {
        db = await kv.open(dir, { columns: COLUMNS, createIfMissing: !o.expectExisting, guard: true });
      } catch (err) {
        throw openError(dir, err);
      }
      const catalog = ((await readChecked(db, 'meta', metaKey(META.catalog), 'catalog')) as Catalog | undefined) ?? { nextId: 1, tables: [] };
      const version = ((await readChecked(db, 'meta', metaKey(META.version), 'schema version')) as { version: number; history: SchemaVersionRecord[] } | undefined) ?? { version: 0, history: [] };
      const commitSeq = ((await readChecked(db, 'meta', metaKey(META.seq), 'commit sequence')) as number | undefined) ?? 0;
      await checkRecovered(db, commitSeq);
      const fresh = catalog.tables.length === 0 && version.history.length === 0;
      if (fresh && commitSeq > 0) throw new StoreDamagedError(dir, `catalog and schema history are missing, but ${commitSeq} commits were recovered`, { missing: { recovered: 0, acknowledged: commitSeq } });
      const applied = new Map<string, number>();
      const it = db.iterator('meta', { gte: metaKey(META.appliedPrefix), lt: metaKey(META.appliedPrefix + '\uffff') });
      try {
        for (let chunk = await it.next(1000); chunk.length > 0; chunk = await it.next(1000)) {
          for (const [k, v] of chunk) {
            const d = decodeValue(v);
            if (d.ok) applied.set(k.toString('utf8').slice(META.appliedPrefix.length), d.value as number);
          }
        }
      } catch (err) {
        throw openError(dir, err);
      } finally {
        await it.close();
      }
      // the change-log records' keys (their last commit sequence), so each batch can prune the
      // oldest — the same pass reads the whole column, its check at open (columnChecks.ts)
      const logSeqs = await readLogSeqs(db);
      await checkCatalogCoversDigests(db, catalog);
      const deferredRec = (await readChecked(db, 'meta', metaKey(META.deferred), 'deferred migrations')) as DeferredRecord | undefined;
      const known = Math.max(0, ...(o.migrations ?? []).map((m) => m.version));
      if (o.tables && version.version > known) throw new StoreNewerSchemaError(version.version, known, dir);
      const plan = makePlan(catalog, o, fresh ? known : version.version);
      const staleMarker = await checkMigrationMarker(db, catalog, plan, o);
      const st: StoreState = {
        env,
        dir,
        db,
        engine: kv,
        tables: new Map(),
        schemaVersion: version.version,
        history: version.history,
        commitSeq,
        applied,
        changeLogLimit: o.changeLogLimit ?? 10_000,
        commitDeadlineMs: o.commitDeadlineMs ?? 60_000,
        logSeqs,
        onClose: () => lease.release(),
        deferred: deferredRec?.migrations ?? [],
        legacy: new Map((deferredRec?.legacy ?? []).map((t) => [t.name, t])),
        migrations: new Map((o.migrations ?? []).map((m) => [m.version, m])),
        backupDir: o.backupDir ?? `${dir}/backups`,
      };
      const store = new Store(st);
      lease.attach(store);
      for (const t of plan.tables) st.tables.set(t.name, new MemTable(t.stored ?? t.declared));
      env.logger.info({ report: 'store_opened', dir, schemaVersion: version.version, tables: plan.tables.length, fresh, commitSeq, acknowledged: db.marker?.mark }, 'store opened');
      const opening = new StoreOpening(o, st, store, catalog, { ...plan, fresh });
      opening.staleMarker = staleMarker;
      return opening;
    } catch (err) {
      try {
        await db?.close();
      } catch (closeErr) {
        env.logger.error({ err: closeErr, report: 'store_close_failed', dir }, 'closing a refused store failed');
      }
      lease.release();
      throw err instanceof StoreError ? err : openError(dir, err);
    }
  }

  /** True when {@link StoreOpening.migrate} has work to do. */
  get needsMigration(): boolean {
    const p = this.plan;
    return !p.fresh && (p.pending.length > 0 || p.tables.some((t) => t.diff?.changed || !t.stored) || this.resumed().length > 0);
  }

  /** Migrations deferred by an earlier open that this open runs locally (it does not defer). */
  private resumed(): DeferredMigration[] {
    return this.o.tables && !this.o.deferReplicatedMigrations ? this.st.deferred : [];
  }

  /**
   * Phase 2: backup, then numbered migrations (one atomic transaction for all pending ones:
   * a crash leaves the old data and the old version, and reopening runs them again), then
   * automatic changes in resumable batches (added attributes back-filled with their
   * defaults, indexes built or dropped), then the new catalog.
   *
   * With `deferReplicatedMigrations`, pending migrations flagged `replicated` are not run:
   * they are recorded as deferred in the same write as the new catalog and version, and the
   * replicated tables' rows are left as they are (not conformed, not back-filled) until
   * `store.runDeferredMigrations()` rewrites them through replication.
   */
  async migrate(): Promise<void> {
    const { env } = this.o;
    const p = this.plan;
    if (p.fresh) {
      await this.accept();
      for (const t of p.tables) this.st.tables.set(t.name, new MemTable(t.declared));
      this.store.forgetTables();
      const at = env.clock.now();
      const known = Math.max(0, ...(this.o.migrations ?? []).map((m) => m.version));
      this.st.schemaVersion = known;
      this.st.history = [{ version: known, appliedAt: at, description: 'initial schema' }];
      await this.writeCatalog([]);
      this.loaded = true;
      return;
    }
    if (!this.needsMigration) return;
    await this.loadRows();
    await this.accept();
    this.migrated = true;
    await runMigration({
      env,
      dir: this.st.dir,
      backupDir: this.st.backupDir,
      migrationBatchSize: this.o.migrationBatchSize ?? 1000,
      deferReplicatedMigrations: this.o.deferReplicatedMigrations === true,
      st: this.st,
      store: this.store,
      catalog: this.catalog,
      plan: p,
      resumed: this.resumed(),
    });
  }

  /** Phase 3: rows into RAM, indexes built. Returns the ready store. */
  async load(): Promise<Store> {
    if (!this.loaded) await this.loadRows();
    await this.accept();
    if (this.staleMarker && !this.migrated) {
      // a completed migration whose in-progress marker was never removed (killed just before)
      await this.st.db.write([{ type: 'del', column: 'meta', key: metaKey(META.migration) }], { sync: true });
      this.o.env.logger.warn({ report: 'store_stale_migration_marker', dir: this.st.dir }, 'cleared the marker of a migration that had completed');
    }
    for (const mem of this.st.tables.values()) for (const i of mem.def.indexes) if (!mem.indexes.get(i)?.size) mem.buildIndex(i);
    return this.store;
  }

  /**
   * Accepts what RocksDB opened, once the recovery check, the catalog and every table's rows
   * (against its digest) are proven, before the first write: from here on RocksDB's own
   * deletions at open stand. Until then a failed phase puts every file back (the guard).
   */
  private async accept(): Promise<void> {
    await this.st.db.release?.();
    if (this.indexRepair.length === 0) return;
    // the on-disk index rebuilt from the proven rows: a commit of its own, sealed and under the watermark
    const ops = this.indexRepair.splice(0);
    const seq = this.st.commitSeq + 1;
    await this.st.db.write([...ops, ...sealOps(seq)], { sync: true, mark: seq });
    this.st.commitSeq = seq;
  }

  /** Closes the database after a failed phase (releases the LOCK). */
  async abort(): Promise<void> {
    await this.store.close();
  }

  /** The catalog as a commit of its own: sealed and under the watermark, so losing it is detected. */
  private async writeCatalog(extra: KvOp[]): Promise<void> {
    const seq = this.st.commitSeq + 1;
    await this.st.db.write([...catalogOps(this.st, this.catalog), ...extra, ...sealOps(seq)], { sync: true, mark: seq });
    this.st.commitSeq = seq;
  }

  /**
   * Reads every `disc` row into RAM, table by table, and checks each table against its digest
   * and its on-disk index column against the rows (see `columnChecks.ts`). A row failing its
   * value checksum (RocksDB read the block fine) is kept aside, named by table and key. A block
   * RocksDB cannot read refuses the whole open (`ORDO_STORE_CORRUPT` naming the table, the last
   * good key and the file): opened, the block would stay in the live files and fail the first
   * compaction that picks it — RocksDB then stops all writes, after every restart again. A
   * single RocksDB database cannot keep one table's files out of the others' way (every open
   * reads every live SST, every compaction merges the tables' rows). Nothing is deleted:
   * restore a backup.
   */
  private async loadRows(): Promise<void> {
    if (this.loaded) return;
    for (const mem of this.st.tables.values()) {
      if (mem.def.storage !== 'disc') continue;
      const prefix = tablePrefix(mem.def.id);
      const it = this.st.db.iterator('rows', { gte: toBytes(prefix), lt: toBytes(prefixEnd(prefix)) });
      let lastKey: unknown = undefined;
      let pending: Promise<Array<[Buffer, Buffer]>> | undefined;
      const digest = { count: 0, sum: 0 };
      // the rows read, in key order: into the table in one step once the scan is done (MemTable.loadSorted)
      const keys: string[] = [];
      const rows: Row[] = [];
      try {
        // prefetch: RocksDB reads the next chunk on its thread while this one is decoded
        pending = it.next(4000);
        for (;;) {
          const chunk = await pending;
          if (chunk.length === 0) break;
          pending = it.next(4000);
          for (let j = 0; j < chunk.length; j++) {
            const [k, v] = chunk[j]!;
            // the row key straight from the bytes after the table prefix (no whole-key string)
            const rk = k.toString('latin1', prefix.length);
            const value = decodeStored(v);
            if (value !== null && typeof value === 'object' && !(value instanceof DecodeProblem)) {
              digest.count++;
              digest.sum = (digest.sum + rowHash(k, v)) >>> 0;
              keys.push(rk);
              rows.push(freezeParsed(value as Row));
              lastKey = rk;
              continue;
            }
            const d = value instanceof DecodeProblem ? { ok: false as const, problem: value.problem } : { ok: true as const, value };
            let key: unknown = rk;
            try {
              key = decodeKey(mem.encKeyOf(rk));
            } catch (err) {
              key = `${rk} (${(err as Error).message})`;
            }
            // still counted: its key and stored checksum are what the digest was built from, so a
            // table that also lost acknowledged rows is refused, not served short around it
            if (v.length >= 5) {
              const h = rowHash(k, v);
              digest.count++;
              digest.sum = (digest.sum + h) >>> 0;
              mem.corruptHash.set(rk, h);
            }
            const problem = d.ok ? 'row is not an object' : d.problem;
            mem.corrupt.set(rk, new StoreCorruptError(mem.def.name, key, problem));
            this.o.env.logger.error({ report: 'store_corrupt_row', table: mem.def.name, key, reason: problem }, 'corrupt row kept aside');
          }
        }
        mem.loadSorted(keys, rows);
        await this.checkDigest(mem, digest);
        if (mem.corrupt.size > 0) await this.findCorruptIndexEntries(mem);
        mem.digest = digest;
      } catch (err) {
        if (!(err instanceof KvError && err.kind === 'corrupt')) throw openError(this.st.dir, err);
        let after: unknown = '(table start)';
        if (typeof lastKey === 'string') after = decodeKey(mem.encKeyOf(lastKey));
        throw new StoreDamagedError(this.st.dir, `table ${mem.def.name}: rows unreadable on disk after key ${JSON.stringify(after) ?? String(after)}: ${err.message}. Nothing was opened or deleted; restore a backup`, {
          cause: err,
          table: mem.def.name,
          ...(err.file ? { file: err.file } : {}),
        });
      } finally {
        await pending?.catch(() => []); // never close an iterator with a read in flight
        await it.close();
      }
    }
    for (const mem of this.st.tables.values()) for (const i of mem.def.indexes) mem.buildIndex(i);
    await this.checkUnservedColumns();
    this.loaded = true;
  }

  /**
   * The columns not served from: each table's on-disk index against its rows (rebuilt from
   * them when out of step — derived data — at acceptance), then the meta column read whole (the
   * change log was, by `begin`). Any block RocksDB cannot read refuses the open (see `columnChecks.ts`).
   */
  private async checkUnservedColumns(): Promise<void> {
    for (const mem of this.st.tables.values()) {
      if (mem.def.storage !== 'disc' || mem.def.indexes.length === 0) continue;
      const r = await checkIndexColumn(this.st.db, mem);
      if (r.ops.length === 0) continue;
      this.indexRepair.push(...r.ops);
      this.o.env.logger.warn({ report: 'store_index_rebuilt', dir: this.st.dir, table: mem.def.name, indexes: r.found }, 'on-disk index out of step with the rows: rebuilt from them');
    }
    // the change log was read whole at the start of the open (readLogSeqs)
    await checkColumnReadable(this.st.db, 'meta');
  }

  /**
   * The rows loaded must be the rows acknowledged: the table's digest (count and hash sum,
   * written atomically with every commit) against the rows read. A mismatch means RocksDB
   * recovered an older state of this table than of the meta column (a dropped flush): refused.
   */
  private async checkDigest(mem: MemTable, got: TableDigest): Promise<void> {
    const want = (await readChecked(this.st.db, 'meta', digestKey(mem.def.id), `digest of table ${mem.def.name}`)) as TableDigest | undefined;
    if (want === undefined || (want.count === got.count && want.sum === got.sum)) return;
    throw new StoreDamagedError(this.st.dir, `table ${mem.def.name}: ${got.count} rows on disk, but the acknowledged state has ${want.count} (digest ${got.sum.toString(16)} ≠ ${want.sum.toString(16)}): RocksDB recovered an older state of this table (a MANIFEST that lost a flush?)`);
  }

  /** The on-disk index entries of corrupt rows, so rewriting or deleting such a row removes them. */
  private async findCorruptIndexEntries(mem: MemTable): Promise<void> {
    for (const attr of mem.def.indexes) {
      const ip = indexPrefix(mem.def.id, attr);
      const it = this.st.db.iterator('idx', { gte: toBytes(ip), lt: toBytes(prefixEnd(ip)) });
      try {
        for (let chunk = await it.next(5000); chunk.length > 0; chunk = await it.next(5000)) {
          for (const [k] of chunk) {
            const entry = fromBytes(k).slice(ip.length);
            const rk = entry.slice(skipElement(entry));
            if (!mem.corrupt.has(rk)) continue;
            let list = mem.corruptIndex.get(rk);
            if (!list) mem.corruptIndex.set(rk, (list = []));
            list.push([attr, entry]);
          }
        }
      } finally {
        await it.close();
      }
    }
  }
}

/**
 * A migration that began and did not finish (killed during a back-fill) leaves its marker,
 * naming the schema it moves to: only code declaring that schema may open the store (it
 * resumes); other code is refused (`ORDO_STORE_MIGRATION`) — as after a completed migration,
 * older code must not meet rows it does not know. Returns true for a stale marker (the stored
 * catalog already is the target: the migration completed), which the open removes.
 */
async function checkMigrationMarker(db: KvDb, catalog: Catalog, plan: Plan, o: OpenStoreOptions): Promise<boolean> {
  const m = (await readChecked(db, 'meta', metaKey(META.migration), 'migration marker')) as MigrationMarker | undefined;
  if (m === undefined) return false;
  if (m.target === undefined) return o.tables !== undefined && !plan.tables.some((t) => t.diff?.changed || !t.stored) && plan.pending.length === 0;
  if (m.target === schemaHash(catalog.tables)) return true;
  if (!o.tables || m.target === schemaHash(plan.tables.map((t) => t.declared))) return false;
  const where = m.table !== undefined ? ` (back-filling ${m.table}: ${m.backfilled ?? 0} rows done)` : '';
  throw new StoreMigrationError(m.from, 'unfinished migration', `a migration from schema version ${m.from} began at ${m.startedAt}${where} and did not finish; this code declares a different schema than the one it migrates to. Open with the code that started it (it resumes), or restore the pre-migration backup`);
}

/**
 * Every table with a digest must be in the catalog: a catalog recovered older than the rows
 * (a dropped flush of the meta column) would otherwise silently forget a table.
 */
async function checkCatalogCoversDigests(db: KvDb, catalog: Catalog): Promise<void> {
  const ids = new Set(catalog.tables.map((t) => t.id));
  const prefix = metaKey('digest/');
  const it = db.iterator('meta', { gte: prefix, lt: metaKey('digest0') });
  try {
    for (let chunk = await it.next(1000); chunk.length > 0; chunk = await it.next(1000)) {
      for (const [k, v] of chunk) {
        const id = Number(k.toString('utf8').slice(prefix.length));
        const d = decodeValue(v);
        const rows = d.ok ? (d.value as TableDigest).count : '?';
        if (!ids.has(id) && rows !== 0) throw new StoreDamagedError(db.dir, `the catalog has no table ${id}, but ${rows} rows of it were acknowledged: the catalog was recovered older than the data`);
      }
    }
  } catch (err) {
    throw openError(db.dir, err);
  } finally {
    await it.close();
  }
}

/** Maps an opening failure to the store's typed errors, by cause. */
function openError(dir: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  if (err instanceof KvError) {
    if (err.kind === 'locked') return new StoreLockedError(dir, { cause: err });
    if (err.kind === 'missing') return new StoreMissingDirError(dir);
    if (err.kind === 'corrupt') return new StoreDamagedError(dir, err.message, { cause: err, ...(err.file ? { file: err.file } : {}) });
  }
  return new StoreIoError(dir, 'open', { cause: err });
}

/**
 * Opens (creating if allowed) a table store: checks the directory, compares declared and
 * stored schemas, runs migrations, loads every `disc` row into RAM.
 *
 * Gotchas: throws `ORDO_STORE_MISSING_DIR` under `expectExisting` rather than creating an
 * empty store; `ORDO_STORE_LOCKED` when another process holds the directory;
 * `ORDO_STORE_SCHEMA_REFUSED` / `ORDO_STORE_NEWER_SCHEMA` for incompatible schemas. It never
 * deletes a table to recover.
 *
 * @example
 * import { createRealEnv } from 'ordo';
 * import { openStore } from 'ordo/store';
 *
 * const store = await openStore({ env: createRealEnv(), dir: './data/store', tables: { users: { key: 'id', attributes: { id: { type: 'string' } } } } });
 * await store.close();
 */
export async function openStore(o: OpenStoreOptions): Promise<Store> {
  const opening = await StoreOpening.begin(o);
  try {
    await opening.migrate();
    return await opening.load();
  } catch (err) {
    await opening.abort();
    // an engine error of a write at open (the catalog, an index rebuild: a full disk…) is typed, by cause
    throw err instanceof KvError ? openError(opening.store.state.dir, err) : err;
  }
}
