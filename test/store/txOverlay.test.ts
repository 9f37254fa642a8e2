import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openStore } from '../../src/store/openStore.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import { createTestEnv } from '../../src/env/env.ts';
import type { Row } from '../../src/store/types.ts';

// A transaction's view of its own writes (src/store/transaction.ts): a set table's put and any
// delete are folded into the view only when something reads it (a blind write builds no Maps),
// a bag's put or object delete at once. Whatever the order of writes, reads and rolled-back
// joined transactions, the view and the commit are those of the writes in order.

const tables = {
  s: { key: 'k', attributes: { k: { type: 'integer' as const }, x: { type: 'integer' as const } } },
  b: { type: 'bag' as const, key: 'k', attributes: { k: { type: 'integer' as const }, x: { type: 'integer' as const } } },
};

type Step =
  | { readonly t: 'put'; readonly table: 's' | 'b'; readonly k: number; readonly x: number }
  | { readonly t: 'delete'; readonly table: 's' | 'b'; readonly k: number }
  | { readonly t: 'deleteObject'; readonly k: number; readonly x: number }
  | { readonly t: 'read'; readonly table: 's' | 'b'; readonly k: number }
  | { readonly t: 'range'; readonly table: 's' | 'b' }
  | { readonly t: 'nestedFails'; readonly steps: readonly Step[] };

const K = fc.integer({ min: 0, max: 3 });
const X = fc.integer({ min: 0, max: 2 });
const table = fc.constantFrom('s' as const, 'b' as const);
const flat: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ t: fc.constant('put' as const), table, k: K, x: X }),
  fc.record({ t: fc.constant('delete' as const), table, k: K }),
  fc.record({ t: fc.constant('deleteObject' as const), k: K, x: X }),
  fc.record({ t: fc.constant('read' as const), table, k: K }),
  fc.record({ t: fc.constant('range' as const), table }),
);
const step: fc.Arbitrary<Step> = fc.oneof({ weight: 6, arbitrary: flat }, { weight: 1, arbitrary: fc.record({ t: fc.constant('nestedFails' as const), steps: fc.array(flat, { maxLength: 4 }) }) });

/** The model: per table, the rows as `[k, x]` pairs (a set: one per k; a bag: distinct objects per k). */
type Model = { s: Map<number, number>; b: Array<[number, number]> };
const copy = (m: Model): Model => ({ s: new Map(m.s), b: m.b.map(([k, x]) => [k, x]) });
function modelApply(m: Model, st: Step): void {
  if (st.t === 'put') {
    if (st.table === 's') m.s.set(st.k, st.x);
    else if (!m.b.some(([k, x]) => k === st.k && x === st.x)) m.b.push([st.k, st.x]);
  } else if (st.t === 'delete') {
    if (st.table === 's') m.s.delete(st.k);
    else m.b = m.b.filter(([k]) => k !== st.k);
  } else if (st.t === 'deleteObject') m.b = m.b.filter(([k, x]) => !(k === st.k && x === st.x));
}
const viewOf = (m: Model, t: 's' | 'b', k?: number): string[] =>
  (t === 's' ? [...m.s].map(([kk, x]) => [kk, x] as const) : m.b.map(([kk, x]) => [kk, x] as const))
    .filter(([kk]) => k === undefined || kk === k)
    .map(([kk, x]) => `${kk}:${x}`)
    .sort();
const rowsOf = (rows: readonly Row[]): string[] => rows.map((r) => `${r['k']}:${r['x']}`).sort();

let dirs = 0;

describe("store: a transaction's view of its own writes", () => {
  it('property: reads, the committed rows and a rolled-back joined transaction agree with the writes in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 12 }), fc.array(fc.tuple(K, X), { maxLength: 4 }), async (steps, seed) => {
        const store = await openStore({ env: createTestEnv({ level: 'silent', seed: 1 }), dir: `/ov${dirs++}`, kv: createMemoryKv(), tables });
        try {
          const m: Model = { s: new Map(), b: [] };
          for (const [k, x] of seed) {
            await store.dirtyPut('s', { k, x });
            await store.dirtyPut('b', { k, x });
            modelApply(m, { t: 'put', table: 's', k, x });
            modelApply(m, { t: 'put', table: 'b', k, x });
          }
          let model = copy(m);
          const run = (tx: Parameters<Parameters<typeof store.transaction>[0]>[0], st: Step, mm: Model): void => {
            if (st.t === 'put') tx.put(st.table, { k: st.k, x: st.x });
            else if (st.t === 'delete') tx.delete(st.table, st.k);
            else if (st.t === 'deleteObject') tx.deleteObject('b', { k: st.k, x: st.x });
            else if (st.t === 'read') expect(rowsOf(tx.read(st.table, st.k))).toEqual(viewOf(mm, st.table, st.k));
            else if (st.t === 'range') expect(rowsOf(tx.range(st.table))).toEqual(viewOf(mm, st.table));
            modelApply(mm, st);
          };
          await store.transaction(async (tx) => {
            model = copy(m);
            for (const st of steps) {
              if (st.t !== 'nestedFails') {
                run(tx, st, model);
                continue;
              }
              // a joined transaction that throws leaves none of its writes
              const inner = copy(model);
              await expect(
                store.transaction((t2) => {
                  for (const s2 of st.steps) run(t2, s2, inner);
                  throw new Error('rolled back');
                }),
              ).rejects.toThrow('rolled back');
            }
            expect(rowsOf(tx.range('s'))).toEqual(viewOf(model, 's'));
            expect(rowsOf(tx.range('b'))).toEqual(viewOf(model, 'b'));
          });
          expect(rowsOf(store.range('s'))).toEqual(viewOf(model, 's'));
          expect(rowsOf(store.range('b'))).toEqual(viewOf(model, 'b'));
        } finally {
          await store.close();
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a blind write to a set table builds no view until something reads it', async () => {
    const store = await openStore({ env: createTestEnv({ level: 'silent', seed: 1 }), dir: `/ov${dirs++}`, kv: createMemoryKv(), tables });
    let before: unknown = 'unset';
    let after: unknown = 'unset';
    await store.transaction((tx) => {
      tx.put('s', { k: 1, x: 1 });
      tx.delete('s', 2);
      before = (tx as unknown as { overlays: unknown }).overlays;
      expect(tx.get('s', 1)?.['x']).toBe(1);
      after = (tx as unknown as { overlays: unknown }).overlays;
    });
    expect(before).toBeUndefined();
    expect(after).toBeInstanceOf(Map);
    expect(store.get('s', 1)?.['x']).toBe(1);
    await store.close();
  });
});
