import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { openStore } from '../../src/store/openStore.ts';
import type { KvAdapter } from '../../src/env/kv.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import type { Migration, TableDef } from '../../src/store/types.ts';
import { env, tempDir } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const v0: TableDef = {
  type: 'ordered_set',
  key: 'id',
  attributes: { id: { type: 'integer' }, name: { type: 'string' }, balance: { type: 'integer', default: 0 } },
  indexes: ['balance'],
};

async function seeded(n = 50): Promise<{ dir: string; e: ReturnType<typeof env> }> {
  const { dir, cleanup } = tempDir('ordo-mig-');
  cleanups.push(cleanup);
  const e = env();
  const s = await openStore({ env: e, dir, tables: { users: v0 } });
  await s.dirtyPutMany('users', Array.from({ length: n }, (_, i) => ({ id: i, name: `user${i}`, balance: i * 10 })));
  await s.close();
  return { dir, e };
}

const withAttrs = (attrs: TableDef['attributes'], extra: Partial<TableDef> = {}): TableDef => ({ ...v0, attributes: attrs, ...extra });

describe('automatic migrations', () => {
  it('an added attribute with a default is back-filled in batches, after a backup', async () => {
    const { dir, e } = await seeded(50);
    const v1 = withAttrs({ ...v0.attributes, tier: { type: 'string', default: 'bronze' } });
    const s = await openStore({ env: e, dir, tables: { users: v1 }, migrationBatchSize: 7 });
    expect(s.count('users')).toBe(50);
    expect(s.range('users').every((r) => r.tier === 'bronze')).toBe(true);
    expect(readdirSync(`${dir}/backups`).some((f) => f.startsWith('pre-migration-v0-to-v0'))).toBe(true);
    expect((await s.verify()).ok).toBe(true);
    await s.close();
    // reopening with the same schema is a no-op and rows stay migrated on disk
    const again = await openStore({ env: e, dir, tables: { users: v1 } });
    expect(again.get('users', 3)).toEqual({ id: 3, name: 'user3', balance: 30, tier: 'bronze' });
    await again.close();
  });

  it('new tables and new indexes are created and built; dropped indexes are removed from disk', async () => {
    const { dir, e } = await seeded(20);
    const s = await openStore({
      env: e,
      dir,
      tables: { users: { ...v0, indexes: ['name'] }, audit: { type: 'bag', key: 'id', attributes: { id: { type: 'integer' }, what: { type: 'string' } } } },
    });
    expect(s.indexRead('users', 'name', 'user7').map((r) => r.id)).toEqual([7]);
    expect(() => s.indexRead('users', 'balance', 70)).toThrow(expect.objectContaining({ code: 'ORDO_STORE_VALIDATION' }));
    await s.dirtyPut('audit', { id: 1, what: 'x' });
    const report = await s.verify();
    expect(report.problems).toEqual([]);
    expect(report.indexEntries).toBe(20);
    await s.close();
  });

  it('a stored table the code no longer declares is kept, never dropped', async () => {
    const { dir, e } = await seeded(5);
    const s = await openStore({ env: e, dir, tables: { other: { key: 'k', attributes: { k: { type: 'string' } } } } });
    expect(s.count('users')).toBe(5);
    await s.close();
    const back = await openStore({ env: e, dir, tables: { users: v0 } });
    expect(back.count('users')).toBe(5);
    await back.close();
  });
});

describe('refused schema changes (no numbered migration)', () => {
  const cases: Array<[string, TableDef, string, string | undefined]> = [
    ['removed attribute', withAttrs({ id: { type: 'integer' }, balance: { type: 'integer', default: 0 } }), 'removed_attribute', 'name'],
    ['renamed attribute', withAttrs({ id: { type: 'integer' }, full_name: { type: 'string' }, balance: { type: 'integer', default: 0 } }), 'renamed_attribute', 'name'],
    ['retyped attribute', withAttrs({ id: { type: 'integer' }, name: { type: 'integer' }, balance: { type: 'integer', default: 0 } }), 'retyped_attribute', 'name'],
    ['added attribute without default', withAttrs({ ...v0.attributes, email: { type: 'string' } }), 'added_without_default', 'email'],
    ['reordered attributes', withAttrs({ id: { type: 'integer' }, balance: { type: 'integer', default: 0 }, name: { type: 'string' } }), 'reordered_attributes', undefined],
    ['changed key', withAttrs(v0.attributes, { key: 'name' }), 'changed_key', undefined],
    ['changed table type', withAttrs(v0.attributes, { type: 'bag' }), 'changed_type', undefined],
    ['disc → ram', withAttrs(v0.attributes, { storage: 'ram' }), 'changed_storage', undefined],
  ];
  it.each(cases)('%s is refused with a typed error naming it, and nothing changes', async (_name, declared, kind, attribute) => {
    const { dir, e } = await seeded(10);
    const err = await openStore({ env: e, dir, tables: { users: declared } }).catch((x: unknown) => x);
    expect(err).toMatchObject({ code: 'ORDO_STORE_SCHEMA_REFUSED', table: 'users' });
    const changes = (err as { changes: Array<{ kind: string; attribute?: string }> }).changes;
    expect(changes.map((c) => c.kind)).toContain(kind);
    if (attribute) expect(changes.find((c) => c.kind === kind)?.attribute).toBe(attribute);
    const s = await openStore({ env: e, dir, tables: { users: v0 } });
    expect(s.count('users')).toBe(10);
    expect(s.get('users', 4)).toEqual({ id: 4, name: 'user4', balance: 40 });
    await s.close();
  });
});

