import type { Store } from './store.ts';
import type { KvIterator } from '../env/kv.ts';
import type { Row, Storage, TableType } from './types.ts';
import type { BackupInfo } from './backup.ts';
import { backupKv } from './backup.ts';
import { META, indexPrefix, metaKey, tablePrefix } from './layout.ts';
import { decodeValue } from './valueCodec.ts';
import { fromBytes, prefixEnd, toBytes, decodeAt } from './keyCodec.ts';
import { StoreBackupError, StoreValidationError } from './errors.ts';
import { validateRecord } from './schema.ts';

/** One table in {@link StoreInfo}. */
export interface TableInfo {
  readonly name: string;
  readonly type: TableType;
  readonly storage: Storage;
  readonly key: readonly string[];
  readonly attributes: readonly string[];
  readonly indexes: readonly string[];
  readonly replicated: boolean;
  readonly rows: number;
  /** Rows kept aside because their stored bytes are corrupt (a table RocksDB cannot read refuses the open). */
  readonly corrupt: number;
  /** Approximate RAM held by rows (JSON size of a sample, extrapolated), bytes. */
  readonly memoryBytes: number;
}

/** Mnesia's `table_info` + `system_info`, for humans and health checks. */
export interface StoreInfo {
  readonly dir: string;
  readonly schemaVersion: number;
  readonly history: ReadonlyArray<{ version: number; appliedAt: number; description: string }>;
  readonly tables: readonly TableInfo[];
  readonly diskBytes: number;
  readonly lastBackup: BackupInfo | undefined;
  readonly migrationInProgress: unknown;
  readonly commitSeq: number;
  readonly heapUsedBytes: number;
}

/** @internal see `Store.info` */
export async function storeInfo(store: Store): Promise<StoreInfo> {
  const st = store.state;
  const meta = async (name: string): Promise<unknown> => {
    let v: Buffer | undefined;
    try {
      v = await st.db.get('meta', metaKey(name));
    } catch (err) {
      // a damaged block: reported in the answer, never a crash (reads go through an iterator)
      return { corrupt: (err as Error).message };
    }
    if (!v) return undefined;
    const d = decodeValue(v);
    return d.ok ? d.value : { corrupt: d.problem };
  };
  const tables: TableInfo[] = [];
  for (const name of store.tableNames()) {
    const mem = st.tables.get(name)!;
    let sampled = 0;
    let bytes = 0;
    for (const [rk, row] of mem.rows) {
      bytes += rk.length * 2 + JSON.stringify(row).length * 2 + 64;
      if (++sampled >= 200) break;
    }
    const d = mem.def;
    tables.push({
      name,
      type: d.type,
      storage: d.storage,
      key: d.key,
      attributes: d.attributes.map((a) => a.name),
      indexes: d.indexes,
      replicated: d.replicated,
      rows: mem.rows.size,
      corrupt: mem.corrupt.size,
      memoryBytes: sampled === 0 ? 0 : Math.round((bytes / sampled) * mem.rows.size * (1 + d.indexes.length * 0.3)),
    });
  }
  return {
    dir: st.dir,
    schemaVersion: st.schemaVersion,
    history: st.history,
    tables,
    diskBytes: await st.env.io.fs.du(st.dir),
    lastBackup: (await meta(META.lastBackup)) as BackupInfo | undefined,
    migrationInProgress: await meta(META.migration),
    commitSeq: st.commitSeq,
    heapUsedBytes: process.memoryUsage().heapUsed,
  };
}

/** @internal see `Store.backup` */
export async function storeBackup(store: Store, path: string): Promise<BackupInfo> {
  await store.idle();
  const info = await backupKv(store.state.env, store.state.db, path, store.schemaVersion);
  store.state.env.logger.info({ report: 'store_backup', dir: store.dir, path, entries: info.entries }, 'backup written');
  return info;
}

/** @internal see `Store.exportNdjson` — one `{"table","row"}` line per row, human-readable. */
export async function storeExport(store: Store, path: string, tables?: readonly string[]): Promise<number> {
  const names = tables ?? store.tableNames();
  const lines: string[] = [JSON.stringify({ format: 'ordo-store-export', version: 1, schemaVersion: store.schemaVersion, tables: names.map((n) => store.tableDef(n)) })];
  for (const n of names) for (const row of store.range(n)) lines.push(JSON.stringify({ table: n, row }));
  await store.state.env.io.fs.writeFileAtomic(path, lines.join('\n') + '\n');
  return lines.length - 1;
}

/**
 * @internal see `Store.importNdjson` — validates every line first (a bad line → typed error
 * naming the line, nothing written), then writes in atomic batches of 1000.
 */
