import { crc32 as nativeCrc32 } from 'node:zlib';

/**
 * CRC-32 (IEEE 802.3, the polynomial and result of `zlib.crc32`) over a byte range, without the
 * `subarray` a native call needs. Stored values and the table digests are small (tens to a few
 * hundred bytes), where one native call costs more than the whole computation in JavaScript:
 * ranges under 16 bytes take a byte-at-a-time table, up to 256 bytes slicing-by-8, longer ones
 * `zlib.crc32`. Every path returns exactly `zlib.crc32(b.subarray(start, end))` (tested against
 * it): the on-disk format does not depend on which one ran. @internal
 */

const T = new Int32Array(256 * 8);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = T[n]!;
  for (let t = 1; t < 8; t++) {
    c = T[c & 0xff]! ^ (c >>> 8);
    T[t * 256 + n] = c;
  }
}

/** Longest range computed in JavaScript; longer ones go to `zlib.crc32`. */
const NATIVE_FROM = 256;

/** CRC-32 of `b[start, end)` (unsigned). @internal */
export function crc32(b: Uint8Array, start = 0, end = b.length): number {
  const n = end - start;
  if (n > NATIVE_FROM) return nativeCrc32(start === 0 && end === b.length ? b : b.subarray(start, end));
  let c = -1;
  let i = start;
  if (n >= 16) {
    for (; i + 8 <= end; i += 8) {
      const a = (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) ^ c;
      c = T[1792 + (a & 0xff)]! ^ T[1536 + ((a >>> 8) & 0xff)]! ^ T[1280 + ((a >>> 16) & 0xff)]! ^ T[1024 + (a >>> 24)]! ^ T[768 + b[i + 4]!]! ^ T[512 + b[i + 5]!]! ^ T[256 + b[i + 6]!]! ^ T[b[i + 7]!]!;
    }
  }
  for (; i < end; i++) c = T[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
