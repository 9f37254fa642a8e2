import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import type { Migration, Row, TableDef } from '../../src/store/types.ts';
import { env, tempDir } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dirOf(): string {
  const { dir, cleanup } = tempDir('ordo-input-');
  cleanups.push(cleanup);
  return dir;
}

async function open(dir: string, tables: Record<string, TableDef>, migrations?: Migration[], e = env()): Promise<Store> {
  const s = await openStore({ env: e, dir, tables, ...(migrations ? { migrations } : {}) });
  cleanups.push(() => s.close());
  return s;
}

const bag: TableDef = { type: 'bag', key: 'k', attributes: { k: { type: 'integer' }, x: { type: 'integer' } }, indexes: ['x'] };
const bagPlus: TableDef = { ...bag, attributes: { ...bag.attributes, tag: { type: 'string', default: 'none' } } };

describe('bag tables and added attributes', () => {
  async function seededBag(): Promise<string> {
    const dir = dirOf();
    const s = await open(dir, { b: bag });
    await s.dirtyPutMany('b', Array.from({ length: 300 }, (_, i) => ({ k: i % 100, x: i })));
    expect(s.count('b')).toBe(300);
    await s.close();
    return dir;
  }

  it('defect 6: a bag table that gains a defaulted attribute keeps its object count', async () => {
    const dir = await seededBag();
    const s = await openStore({ env: env(), dir, tables: { b: bagPlus }, migrationBatchSize: 7 });
    expect(s.count('b')).toBe(300);
    expect(s.read('b', 5).map((r) => r.x).sort((a, b) => (a as number) - (b as number))).toEqual([5, 105, 205]);
    expect(s.range('b').every((r) => r.tag === 'none')).toBe(true);
    expect(await s.verify()).toMatchObject({ ok: true, rows: 300 });
    await s.close();
    const again = await open(dir, { b: bagPlus });
    expect(again.count('b')).toBe(300);
    expect(again.indexRead('b', 'x', 42)).toEqual([{ k: 42, x: 42, tag: 'none' }]);
  });

  it('defect 6: a bag table that gains a defaulted attribute with a numbered migration keeps its object count', async () => {
    const dir = await seededBag();
    const m: Migration = { version: 1, description: 'tag bag objects', up: () => undefined };
    const s = await openStore({ env: env(), dir, tables: { b: bagPlus }, migrations: [m] });
    expect(s.count('b')).toBe(300);
    expect(await s.verify()).toMatchObject({ ok: true, rows: 300 });
    await s.close();
    // a migration that transforms the objects of the old shape
    const bagMore: TableDef = { ...bagPlus, attributes: { ...bagPlus.attributes, y: { type: 'integer', default: 0 } } };
    const m2: Migration = { version: 2, description: 'y = 2x', up: (tx) => void tx.transform('b', (r) => ({ ...r, y: (r.x as number) * 2 })) };
    const t = await open(dir, { b: bagMore }, [m, m2]);
    expect(t.count('b')).toBe(300);
    expect(t.read('b', 7).map((r) => r.y).sort((a, b) => (a as number) - (b as number))).toEqual([14, 214, 414]);
    expect(await t.verify()).toMatchObject({ ok: true, rows: 300 });
  });
});

