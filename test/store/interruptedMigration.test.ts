import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import { COLUMNS, META, metaKey } from '../../src/store/layout.ts';
import { encodeValue } from '../../src/store/valueCodec.ts';
import { schemaHash } from '../../src/store/migrate.ts';
import { KvError } from '../../src/env/kv.ts';
import type { KvAdapter } from '../../src/env/kv.ts';
import type { TableDef } from '../../src/store/types.ts';
import { env, tempDir } from './helpers.ts';

const cleanups: Array<() => void> = [];
afterAll(() => cleanups.forEach((c) => c()));

const v0: Record<string, TableDef> = { users: { key: 'id', attributes: { id: { type: 'integer' }, name: { type: 'string' } } } };
const v1: Record<string, TableDef> = { users: { key: 'id', attributes: { id: { type: 'integer' }, name: { type: 'string' }, tier: { type: 'string', default: 'bronze' } } } };

/** The real adapter, except that the `n`-th write carrying back-fill progress dies (as a kill -9 there would leave the disk). */
function dyingBackfill(n: number): KvAdapter {
  const real = env().io.kv!;
  return {
    exists: (d) => real.exists(d),
    ...(real.canonical ? { canonical: (d: string) => real.canonical!(d) } : {}),
    open: async (d, o) => {
      const db = await real.open(d, o);
      let seen = 0;
      return {
        dir: db.dir,
        get marker() {
          return db.marker;
        },
        release: () => db.release!(),
        write: async (ops, wo) => {
          if (ops.some((op) => op.column === 'meta' && Buffer.from(op.key).equals(metaKey(META.migration)) && op.type === 'put') && ops.some((op) => op.column === 'rows') && ++seen >= n) {
            throw new KvError('io', 'killed during the back-fill', d);
          }
          return db.write(ops, wo);
        },
        get: (c, k) => db.get(c, k),
        iterator: (c, r) => db.iterator(c, r),
        close: () => db.close(),
        defer: (fn) => db.defer(fn),
      };
    },
  };
}

describe('an interrupted migration (issue 15)', () => {
  it('defect 14: killed during an attribute back-fill, the store refuses the old code until the migration finishes; a stale marker is cleared', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const dir = `${t.dir}/store`;
    const e = env();
    const s0 = await openStore({ env: e, dir, tables: v0 });
    await s0.dirtyPutMany('users', Array.from({ length: 500 }, (_, i) => ({ id: i, name: `u${i}` })));
    await s0.close();
    // the new code starts the back-fill (batches of 100) and dies after two durable batches
    await expect(openStore({ env: e, dir, tables: v1, migrationBatchSize: 100, kv: dyingBackfill(3) })).rejects.toMatchObject({ code: 'ORDO_STORE_IO' });
    // rolled back to the old code: refused, as after a completed migration — never opened with rows it does not know
    const err = (await openStore({ env: e, dir, tables: v0 }).catch((x: unknown) => x)) as { code: string; message: string };
    expect(err.code).toBe('ORDO_STORE_MIGRATION');
    expect(err.message).toMatch(/did not finish/);
    // the tools still open it as stored, and show the migration in progress
    const tool = await openStore({ env: e, dir, expectExisting: true });
    expect((await tool.info()).migrationInProgress).toMatchObject({ table: 'users', backfilled: 200 });
    await tool.close();
    // the new code resumes and finishes; afterwards the old code is refused by the schema (a removed attribute)
    const s1 = await openStore({ env: e, dir, tables: v1, migrationBatchSize: 100 });
    expect(s1.range('users').filter((r) => r.tier !== 'bronze')).toEqual([]);
    expect(s1.count('users')).toBe(500);
    expect((await s1.info()).migrationInProgress).toBeUndefined();
    expect((await s1.verify()).problems).toEqual([]);
    await s1.transaction((tx) => {
      const u = tx.get('users', 7)!;
      tx.put('users', { ...u, name: 'seven' });
    });
    await s1.close();
    await expect(openStore({ env: e, dir, tables: v0 })).rejects.toMatchObject({ code: 'ORDO_STORE_SCHEMA_REFUSED' });

    // a marker left by a migration that completed (killed between the catalog write and the marker's removal) is cleared
    const kv = e.io.kv!;
    const raw = await kv.open(dir, { columns: COLUMNS, createIfMissing: false });
    const tool2 = { tables: (await (async () => {
      const v = await raw.get('meta', metaKey(META.catalog));
      return (JSON.parse(v!.subarray(5).toString('utf8')) as { tables: never[] }).tables;
    })()) };
    await raw.write([{ type: 'put', column: 'meta', key: metaKey(META.migration), value: encodeValue({ startedAt: 1, from: 0, pending: [], target: schemaHash(tool2.tables) }) }], { sync: true });
    await raw.close();
    const s2 = await openStore({ env: e, dir, tables: v1 });
    expect((await s2.info()).migrationInProgress).toBeUndefined();
    expect(e.records.some((r) => r['report'] === 'store_stale_migration_marker')).toBe(true);
    await s2.close();
  }, 60_000);
});
