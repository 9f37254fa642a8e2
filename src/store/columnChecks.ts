import { crc32 } from 'node:zlib';
import type { KvDb, KvIterator, KvOp } from '../env/kv.ts';
import { KvError } from '../env/kv.ts';
import { INDEX_MARK, indexDiskKey, indexPrefix } from './layout.ts';
import { fromBytes, prefixEnd, toBytes } from './keyCodec.ts';
import { StoreDamagedError } from './errors.ts';
import type { MemTable } from './memTable.ts';

// Checks at open of the column families the store does not serve from: the on-disk index
// column (indexes are served from RAM, rebuilt from the rows) and the change log (written, not
// read). Neither can make a read short, but a block RocksDB cannot read stays on disk: the next
// compaction that picks its file fails, RocksDB stops accepting writes, and the store fails —
// after every restart again (the crash loop of the seed's deploy night). So the open reads them
// whole, before it accepts what RocksDB recovered: an unreadable block refuses the open
// (`ORDO_STORE_CORRUPT` naming the file and the table), with every file put back.

/** Maps a read failure of `what` to `ORDO_STORE_CORRUPT` naming the file (when RocksDB named it) and the table. */
function damaged(db: KvDb, err: unknown, what: string, table?: string): unknown {
  if (err instanceof StoreDamagedError) return err;
  if (!(err instanceof KvError) || err.kind !== 'corrupt') return err;
  return new StoreDamagedError(db.dir, `${what} unreadable on disk: ${err.message}. Nothing was opened or deleted; restore a backup`, {
    cause: err,
    ...(err.file ? { file: err.file } : {}),
    ...(table !== undefined ? { table } : {}),
  });
}

async function readAll(it: KvIterator, n: number, fn: (k: Buffer) => void): Promise<void> {
  let pending: Promise<Array<[Buffer, Buffer]>> | undefined;
  try {
    pending = it.next(n);
    for (;;) {
      const chunk = await pending;
      if (chunk.length === 0) break;
      pending = it.next(n);
      for (const [k] of chunk) fn(k);
    }
  } finally {
    await pending?.catch(() => []); // never close an iterator with a read in flight
    await it.close();
  }
}

/** Reads a whole column family (every block checksummed by RocksDB); an unreadable block is `ORDO_STORE_CORRUPT`. */
export async function checkColumnReadable(db: KvDb, column: string): Promise<void> {
  try {
    await readAll(db.iterator(column), 2000, () => undefined);
  } catch (err) {
    throw damaged(db, err, `column ${column}`);
  }
}

/** One index entry's contribution to an index digest. */
function entryHash(diskKey: Uint8Array): number {
  let h = Math.imul(crc32(diskKey) ^ 0x27d4eb2f, 0x165667b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  return (h ^ (h >>> 13)) >>> 0;
}

/**
 * Reads the on-disk index column of a loaded table and compares each index with what its rows
 * imply (count and an order-independent hash sum). Unreadable: `ORDO_STORE_CORRUPT` naming the
 * table and the file. Out of step but readable (a MANIFEST that lost the index column's flush:
 * the rows, proven by their digest, are intact): returns the ops that rebuild it from the rows —
 * derived data, written by the open in its own sealed commit — and what was found.
 */
export async function checkIndexColumn(db: KvDb, mem: MemTable): Promise<{ ops: KvOp[]; found: Array<{ attr: string; onDisk: number; implied: number }> }> {
  const ops: KvOp[] = [];
  const found: Array<{ attr: string; onDisk: number; implied: number }> = [];
  const { id, name } = mem.def;
  for (const attr of mem.def.indexes) {
    const ip = indexPrefix(id, attr);
    // the entries of corrupt rows (kept aside, found on disk at load) stay until the row is rewritten
    const ofCorrupt: string[] = [];
    for (const list of mem.corruptIndex.values()) for (const [a, e] of list) if (a === attr) ofCorrupt.push(e);
    let want = 0;
    let wantSum = 0;
    const add = (e: string): void => {
      want++;
      wantSum = (wantSum + entryHash(indexDiskKey(id, attr, e))) >>> 0;
    };
    for (const [rk, row] of mem.rows) {
      const e = mem.indexEntry(attr, row, rk);
      if (e !== undefined) add(e);
    }
    for (const e of ofCorrupt) add(e);
    let got = 0;
    let gotSum = 0;
    try {
      await readAll(db.iterator('idx', { gte: toBytes(ip), lt: toBytes(prefixEnd(ip)) }), 5000, (k) => {
        got++;
        gotSum = (gotSum + entryHash(k)) >>> 0;
      });
    } catch (err) {
      throw damaged(db, err, `index ${attr} of table ${name}`, name);
    }
    if (got === want && gotSum === wantSum) continue;
    found.push({ attr, onDisk: got, implied: want });
    // rare path: which entries differ
    const expected = new Set<string>();
    for (const [rk, row] of mem.rows) {
      const e = mem.indexEntry(attr, row, rk);
      if (e !== undefined) expected.add(ip + e);
    }
    for (const e of ofCorrupt) expected.add(ip + e);
    await readAll(db.iterator('idx', { gte: toBytes(ip), lt: toBytes(prefixEnd(ip)) }), 5000, (k) => {
      const s = fromBytes(k);
      if (!expected.delete(s)) ops.push({ type: 'del', column: 'idx', key: k });
    }).catch((err: unknown) => {
      throw damaged(db, err, `index ${attr} of table ${name}`, name);
    });
    for (const s of expected) ops.push({ type: 'put', column: 'idx', key: toBytes(s), value: INDEX_MARK });
  }
  return { ops, found };
}
