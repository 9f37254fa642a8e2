import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { KvError } from '../../src/env/kv.ts';
import type { KvAdapter, KvDb } from '../../src/env/kv.ts';
import { COLUMNS, indexDiskKey, rowDiskKey, INDEX_MARK } from '../../src/store/layout.ts';
import { encodeKey } from '../../src/store/keyCodec.ts';
import type { TableDef } from '../../src/store/types.ts';
import { env, tempDir } from './helpers.ts';

// Issue 15, "index damage is reported by verify() only": the open checks the columns it does not
// serve from. Indexes are served from RAM (rebuilt from the rows), so a damaged on-disk index
// never makes a query short — but left alone it stays wrong on disk, and a block RocksDB cannot
// read fails the first compaction that picks it (RocksDB then stops all writes, after every
// restart again). An index out of step is rebuilt from the proven rows at open; an unreadable
// one refuses the open.

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tables: Record<string, TableDef> = {
  a: { type: 'ordered_set', key: 'id', attributes: { id: { type: 'integer' }, name: { type: 'string' }, n: { type: 'integer' } }, indexes: ['name', 'n'] },
  b: { key: 'id', attributes: { id: { type: 'integer' }, v: { type: 'string' } } },
};

async function seeded(): Promise<{ dir: string; id: number }> {
  const { dir, cleanup } = tempDir('ordo-idx-');
  cleanups.push(cleanup);
  const s = await openStore({ env: env(), dir, tables });
  await s.dirtyPutMany('a', Array.from({ length: 50 }, (_, i) => ({ id: i, name: `n${i % 7}`, n: i })));
  await s.dirtyPut('b', { id: 1, v: 'ok' });
  const id = s.tableDef('a')!.id;
  await s.close();
  return { dir, id };
}

async function raw(dir: string, fn: (kv: KvDb) => Promise<void>): Promise<void> {
  const kv = await createRocksKv().open(dir, { columns: COLUMNS, createIfMissing: false });
  try {
    await fn(kv);
  } finally {
    await kv.close();
  }
}

