import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { MemTable } from '../../src/store/memTable.ts';
import { CRC_CACHE_ROWS, CrcCache } from '../../src/store/crcCache.ts';
import type { Row, TableDef } from '../../src/store/types.ts';
import { openedTemp } from './helpers.ts';

// Issue 10's store asks (the job runner's CPU): a row's index entries are encoded once per
// write, and a row written by a flush of any size leaves the table digest by the CRC its write
// computed (no second encode of the replaced row). Counted, not timed.

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

const jobs: TableDef = {
  key: 'id',
  attributes: { id: { type: 'string' }, state: { type: 'string' }, lane: { type: 'string' }, n: { type: 'integer' } },
  indexes: ['state', 'lane'],
  durability: 'async',
};

/** Calls of `JSON.stringify` whose argument is `row` or an array holding it, while `f` runs. */
async function stringifiesOf(row: object, f: () => Promise<void>): Promise<number> {
  const real = JSON.stringify;
  let n = 0;
  const spy = vi.spyOn(JSON, 'stringify').mockImplementation(((v: unknown, ...rest: never[]) => {
    if (v === row || (Array.isArray(v) && v.includes(row))) n++;
    return real(v, ...rest);
  }) as typeof JSON.stringify);
  try {
    await f();
  } finally {
    spy.mockRestore();
  }
  return n;
}

describe('index entries encoded once per row write', () => {
  it('a rewrite of an indexed row encodes each old and each new entry once (disk keys and RAM indexes share them); indexes stay exact after a reopen', async () => {
    const { s, reopen } = await openedTemp({ jobs }, 'ordo-encode-once-', cleanups);
    await s.dirtyPutMany('jobs', Array.from({ length: 10 }, (_, i) => ({ id: `j${i}`, state: 'available', lane: `q/${i % 3}`, n: i })));
    const spy = vi.spyOn(MemTable.prototype, 'indexEntry');
    await s.transaction((tx) => void tx.put('jobs', { id: 'j4', state: 'executing', lane: 'q/1', n: 4 }));
    // two indexes × (old row, new row), each once
    expect(spy.mock.calls.length).toBe(4);
    spy.mockClear();
    await s.dirtyDelete('jobs', 'j5');
    expect(spy.mock.calls.length).toBe(2);
    spy.mockRestore();
    const byState = (st: typeof s): string[] => st.indexRead('jobs', 'state', 'available').map((r) => r['id'] as string).sort();
    const want = ['j0', 'j1', 'j2', 'j3', 'j6', 'j7', 'j8', 'j9'];
    expect(byState(s)).toEqual(want);
    expect(s.indexRead('jobs', 'state', 'executing').map((r) => r['id'])).toEqual(['j4']);
    const again = await reopen();
    expect(byState(again)).toEqual(want);
    expect(again.indexRead('jobs', 'state', 'executing').map((r) => r['id'])).toEqual(['j4']);
    expect((await again.verify()).problems).toEqual([]);
  });
});

describe('a rewritten row leaves the digest without a second encode', () => {
  for (const size of [10, 300, 5000]) {
    it(`a row inserted by a flush of ${size} rows, then rewritten, is not encoded again; the digest stays exact across a reopen`, async () => {
      const { s, reopen } = await openedTemp({ jobs }, 'ordo-encode-once-', cleanups);
      await s.dirtyPutMany('jobs', Array.from({ length: size }, (_, i) => ({ id: `j${String(i).padStart(5, '0')}`, state: 'available', lane: 'q', n: i })));
      const old = s.get('jobs', 'j00003')!;
      const n = await stringifiesOf(old, () => s.transaction((tx) => void tx.put('jobs', { ...tx.get('jobs', 'j00003')!, state: 'executing' })));
      expect(n).toBe(0);
      const again = await reopen();
      expect((await again.verify()).problems).toEqual([]);
      expect(again.get('jobs', 'j00003')?.['state']).toBe('executing');
    });
  }
});

describe('CrcCache', () => {
  it('property: of the rows remembered and not taken, the last CRC_CACHE_ROWS are found with their CRC, once; none with a wrong CRC; the size stays bounded', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('one' as const), n: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ kind: fc.constant('many' as const), n: fc.integer({ min: 1, max: 3 * CRC_CACHE_ROWS }) }),
      fc.record({ kind: fc.constant('take' as const), back: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 12 }), (steps) => {
        const c = new CrcCache();
        // rows remembered and not yet taken, each with its CRC and the count of rows remembered before it
        const held: Array<{ row: Row; crc: number; at: number }> = [];
        let count = 0;
        for (const st of steps) {
          if (st.kind === 'take') {
            if (held.length === 0) continue;
            const i = held.length - 1 - (st.back % held.length);
            const { row, crc, at } = held[i]!;
            const got = c.take(row);
            if (got !== undefined) expect(got).toBe(crc);
            if (count - at - 1 < CRC_CACHE_ROWS) expect(got).toBe(crc);
            expect(c.take(row)).toBeUndefined();
            held.splice(i, 1);
            continue;
          }
          const rows = Array.from({ length: st.n }, (_, k) => Object.freeze({ i: count + k }) as Row);
          const crcs = rows.map((_, k) => Math.imul(count + k, 2654435761) >>> 0);
          if (st.kind === 'one') rows.forEach((r, k) => c.remember(r, crcs[k]!));
          else c.rememberMany(rows, crcs);
          rows.forEach((row, k) => held.push({ row, crc: crcs[k]!, at: count + k }));
          count += rows.length;
          expect(c.size).toBeLessThan(4 * CRC_CACHE_ROWS);
        }
        expect(c.take(Object.freeze({ i: -1 }))).toBeUndefined();
      }),
      { numRuns: 60 },
    );
  });
});