describe('numbered migrations', () => {
  const renamed = withAttrs({ id: { type: 'integer' }, full_name: { type: 'string' }, balance: { type: 'integer', default: 0 }, tier: { type: 'string', default: 'none' } });
  const rename: Migration = {
    version: 1,
    description: 'rename name to full_name',
    up(tx) {
      tx.transform('users', ({ name, ...rest }) => ({ ...rest, full_name: String(name).toUpperCase() }));
    },
  };

  it('cover a rename: rows rewritten atomically, version and history recorded with the clock', async () => {
    const { dir, e } = await seeded(30);
    await e.clock.advance(5000);
    const s = await openStore({ env: e, dir, tables: { users: renamed }, migrations: [rename] });
    expect(s.schemaVersion).toBe(1);
    expect(s.get('users', 2)).toEqual({ id: 2, full_name: 'USER2', balance: 20, tier: 'none' });
    const h = s.schemaHistory();
    expect(h[h.length - 1]).toEqual({ version: 1, appliedAt: 1_700_000_005_000, description: 'rename name to full_name' });
    expect((await s.verify()).problems).toEqual([]);
    const info = await s.info();
    expect(info.schemaVersion).toBe(1);
    await s.close();
    expect(readdirSync(`${dir}/backups`).some((f) => f.startsWith('pre-migration-v0-to-v1'))).toBe(true);
  });

  it('a migration that leaves rows not fitting the schema fails and commits nothing', async () => {
    const { dir, e } = await seeded(10);
    const lazy: Migration = { version: 1, description: 'forgets to rename', up: () => undefined };
    await expect(openStore({ env: e, dir, tables: { users: renamed }, migrations: [lazy] })).rejects.toMatchObject({ code: 'ORDO_STORE_MIGRATION', version: 1 });
    const s = await openStore({ env: e, dir, tables: { users: v0 } });
    expect(s.schemaVersion).toBe(0);
    expect(s.get('users', 1)).toEqual({ id: 1, name: 'user1', balance: 10 });
    await s.close();
  });

  it('a migration that dies half-way commits nothing; reopening runs it to completion', async () => {
    const { dir, e } = await seeded(40);
    let seen = 0;
    const dying: Migration = {
      version: 1,
      description: 'rename name to full_name',
      up(tx) {
        tx.transform('users', ({ name, ...rest }) => {
          if (++seen === 20) throw new Error('process died');
          return { ...rest, full_name: String(name).toUpperCase() };
        });
      },
    };
    await expect(openStore({ env: e, dir, tables: { users: renamed }, migrations: [dying] })).rejects.toMatchObject({ code: 'ORDO_STORE_MIGRATION' });
    const s = await openStore({ env: e, dir, tables: { users: renamed }, migrations: [rename] });
    expect(s.schemaVersion).toBe(1);
    expect(s.range('users').every((r) => r.full_name === `USER${r.id}` && !('name' in r))).toBe(true);
    await s.close();
  });

  it('a back-fill interrupted by a disk failure resumes on reopen', async () => {
    const { dir, e } = await seeded(60);
    const rocks = createRocksKv();
    let writes = 0;
    const flaky: KvAdapter = {
      exists: (d) => rocks.exists(d),
      async open(d, o) {
        const db = await rocks.open(d, o);
        return {
          ...db,
          dir: db.dir,
          write: async (ops, w) => {
            if (++writes === 6) throw new Error('EIO: disk gone');
            return db.write(ops, w);
          },
          get: (c, k) => db.get(c, k),
          iterator: (c, r) => db.iterator(c, r),
          close: () => db.close(),
          defer: (f) => db.defer(f),
        };
      },
    };
    const v1 = withAttrs({ ...v0.attributes, tier: { type: 'string', default: 'bronze' } });
    await expect(openStore({ env: e, dir, tables: { users: v1 }, migrationBatchSize: 10, kv: flaky })).rejects.toMatchObject({ code: 'ORDO_STORE_IO' });
    const s = await openStore({ env: e, dir, tables: { users: v1 }, migrationBatchSize: 10 });
    expect(s.range('users').filter((r) => r.tier === 'bronze')).toHaveLength(60);
    expect((await s.info()).migrationInProgress).toBeUndefined();
    await s.close();
  });

  it('data written by a newer schema version is refused at open, never downgraded', async () => {
    const { dir, e } = await seeded(5);
    const s = await openStore({ env: e, dir, tables: { users: renamed }, migrations: [rename] });
    await s.close();
    const err = await openStore({ env: e, dir, tables: { users: v0 } }).catch((x: unknown) => x);
    expect(err).toMatchObject({ code: 'ORDO_STORE_NEWER_SCHEMA', storedVersion: 1, knownVersion: 0 });
    const again = await openStore({ env: e, dir, tables: { users: renamed }, migrations: [rename] });
    expect(again.get('users', 1)).toMatchObject({ full_name: 'USER1' });
    await again.close();
  });
});
