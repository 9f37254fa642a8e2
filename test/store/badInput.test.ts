import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { openStore } from '../../src/store/openStore.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import { COLUMNS, rowDiskKey } from '../../src/store/layout.ts';
import { encodeKey } from '../../src/store/keyCodec.ts';
import type { TableDef } from '../../src/store/types.ts';
import { env, tempDir } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tables: Record<string, TableDef> = {
  a: { type: 'ordered_set', key: 'id', attributes: { id: { type: 'integer' }, name: { type: 'string' } }, indexes: ['name'] },
  b: { key: 'id', attributes: { id: { type: 'integer' }, v: { type: 'string' } } },
};

describe('bad input', () => {
  it('records are validated on write: unknown attribute, missing key, wrong type → typed error naming table, attribute, value', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const s = await openStore({ env: env(), dir, tables });
    cleanups.push(() => s.close());
    await expect(s.dirtyPut('a', { id: 1, name: 'x', colour: 'red' })).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION', table: 'a', attribute: 'colour', value: 'red', problem: 'unknown_attribute' });
    await expect(s.dirtyPut('a', { name: 'x' })).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION', table: 'a', attribute: 'id', problem: 'missing' });
    await expect(s.dirtyPut('a', { id: 'one', name: 'x' })).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION', table: 'a', attribute: 'id', value: 'one', problem: 'wrong_type' });
    await expect(s.transaction((tx) => void tx.put('a', { id: 1.5, name: 'x' }))).rejects.toMatchObject({ attribute: 'id', value: 1.5 });
    expect(() => s.get('nope', 1)).toThrow(expect.objectContaining({ code: 'ORDO_STORE_VALIDATION', problem: 'unknown_table' }));
    expect(s.count('a')).toBe(0);
  });

  it('a value with flipped bytes → ORDO_STORE_CORRUPT naming table and key; the rest of the store is usable; rewriting the key repairs it', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    let s = await openStore({ env: e, dir, tables });
    await s.dirtyPutMany('a', Array.from({ length: 10 }, (_, i) => ({ id: i, name: `n${i}` })));
    await s.dirtyPut('b', { id: 1, v: 'ok' });
    const id = s.tableDef('a')!.id;
    await s.close();
    // flip one byte of row 4's stored value
    const kv = await createRocksKv().open(dir, { columns: COLUMNS, createIfMissing: false });
    const key = rowDiskKey(id, encodeKey(4)!);
    const value = (await kv.get('rows', key))!;
    const flipped = Buffer.from(value);
    flipped[flipped.length - 3]! ^= 0x20;
    await kv.write([{ type: 'put', column: 'rows', key, value: flipped }], { sync: true });
    await kv.close();

    s = await openStore({ env: e, dir, tables });
    cleanups.push(() => s.close());
    expect(() => s.get('a', 4)).toThrow(expect.objectContaining({ code: 'ORDO_STORE_CORRUPT', table: 'a', key: 4 }));
    expect(() => s.range('a', 3, 5)).toThrow(expect.objectContaining({ code: 'ORDO_STORE_CORRUPT', key: 4 }));
    expect(s.get('a', 3)).toEqual({ id: 3, name: 'n3' });
    expect(s.range('a', 5, 9)).toHaveLength(5);
    expect(s.get('b', 1)).toEqual({ id: 1, v: 'ok' });
    expect((await s.info()).tables.find((t) => t.name === 'a')?.corrupt).toBe(1);
    expect(e.records.some((r) => r.report === 'store_corrupt_row' && r.table === 'a')).toBe(true);
    await s.dirtyPut('a', { id: 4, name: 'repaired' });
    expect(s.get('a', 4)).toEqual({ id: 4, name: 'repaired' });
    expect((await s.verify()).problems).toEqual([]);
  });

  it('a corrupt SST block refuses the whole open (ORDO_STORE_CORRUPT naming the table and the file), again on every open; nothing is deleted', async () => {
    // One RocksDB database cannot keep a damaged table out of the others' way: opened, its block
    // would stay in the live files and fail the first compaction that picks it (docs/store.md).
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    let s = await openStore({ env: e, dir, tables });
    await s.dirtyPutMany('a', Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `name-${i}-${'x'.repeat(40)}` })));
    await s.dirtyPut('b', { id: 1, v: 'ok' });
    await s.close();
    s = await openStore({ env: e, dir, tables }); // reopen + close flushes the memtables into SST files
    await s.close();
    const ssts = readdirSync(dir).filter((f) => f.endsWith('.sst'));
    const biggest = ssts.sort((x, y) => statSync(`${dir}/${y}`).size - statSync(`${dir}/${x}`).size)[0]!;
    const buf = readFileSync(`${dir}/${biggest}`);
    for (let i = 100; i < 140; i++) buf[i]! ^= 0xff; // inside the first data block
    writeFileSync(`${dir}/${biggest}`, buf);
    const files = readdirSync(dir).sort();

    for (let attempt = 0; attempt < 2; attempt++) {
      const err = await openStore({ env: e, dir, tables }).then(
        async (opened) => {
          await opened.close();
          return 'opened';
        },
        (x: unknown) => x,
      );
      expect(err).toMatchObject({ code: 'ORDO_STORE_CORRUPT', table: 'a', file: `${dir}/${biggest}` });
    }
    expect(readdirSync(dir).sort()).toEqual(files);
  });

  it('a disk error during commit applies nothing: no partial commit in RAM or on disk', async () => {
    let fail = false;
    const kv = createMemoryKv({
      beforeWrite: () => {
        if (fail) throw new Error('EIO: simulated disk error');
      },
    });
    const e = env();
    const s = await openStore({ env: e, dir: '/sim/store', tables, kv });
    await s.dirtyPut('a', { id: 1, name: 'before' });
    fail = true;
    const r = s.transaction((tx) => {
      tx.put('a', { id: 1, name: 'after' });
      tx.put('a', { id: 2, name: 'new' });
      tx.put('b', { id: 9, v: 'x' });
    });
    await expect(r).rejects.toMatchObject({ code: 'ORDO_STORE_IO' });
    expect(s.get('a', 1)).toEqual({ id: 1, name: 'before' });
    expect(s.get('a', 2)).toBeUndefined();
    expect(s.indexRead('a', 'name', 'after')).toEqual([]);
    expect(s.count('b')).toBe(0);
    fail = false;
    await s.close();
    const again = await openStore({ env: e, dir: '/sim/store', tables, kv });
    expect(again.range('a')).toEqual([{ id: 1, name: 'before' }]);
    expect((await again.verify()).problems).toEqual([]);
    await again.close();
  });
});
