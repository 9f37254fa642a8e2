import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { TableDef } from '../../src/store/types.ts';
import { openedTemp } from './helpers.ts';

// An update that carries a json attribute of the stored row over keeps the store's own checked,
// deep-frozen copy as it is (no second deep copy per claim/completion of a job); a caller's
// object — frozen or not — is still checked and copied, and a bad value inside it still refused.

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tables: Record<string, TableDef> = {
  docs: { key: 'id', attributes: { id: { type: 'integer' }, doc: { type: 'json', nullable: true }, n: { type: 'integer', default: 0 } } },
};

const opened = (): ReturnType<typeof openedTemp> => openedTemp(tables, 'ordo-checked-', cleanups);

const deepFrozen = (v: unknown): boolean => typeof v !== 'object' || v === null || (Object.isFrozen(v) && Object.values(v).every(deepFrozen));

describe('a checked copy carried over by an update', () => {
  it('is kept as it is, in a transaction and a dirty write', async () => {
    const { s } = await opened();
    await s.dirtyPut('docs', { id: 1, doc: { args: [1, { deep: 'x' }], meta: {} } });
    const first = s.get('docs', 1)!;
    await s.transaction((tx) => void tx.put('docs', { ...first, n: 1 }));
    const second = s.get('docs', 1)!;
    expect(second['n']).toBe(1);
    expect(second['doc']).toBe(first['doc']);
    await s.dirtyPut('docs', { ...second, n: 2 });
    expect(s.get('docs', 1)!['doc']).toBe(first['doc']);
  });

  it("copies a caller's object even when the caller froze it, and still refuses a bad value inside a frozen one", async () => {
    const { s } = await opened();
    const mine = Object.freeze({ a: Object.freeze([1, 2]) });
    await s.dirtyPut('docs', { id: 1, doc: mine });
    expect(s.get('docs', 1)!['doc']).not.toBe(mine);
    expect(s.get('docs', 1)!['doc']).toEqual({ a: [1, 2] });
    const bad = Object.freeze({ a: Object.freeze([1, -0]) });
    await expect(s.dirtyPut('docs', { id: 2, doc: bad })).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION', table: 'docs', attribute: 'doc', problem: 'bad_value' });
    expect(s.get('docs', 2)).toBeUndefined();
  });

  it('a row carried over many times reads back equal after a reopen, deep-frozen (property)', async () => {
    const json = fc.jsonValue().filter((v) => !Object.is(v, -0) && JSON.stringify(v) !== undefined);
    await fc.assert(
      fc.asyncProperty(json, fc.integer({ min: 1, max: 4 }), async (doc, updates) => {
        const { s, reopen } = await opened();
        await s.dirtyPut('docs', { id: 7, doc });
        for (let i = 1; i <= updates; i++) {
          const cur = s.get('docs', 7)!;
          if (i % 2) await s.transaction((tx) => void tx.put('docs', { ...cur, n: i }));
          else await s.dirtyPut('docs', { ...cur, n: i });
        }
        const live = s.get('docs', 7)!;
        expect(live['n']).toBe(updates);
        expect(deepFrozen(live)).toBe(true);
        const again = (await reopen()).get('docs', 7)!;
        expect(again).toEqual(live);
        expect(JSON.parse(JSON.stringify(again['doc']))).toEqual(JSON.parse(JSON.stringify(doc)));
      }),
      { numRuns: 25 },
    );
  });
});