export async function storeImport(store: Store, path: string): Promise<number> {
  const text = (await store.state.env.io.fs.readFile(path)).toString('utf8');
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const first = lines[0] ? (JSON.parse(lines[0]) as { format?: string }) : {};
  if (first.format === 'ordo-store-export') lines.shift();
  const byTable = new Map<string, Row[]>();
  lines.forEach((l, i) => {
    let e: { table?: unknown; row?: unknown };
    try {
      e = JSON.parse(l) as typeof e;
    } catch (err) {
      throw new StoreBackupError(path, `line ${i + 2}: not JSON: ${(err as Error).message}`);
    }
    if (typeof e.table !== 'string' || typeof e.row !== 'object' || e.row === null) throw new StoreValidationError(String(e.table), undefined, e, 'bad_batch', `${path} line ${i + 2}`);
    validateRecord(store.table(e.table).def, e.row);
    let rows = byTable.get(e.table);
    if (!rows) byTable.set(e.table, (rows = []));
    rows.push(e.row as Row);
  });
  let n = 0;
  for (const [t, rows] of byTable) {
    for (let i = 0; i < rows.length; i += 1000) {
      await store.dirtyPutMany(t, rows.slice(i, i + 1000));
      n += Math.min(1000, rows.length - i);
    }
  }
  return n;
}

/** Reads an iterator to its end; a read failure (a damaged block) is returned, not thrown. The iterator is closed. */
async function drain(it: KvIterator, n: number, fn: (chunk: Array<[Buffer, Buffer]>) => void): Promise<Error | undefined> {
  try {
    for (let chunk = await it.next(n); chunk.length > 0; chunk = await it.next(n)) fn(chunk);
    return undefined;
  } catch (err) {
    return err as Error;
  } finally {
    await it.close();
  }
}

/** What {@link storeVerify} found. */
export interface VerifyReport {
  readonly ok: boolean;
  readonly problems: string[];
  readonly rows: number;
  readonly indexEntries: number;
}

/**
 * Checks the disk against itself and RAM: every `disc` row decodes and equals the row in RAM,
 * and the index column holds exactly the entries the rows imply. Used by the crash tests.
 */
export async function storeVerify(store: Store): Promise<VerifyReport> {
  await store.idle();
  const problems: string[] = [];
  let rows = 0;
  let indexEntries = 0;
  const db = store.state.db;
  for (const name of store.tableNames()) {
    const mem = store.state.tables.get(name)!;
    if (mem.def.storage !== 'disc') continue;
    const prefix = tablePrefix(mem.def.id);
    const expected = new Map<string, Set<string>>(mem.def.indexes.map((i) => [i, new Set<string>()]));
    const seen = new Set<string>();
    const it = db.iterator('rows', { gte: toBytes(prefix), lt: toBytes(prefixEnd(prefix)) });
    const rowsRead = await drain(it, 2000, (chunk) => {
      for (const [k, v] of chunk) {
        const rk = fromBytes(k).slice(prefix.length);
        rows++;
        seen.add(rk);
        const d = decodeValue(v);
        if (!d.ok) {
          problems.push(`${name}: corrupt row ${JSON.stringify(rk)}: ${d.problem}`);
          continue;
        }
        const ram = mem.rows.get(rk);
        if (JSON.stringify(ram) !== JSON.stringify(d.value)) problems.push(`${name}: RAM and disk differ at ${JSON.stringify(rk)}`);
        for (const [attr, set] of expected) {
          const e = mem.indexEntry(attr, d.value as Row, rk);
          if (e !== undefined) set.add(e);
        }
      }
    });
    if (rowsRead !== undefined) {
      problems.push(`${name}: rows unreadable on disk: ${rowsRead.message}`);
      continue;
    }
    for (const rk of mem.rows.keys()) if (!seen.has(rk)) problems.push(`${name}: row ${JSON.stringify(rk)} in RAM but not on disk`);
    for (const [attr, set] of expected) {
      const ip = indexPrefix(mem.def.id, attr);
      const ii = db.iterator('idx', { gte: toBytes(ip), lt: toBytes(prefixEnd(ip)) });
      let found = 0;
      const idxRead = await drain(ii, 5000, (chunk) => {
        for (const [k] of chunk) {
          indexEntries++;
          found++;
          const e = fromBytes(k).slice(ip.length);
          if (!set.has(e)) problems.push(`${name}.${attr}: stale index entry ${JSON.stringify(decodeAt(e, 0)[0])}`);
        }
      });
      if (idxRead !== undefined) {
        problems.push(`${name}.${attr}: index ${attr} unreadable on disk (served from RAM, rebuilt from rows; rewrite the table or restore to repair): ${idxRead.message}`);
        continue;
      }
      if (found !== set.size) problems.push(`${name}.${attr}: ${found} index entries on disk, rows imply ${set.size}`);
    }
  }
  return { ok: problems.length === 0, problems, rows, indexEntries };
}
