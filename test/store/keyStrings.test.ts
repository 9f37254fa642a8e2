import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openStore } from '../../src/store/openStore.ts';
import { decodeKey, encodeKey } from '../../src/store/keyCodec.ts';
import type { TableDef } from '../../src/store/types.ts';
import { env, tempDir } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * The documented order of string keys: by code point, where a surrogate pair is one code point
 * and a lone surrogate counts as its own value (the string iterator yields exactly that).
 */
function codePointCompare(a: string, b: string): number {
  const ca = [...a].map((c) => c.codePointAt(0)!);
  const cb = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return ca[i]! < cb[i]! ? -1 : 1;
  return Math.sign(ca.length - cb.length);
}

/** Any JS string: arbitrary UTF-16 code units (lone surrogates included), real pairs, and the edge code points. */
const anyString = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 6 }),
  fc.string({ unit: fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\ufffd', '\uffff', '\ud7ff', '\ue000', '\u0000', 'a', '\ud83d\ude00', '\u{10ffff}', '\u{10000}'), maxLength: 5 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
);

describe('string keys are encoded losslessly', () => {
  it('defect 8: lone surrogates never collide: "\\ud800" and "\\ufffd" are two keys, on disk too', async () => {
    const { dir, cleanup } = tempDir('ordo-keys-');
    cleanups.push(cleanup);
    const e = env();
    const t: TableDef = { type: 'ordered_set', key: 'k', attributes: { k: { type: 'string' }, v: { type: 'integer' }, s: { type: 'string', default: '' } }, indexes: ['s'] };
    let s = await openStore({ env: e, dir, tables: { t } });
    const keys = ['\ud800', '\ufffd', '\udc00', 'a\ud800b', 'a\ufffdb', '\ud83d', '\ud83d\ude00'];
    await s.dirtyPutMany('t', keys.map((k, v) => ({ k, v, s: k })));
    expect(s.count('t')).toBe(keys.length);
    for (const [v, k] of keys.entries()) {
      expect(s.get('t', k)).toEqual({ k, v, s: k });
      expect(s.indexRead('t', 's', k).map((r) => r.v)).toEqual([v]);
    }
    await s.close();
    s = await openStore({ env: e, dir, tables: { t } });
    cleanups.push(() => s.close());
    expect(s.count('t')).toBe(keys.length);
    for (const [v, k] of keys.entries()) expect(s.get('t', k)?.v).toBe(v);
    expect(s.keys('t')).toEqual([...keys].sort(codePointCompare));
    expect((await s.verify()).ok).toBe(true);
  });

  it('defect 8: property: every string (lone surrogates included) round-trips, and encoded order is code point order', () => {
    fc.assert(
      fc.property(anyString, anyString, (a, b) => {
        const ea = encodeKey(a)!;
        const eb = encodeKey(b)!;
        expect(decodeKey(ea)).toBe(a);
        expect(decodeKey(encodeKey([a, 1, b])!)).toEqual([a, 1, b]);
        const byCodec = ea < eb ? -1 : ea > eb ? 1 : 0;
        expect(byCodec).toBe(codePointCompare(a, b));
        expect(Buffer.compare(Buffer.from(ea, 'latin1'), Buffer.from(eb, 'latin1'))).toBe(byCodec);
        expect(ea === eb).toBe(a === b);
      }),
      { numRuns: 5000, seed: 8 },
    );
  });

  it('defect 8: well-formed strings encode exactly as before (UTF-8): stored keys do not move', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 8 }), (s) => {
        const bytes = Buffer.from(encodeKey(s)!, 'latin1');
        const utf8 = Buffer.from(s, 'utf8');
        const escaped = Buffer.from([...utf8].flatMap((b) => (b === 0 ? [0, 0xff] : [b])));
        expect(bytes).toEqual(Buffer.concat([Buffer.from([0x20]), escaped, Buffer.from([0, 1])]));
      }),
      { numRuns: 2000, seed: 8 },
    );
  });
});
