import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import type { Tx } from '../../src/store/transaction.ts';
import type { Migration, TableDef } from '../../src/store/types.ts';
import { env, tempDir } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const t: TableDef = { key: 'k', attributes: { k: { type: 'string' }, v: { type: 'integer', default: 0 } } };

async function store(tables: Record<string, TableDef> = { t }): Promise<Store> {
  const { dir, cleanup } = tempDir('ordo-tx-');
  cleanups.push(cleanup);
  const s = await openStore({ env: env(), dir, tables });
  cleanups.push(() => s.close());
  return s;
}

describe('nested transactions join the outer one (Mnesia)', () => {
  it('defect 10: a transaction nested inside one that has lost two conflicts completes, and later transactions run', { timeout: 20_000 }, async () => {
    const s = await store();
    let runs = 0;
    const result = await s.transaction(async (tx) => {
      runs++;
      const v = (tx.get('t', 'hot')?.v as number | undefined) ?? 0;
      // a concurrent writer changes what this transaction read, twice: it re-runs exclusively
      if (runs <= 2) await s.dirtyPut('t', { k: 'hot', v: v + 100 });
      const inner = await s.transaction(async (itx) => {
        itx.put('t', { k: 'inner', v: runs });
        return itx.get('t', 'hot')?.v;
      });
      tx.put('t', { k: 'hot', v: v + 1 });
      return inner;
    });
    expect(runs).toBe(3);
    expect(result).toBe(200);
    expect(s.get('t', 'hot')).toEqual({ k: 'hot', v: 201 });
    expect(s.get('t', 'inner')).toEqual({ k: 'inner', v: 3 });
    // every later transaction still runs
    await Promise.all(Array.from({ length: 10 }, (_, i) => s.transaction((tx) => void tx.put('t', { k: `after${i}`, v: i }))));
    expect(s.count('t')).toBe(12);
  });

  it('defect 10: a joined transaction sees the outer writes; one that throws leaves none of its writes, the outer goes on', { timeout: 20_000 }, async () => {
    const s = await store();
    await s.transaction(async (tx) => {
      tx.put('t', { k: 'a', v: 1 });
      expect(await s.transaction((itx) => itx.get('t', 'a')?.v)).toBe(1);
      await expect(
        s.transaction((itx) => {
          itx.put('t', { k: 'b', v: 2 });
          itx.delete('t', 'a');
          throw new Error('inner fails');
        }),
      ).rejects.toThrow('inner fails');
      expect(tx.get('t', 'a')).toEqual({ k: 'a', v: 1 });
      expect(tx.get('t', 'b')).toBeUndefined();
      tx.put('t', { k: 'c', v: 3 });
    });
    expect(s.range('t').map((r) => r.k)).toEqual(['a', 'c']);
  });

  it('defect 10: a transaction started from inside one that has finished runs on its own', { timeout: 20_000 }, async () => {
    const s = await store();
    let later: Promise<unknown> | undefined;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await s.transaction((tx) => {
      tx.put('t', { k: 'outer', v: 1 });
      later = gate.then(() => s.transaction((itx) => void itx.put('t', { k: 'detached', v: 2 })));
    });
    release();
    await later;
    expect(s.get('t', 'detached')).toEqual({ k: 'detached', v: 2 });
  });

  it('defect 10: a change listener\'s transaction never joins the transaction whose dirty write it reacts to', { timeout: 20_000 }, async () => {
    const s = await store({ t, log: { key: 'k', attributes: { k: { type: 'string' } } } });
    let fromListener: Promise<unknown> | undefined;
    s.subscribe('log', (ev) => {
      fromListener ??= s.transaction((tx) => void tx.put('t', { k: `seen-${String(ev.key)}`, v: 1 }));
    });
    await expect(
      s.transaction(async (tx) => {
        tx.put('t', { k: 'outer', v: 1 });
        await s.dirtyPut('log', { k: 'x' });
        await fromListener;
        throw new Error('outer fails after the listener committed');
      }),
    ).rejects.toThrow('outer fails');
    // the listener's transaction resolved, so its write is stored — not lost with the outer one
    expect(s.get('t', 'seen-x')).toEqual({ k: 'seen-x', v: 1 });
    expect(s.get('t', 'outer')).toBeUndefined();
  });
});

