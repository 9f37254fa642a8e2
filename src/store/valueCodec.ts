import { crc32 } from 'node:zlib';

/**
 * Stored value format: `[0x01][crc32 of payload, 4 bytes BE][payload: UTF-8 JSON]`. The CRC
 * catches bytes flipped anywhere RocksDB's own block checksums do not (memtable/WAL replay,
 * bit rot in a backup, a buggy writer), so a bad row is reported by table and key instead of
 * being served.
 */
const FORMAT = 0x01;

/** Encodes a JSON value. */
export function encodeValue(v: unknown): Buffer {
  const json = JSON.stringify(v);
  const out = Buffer.allocUnsafe(Buffer.byteLength(json) + 5);
  out[0] = FORMAT;
  out.write(json, 5, 'utf8');
  out.writeUInt32BE(crc32(out.subarray(5)), 1);
  return out;
}

/** Decodes a value; returns a discriminated result (corruption is data, the caller names it). */
export function decodeValue(b: Uint8Array): { ok: true; value: unknown } | { ok: false; problem: string } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < 5) return { ok: false, problem: `value too short (${buf.length} bytes)` };
  if (buf[0] !== FORMAT) return { ok: false, problem: `unknown value format ${buf[0]}` };
  const payload = buf.subarray(5);
  const want = buf.readUInt32BE(1);
  const got = crc32(payload);
  if (want !== got) return { ok: false, problem: `checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})` };
  try {
    return { ok: true, value: JSON.parse(payload.toString('utf8')) };
  } catch (err) {
    return { ok: false, problem: `unparsable payload: ${(err as Error).message}` };
  }
}
