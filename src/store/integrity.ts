import { crc32 } from './crc.ts';
import type { KvDb, KvOp } from '../env/kv.ts';
import { KvError } from '../env/kv.ts';
import { COLUMNS, META, metaKey } from './layout.ts';
import { decodeValue, encodeValue } from './valueCodec.ts';
import { StoreDamagedError } from './errors.ts';

/**
 * Proof at open that what RocksDB recovered is what the store acknowledged.
 *
 * - The **watermark** (the marker file, `KvDb.marker.mark`): the commit sequence of the last
 *   synced commit whose promise resolved, fdatasynced after the WAL. Recovered `commit_seq`
 *   below it means RocksDB dropped acknowledged commits (a damaged or truncated WAL — its
 *   point-in-time recovery stops at the damage and keeps quiet — or a MANIFEST that lost a
 *   flush).
 * - The **seal**: every commit that advances `commit_seq` also writes it under one reserved key
 *   in each of the other column families (`rows`, `idx`, `log`), in the same atomic batch. A
 *   recovery that lost one family's files but not another's (a MANIFEST missing one flush)
 *   leaves the seals disagreeing.
 *
 * Either failure is `ORDO_STORE_CORRUPT` (`StoreDamagedError`), stating the missing commits.
 */

/** The reserved key of the seal: `0xff` sorts after every table, index and log key. */
export const SEAL_KEY = Buffer.from('\xffordo-seal', 'latin1');

/** The column families holding a seal (besides `meta`'s `commit_seq`). */
export const SEALED_COLUMNS = COLUMNS.filter((c) => c !== 'meta');

/** The ops that record `seq` as the commit sequence, sealed in every column family. */
export function sealOps(seq: number): KvOp[] {
  const value = encodeValue(seq);
  const ops: KvOp[] = [{ type: 'put', column: 'meta', key: SEQ_KEY, value }];
  for (const column of SEALED_COLUMNS) ops.push({ type: 'put', column, key: SEAL_KEY, value });
  return ops;
}

/** `meta`'s key of the commit sequence (written by every batch that advances it; never mutated, like {@link SEAL_KEY}). */
const SEQ_KEY = metaKey(META.seq);

/** Reads a small value, mapping a damaged block to `ORDO_STORE_CORRUPT` naming the file. */
export async function readChecked(db: KvDb, column: string, key: Uint8Array, what: string): Promise<unknown> {
  let v: Buffer | undefined;
  try {
    v = await db.get(column, key);
  } catch (err) {
    if (err instanceof KvError && err.kind === 'corrupt') throw new StoreDamagedError(db.dir, `${what} unreadable: ${err.message}`, { cause: err, ...(err.file ? { file: err.file } : {}) });
    throw err;
  }
  if (v === undefined) return undefined;
  const d = decodeValue(v);
  if (!d.ok) throw new StoreDamagedError(db.dir, `${what} damaged: ${d.problem}`);
  return d.value;
}

/** What {@link checkRecovered} found (for the open report and `ordo store repair`). */
export interface RecoveryCheck {
  readonly recovered: number;
  readonly acknowledged: number;
  readonly seals: Readonly<Record<string, number | undefined>>;
  /** Empty when intact. */
  readonly problems: readonly string[];
}

/** Compares the recovered commit sequence with the watermark and the seals. Pure reads. */
export async function inspectRecovery(db: KvDb, recovered: number): Promise<RecoveryCheck> {
  const marker = db.marker;
  const seals: Record<string, number | undefined> = {};
  for (const c of SEALED_COLUMNS) seals[c] = (await readChecked(db, c, SEAL_KEY, `seal of column ${c}`)) as number | undefined;
  const problems: string[] = [];
  const acknowledged = marker?.mark ?? 0;
  if (recovered < acknowledged) problems.push(`recovered commit ${recovered}, but commits up to ${acknowledged} were acknowledged (${marker!.file}): ${acknowledged - recovered} acknowledged commit(s) missing`);
  for (const [c, s] of Object.entries(seals)) {
    // an adopted store (created before seals) has none until its first commit here
    if (s === undefined && (recovered === 0 || marker?.adopted !== false)) continue;
    if (s !== recovered) problems.push(`column ${c} is sealed at commit ${s ?? 'none'}, meta at ${recovered}: RocksDB recovered the column families at different points`);
  }
  return { recovered, acknowledged, seals, problems };
}

/** Throws `ORDO_STORE_CORRUPT` unless {@link inspectRecovery} found nothing wrong. */
export async function checkRecovered(db: KvDb, recovered: number): Promise<void> {
  const r = await inspectRecovery(db, recovered);
  if (r.problems.length === 0) return;
  throw new StoreDamagedError(db.dir, `${r.problems.join('; ')}. Nothing was opened or deleted; restore a backup, or accept the loss with 'ordo store repair --dir ${db.dir}' (backup first, recorded in the schema history)`, {
    ...(db.marker ? { file: db.marker.file } : {}),
    missing: { recovered: r.recovered, acknowledged: Math.max(r.acknowledged, r.recovered) },
  });
}

// ---- table digests ----
//
// The watermark and seals prove the *latest* commit was recovered; they cannot see an older
// flush that RocksDB dropped (a MANIFEST whose tail was lost: the flushed SST is forgotten and
// its WAL is long gone, while later commits replay from the current WAL). So each disc table
// also carries an order-independent digest of its rows — the count and a 32-bit sum of one hash
// per row (its disk key's CRC mixed with its value's CRC) — updated in the same atomic batch as
// every commit that changes it and checked against the rows actually loaded at open.

/** A table's digest: row count and hash sum (mod 2^32). */
export interface TableDigest {
  count: number;
  sum: number;
}

/** The meta key of table `id`'s digest. */
export function digestKey(id: number): Buffer {
  return metaKey(`digest/${id}`);
}

/** One row's contribution: its disk key's CRC mixed with its stored value's CRC (bytes 1–4 of the value). */
export function rowHash(diskKey: Uint8Array, value: Uint8Array): number {
  return rowHashOf(crc32(diskKey), storedCrc(value));
}

/** The CRC a stored value carries (bytes 1–4, see `valueCodec.ts`). */
export function storedCrc(value: Uint8Array): number {
  return ((value[1]! << 24) | (value[2]! << 16) | (value[3]! << 8) | value[4]!) >>> 0;
}

/** {@link rowHash} from the disk key's CRC (`k`) and the stored value's CRC (`v`). */
export function rowHashOf(k: number, v: number): number {
  let h = Math.imul(k ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(v ^ (v >>> 16), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