describe('arguments validated at the call', () => {
  it('defect 12: put, delete and deleteObject on a transaction that has committed → ORDO_STORE_TX_FINISHED, nothing silently dropped', async () => {
    const s = await store();
    let kept: Tx | undefined;
    await s.transaction((tx) => {
      kept = tx;
      tx.put('t', { k: 'a' });
    });
    expect(() => kept!.put('t', { k: 'late', v: 1 })).toThrow(expect.objectContaining({ code: 'ORDO_STORE_TX_FINISHED', table: 't', value: { k: 'late', v: 1 } }));
    expect(() => kept!.delete('t', 'a')).toThrow(expect.objectContaining({ code: 'ORDO_STORE_TX_FINISHED', value: 'a' }));
    expect(() => kept!.deleteObject('t', { k: 'a' })).toThrow(expect.objectContaining({ code: 'ORDO_STORE_TX_FINISHED' }));
    expect(s.range('t')).toEqual([{ k: 'a', v: 0 }]);
  });

  it('defect 12: retries NaN/-1/1.5 and select({ limit: 0 }) → ORDO_STORE_ARGUMENT carrying the value', async () => {
    const s = await store();
    await s.dirtyPutMany('t', [{ k: 'a' }, { k: 'b' }]);
    for (const retries of [NaN, -1, 1.5, '3']) {
      await expect(s.transaction(() => 1, { retries: retries as number })).rejects.toMatchObject({ code: 'ORDO_STORE_ARGUMENT', argument: 'retries', value: retries });
    }
    for (const limit of [0, -1, 1.5, NaN]) {
      expect(() => s.select('t', () => true, { limit })).toThrow(expect.objectContaining({ code: 'ORDO_STORE_ARGUMENT', argument: 'limit', value: limit }));
      expect(() => s.range('t', undefined, undefined, { limit: limit === 0 ? -2 : limit })).toThrow(expect.objectContaining({ code: 'ORDO_STORE_ARGUMENT', argument: 'limit' }));
    }
    expect(s.select('t', () => true, { limit: 1 }).rows).toHaveLength(1);
    expect(s.range('t', undefined, undefined, { limit: 0 })).toEqual([]);
  });

  it('defect 12: declarations are validated at open: type strng, table type hash, a wrong-typed default, a null definition → ORDO_STORE_VALIDATION with the value', async () => {
    const bad: Array<[Record<string, unknown>, Record<string, unknown>]> = [
      [{ t: { key: 'k', attributes: { k: { type: 'strng' } } } }, { table: 't', attribute: 'k', value: 'strng' }],
      [{ t: { type: 'hash', key: 'k', attributes: { k: { type: 'string' } } } }, { table: 't', value: 'hash' }],
      [{ t: { key: 'k', attributes: { k: { type: 'string' }, n: { type: 'integer', default: 'zero' } } } }, { table: 't', attribute: 'n', value: 'zero' }],
      [{ t: { key: 'k', attributes: { k: { type: 'string' }, n: { type: 'integer', default: null } } } }, { table: 't', attribute: 'n', value: null }],
      [{ t: { key: 'k', attributes: { k: { type: 'string' }, j: { type: 'json', default: 10n } } } }, { table: 't', attribute: 'j', value: 10n }],
      [{ t: null }, { table: 't', value: null }],
      [{ t: { key: 'k', attributes: null } }, { table: 't', value: null }],
      [{ t: { key: 'k', attributes: { k: { type: 'string' } }, storage: 'disk' } }, { table: 't', value: 'disk' }],
    ];
    const { dir, cleanup } = tempDir('ordo-decl-');
    cleanups.push(cleanup);
    for (const [tables, fields] of bad) {
      await expect(openStore({ env: env(), dir, tables: tables as Record<string, TableDef> })).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION', problem: 'bad_declaration', ...fields });
    }
    // nothing was left open or created half-way: a good declaration opens
    const s = await openStore({ env: env(), dir, tables: { t } });
    expect(s.tableNames()).toEqual(['t']);
    await s.close();
  });

  it('defect 12: migration versions NaN, -1, 1.5 → ORDO_STORE_ARGUMENT with the version', async () => {
    const { dir, cleanup } = tempDir('ordo-decl-');
    cleanups.push(cleanup);
    for (const version of [NaN, -1, 1.5, 0]) {
      const m: Migration = { version, description: 'bad', up: () => undefined };
      await expect(openStore({ env: env(), dir, tables: { t }, migrations: [m] })).rejects.toMatchObject({ code: 'ORDO_STORE_ARGUMENT', argument: 'migration.version', value: version });
    }
    const s = await openStore({ env: env(), dir, tables: { t }, migrations: [{ version: 1, description: 'ok', up: () => undefined }] });
    expect(s.schemaVersion).toBe(1);
    await s.close();
  });
});
