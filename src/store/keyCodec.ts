/**
 * Order-preserving key encoding. A key (number, string, boolean, null, or a tuple of those
 * for composite keys) becomes a "byte string": a JS string whose code units are all < 256,
 * so `<` on encoded strings equals memcmp on their bytes (`Buffer.from(s, 'latin1')`),
 * which is RocksDB's order. Order: null < false < true < numbers (numeric) < strings
 * (Unicode code point order) < tuples (element by element, shorter prefix first).
 *
 * Strings are encoded as WTF-8 (UTF-8 that also encodes a lone surrogate as the 3 bytes of
 * its code point, `ED A0 80`–`ED BF BF`), so every JS string round-trips — `'\ud800'` and
 * `'\ufffd'` are two keys — and a lone surrogate sorts as its code point (after U+D7FF,
 * before U+E000). Well-formed strings encode exactly as UTF-8 (stored keys do not change).
 */

const TAG_NULL = 0x02;
const TAG_FALSE = 0x03;
const TAG_TRUE = 0x04;
const TAG_NUMBER = 0x10;
const TAG_STRING = 0x20;
const TAG_TUPLE = 0x30;
const END = 0x00;

const f64 = new Float64Array(1);
const u8 = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Why a value cannot be a key (returned, the caller raises its typed error). */
export type KeyProblem = string;

function encodeNumber(n: number): string {
  f64[0] = n === 0 ? 0 : n; // -0 → 0
  // big-endian bytes of the IEEE 754 double; sign flipped (positive) or all bits flipped (negative)
  const hi = littleEndian ? 7 : 0;
  const step = littleEndian ? -1 : 1;
  const flip = u8[hi]! & 0x80 ? 0xff : 0;
  const b0 = flip ? u8[hi]! ^ 0xff : u8[hi]! ^ 0x80;
  return String.fromCharCode(
    TAG_NUMBER,
    b0,
    u8[hi + step]! ^ flip,
    u8[hi + 2 * step]! ^ flip,
    u8[hi + 3 * step]! ^ flip,
    u8[hi + 4 * step]! ^ flip,
    u8[hi + 5 * step]! ^ flip,
    u8[hi + 6 * step]! ^ flip,
    u8[hi + 7 * step]! ^ flip,
  );
}

/**
 * The number a row key made of one encoded number stands for (`encodeKey(n) === rowKey`), or
 * `undefined` for any other string — other tags, other lengths, code units above 255, and the
 * two number encodings {@link encodeKey} never produces (`-0`, NaN), so that
 * `encodeNumberKey(decodeNumberKey(k)!) === k` whenever it is defined. No allocation (the hot
 * path of `RowMap`).
 */
export function decodeNumberKey(rowKey: string): number | undefined {
  if (rowKey.length !== 9 || rowKey.charCodeAt(0) !== TAG_NUMBER) return undefined;
  const b0 = rowKey.charCodeAt(1);
  const flip = b0 & 0x80 ? 0 : 0xff;
  let all = b0;
  u8[littleEndian ? 7 : 0] = flip ? b0 ^ 0xff : b0 ^ 0x80;
  for (let i = 1; i < 8; i++) {
    const c = rowKey.charCodeAt(1 + i);
    all |= c;
    u8[littleEndian ? 7 - i : i] = c ^ flip;
  }
  if (all > 0xff) return undefined;
  const n = f64[0]!;
  return n !== n || (n === 0 && 1 / n < 0) ? undefined : n;
}

/** The row key of one finite number (what {@link encodeKey} gives for it). */
export function encodeNumberKey(n: number): string {
  return encodeNumber(n);
}

