import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Row, TableDef } from '../../src/store/types.ts';
import { openedTemp } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tables: Record<string, TableDef> = {
  docs: { key: 'id', attributes: { id: { type: 'integer' }, doc: { type: 'json', nullable: true }, any: { type: 'any', default: 0 }, n: { type: 'number', default: 1 } } },
};

const opened = (): ReturnType<typeof openedTemp> => openedTemp(tables, 'ordo-values-', cleanups);

/** Equal as the disk format keeps values: primitives by Object.is, arrays dense, objects plain with the same own keys. */
function sameJson(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!(i in a) || !(i in bb) || !sameJson(a[i], bb[i])) return false;
    return Object.getOwnPropertyNames(a).length === a.length + 1 && Object.getOwnPropertySymbols(a).length === 0;
  }
  for (const o of [a, b]) {
    const p = Object.getPrototypeOf(o);
    if ((p !== Object.prototype && p !== null) || Object.getOwnPropertySymbols(o).length > 0) return false;
  }
  const ka = Object.getOwnPropertyNames(a);
  const kb = Object.getOwnPropertyNames(b);
  if (ka.length !== kb.length || ka.some((k) => !Object.hasOwn(b, k))) return false;
  return ka.every((k) => Object.getOwnPropertyDescriptor(a, k)!.enumerable && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** The model: does `v` survive JSON (the disk) unchanged? */
function survivesJson(v: unknown): boolean {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch {
    return false;
  }
  return text !== undefined && sameJson(JSON.parse(text), v);
}

const circular = (): unknown => {
  const o: Record<string, unknown> = { a: 1 };
  o['self'] = o;
  return o;
};
class Point {
  x = 1;
}
const deep = (n: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};
const bad: Array<[string, () => unknown]> = [
  ['BigInt', () => 10n],
  ['nested BigInt', () => ({ a: [1, 2n] })],
  ['circular object', circular],
  ['Date', () => new Date(0)],
  ['Map', () => new Map([[1, 2]])],
  ['Set', () => new Set([1])],
  ['NaN', () => NaN],
  ['Infinity', () => ({ x: Infinity })],
  ['-0', () => -0],
  ['nested -0', () => [0, -0]],
  ['function', () => () => 1],
  ['Symbol', () => Symbol('s')],
  ['undefined inside an array', () => [1, undefined, 3]],
  ['undefined property', () => ({ a: undefined })],
  ['sparse array', () => [1, , 3]], // eslint-disable-line no-sparse-arrays
  ['class instance', () => new Point()],
  ['Uint8Array', () => new Uint8Array([1])],
  ['boxed number', () => Object(1) as unknown],
  ['symbol-keyed property', () => ({ [Symbol('k')]: 1, a: 1 })],
  ['nested 10 000 deep', () => deep(10_000)],
];

describe('values that would not survive the disk', () => {
  it('defect 7: the refusal says why and where, as a path from the value ($, .key, [index])', async () => {
    const { s } = await opened();
    const accessor = Object.defineProperty({ a: 1 }, 'g', { get: () => 1, enumerable: true });
    const hidden = Object.defineProperty({ a: 1 }, 'h', { value: 1, enumerable: false });
    const cases: Array<[unknown, string]> = [
      [10n, 'a BigInt is not JSON at $'],
      [{ a: [1, { b: [0, 0, undefined] }] }, 'undefined does not survive a round trip at $.a[1].b[2]'],
      [[[{ x: -0 }]], '-0 does not survive a round trip (stored as 0) at $[0][0].x'],
      [{ list: [1, , 3] }, 'a sparse array or an array with extra properties does not survive a round trip at $.list'], // eslint-disable-line no-sparse-arrays
      [{ arr: Object.defineProperty([1, 2], 1, { get: () => 2, enumerable: true }) }, 'a hole or an accessor does not survive a round trip at $.arr[1]'],
      [{ o: { p: circular() } }, 'a circular reference is not JSON at $.o.p.self'],
      [{ k: accessor }, 'an accessor property is not JSON at $.k.g'],
      [[hidden], 'a non-enumerable property does not survive a round trip at $[0].h'],
      [{ d: new Date(0) }, 'a Date is not a plain JSON object at $.d'],
    ];
    for (const [v, message] of cases) {
      const err = await s.dirtyPut('docs', { id: 1, doc: v }).then(() => undefined, (e: unknown) => e as { message: string });
      expect(err?.message).toContain(message);
    }
    // the same value refused twice says the same (nothing left over from the first check)
    const again = await s.dirtyPut('docs', { id: 1, doc: { a: [1, { b: [0, 0, undefined] }] } }).then(() => undefined, (e: unknown) => e as { message: string });
    expect(again?.message).toContain('at $.a[1].b[2]');
    // a shared (not circular) object is accepted wherever it appears
    const shared = { z: 1 };
    await s.dirtyPut('docs', { id: 2, doc: { a: shared, b: [shared, shared] } });
    expect(s.get('docs', 2)?.['doc']).toEqual({ a: { z: 1 }, b: [{ z: 1 }, { z: 1 }] });
  });

  for (const [what, make] of bad) {
    it(`defect 7: ${what} in a json/any attribute → ORDO_STORE_VALIDATION naming the attribute, at the write`, async () => {
      const { s, reopen } = await opened();
      const v = make();
      for (const attr of ['doc', 'any']) {
        await expect(s.dirtyPut('docs', { id: 1, [attr]: v })).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION', table: 'docs', attribute: attr, problem: 'bad_value' });
        await expect(s.dirtyPutMany('docs', [{ id: 2 }, { id: 3, [attr]: v }])).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION', attribute: attr });
        await expect(s.transaction((tx) => void tx.put('docs', { id: 4, [attr]: v }))).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION', attribute: attr });
      }
      expect(s.count('docs')).toBe(0);
      expect((await reopen()).count('docs')).toBe(0);
    });
  }

  it('defect 7: -0 in a number attribute is refused too (the disk would store 0)', async () => {
    const { s } = await opened();
    await expect(s.dirtyPut('docs', { id: 1, n: -0 })).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION', attribute: 'n', problem: 'bad_value' });
  });

  it('defect 7: one bad writer in a group-commit batch never fails the others (no false ORDO_STORE_IO)', async () => {
    const { s, reopen } = await opened();
    const results = await Promise.allSettled([
      s.dirtyPut('docs', { id: 1, doc: { ok: true } }),
      s.dirtyPut('docs', { id: 2, doc: { bad: 1n } }),
      s.transaction((tx) => void tx.put('docs', { id: 3, doc: [1] })),
      s.transaction((tx) => void tx.put('docs', { id: 4, doc: circular() })),
      s.dirtyPut('docs', { id: 5 }),
      // a commit that reaches the flush unencodable (past validation): it fails alone
      s.enqueue({ ops: [{ table: 'docs', op: 'put', key: 6, value: { id: 6, doc: 6n, any: 0, n: 1 } }] }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected']);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'ORDO_STORE_VALIDATION' });
    expect(s.range('docs').map((r) => r.id)).toEqual([1, 3, 5]);
    const again = await reopen();
    expect(again.range('docs').map((r) => r.id)).toEqual([1, 3, 5]);
    expect((await again.verify()).ok).toBe(true);
  });

  it('defect 7: rows are owned by the store: mutating the written object or a returned row never changes the stored row', async () => {
    const { s, reopen } = await opened();
    const mine = { id: 1, doc: { points: 1, tags: ['a'] } };
    const written = await s.dirtyPut('docs', mine);
    mine.doc.points = 4242;
    mine.doc.tags.push('b');
    await s.transaction((tx) => {
      const obj = { id: 2, doc: { points: 2 } };
      tx.put('docs', obj);
      obj.doc.points = 4242;
    });
    const row = s.get('docs', 1)!;
    expect(() => ((row.doc as { points: number }).points = 4242)).toThrow(TypeError);
    expect(() => (row as Row).id = 9).toThrow(TypeError);
    expect(() => (written.doc as { tags: string[] }).tags.push('c')).toThrow(TypeError);
    expect(() => ((s.range('docs')[1]!.doc as { points: number }).points = 4242)).toThrow(TypeError);
    expect(s.get('docs', 1)).toEqual({ id: 1, doc: { points: 1, tags: ['a'] }, any: 0, n: 1 });
    expect(s.get('docs', 2)!.doc).toEqual({ points: 2 });
    const again = await reopen();
    expect(again.get('docs', 1)!.doc).toEqual({ points: 1, tags: ['a'] });
    // rows loaded from disk are as immutable as rows written in this process
    expect(() => ((again.get('docs', 1)!.doc as { tags: string[] }).tags[0] = 'z')).toThrow(TypeError);
    expect(() => ((again.get('docs', 2)!.doc as { points: number }).points = 0)).toThrow(TypeError);
  });

  it('defect 7: hostile values (fast-check anything): refused at the write exactly when the disk would change them; accepted ones come back equal after reopen', async () => {
    const { s, reopen } = await opened();
    const hostile = fc.oneof(
      fc.anything({ withBigInt: true, withBoxedValues: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withObjectString: true, withSparseArray: true, withTypedArray: true, withUnicodeString: true, maxDepth: 3 }),
      fc.jsonValue({ maxDepth: 3 }),
      fc.constantFrom<unknown>(-0, NaN, Infinity, [undefined], { a: undefined }, () => 0, Symbol('x'), [-0], { n: NaN }),
    );
    const accepted = new Map<number, unknown>();
    let id = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(hostile, async (v) => {
        id++;
        if (v === undefined || v === null) return; // a missing/null value is the attribute's default/null, not a value
        const model = survivesJson(v);
        const got = await s.dirtyPut('docs', { id, doc: v }).then(
          (row) => ({ ok: true as const, row }),
          (err: unknown) => ({ ok: false as const, err }),
        );
        if (!got.ok) {
          expect(got.err).toMatchObject({ code: 'ORDO_STORE_VALIDATION', attribute: 'doc', problem: 'bad_value' });
          refused++;
        }
        expect(got.ok).toBe(model);
        if (got.ok) {
          expect(sameJson(got.row.doc, v)).toBe(true);
          accepted.set(id, v);
        }
      }),
      { numRuns: 400, seed: 15 },
    );
    expect(refused).toBeGreaterThan(20);
    expect(accepted.size).toBeGreaterThan(20);
    const again = await reopen();
    for (const [k, v] of accepted) expect(sameJson(again.get('docs', k)!.doc, v)).toBe(true);
    expect(again.count('docs')).toBe(accepted.size);
  });
});
