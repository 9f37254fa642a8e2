import { closeSync, fstatSync, openSync, readSync, readdirSync } from 'node:fs';

// RocksDB verifies every block's checksum before it parses the block — except one: an SST's
// properties block is parsed first and checksummed after (`ReadTablePropertiesHelper`,
// table/meta_blocks.cc, so that ingested files with a rewritten global seqno can be retried).
// The binding's RocksDB is built with assertions on, so a properties block whose footer was
// damaged to claim a hash index (`DataBlockHashIndex::Initialize`: `num_buckets_ > 0`) aborts
// the process while it opens the database — the long corruption run died of it. Nothing in JS
// can catch an abort, so the adapter looks at that one block itself before RocksDB does.

/** The block-based table magic number (little-endian on disk), and the legacy one. */
const MAGIC = 0x88e241b785f4cff7n;
const LEGACY_MAGIC = 0xdb4775248b80fb57n;
/** Every known footer of format version ≥ 1 is this long. */
const FOOTER_LEN = 53;
/** A block's trailer: compression type byte + 32-bit checksum. */
const TRAILER = 5;
/** RocksDB reads any block larger than this as binary-search only (no hash index). */
const MAX_HASH_INDEX_BLOCK = 1 << 16;

function readAt(fd: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  const n = readSync(fd, b, 0, length, offset);
  return n === length ? b : b.subarray(0, n);
}

/** Reads a varint (≤ 64 bits, as a Number: offsets and sizes of one file) at `pos`; `undefined` when malformed. */
function varint(b: Buffer, pos: number): [number, number] | undefined {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10 && pos + i < b.length; i++) {
    const byte = b[pos + i]!;
    v += (byte & 0x7f) * mul;
    mul *= 128;
    if ((byte & 0x80) === 0) return Number.isSafeInteger(v) ? [v, pos + i + 1] : undefined;
  }
  return undefined;
}

/** The properties block's handle, read from the metaindex block (restart interval 1, uncompressed); `undefined` when it cannot be found. */
function propertiesHandle(meta: Buffer): { offset: number; size: number } | undefined {
  if (meta.length < 8) return undefined;
  const numRestarts = meta.readUInt32LE(meta.length - 4) & 0x7fffffff;
  const end = meta.length - 4 - 4 * numRestarts;
  if (end < 0) return undefined;
  let key = Buffer.alloc(0);
  for (let p = 0; p < end; ) {
    const shared = varint(meta, p);
    const nonShared = shared && varint(meta, shared[1]);
    const valueLen = nonShared && varint(meta, nonShared[1]);
    if (!shared || !nonShared || !valueLen) return undefined;
    const k = valueLen[1];
    if (shared[0] > key.length || k + nonShared[0] + valueLen[0] > end) return undefined;
    key = Buffer.concat([key.subarray(0, shared[0]), meta.subarray(k, k + nonShared[0])]);
    const v = k + nonShared[0];
    if (key.toString('latin1') === 'rocksdb.properties') {
      const off = varint(meta, v);
      const size = off && varint(meta, off[1]);
      return off && size ? { offset: off[0], size: size[0] } : undefined;
    }
    p = v + valueLen[0];
  }
  return undefined;
}

/**
 * Why RocksDB must not open `path` (a properties block its parser would abort on), or
 * `undefined`: the file looks safe to hand to RocksDB — which checks everything else itself
 * (a footer, metaindex or block this cannot parse is left to RocksDB's own checksums: it
 * refuses those with a `Corruption` status, never an abort).
 */
export function unsafeSstReason(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    if (size < FOOTER_LEN) return undefined;
    const footerOffset = size - FOOTER_LEN;
    const footer = readAt(fd, footerOffset, FOOTER_LEN);
    const magic = footer.readBigUInt64LE(FOOTER_LEN - 8);
    if (magic !== MAGIC && magic !== LEGACY_MAGIC) return undefined;
    let metaOffset: number;
    let metaSize: number;
    const formatVersion = magic === LEGACY_MAGIC ? 0 : footer.readUInt32LE(FOOTER_LEN - 12);
    if (formatVersion >= 6) {
      // checksum type, extended magic, footer checksum, base context, metaindex size: the
      // metaindex block ends right before the footer
      metaSize = footer.readUInt32LE(13);
      metaOffset = footerOffset - TRAILER - metaSize;
    } else {
      // legacy (48-byte footer): the handles start 5 bytes in; else after the checksum type byte
      const h = varint(footer, formatVersion === 0 ? FOOTER_LEN - 48 : 1);
      const s = h && varint(footer, h[1]);
      if (!h || !s) return undefined;
      metaOffset = h[0];
      metaSize = s[0];
    }
    if (metaOffset < 0 || metaSize > 1 << 20 || metaOffset + metaSize + TRAILER > footerOffset) return undefined;
    const props = propertiesHandle(readAt(fd, metaOffset, metaSize));
    if (!props || props.offset + props.size + TRAILER > size) return undefined;
    if (props.size < 8) return `its properties block is ${props.size} bytes long (at ${props.offset}): too short to be one`;
    const blockFooter = readAt(fd, props.offset + props.size - 4, 4).readUInt32LE(0);
    if (props.size <= MAX_HASH_INDEX_BLOCK && blockFooter >>> 31 === 1) {
      return `its properties block (at ${props.offset}, ${props.size} bytes) claims a hash index, which RocksDB never writes there: damaged`;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The first SST file in `dir` that RocksDB must not open, with why; `undefined` when none. */
export function findUnsafeSst(dir: string): { file: string; why: string } | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const n of names.sort()) {
    if (!/^\d+\.sst$/.test(n)) continue;
    const why = unsafeSstReason(`${dir}/${n}`);
    if (why !== undefined) return { file: `${dir}/${n}`, why };
  }
  return undefined;
}
