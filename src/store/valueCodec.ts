import { crc32 } from './crc.ts';

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
  const len = Buffer.byteLength(json) + 5;
  const out = Buffer.allocUnsafe(len);
  out[0] = FORMAT;
  out.write(json, 5, 'utf8');
  const c = crc32(out, 5, len);
  out[1] = c >>> 24;
  out[2] = (c >>> 16) & 0xff;
  out[3] = (c >>> 8) & 0xff;
  out[4] = c & 0xff;
  return out;
}

/** Why a stored value was refused ({@link decodeStored}'s failure: the caller names table and key). */
export class DecodeProblem {
  readonly problem: string;
  constructor(problem: string) {
    this.problem = problem;
  }
}

/**
 * Decodes a value, or returns a {@link DecodeProblem} saying why not (the same checks as
 * {@link decodeValue}, without a result object per value: the load path calls it per row).
 */
export function decodeStored(b: Uint8Array): unknown {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const len = buf.length;
  if (len < 5) return new DecodeProblem(`value too short (${len} bytes)`);
  if (buf[0] !== FORMAT) return new DecodeProblem(`unknown value format ${buf[0]}`);
  const want = ((buf[1]! << 24) | (buf[2]! << 16) | (buf[3]! << 8) | buf[4]!) >>> 0;
  const got = crc32(buf, 5, len);
  if (want !== got) return new DecodeProblem(`checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)})`);
  try {
    return JSON.parse(buf.toString('utf8', 5, len));
  } catch (err) {
    return new DecodeProblem(`unparsable payload: ${(err as Error).message}`);
  }
}

/** Decodes a value; returns a discriminated result (corruption is data, the caller names it). */
export function decodeValue(b: Uint8Array): { ok: true; value: unknown } | { ok: false; problem: string } {
  const v = decodeStored(b);
  return v instanceof DecodeProblem ? { ok: false, problem: v.problem } : { ok: true, value: v };
}
