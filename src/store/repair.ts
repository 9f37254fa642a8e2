import type { Env } from '../env/env.ts';
import type { KvAdapter, KvDb, KvOp } from '../env/kv.ts';
import { COLUMNS, META, metaKey, tablePrefix } from './layout.ts';
import { prefixEnd, toBytes } from './keyCodec.ts';
import { decodeValue, encodeValue } from './valueCodec.ts';
import { backupKv } from './backup.ts';
import { digestKey, inspectRecovery, readChecked, rowHash, sealOps } from './integrity.ts';
import type { TableDigest } from './integrity.ts';
import { StoreDamagedError, StoreError, StoreIoError, StoreLockedError, StoreMissingDirError } from './errors.ts';
import { KvError } from '../env/kv.ts';
import type { NormalTableDef, SchemaVersionRecord } from './types.ts';
import { canonicalDir } from './openOptions.ts';

/** The digest of table `id`'s rows as they are on disk. */
async function diskDigest(db: KvDb, id: number): Promise<TableDigest> {
  const prefix = tablePrefix(id);
  const it = db.iterator('rows', { gte: toBytes(prefix), lt: toBytes(prefixEnd(prefix)) });
  const d: TableDigest = { count: 0, sum: 0 };
  try {
    for (let chunk = await it.next(4000); chunk.length > 0; chunk = await it.next(4000)) {
      for (const [k, v] of chunk) {
        if (!decodeValue(v).ok) continue;
        d.count++;
        d.sum = (d.sum + rowHash(k, v)) >>> 0;
      }
    }
  } finally {
    await it.close();
  }
  return d;
}

/** What {@link repairStore} did. */
export type RepairResult =
  | { readonly repaired: false; readonly dir: string; readonly commitSeq: number }
  | {
      readonly repaired: true;
      readonly dir: string;
      /** The backup of what was recovered, written before anything changed. */
      readonly backup: string;
      /** The last commit RocksDB recovered, and the last one the store had acknowledged. */
      readonly recovered: number;
      readonly acknowledged: number;
      /** The problems accepted (the open's refusal, in words). */
      readonly accepted: readonly string[];
    };

/**
 * `ordo store repair`: for an operator who accepts a loss the store refused to open with
 * (`ORDO_STORE_CORRUPT`: RocksDB recovered less than was acknowledged — a damaged or truncated
 * WAL —, column families recovered at different points, or a table whose rows fell behind its
 * digest — a MANIFEST that lost a flush). It backs up what RocksDB recovered
 * first, then records the loss in the schema history (`repair: accepted the loss of commits
 * N+1..M`) and moves the watermark and seals to a new commit, so the store opens with what it
 * has (a table's digest is set to its rows on disk). It repairs nothing RocksDB itself cannot
 * open (a damaged MANIFEST or CURRENT, an unreadable SST): that refuses with the typed error —
 * restore a backup. Never deletes a file.
 *
 * @example
 * import { createRealEnv } from 'ordo';
 * import { openStore } from 'ordo/store';
 * import { repairStore } from './repair.ts';
 *
 * const env = createRealEnv({ logTo: 'stderr' });
 * await (await openStore({ env, dir: './data/store', tables: {} })).close();
 * const r = await repairStore(env, './data/store'); // an intact store: nothing to repair
 * if (r.repaired) console.log(`lost commits ${r.recovered + 1}..${r.acknowledged}; backup ${r.backup}`);
 */
export async function repairStore(env: Env, dirIn: string, options: { kv?: KvAdapter; backupDir?: string } = {}): Promise<RepairResult> {
  const kv = options.kv ?? env.io.kv;
  if (!kv) throw new StoreIoError(dirIn, 'repair', { cause: new Error('no key-value adapter (env.io.kv)') });
  const dir = await canonicalDir(kv, dirIn);
  if (!(await kv.exists(dir))) throw new StoreMissingDirError(dir);
  let db: KvDb;
  try {
    db = await kv.open(dir, { columns: COLUMNS, createIfMissing: false, guard: true });
  } catch (err) {
    if (err instanceof KvError && err.kind === 'locked') throw new StoreLockedError(dir, { cause: err });
    if (err instanceof KvError && err.kind === 'corrupt') throw new StoreDamagedError(dir, `RocksDB cannot open it, repair cannot help (restore a backup): ${err.message}`, { cause: err, ...(err.file ? { file: err.file } : {}) });
    throw new StoreIoError(dir, 'repair', { cause: err });
  }
  try {
    const recovered = ((await readChecked(db, 'meta', metaKey(META.seq), 'commit sequence')) as number | undefined) ?? 0;
    const version = (await readChecked(db, 'meta', metaKey(META.version), 'schema version')) as { version: number; history: SchemaVersionRecord[] } | undefined;
    const catalog = (await readChecked(db, 'meta', metaKey(META.catalog), 'catalog')) as { tables: unknown[] } | undefined;
    const check = await inspectRecovery(db, recovered);
    // tables whose rows fell behind their digest (a MANIFEST that lost a flush)
    const digests: KvOp[] = [];
    const problems = [...check.problems];
    for (const t of (catalog?.tables ?? []) as NormalTableDef[]) {
      if (t.storage !== 'disc') continue;
      const want = (await readChecked(db, 'meta', digestKey(t.id), `digest of table ${t.name}`)) as TableDigest | undefined;
      if (want === undefined) continue;
      const got = await diskDigest(db, t.id);
      if (got.count === want.count && got.sum === want.sum) continue;
      problems.push(`table ${t.name}: ${got.count} rows on disk, ${want.count} acknowledged`);
      digests.push({ type: 'put', column: 'meta', key: digestKey(t.id), value: encodeValue(got) });
    }
    if (problems.length === 0 && (catalog !== undefined || recovered === 0)) return { repaired: false, dir, commitSeq: recovered };
    if (!catalog || !version) throw new StoreDamagedError(dir, 'the catalog or schema history was lost; repair cannot rebuild them — restore a backup');
    await db.release?.();
    const at = env.clock.now();
    const backupDir = options.backupDir ?? `${dir}/backups`;
    await env.io.fs.mkdir(backupDir, { recursive: true });
    const backup = await backupKv(env, db, `${backupDir}/pre-repair-${Math.floor(at)}.ndjson`, version.version);
    const acknowledged = Math.max(check.acknowledged, recovered, ...Object.values(check.seals).map((s) => s ?? 0));
    const seq = acknowledged + 1;
    const record: SchemaVersionRecord = {
      version: version.version,
      appliedAt: at,
      description: `repair: accepted the loss of commits ${recovered + 1}..${acknowledged} (recovered ${recovered}, acknowledged ${acknowledged}${digests.length > 0 ? `; ${problems.filter((p) => p.startsWith('table ')).join('; ')}` : ''}; backup ${backup.path})`,
    };
    await db.write([{ type: 'put', column: 'meta', key: metaKey(META.version), value: encodeValue({ version: version.version, history: [...version.history, record] }) }, ...digests, ...sealOps(seq)], { sync: true, mark: seq });
    env.logger.warn({ report: 'store_repaired', dir, recovered, acknowledged, backup: backup.path, problems }, 'store repaired: the loss is recorded in the schema history');
    return { repaired: true, dir, backup: backup.path, recovered, acknowledged, accepted: problems };
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreIoError(dir, 'repair', { cause: err });
  } finally {
    await db.close();
  }
}
