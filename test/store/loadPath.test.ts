import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openStore } from '../../src/store/openStore.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { COLUMNS, rowDiskKey } from '../../src/store/layout.ts';
import { encodeKey } from '../../src/store/keyCodec.ts';
import type { TableDef } from '../../src/store/types.ts';
import { env, tempDir } from './helpers.ts';

// The open's load path (issue 13: rows collected in key order and put into the table in one step,
// RowMap.load; the change log read once, keys only): what was written is what is loaded — every
// row, by key, in key order — and a row whose stored bytes are damaged is still kept aside and
// refused by key, the others served.

const tables: Record<string, TableDef> = {
  s: { type: 'ordered_set', key: 'k', attributes: { k: { type: 'string' }, v: { type: 'string' } } },
  n: { type: 'ordered_set', key: 'k', attributes: { k: { type: 'integer' }, v: { type: 'string' } } },
};

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('open + load: load(write(rows)) is rows', () => {
  it('every row written (string and integer keys, rewrites and deletes among them) is loaded, by key and in key order; a damaged row is refused by key, the rest served', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.string({ unit: 'binary', maxLength: 8 }), { maxLength: 60 }),
        fc.uniqueArray(fc.integer({ min: -1000, max: 1000 }), { maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        fc.nat(),
        async (sKeys, nKeys, deletes, damage) => {
          const { dir, cleanup } = tempDir('ordo-loadpath-');
          cleanups.push(cleanup);
          const e = env();
          let s = await openStore({ env: e, dir, tables });
          const want = { s: new Map<unknown, object>(), n: new Map<unknown, object>() };
          for (const [t, ks] of [['s', sKeys], ['n', nKeys]] as const) {
            const rows = ks.map((k, i) => ({ k, v: `${t}${i}` }));
            for (let i = 0; i < rows.length; i += 25) await s.dirtyPutMany(t, rows.slice(i, i + 25));
            for (const r of rows) want[t].set(r.k, r);
            for (const d of deletes) {
              if (ks.length === 0) continue;
              const k = ks[d % ks.length]!;
              await s.dirtyDelete(t, k);
              want[t].delete(k);
            }
          }
          const id = s.state.tables.get('s')!.def.id;
          await s.close();
          s = await openStore({ env: e, dir, tables });
          for (const t of ['s', 'n'] as const) {
            const sorted = [...want[t].keys()].sort((a, b) => (encodeKey(a)! < encodeKey(b)! ? -1 : 1));
            expect(s.count(t)).toBe(want[t].size);
            expect(s.range(t).map((r) => r['k'])).toEqual(sorted);
            for (const [k, r] of want[t]) expect(s.get(t, k)).toEqual(r);
          }
          await s.close();
          const left = [...want.s.keys()];
          if (left.length === 0) return;
          // one stored value's payload byte flipped: kept aside at the next open, named by key
          const bad = left[damage % left.length]!;
          const kv = await createRocksKv().open(dir, { columns: COLUMNS, createIfMissing: false });
          try {
            const k = rowDiskKey(id, encodeKey(bad)!);
            const v = Buffer.from((await kv.get('rows', k))!);
            v[v.length - 2]! ^= 0x01;
            await kv.write([{ type: 'put', column: 'rows', key: k, value: v }], { sync: true });
          } finally {
            await kv.close();
          }
          s = await openStore({ env: e, dir, tables });
          cleanups.push(() => s.close());
          expect(() => s.get('s', bad)).toThrow(expect.objectContaining({ code: 'ORDO_STORE_CORRUPT', key: bad }));
          for (const [k, r] of want.s) if (k !== bad) expect(s.get('s', k)).toEqual(r);
          for (const [k, r] of want.n) expect(s.get('n', k)).toEqual(r);
          await s.close();
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);
});
