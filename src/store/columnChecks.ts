import type { KvDb, KvIterator, KvOp, KvRange } from '../env/kv.ts';
import { KvError } from '../env/kv.ts';
import { INDEX_MARK, indexDiskKey, indexPrefix } from './layout.ts';
import { decodeKey, fromBytes, prefixEnd, toBytes } from './keyCodec.ts';
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

/**
 * Reads a whole column family (every block checksummed by RocksDB); an unreadable block is
 * `ORDO_STORE_CORRUPT`. Keys only: the engine still reads every block ({@link KvRange.values}),
 * without copying the values out.
 */
export async function checkColumnReadable(db: KvDb, column: string): Promise<void> {
  try {
    await readAll(db.iterator(column, { values: false }), 2000, () => undefined);
  } catch (err) {
    throw damaged(db, err, `column ${column}`);
  }
}

/**
 * The change log's commit sequences (its keys, in order: each batch prunes the oldest), read in
 * the same pass that checks the column whole — the log is written, never served from, so this
 * is its only read at open (see the top of this file). Keys only: a record lists every key of
 * its commit (a bulk load's run to megabytes), and the engine reads and checksums each block
 * without the values being copied out. A key that is not a sequence (the seal) is skipped.
 */
export async function readLogSeqs(db: KvDb): Promise<number[]> {
  const seqs: number[] = [];
  try {
    await readAll(db.iterator('log', { values: false }), 2000, (k) => {
      const seq = logSeqOf(k);
      if (seq !== undefined) seqs.push(seq);
    });
  } catch (err) {
    throw damaged(db, err, 'column log');
  }
  return seqs;
}

/** The commit sequence a change-log key names; `undefined` for a key that is not one (left alone). */
function logSeqOf(k: Buffer): number | undefined {
  try {
    const v = decodeKey(fromBytes(k));
    return typeof v === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the on-disk index column of a loaded table and compares each index, in key order, with
 * the index built in RAM from its rows (plus the entries of corrupt rows found on disk at load).
 * Unreadable: `ORDO_STORE_CORRUPT` naming the table and the file. Out of step but readable (a
 * MANIFEST that lost the index column's flush: the rows, proven by their digest, are intact):
 * returns the ops that rebuild it from the rows — derived data, written by the open in its own
 * sealed commit — and what was found. Both sides are byte strings in byte order (the RAM index
 * holds latin1 strings; the column sorts bytes), so one merge pass compares them exactly.
 */
export async function checkIndexColumn(db: KvDb, mem: MemTable): Promise<{ ops: KvOp[]; found: Array<{ attr: string; onDisk: number; implied: number }> }> {
  const ops: KvOp[] = [];
  const found: Array<{ attr: string; onDisk: number; implied: number }> = [];
  const { id, name } = mem.def;
  for (const attr of mem.def.indexes) {
    const ip = indexPrefix(id, attr);
    // the entries of corrupt rows (kept aside, found on disk at load) stay until the row is rewritten
    const ofCorrupt = new Set<string>();
    for (const list of mem.corruptIndex.values()) for (const [a, e] of list) if (a === attr) ofCorrupt.add(e);
    // the RAM index in order, read chunk by chunk (`want`: the next entry, undefined past the end)
    const chunks = mem.indexes.get(attr)?.chunksInOrder() ?? [];
    let ci = 0;
    let i = 0;
    let want: string | undefined = chunks[0]?.[0];
    const advance = (): void => {
      if (++i >= chunks[ci]!.length) {
        ci++;
        i = 0;
      }
      want = chunks[ci]?.[i];
    };
    let onDisk = 0;
    let implied = 0;
    const before = ops.length;
    try {
      // keys only: every block is still read and checksummed, the marks are not copied out
      await readAll(db.iterator('idx', { gte: toBytes(ip), lt: toBytes(prefixEnd(ip)), values: false }), 5000, (k) => {
        onDisk++;
        const e = k.toString('latin1', ip.length);
        if (ofCorrupt.size > 0 && ofCorrupt.has(e)) return;
        // RAM entries below this one are missing on disk
        while (want !== undefined && want < e) {
          implied++;
          ops.push({ type: 'put', column: 'idx', key: indexDiskKey(id, attr, want), value: INDEX_MARK });
          advance();
        }
        if (want !== undefined && want === e) {
          implied++;
          advance();
          return;
        }
        ops.push({ type: 'del', column: 'idx', key: k }); // on disk, implied by no row
      });
    } catch (err) {
      throw damaged(db, err, `index ${attr} of table ${name}`, name);
    }
    for (; want !== undefined; advance()) {
      implied++;
      ops.push({ type: 'put', column: 'idx', key: indexDiskKey(id, attr, want), value: INDEX_MARK });
    }
    if (ops.length > before) found.push({ attr, onDisk, implied: implied + ofCorrupt.size });
  }
  return { ops, found };
}
