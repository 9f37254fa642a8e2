import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RowMap } from '../../src/store/rowMap.ts';
import { MemTable } from '../../src/store/memTable.ts';
import { encodeKey } from '../../src/store/keyCodec.ts';
import type { NormalTableDef, Row } from '../../src/store/types.ts';
import { firstDiff } from './helpers.ts';

// RowMap.load (issue 13): the rows read at open go into a loaded segment with its own index,
// built in one pass, instead of a Map insert per row. It must stay a Map<string, Row> in every
// respect — after the load, under sets, deletes, re-sets, clears, compaction, and iterators left
// open while it changes — for every kind of row key.

const keyValue = fc.oneof(
  fc.integer({ min: -50, max: 50 }),
  fc.double({ noNaN: true }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom(null, true, false),
  fc.tuple(fc.integer({ min: 0, max: 5 }), fc.string({ maxLength: 3 })),
);
// (encodeKey refuses some values, ±Infinity: not keys)
const rowKey = keyValue.map((v) => encodeKey(v)).filter((k): k is string => k !== undefined);
/** Distinct row keys in ascending order (RocksDB's), as a load reads them. */
const sortedKeys = (max: number): fc.Arbitrary<string[]> => fc.uniqueArray(rowKey, { maxLength: max }).map((ks) => ks.sort());

type Cmd = { op: 'set'; k: string } | { op: 'setLoaded'; i: number } | { op: 'delete'; k: string } | { op: 'deleteLoaded'; i: number; n: number } | { op: 'clear' } | { op: 'open' } | { op: 'next'; n: number };
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), k: rowKey }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('setLoaded' as const), i: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), k: rowKey }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('deleteLoaded' as const), i: fc.nat(), n: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constant(3000)) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'open' as const }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('next' as const), n: fc.integer({ min: 1, max: 5 }) }) },
);

describe('RowMap.load (the rows read at open, indexed in one pass)', () => {
  it('is a Map<string, Row> filled in key order, under any later sets, deletes, clears, compaction and open iterators', () => {
    fc.assert(
      fc.property(fc.oneof(sortedKeys(40), fc.integer({ min: 1100, max: 4000 }).map((n) => Array.from({ length: n }, (_, i) => encodeKey(`k${String(i).padStart(5, '0')}`)!))), fc.array(cmd, { maxLength: 40 }), fc.array(rowKey, { maxLength: 8 }), (loaded, cmds, probes) => {
        const m = new RowMap();
        const model = new Map<string, Row>();
        let v = 0;
        const rows = loaded.map(() => Object.freeze({ v: v++ }));
        for (let i = 0; i < loaded.length; i++) model.set(loaded[i]!, rows[i]!);
        expect(m.load([...loaded], rows)).toBe(true);
        expect(m.size).toBe(model.size);
        const its: Array<[Iterator<[string, Row]>, Iterator<[string, Row]>]> = [];
        let wrong = 0;
        const set = (k: string): void => {
          const row = Object.freeze({ v: v++ });
          m.set(k, row);
          model.set(k, row);
        };
        for (const c of cmds) {
          if (c.op === 'set') set(c.k);
          else if (c.op === 'setLoaded') {
            if (loaded.length > 0) set(loaded[c.i % loaded.length]!);
          } else if (c.op === 'delete') {
            if (m.delete(c.k) !== model.delete(c.k)) wrong++;
          } else if (c.op === 'deleteLoaded') {
            for (let j = 0; j < c.n && loaded.length > 0; j++) {
              const k = loaded[(c.i + j) % loaded.length]!;
              if (m.delete(k) !== model.delete(k)) wrong++;
            }
          } else if (c.op === 'clear') {
            m.clear();
            model.clear();
          } else if (c.op === 'open') its.push([m.entries(), model.entries()]);
          else for (const [a, b] of its) for (let i = 0; i < c.n; i++) expect(JSON.stringify(a.next())).toBe(JSON.stringify(b.next()));
          expect(m.size).toBe(model.size);
        }
        expect(wrong).toBe(0);
        for (const k of [...probes, ...loaded]) {
          expect(m.get(k)).toBe(model.get(k));
          expect(m.has(k)).toBe(model.has(k));
        }
        for (const [a, b] of its) expect(firstDiff([...{ [Symbol.iterator]: () => a }], [...{ [Symbol.iterator]: () => b }])).toBeUndefined();
        expect(firstDiff([...m], [...model])).toBeUndefined();
        expect(firstDiff([...m.values()], [...model.values()])).toBeUndefined();
      }),
      { numRuns: 100, endOnFailure: true },
    );
  });

  it('refuses keys out of order or repeated, and a map that holds rows: nothing set, the caller sets them one by one', () => {
    const a = encodeKey('a')!;
    const b = encodeKey('b')!;
    const m = new RowMap();
    expect(m.load([b, a], [{ b: 1 }, { a: 1 }])).toBe(false);
    expect(m.load([a, a], [{ a: 1 }, { a: 2 }])).toBe(false);
    expect(m.size).toBe(0);
    m.set(a, { a: 1 });
    expect(m.load([b], [{ b: 1 }])).toBe(false);
    expect([...m.keys()]).toEqual([a]);
  });

  it('MemTable.loadSorted keeps the key order and finds every row, in one step or (keys out of order) one by one', () => {
    const def = { name: 't', id: 1, type: 'ordered_set', key: ['k'], attributes: {}, indexes: [], storage: 'disc' } as unknown as NormalTableDef;
    fc.assert(
      fc.property(fc.uniqueArray(rowKey, { maxLength: 60 }), fc.boolean(), (ks, sorted) => {
        const keys = sorted ? [...ks].sort() : ks;
        const mem = new MemTable(def);
        mem.loadSorted([...keys], keys.map((k) => ({ k })));
        expect([...mem.order.scan()]).toEqual([...ks].sort());
        for (const k of keys) expect(mem.rows.get(k)).toEqual({ k });
        expect(mem.rows.size).toBe(keys.length);
      }),
      { numRuns: 300 },
    );
  });
});