describe('names that exist on Object.prototype', () => {
  const names = ['constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty'];
  /** An object with `name` as an own property (a literal `{ __proto__: v }` would set the prototype). */
  const own = <T>(name: string, v: T, base: Record<string, unknown> = {}): Record<string, T> => {
    const o = { ...base } as Record<string, T>;
    Object.defineProperty(o, name, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  };
  const def = (name: string): TableDef => ({ key: 'id', attributes: own(name, { type: 'string', default: 'dflt' }, { id: { type: 'integer' } }) as TableDef['attributes'], indexes: [name] });

  for (const name of names) {
    it(`defect 9: '${name}' as a table and an attribute name: declare, write, default, read, reopen, migration`, async () => {
      const dir = dirOf();
      const e = env();
      let s = await openStore({ env: e, dir, tables: own(name, def(name)) });
      expect(s.tableNames()).toEqual([name]);
      expect(s.tableDef(name)!.attributes.map((a) => a.name)).toEqual(['id', name]);
      await s.dirtyPut(name, own(name, 'x', { id: 1 }));
      const dflt = await s.dirtyPut(name, { id: 2 });
      expect(Object.hasOwn(dflt, name) && dflt[name]).toBe('dflt');
      expect(Object.hasOwn(s.get(name, 1)!, name) && s.get(name, 1)![name]).toBe('x');
      expect(s.get(name, 2)![name]).toBe('dflt');
      expect(s.indexRead(name, name, 'x').map((r) => r.id)).toEqual([1]);
      expect(s.match(name, own(name, 'dflt')).map((r) => r.id)).toEqual([2]);
      await s.close();
      // reopened without declaring it: the stored table stays in the catalog
      s = await openStore({ env: e, dir, tables: { other: { key: 'id', attributes: { id: { type: 'integer' } } } } });
      expect(s.tableNames()).toContain(name);
      expect(s.count(name)).toBe(2);
      await s.close();
      // redeclared: its rows are there
      s = await openStore({ env: e, dir, tables: own(name, def(name)) });
      expect(s.count(name)).toBe(2);
      expect(JSON.parse(JSON.stringify(s.range(name)))).toEqual([own(name, 'x', { id: 1 }), own(name, 'dflt', { id: 2 })]);
      await s.close();
      // migration: a table of plain rows gains the attribute with a default; then a numbered one
      const plainDir = dirOf();
      s = await openStore({ env: e, dir: plainDir, tables: { t: { key: 'id', attributes: { id: { type: 'integer' } } } } });
      await s.dirtyPutMany('t', [{ id: 1 }, { id: 2 }]);
      await s.close();
      s = await openStore({ env: e, dir: plainDir, tables: { t: def(name) } });
      expect(s.range('t').map((r) => Object.hasOwn(r, name) && r[name])).toEqual(['dflt', 'dflt']);
      await s.close();
      const withN: TableDef = { ...def(name), attributes: { ...def(name).attributes, n: { type: 'integer', default: 0 } } };
      const up: Migration = { version: 1, description: `touch ${name}`, up: (tx) => void tx.transform('t', (r) => ({ ...r, n: 1 })) };
      s = await open(plainDir, { t: withN }, [up], e);
      expect(s.range('t').map((r) => [r[name], r.n])).toEqual([['dflt', 1], ['dflt', 1]]);
      expect((await s.verify()).ok).toBe(true);
    });
  }

  it('defect 9: an inherited name is never read as an attribute value', async () => {
    const dir = dirOf();
    const s = await open(dir, { t: { key: 'id', attributes: { id: { type: 'integer' }, constructor: { type: 'any' as const, nullable: true }, toString: { type: 'json' as const, default: 0 } } } });
    const row = await s.dirtyPut('t', { id: 1 });
    expect(row).toEqual({ id: 1, constructor: null, toString: 0 });
    expect(typeof s.get('t', 1)!.constructor).not.toBe('function');
  });
});

describe('hostile names (fast-check)', () => {
  it('defect 9: any table and attribute names (prototype names, unicode, lone surrogates): declare, write, default, read, reopen', async () => {
    const name = fc.oneof(
      fc.constantFrom('constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', 'then', 'length', '0', ''),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }),
      fc.string({ unit: fc.constantFrom('\ud800', '\udfff', 'a', '.', '/', '\u0000', '😀'), minLength: 1, maxLength: 4 }),
    );
    const dir = dirOf();
    const e = env();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(name, { minLength: 2, maxLength: 3 }), name, async ([table, key, attr], other) => {
        run++;
        const attrs: Record<string, unknown> = {};
        Object.defineProperty(attrs, key!, { value: { type: 'string' }, enumerable: true });
        if (attr !== undefined) Object.defineProperty(attrs, attr, { value: { type: 'json', default: { d: 1 } }, enumerable: true });
        const tables: Record<string, TableDef> = {};
        Object.defineProperty(tables, table!, { value: { key: key!, attributes: attrs, indexes: [key!] }, enumerable: true });
        const sub = `${dir}/${run}`;
        let s = await openStore({ env: e, dir: sub, tables });
        try {
          expect(s.tableNames()).toEqual([table]);
          const rec: Record<string, unknown> = {};
          Object.defineProperty(rec, key!, { value: other, enumerable: true });
          const row = await s.dirtyPut(table!, rec);
          expect(Object.keys(row)).toEqual(attr === undefined ? [key] : [key, attr]);
          if (attr !== undefined) expect(row[attr]).toEqual({ d: 1 });
          await s.close();
          s = await openStore({ env: e, dir: sub, tables });
          expect(s.count(table!)).toBe(1);
          expect(s.get(table!, other)).toEqual(row);
          expect(s.indexRead(table!, key!, other)).toEqual([row]);
          expect((await s.verify()).ok).toBe(true);
        } finally {
          await s.close();
        }
      }),
      { numRuns: 25, seed: 9 },
    );
  }, 120_000);
});
