import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemTable } from '../../src/store/memTable.ts';
import { encodeKey } from '../../src/store/keyCodec.ts';
import type { NormalTableDef, Row } from '../../src/store/types.ts';
import { firstDiff } from './helpers.ts';

// MemTable.buildIndex (issue 13) groups the rows by indexed value and sorts only the distinct
// values, instead of sorting every entry. Its index must hold exactly the entries, in exactly the
// order, of an index kept by an add per row (MemTable.put) and of the plain model (every entry,
// sorted) — after a load in key order, and over rows set in any order (a migration's new index).

/** Indexed values: few distinct (duplicates), odd strings, lone surrogates, -0, values with no entry, tuples, look-alikes across kinds. */
const indexed: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, -0, 1, '1', 1e300, -Number.MIN_VALUE, Number.MAX_SAFE_INTEGER + 2, null, true, false, '', 'true', 'null') },
  { weight: 2, arbitrary: fc.constantFrom('\ud800', '\udc00', '\udbff\udfff', '\ud800\udc00', '\ufffd', '\x00', '\x00\x01', 'a\x00', 'a', 'ab', '\xff', '\u0100') },
  // no entry: not a key
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, undefined, {}, [NaN], [{}]) },
  { weight: 2, arbitrary: fc.double() },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
  // tuples (an array value), and a string spelling a tuple's encoding (never the same entry)
  { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom('a', '\ud800', null, -0)) },
  { weight: 1, arbitrary: fc.constantFrom([], [1], [[1]], [1, 'a'], encodeKey([1, 'a'])!, encodeKey(1)!) },
);

const keyValue = fc.oneof(fc.integer({ min: -40, max: 40 }), fc.string({ unit: 'binary', maxLength: 3 }), fc.tuple(fc.integer({ min: 0, max: 3 }), fc.string({ maxLength: 2 })));

function defOf(type: 'set' | 'ordered_set' | 'bag', indexes: string[]): NormalTableDef {
  return { name: 't', id: 1, type, key: ['k'], attributes: [], indexes, storage: 'disc', durability: 'async', replicated: false } as unknown as NormalTableDef;
}

/** The plain model: every row's entry (`MemTable.indexEntry`), sorted. */
function modelIndex(mem: MemTable, attr: string, rows: ReadonlyArray<[string, Row]>): string[] {
  const out: string[] = [];
  for (const [rk, row] of rows) {
    const e = mem.indexEntry(attr, row, rk);
    if (e !== undefined) out.push(e);
  }
  return out.sort();
}

/** Checks the three ways to one index for `rows` (distinct row keys after `rowKeyOf`; bags collapse identical rows). */
function check(type: 'set' | 'ordered_set' | 'bag', rows: Row[], order: number[]): void {
  const attrs = ['a', 'b'];
  const def = defOf(type, attrs);
  // incremental: an add per row (put), in the order given
  const inc = new MemTable(def);
  for (const i of order) inc.put(inc.rowKeyOf(rows[i]!), rows[i]!);
  const held: Array<[string, Row]> = [...inc.rows];
  // a load: in row key order, then the index built
  const loaded = new MemTable(def);
  const sorted = [...held].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  loaded.loadSorted(
    sorted.map(([k]) => k),
    sorted.map(([, r]) => r),
  );
  for (const a of attrs) loaded.buildIndex(a);
  // a new index over rows set in any order (no key order to rely on)
  const rebuilt = new MemTable(def);
  for (const i of order) rebuilt.put(rebuilt.rowKeyOf(rows[i]!), rows[i]!);
  for (const a of attrs) rebuilt.buildIndex(a);
  for (const a of attrs) {
    const want = modelIndex(inc, a, held);
    const got = { inc: [...inc.indexes.get(a)!.scan()], loaded: [...loaded.indexes.get(a)!.scan()], rebuilt: [...rebuilt.indexes.get(a)!.scan()] };
    expect(firstDiff(got.inc, want)).toBeUndefined();
    expect(firstDiff(got.loaded, want)).toBeUndefined();
    expect(firstDiff(got.rebuilt, want)).toBeUndefined();
    expect(loaded.indexes.get(a)!.size).toBe(want.length);
    expect(rebuilt.indexes.get(a)!.size).toBe(want.length);
    // reverse scans and probes walk the same chunks
    expect([...loaded.indexes.get(a)!.scan({ reverse: true })]).toEqual([...want].reverse());
    for (const e of want) expect(loaded.indexes.get(a)!.has(e)).toBe(true);
  }
}

const shuffled = (n: number): fc.Arbitrary<number[]> => fc.array(fc.nat(), { minLength: n, maxLength: n }).map((w) => Array.from({ length: n }, (_, i) => i).sort((x, y) => w[x]! - w[y]! || x - y));

describe('MemTable.buildIndex (grouped by value, only the distinct values sorted)', () => {
  it('holds the entries, in order, of an add per row and of every entry sorted: any values, any table type, any row order', () => {
    const rowsArb = fc.uniqueArray(fc.record({ k: keyValue, a: indexed, b: indexed }), { maxLength: 60, selector: (r) => encodeKey(r.k) });
    fc.assert(
      fc.property(
        fc.constantFrom('set' as const, 'ordered_set' as const, 'bag' as const),
        rowsArb.chain((rows) => fc.tuple(fc.constant(rows), shuffled(rows.length))),
        fc.boolean(),
        (type, [rows, order], ascending) => {
          // ascending: the values follow the key order (each its own group while they rise, then repeats)
          if (ascending) {
            const byKey = [...rows].sort((x, y) => (encodeKey(x.k)! < encodeKey(y.k)! ? -1 : 1));
            const vals = rows.map((r) => r.a).sort((x, y) => ((encodeKey(x) ?? '') < (encodeKey(y) ?? '') ? -1 : 1));
            rows = byKey.map((r, i) => ({ ...r, a: vals[i] }));
          }
          check(type, rows, order);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('the same over thousands of rows (several chunks, long groups, long rising runs, mostly distinct values)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 600, max: 3000 }), fc.array(indexed, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: 3000 }), fc.constantFrom('set' as const, 'bag' as const), (n, pool, stride, distinct, type) => {
        // b: `distinct` values — past a quarter of the rows (and 1024) buildIndex sorts every entry instead
        const rows: Row[] = Array.from({ length: n }, (_, i) => ({ k: `r${String(i).padStart(5, '0')}`, a: i % stride === 0 ? pool[(i * 7) % pool.length] : i < stride ? i : pool[i % pool.length], b: (i * 7919) % distinct }));
        check(type, rows, Array.from({ length: n }, (_, i) => (i * 104729) % n)); // a permutation: 104729 is prime
      }),
      { numRuns: 25 },
    );
  });
});
