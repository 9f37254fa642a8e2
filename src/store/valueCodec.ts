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
  return encodeJson(JSON.stringify(v));
}

/** Encodes the JSON text of a value (`encodeValue(v)` is `encodeJson(JSON.stringify(v))`). @internal */
export function encodeJson(json: string): Buffer {
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

/** Batches shorter than this encode value by value ({@link encodeValue}): one `JSON.stringify` of the batch costs a scan. */
const BATCH_FROM = 8;
/** Reused source of {@link encodeValues} (the JSON of a batch before it is split; never handed out). */
let scratch = Buffer.allocUnsafe(1 << 16);
/** Largest scratch buffer kept between calls. */
const SCRATCH_MAX = 1 << 22;

/**
 * {@link encodeValue} of each of `values` (from index `from` on; byte for byte the same), in one
 * buffer, from one `JSON.stringify` of the batch: per value it saves a `JSON.stringify` call, a
 * `Buffer.byteLength`, a buffer allocation and a UTF-8 write — most of the cost of a small row.
 * The views share one fresh buffer (never reused: a write may keep them, as the simulated
 * engine does). `JSON.stringify` of an array serializes each element as it would alone, for the
 * values the store encodes (validated rows and plain data: no `toJSON`, no `undefined` or
 * functions, which `validateRecord` refuses). @internal
 */
export function encodeValues(values: readonly unknown[], from = 0): Uint8Array[] {
  const n = values.length - from;
  if (n < BATCH_FROM) {
    const out: Uint8Array[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = encodeValue(values[from + i]);
    return out;
  }
  return encodeMarked(values, from, n) ?? encodeScanned(values, from, n);
}

/** The string {@link encodeMarked} puts before each value (rare in data: a value holding it as an array element only costs the slower path). */
const MARK = '~\u007f';
/** The JSON between two marked values: `,` `"~\x7f"` `,` (6 bytes; the last 5 become the next value's header). */
const SEP = `,${JSON.stringify(MARK)},`;
/** The JSON before the first marked value: `[` `"~\x7f"` `,`. */
const FIRST = `[${JSON.stringify(MARK)},`;
/** {@link SEP}'s bytes (ASCII), searched for in the UTF-8 of a text that is not. */
const SEP_BYTES = Buffer.from(SEP, 'latin1');

/**
 * {@link encodeValues} without a pass over the bytes in JavaScript: `JSON.stringify` of the
 * values with {@link MARK} before each one, so each value's JSON is preceded by 6 bytes of
 * marker, whose last 5 the value's header overwrites in place; each value ends where the next
 * {@link SEP} starts (`String.prototype.indexOf`). {@link SEP} cannot occur inside a JSON string
 * (its quote would be escaped there) and outside one only as an array element equal to
 * {@link MARK} between two others: so the text holds exactly `n - 1` of them unless a value
 * does, and a count other than that returns `undefined`, for {@link encodeScanned}. A text
 * with a non-ASCII character (string offsets are then not byte offsets) is split in its UTF-8
 * bytes instead ({@link splitMarkedUtf8}), from the same `JSON.stringify`.
 */
function encodeMarked(values: readonly unknown[], from: number, n: number): Uint8Array[] | undefined {
  const marked: unknown[] = new Array(2 * n);
  for (let i = 0; i < n; i++) {
    marked[2 * i] = MARK;
    marked[2 * i + 1] = values[from + i];
  }
  const json = JSON.stringify(marked);
  const len = json.length;
  const bytes = Buffer.byteLength(json, 'utf8');
  if (!json.startsWith(FIRST)) return undefined;
  if (bytes !== len) return splitMarkedUtf8(json, bytes, n);
  const dst = Buffer.allocUnsafe(len);
  dst.write(json, 0, len, 'latin1');
  const out: Uint8Array[] = new Array(n);
  let start = FIRST.length;
  for (let e = 0; e < n - 1; e++) {
    const end = json.indexOf(SEP, start);
    if (end < 0) return undefined;
    out[e] = header(dst, start, end);
    start = end + SEP.length;
  }
  // the last value runs to the closing bracket: a separator in it means a value held one (a
  // match found early shifts every later bound left, so one is always left over here)
  if (json.indexOf(SEP, start) >= 0) return undefined;
  out[n - 1] = header(dst, start, len - 1);
  return out;
}

/**
 * {@link encodeMarked}'s split for a text that is not ASCII: its UTF-8 (`bytes` long) written
 * once, each value's end found with `Buffer.indexOf` of {@link SEP_BYTES} — a UTF-8 multi-byte
 * sequence holds no ASCII byte, so the separator's bytes occur exactly where the separator does
 * in the text — and each header written in place, as there. `undefined` for the same counts.
 */
function splitMarkedUtf8(json: string, bytes: number, n: number): Uint8Array[] | undefined {
  const dst = Buffer.allocUnsafe(bytes);
  dst.write(json, 0, bytes, 'utf8');
  const out: Uint8Array[] = new Array(n);
  let start = FIRST.length;
  for (let e = 0; e < n - 1; e++) {
    const end = dst.indexOf(SEP_BYTES, start);
    if (end < 0) return undefined;
    out[e] = header(dst, start, end);
    start = end + SEP_BYTES.length;
  }
  if (dst.indexOf(SEP_BYTES, start) >= 0) return undefined;
  out[n - 1] = header(dst, start, bytes - 1);
  return out;
}

/** Writes the header of the payload `dst[start, end)` into the 5 bytes before it; the value's view. */
function header(dst: Buffer, start: number, end: number): Uint8Array {
  const h = start - 5;
  const c = crc32(dst, start, end);
  dst[h] = FORMAT;
  dst[h + 1] = c >>> 24;
  dst[h + 2] = (c >>> 16) & 0xff;
  dst[h + 3] = (c >>> 8) & 0xff;
  dst[h + 4] = c & 0xff;
  return new Uint8Array(dst.buffer, dst.byteOffset + h, end - h);
}

/**
 * {@link encodeValues} for any text: one `JSON.stringify` of the array and one UTF-8 write, then
 * a single pass over the bytes that finds each element's end (the top-level commas, outside
 * strings), copies its bytes behind a 5-byte header and checksums them.
 */
function encodeScanned(values: readonly unknown[], from: number, n: number): Uint8Array[] {
  const out: Uint8Array[] = new Array(n);
  const json = JSON.stringify(from === 0 ? values : values.slice(from));
  // UTF-16 code units → at most 3 UTF-8 bytes each
  const need = json.length * 3;
  // a batch bigger than the retained scratch buffer gets its own (not kept: no large buffer held for ever)
  const src = need <= scratch.length ? scratch : need <= SCRATCH_MAX ? (scratch = Buffer.allocUnsafe(need)) : Buffer.allocUnsafe(need);
  const len = src.write(json, 0, 'utf8');
  // every byte but the brackets and commas between elements, and a header per element
  const dst = Buffer.allocUnsafe(len + 5 * n);
  let i = 1;
  let o = 0;
  const end = len - 1; // the closing ']'
  for (let e = 0; e < n; e++) {
    const start = o;
    o += 5;
    let depth = 0;
    let inString = false;
    for (; i < end; i++) {
      const b = src[i]!;
      if (inString) {
        if (b === 0x5c) {
          // an escape: the next byte is part of it (always ASCII)
          dst[o++] = b;
          dst[o++] = src[++i]!;
          continue;
        }
        if (b === 0x22) inString = false;
      } else if (b === 0x22) inString = true;
      else if (b === 0x7b || b === 0x5b) depth++;
      else if (b === 0x7d || b === 0x5d) depth--;
      else if (b === 0x2c && depth === 0) break;
      dst[o++] = b;
    }
    i++; // the comma
    const c = crc32(dst, start + 5, o);
    dst[start] = FORMAT;
    dst[start + 1] = c >>> 24;
    dst[start + 2] = (c >>> 16) & 0xff;
    dst[start + 3] = (c >>> 8) & 0xff;
    dst[start + 4] = c & 0xff;
    out[e] = new Uint8Array(dst.buffer, dst.byteOffset + start, o - start);
  }
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