function encodeString(s: string): string {
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return String.fromCharCode(TAG_STRING) + s + '\x00\x01';
  const bytes = wtf8(s);
  let out = String.fromCharCode(TAG_STRING);
  for (const b of bytes) out += b === 0 ? '\x00\xff' : String.fromCharCode(b);
  return out + '\x00\x01';
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** UTF-8 bytes of `s`, lone surrogates encoded as their code point (WTF-8) instead of U+FFFD. */
function wtf8(s: string): Uint8Array {
  if (!LONE_SURROGATE.test(s)) return Buffer.from(s, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Uint8Array.from(out);
}

/** Decodes WTF-8 bytes (see {@link wtf8}); plain UTF-8 takes the fast path. */
function fromWtf8(bytes: number[]): string {
  let surrogate = false;
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 0xed && bytes[i + 1]! >= 0xa0) surrogate = true;
  if (!surrogate) return Buffer.from(bytes).toString('utf8');
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    let c: number;
    if (b < 0x80) {
      c = b;
      i += 1;
    } else if (b < 0xe0) {
      c = ((b & 0x1f) << 6) | (bytes[i + 1]! & 0x3f);
      i += 2;
    } else if (b < 0xf0) {
      c = ((b & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f);
      i += 3;
    } else {
      c = ((b & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
      i += 4;
    }
    out += String.fromCodePoint(c);
  }
  return out;
}

/**
 * Encodes a key; returns `undefined` for a value that cannot be a key (objects, NaN,
 * undefined…). Throws nothing.
 */
export function encodeKey(v: unknown): string | undefined {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? encodeNumber(v) : undefined;
    case 'string':
      return encodeString(v);
    case 'boolean':
      return String.fromCharCode(v ? TAG_TRUE : TAG_FALSE);
    case 'object': {
      if (v === null) return String.fromCharCode(TAG_NULL);
      if (!Array.isArray(v)) return undefined;
      let out = String.fromCharCode(TAG_TUPLE);
      for (const e of v) {
        const enc = encodeKey(e);
        if (enc === undefined) return undefined;
        out += enc;
      }
      return out + '\x00';
    }
    default:
      return undefined;
  }
}

/** Decodes one element at `pos`; returns the value and the position after it. */
export function decodeAt(s: string, pos: number): [unknown, number] {
  const tag = s.charCodeAt(pos);
  switch (tag) {
    case TAG_NULL:
      return [null, pos + 1];
    case TAG_FALSE:
      return [false, pos + 1];
    case TAG_TRUE:
      return [true, pos + 1];
    case TAG_NUMBER: {
      const b = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => s.charCodeAt(pos + 1 + i));
      if (b[0]! & 0x80) b[0] = b[0]! ^ 0x80;
      else for (let i = 0; i < 8; i++) b[i] = b[i]! ^ 0xff;
      for (let i = 0; i < 8; i++) u8[littleEndian ? 7 - i : i] = b[i]!;
      return [f64[0], pos + 9];
    }
    case TAG_STRING: {
      const bytes: number[] = [];
      let i = pos + 1;
      for (;;) {
        const c = s.charCodeAt(i);
        if (Number.isNaN(c)) throw new RangeError('truncated key');
        if (c === 0) {
          const n = s.charCodeAt(i + 1);
          if (n === 0x01) return [fromWtf8(bytes), i + 2];
          bytes.push(0);
          i += 2;
        } else {
          bytes.push(c);
          i += 1;
        }
      }
    }
    case TAG_TUPLE: {
      const out: unknown[] = [];
      let i = pos + 1;
      while (s.charCodeAt(i) !== END) {
        if (i >= s.length) throw new RangeError('truncated key');
        const [v, next] = decodeAt(s, i);
        out.push(v);
        i = next;
      }
      return [out, i + 1];
    }
    default:
      throw new RangeError(`bad key tag ${tag} at ${pos}`);
  }
}

/** Decodes a whole encoded key. */
export function decodeKey(s: string): unknown {
  return decodeAt(s, 0)[0];
}

/** The position right after the first encoded element of `s` (to split `index value + row key`). */
export function skipElement(s: string, pos = 0): number {
  const tag = s.charCodeAt(pos);
  if (tag === TAG_NUMBER) return pos + 9;
  if (tag === TAG_NULL || tag === TAG_FALSE || tag === TAG_TRUE) return pos + 1;
  return decodeAt(s, pos)[1];
}

/** Bytes of a byte string. */
export function toBytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Byte string of bytes. */
export function fromBytes(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** A byte string greater than every string that starts with `prefix` (exclusive upper bound). */
export function prefixEnd(prefix: string): string {
  return prefix + '\xff\xff';
}
