import { crc32 } from 'node:zlib';
import type { Env } from '../env/env.ts';
import type { KvAdapter, KvDb, KvIterator, KvOp } from '../env/kv.ts';
import { COLUMNS, META, metaKey } from './layout.ts';
import { StoreBackupError, StoreDamagedError, StoreIoError } from './errors.ts';
import { KvError } from '../env/kv.ts';
import { decodeValue, encodeValue } from './valueCodec.ts';
import { sealOps } from './integrity.ts';

/** What a backup file holds, returned by {@link backupKv}. */
export interface BackupInfo {
  readonly path: string;
  readonly at: number;
  readonly entries: number;
  readonly bytes: number;
}

const HEADER = 'ordo-store-backup';

/**
 * Writes a consistent backup of every column of `db` to `path` while writes continue: the
 * iterators of all columns are created in one synchronous step, so they share one
 * point-in-time view (RocksDB gives each iterator an implicit snapshot at creation). Format:
 * NDJSON — a header line, one `{c, k, v}` line per entry (base64), a trailer with the count
 * and a CRC of every preceding line. Written to a temp file, fsynced, renamed.
 */
export async function backupKv(env: Env, db: KvDb, path: string, schemaVersion: number): Promise<BackupInfo> {
  const its: Array<[string, KvIterator]> = COLUMNS.map((c) => [c, db.iterator(c)]);
  const at = env.clock.now();
  const lines: string[] = [JSON.stringify({ format: HEADER, version: 1, at, schemaVersion })];
  let entries = 0;
  try {
    for (const [column, it] of its) {
      for (;;) {
        const chunk = await it.next(1000);
        if (chunk.length === 0) break;
        for (const [k, v] of chunk) {
          lines.push(`{"c":"${column}","k":"${k.toString('base64')}","v":"${v.toString('base64')}"}`);
          entries++;
        }
      }
    }
  } catch (err) {
    if (err instanceof KvError && err.kind === 'corrupt') throw new StoreDamagedError(db.dir, `backup cannot read the store: ${err.message}`, { cause: err, ...(err.file ? { file: err.file } : {}) });
    throw new StoreIoError(db.dir, `backup to ${path}`, { cause: err });
  } finally {
    for (const [, it] of its) await it.close();
  }
  let crc = 0;
  for (const l of lines) crc = crc32(l + '\n', crc);
  lines.push(JSON.stringify({ end: true, entries, crc }));
  const data = lines.join('\n') + '\n';
  try {
    await env.io.fs.writeFileAtomic(path, data);
  } catch (err) {
    // typed, by cause (a full disk is `reason: 'no_space'`); the adapter removed its temp file
    throw new StoreIoError(db.dir, `backup to ${path}`, { cause: err });
  }
  const info = { path, at, entries, bytes: Buffer.byteLength(data) };
  try {
    await db.write([{ type: 'put', column: 'meta', key: metaKey(META.lastBackup), value: encodeValue(info) }], { sync: true });
  } catch (err) {
    throw new StoreIoError(db.dir, 'record the last backup', { cause: err });
  }
  return info;
}

/** Parses and checks a backup file; throws `ORDO_STORE_BACKUP` when damaged or truncated. */
export async function readBackup(env: Env, path: string): Promise<{ header: { at: number; schemaVersion: number }; entries: Array<{ c: string; k: Buffer; v: Buffer }> }> {
  let text: string;
  try {
    text = (await env.io.fs.readFile(path)).toString('utf8');
  } catch (err) {
    throw new StoreBackupError(path, 'cannot read backup', { cause: err });
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const trailerLine = lines.pop();
  let trailer: { end?: boolean; entries?: number; crc?: number };
  try {
    trailer = JSON.parse(trailerLine ?? '') as typeof trailer;
  } catch (err) {
    throw new StoreBackupError(path, 'truncated backup: no trailer', { cause: err });
  }
  if (!trailer.end) throw new StoreBackupError(path, 'truncated backup: no trailer');
  let crc = 0;
  for (const l of lines) crc = crc32(l + '\n', crc);
  if (crc !== trailer.crc) throw new StoreBackupError(path, `backup checksum mismatch (${crc} ≠ ${trailer.crc})`);
  const header = JSON.parse(lines.shift() ?? '{}') as { format?: string; at: number; schemaVersion: number };
  if (header.format !== HEADER) throw new StoreBackupError(path, 'not an ordo store backup');
  const entries = lines.map((l) => {
    const e = JSON.parse(l) as { c: string; k: string; v: string };
    return { c: e.c, k: Buffer.from(e.k, 'base64'), v: Buffer.from(e.v, 'base64') };
  });
  if (entries.length !== trailer.entries) throw new StoreBackupError(path, `entry count ${entries.length} ≠ ${trailer.entries}`);
  return { header, entries };
}

/**
 * Restores a backup into a new data directory `dir`. Refuses a directory that already holds
 * a database (restore never overwrites data). The result opens with `openStore`.
 */
export async function restoreKv(env: Env, kv: KvAdapter, path: string, dir: string): Promise<{ entries: number }> {
  const { entries } = await readBackup(env, path);
  if ((await env.io.fs.exists(`${dir}/CURRENT`)) || (await kv.exists(dir))) throw new StoreBackupError(dir, 'restore target already holds a database; restore into a new directory');
  const db = await kv.open(dir, { columns: COLUMNS, createIfMissing: true });
  try {
    for (let i = 0; i < entries.length; i += 5000) {
      const ops: KvOp[] = entries.slice(i, i + 5000).map((e) => ({ type: 'put', column: e.c, key: e.k, value: e.v }));
      await db.write(ops, { sync: false });
    }
    // sealed and under the watermark at the backup's commit sequence (a backup taken before
    // seals existed gets them here), so losing the restored data is detected at open
    const seqEntry = entries.find((e) => e.c === 'meta' && e.k.equals(metaKey(META.seq)));
    const decoded = seqEntry ? decodeValue(seqEntry.v) : undefined;
    const seq = decoded?.ok && typeof decoded.value === 'number' ? decoded.value : 0;
    await db.write([{ type: 'put', column: 'meta', key: metaKey('restored_from'), value: encodeValue(path) }, ...(seq > 0 ? sealOps(seq) : [])], { sync: true, ...(seq > 0 ? { mark: seq } : {}) });
  } catch (err) {
    throw new StoreIoError(dir, 'restore', { cause: err });
  } finally {
    await db.close();
  }
  return { entries: entries.length };
}