describe('the on-disk index and change log are checked at open (issue 15)', () => {
  it('an on-disk index out of step with the rows (entries lost, a stale one) is rebuilt from the rows at open: verify() clean, logged, stable', async () => {
    const { dir, id } = await seeded();
    const entry = (name: string, rk: number): string => encodeKey(name)! + encodeKey(rk)!;
    await raw(dir, (kv) =>
      kv.write(
        [
          // lost: two entries of index `name`; stale: one naming a row that does not exist
          { type: 'del', column: 'idx', key: indexDiskKey(id, 'name', entry('n3', 3)) },
          { type: 'del', column: 'idx', key: indexDiskKey(id, 'name', entry('n4', 4)) },
          { type: 'put', column: 'idx', key: indexDiskKey(id, 'name', entry('zz', 999)), value: INDEX_MARK },
        ],
        { sync: true },
      ),
    );
    const e = env();
    const s = await openStore({ env: e, dir, tables });
    cleanups.push(() => s.close());
    const rebuilt = e.records.filter((r) => r.report === 'store_index_rebuilt');
    expect(rebuilt).toMatchObject([{ table: 'a', indexes: [{ attr: 'name', onDisk: 49, implied: 50 }] }]);
    expect((await s.verify()).problems).toEqual([]);
    expect(s.indexRead('a', 'name', 'n3').map((r) => r.id)).toEqual([3, 10, 17, 24, 31, 38, 45]);
    await s.close();
    const e2 = env();
    const again = await openStore({ env: e2, dir, tables });
    cleanups.push(() => again.close());
    expect(e2.records.filter((r) => r.report === 'store_index_rebuilt')).toEqual([]);
    expect((await again.verify()).ok).toBe(true);
  });

  it('entries lost at the end of an on-disk index (after the last one left) are rebuilt too (issue 13)', async () => {
    const { dir, id } = await seeded();
    await raw(dir, (kv) => kv.write([47, 48, 49].map((i) => ({ type: 'del' as const, column: 'idx', key: indexDiskKey(id, 'n', encodeKey(i)! + encodeKey(i)!) })), { sync: true }));
    const e = env();
    const s = await openStore({ env: e, dir, tables });
    cleanups.push(() => s.close());
    expect(e.records.filter((r) => r.report === 'store_index_rebuilt')).toMatchObject([{ table: 'a', indexes: [{ attr: 'n', onDisk: 47, implied: 50 }] }]);
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
    const e2 = env();
    const again = await openStore({ env: e2, dir, tables });
    cleanups.push(() => again.close());
    expect(e2.records.filter((r) => r.report === 'store_index_rebuilt')).toEqual([]);
  });

  it('an unreadable on-disk index (RocksDB reports a damaged block) refuses the open with ORDO_STORE_CORRUPT naming the table; the rows were fine', async () => {
    const { dir } = await seeded();
    const real = createRocksKv();
    // RocksDB's own report of a damaged block in the idx column, on every read of it
    const damagedIdx: KvAdapter = {
      ...real,
      async open(d, o) {
        const db = await real.open(d, o);
        return new Proxy(db, {
          get(t, p, r) {
            if (p !== 'iterator') return Reflect.get(t, p, r) as unknown;
            return (column: string, range?: object) => {
              if (column !== 'idx') return t.iterator(column, range);
              return { next: () => Promise.reject(new KvError('corrupt', `Corruption: block checksum mismatch in ${d}/000042.sst`, d, { file: `${d}/000042.sst` })), close: async () => undefined };
            };
          },
        });
      },
    };
    const err = await openStore({ env: env(), dir, tables, kv: damagedIdx }).then(
      async (s) => {
        await s.close();
        return 'opened';
      },
      (x: unknown) => x,
    );
    expect(err).toMatchObject({ code: 'ORDO_STORE_CORRUPT', table: 'a', file: `${dir}/000042.sst` });
    // the same directory, healthy, opens: nothing was changed by the refusal
    const s = await openStore({ env: env(), dir, tables });
    cleanups.push(() => s.close());
    expect(s.count('a')).toBe(50);
  });

  it('a corrupt row keeps its on-disk index entries through an open: the check skips them (evidence kept until the row is rewritten)', async () => {
    const { dir, id } = await seeded();
    const entry = (v: string | number, rk: number): string => encodeKey(v)! + encodeKey(rk)!;
    const present = async (): Promise<boolean[]> => {
      const out: boolean[] = [];
      await raw(dir, async (kv) => {
        for (const k of [indexDiskKey(id, 'name', entry('n4', 4)), indexDiskKey(id, 'n', entry(4, 4))]) out.push((await kv.get('idx', k)) !== undefined);
      });
      return out;
    };
    expect(await present()).toEqual([true, true]);
    await raw(dir, async (kv) => {
      const k = rowDiskKey(id, encodeKey(4)!);
      const v = Buffer.from((await kv.get('rows', k))!);
      v[v.length - 3]! ^= 0x20;
      await kv.write([{ type: 'put', column: 'rows', key: k, value: v }], { sync: true });
    });
    const s = await openStore({ env: env(), dir, tables });
    expect(() => s.get('a', 4)).toThrow(expect.objectContaining({ code: 'ORDO_STORE_CORRUPT', key: 4 }));
    await s.close();
    // the open deleted neither entry of the corrupt row (an index check that did not skip them
    // would have taken them for entries "implied by no row" and deleted both)
    expect(await present()).toEqual([true, true]);
  });

  it('a table with a corrupt row (value checksum) that also lost an acknowledged row is refused, never served short around it; a rewritten corrupt row reopens clean', async () => {
    const { dir, id } = await seeded();
    const corruptRow = async (key: number): Promise<void> =>
      raw(dir, async (kv) => {
        const k = rowDiskKey(id, encodeKey(key)!);
        const v = Buffer.from((await kv.get('rows', k))!);
        v[v.length - 3]! ^= 0x20;
        await kv.write([{ type: 'put', column: 'rows', key: k, value: v }], { sync: true });
      });
    await corruptRow(4);
    // a corrupt row alone: opens, the row kept aside; rewriting it repairs, and the next open is clean
    let s = await openStore({ env: env(), dir, tables });
    expect(() => s.get('a', 4)).toThrow(expect.objectContaining({ code: 'ORDO_STORE_CORRUPT', key: 4 }));
    await s.dirtyPut('a', { id: 4, name: 'n4', n: 4 });
    await s.close();
    s = await openStore({ env: env(), dir, tables });
    expect(s.count('a')).toBe(50);
    expect((await s.verify()).ok).toBe(true);
    await s.close();
    // a corrupt row and a lost one (RocksDB forgot it): the digest still counts the corrupt row, so the loss shows
    await corruptRow(5);
    await raw(dir, (kv) => kv.write([{ type: 'del', column: 'rows', key: rowDiskKey(id, encodeKey(30)!) }], { sync: true }));
    const err = await openStore({ env: env(), dir, tables }).then(
      async (opened) => {
        const n = opened.count('a');
        await opened.close();
        return `opened serving ${n} rows`;
      },
      (x: { code?: unknown }) => x.code,
    );
    expect(err).toBe('ORDO_STORE_CORRUPT');
  });
});
