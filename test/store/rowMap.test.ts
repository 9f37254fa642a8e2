import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RowMap } from '../../src/store/rowMap.ts';
import { decodeKey, decodeNumberKey, encodeKey, encodeNumberKey } from '../../src/store/keyCodec.ts';
import type { Row } from '../../src/store/types.ts';
import { firstDiff } from './helpers.ts';

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
          const n = decodeNumberKey(k);
          if (n !== undefined) expect(m.getNumber(n)).toBe(model.get(k));
        }
        expect([...m.keys()]).toEqual([...model.keys()]);
        expect([...m.values()]).toEqual([...model.values()]);
        expect([...m]).toEqual([...model]);
        expect([...m.entries()]).toEqual([...model.entries()]);
      }),
      { numRuns: 400 },
    );
  });

  it('behaves as a Map<string, Row> for dense integer keys (the array run): appends, rewrites, holes, re-sets, clears, compaction — and iterators open while it changes', () => {
    type DCmd =
      | { op: 'set'; k: number; v: number }
      | { op: 'delete'; k: number }
      | { op: 'append'; n: number }
      | { op: 'deleteFrom'; from: number; n: number }
      | { op: 'clear' }
      | { op: 'other'; k: string }
      | { op: 'open' }
      | { op: 'next'; n: number };
    const small = fc.integer({ min: -2, max: 24 });
    const dcmd: fc.Arbitrary<DCmd> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('set' as const), k: small, v: fc.nat() }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), k: small }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant('append' as const), n: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant(1500)) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('deleteFrom' as const), from: small, n: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant(1400)) }) },
      { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('other' as const), k: rowKey }) },
      { weight: 2, arbitrary: fc.constant({ op: 'open' as const }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('next' as const), n: fc.integer({ min: 1, max: 5 }) }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: -3, max: 2 ** 53 - 2 ** 17 }).chain((b) => fc.constantFrom(0, 1, b)), fc.array(dcmd, { maxLength: 40 }), (base, cmds) => {
        const m = new RowMap();
        const model = new Map<string, Row>();
        const its: Array<[Iterator<[string, Row]>, Iterator<[string, Row]>]> = [];
        let top = base;
        let v = 0;
        const set = (k: string): void => {
          const row = Object.freeze({ v: v++ });
          m.set(k, row);
          model.set(k, row);
        };
        let wrong = 0;
        const del = (k: string): void => {
          if (m.delete(k) !== model.delete(k)) wrong++;
        };
        for (const c of cmds) {
          if (c.op === 'set') set(encodeKey(base + c.k)!);
          else if (c.op === 'delete') del(encodeKey(base + c.k)!);
          else if (c.op === 'append') for (let i = 0; i < c.n; i++) set(encodeKey(top++)!);
          else if (c.op === 'deleteFrom') for (let i = 0; i < c.n; i++) del(encodeKey(base + c.from + i)!);
          else if (c.op === 'clear') {
            m.clear();
            model.clear();
          } else if (c.op === 'other') set(c.k);
          else if (c.op === 'open') its.push([m.entries(), model.entries()]);
          else for (const [a, b] of its) for (let i = 0; i < c.n; i++) expect(JSON.stringify(a.next())).toBe(JSON.stringify(b.next()));
          expect(m.size).toBe(model.size);
        }
        expect(wrong).toBe(0);
        for (let k = base - 3; k < base + 30; k++) {
          expect(m.get(encodeKey(k)!)).toBe(model.get(encodeKey(k)!));
          expect(m.getNumber(k)).toBe(model.get(encodeKey(k)!));
          expect(m.has(encodeKey(k)!)).toBe(model.has(encodeKey(k)!));
        }
        for (const k of [top - 1, top, top + 1].map((n) => encodeKey(n)!)) expect(m.get(k)).toBe(model.get(k));
        for (const [a, b] of its) expect(firstDiff([...{ [Symbol.iterator]: () => a }], [...{ [Symbol.iterator]: () => b }])).toBeUndefined();
        expect(firstDiff([...m.keys()], [...model.keys()])).toBeUndefined();
        expect(firstDiff([...m.values()], [...model.values()])).toBeUndefined();
        expect(firstDiff([...m], [...model])).toBeUndefined();
      }),
      { numRuns: 150, endOnFailure: true },
    );
  });

  it('keeps the Map order when the run is compacted behind rows already in the map, and when cleared during an iteration', () => {
    const m = new RowMap();
    const model = new Map<string, Row>();
    const set = (k: string, v: number): void => {
      const row = Object.freeze({ v });
      m.set(k, row);
      model.set(k, row);
    };
    for (let i = 0; i < 3000; i++) set(encodeKey(i)!, i);
    set(encodeKey('after the run')!, -1);
    set(encodeKey(5000)!, -2);
    // most of the run deleted from the front: compacted into the map, ahead of the two above
    for (let i = 0; i < 2000; i++) expect(m.delete(encodeKey(i)!)).toBe(model.delete(encodeKey(i)!));
    set(encodeKey(2999)!, 7);
    expect(firstDiff([...m], [...model])).toBeUndefined();
    expect(m.size).toBe(model.size);
    // a clear during an iteration: the iteration goes on with the rows set after it
    const c = new RowMap();
    const cm = new Map<string, Row>();
    for (let i = 0; i < 5; i++) {
      c.set(encodeKey(i)!, Object.freeze({ i }));
      cm.set(encodeKey(i)!, Object.freeze({ i }));
    }
    const a = c.entries();
    const b = cm.entries();
    expect(JSON.stringify(a.next())).toBe(JSON.stringify(b.next()));
    expect(JSON.stringify(a.next())).toBe(JSON.stringify(b.next()));
    c.clear();
    cm.clear();
    for (let i = 10; i < 13; i++) {
      c.set(encodeKey(i)!, Object.freeze({ i }));
      cm.set(encodeKey(i)!, Object.freeze({ i }));
    }
    expect(firstDiff([...{ [Symbol.iterator]: () => a }], [...{ [Symbol.iterator]: () => b }])).toBeUndefined();
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

  it('values() stays live across a clear, as a Map: rows set after it are visited (they start a new array run)', () => {
    const m = new RowMap();
    const model = new Map<string, Row>();
    for (const [k, v] of [[encodeKey('a')!, { a: 1 }], [encodeKey('b')!, { b: 1 }]] as const) {
      m.set(k, v);
      model.set(k, v);
    }
    const mine = m.values();
    const theirs = model.values();
    const got = [mine.next().value];
    const want = [theirs.next().value];
    m.clear();
    model.clear();
    m.set(encodeNumberKey(1), { n: 1 });
    model.set(encodeNumberKey(1), { n: 1 });
    for (const v of mine) got.push(v);
    for (const v of theirs) want.push(v);
    expect(got).toEqual(want);
  });
});
