import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RowMap } from '../../src/store/rowMap.ts';
import { decodeKey, decodeNumberKey, encodeKey, encodeNumberKey } from '../../src/store/keyCodec.ts';
import type { Row } from '../../src/store/types.ts';

/** The byte string of 8 bytes behind the number tag (any pattern: -0, NaNs, …). */
const numberPattern = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => String.fromCharCode(0x10, ...b));
/** Row keys of every kind the store makes, plus number-tagged strings no key encodes to. */
const rowKey = fc.oneof(
  fc.double().map((n) => encodeKey(n)).filter((k): k is string => k !== undefined),
  fc.integer({ min: -3, max: 3 }).map((n) => encodeKey(n)!),
  fc.constantFrom(encodeKey(0)!, encodeKey(-0)!, encodeKey(2 ** 31)!, encodeKey(-(2 ** 31))!, encodeKey(Number.MAX_VALUE)!, encodeKey(Number.MIN_VALUE)!),
  fc.string({ unit: 'binary', maxLength: 6 }).map((s) => encodeKey(s)!),
  fc.tuple(fc.integer(), fc.string({ maxLength: 3 })).map((t) => encodeKey(t)!),
  // a bag's row key: the encoded key, then a content id
  fc.integer().map((n) => encodeKey(n)! + encodeKey('0123456789abcdef01234567')!),
  numberPattern,
  fc.constantFrom('\x10\x7f\xff\xff\xff\xff\xff\xff\xff', '\x10\xff\xf8\x00\x00\x00\x00\x00\x00', '\x10\x00\x07\xff\xff\xff\xff\xff\xff'),
  // not byte strings (never a row key, but the map must not confuse them with one)
  fc.tuple(numberPattern, fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0x100, max: 0xffff })).map(([s, i, c]) => s.slice(0, i) + String.fromCharCode(c) + s.slice(i + 1)),
);

type Cmd = { op: 'set'; k: string; v: number } | { op: 'delete'; k: string } | { op: 'clear' };
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), k: rowKey, v: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), k: rowKey }) },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
);

describe('RowMap (rows by row key, a lone number key held under the number)', () => {
  it('behaves as a Map<string, Row> — get, has, size, delete, clear and insertion-ordered keys/entries — for every kind of row key', () => {
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 60 }), fc.array(rowKey, { maxLength: 10 }), (cmds, probes) => {
        const m = new RowMap();
        const model = new Map<string, Row>();
        for (const c of cmds) {
          if (c.op === 'set') {
            const row = Object.freeze({ v: c.v });
            m.set(c.k, row);
            model.set(c.k, row);
          } else if (c.op === 'delete') {
            expect(m.delete(c.k)).toBe(model.delete(c.k));
          } else {
            m.clear();
            model.clear();
          }
          expect(m.size).toBe(model.size);
        }
        for (const k of [...probes, ...cmds.flatMap((c) => (c.op === 'clear' ? [] : [c.k]))]) {
          expect(m.get(k)).toBe(model.get(k));
          expect(m.has(k)).toBe(model.has(k));
        }
        expect([...m.keys()]).toEqual([...model.keys()]);
        expect([...m.values()]).toEqual([...model.values()]);
        expect([...m]).toEqual([...model]);
        expect([...m.entries()]).toEqual([...model.entries()]);
      }),
      { numRuns: 400 },
    );
  });

  it('decodeNumberKey is the inverse of the number encoding, and refuses every string that is not one', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        const k = encodeKey(n)!;
        const d = decodeNumberKey(k);
        expect(d).toBe(decodeKey(k));
        expect(Object.is(d, n === 0 ? 0 : n)).toBe(true);
        expect(encodeNumberKey(d!)).toBe(k);
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(rowKey, (k) => {
        const d = decodeNumberKey(k);
        // defined exactly when the string is what encodeKey gives for that number
        if (d !== undefined) expect(encodeNumberKey(d)).toBe(k);
        else expect(k.length === 9 && [...k].every((c) => c.charCodeAt(0) < 0x100) && k.charCodeAt(0) === 0x10 && encodeKey(decodeKey(k)) === k).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});
