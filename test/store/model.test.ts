import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import type { Row, TableDef } from '../../src/store/types.ts';
import { encodeKey, decodeKey } from '../../src/store/keyCodec.ts';
import { env, tempDir } from './helpers.ts';

const cleanups: Array<() => void> = [];
afterAll(() => cleanups.forEach((c) => c()));

/** Reference order, written independently of the codec: null<false<true<numbers<strings<tuples. */
function cmp(a: unknown, b: unknown): number {
  const rank = (v: unknown): number => (v === null ? 0 : v === false ? 1 : v === true ? 2 : typeof v === 'number' ? 3 : typeof v === 'string' ? 4 : 5);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number') return a - (b as number);
  if (typeof a === 'string') {
    const ca = Array.from(a).map((c) => c.codePointAt(0)!);
    const cb = Array.from(b as string).map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return ca[i]! - cb[i]!;
    return ca.length - cb.length;
  }
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    for (let i = 0; i < Math.min(a.length, bb.length); i++) {
      const c = cmp(a[i], bb[i]);
      if (c !== 0) return c;
    }
    return a.length - bb.length;
  }
  return 0;
}

const scalar = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), fc.string({ unit: 'grapheme', maxLength: 4 }), fc.constantFrom(null, true, false));
const keyValue = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }));

const norm = (v: unknown): unknown => (Array.isArray(v) ? v.map(norm) : Object.is(v, -0) ? 0 : v);

describe('key encoding', () => {
  it('is order-preserving and round-trips for numbers, strings and tuples', () => {
    fc.assert(
      fc.property(keyValue, keyValue, (a, b) => {
        const ea = encodeKey(a)!;
        const eb = encodeKey(b)!;
        const byCodec = ea < eb ? -1 : ea > eb ? 1 : 0;
        expect(byCodec).toBe(Math.sign(cmp(a, b)) + 0);
        expect(Buffer.compare(Buffer.from(ea, 'latin1'), Buffer.from(eb, 'latin1'))).toBe(byCodec);
        expect(decodeKey(ea)).toEqual(norm(a));
      }),
      { numRuns: 2000 },
    );
  });
});

const tables: Record<string, TableDef> = {
  t: { type: 'ordered_set', key: 'k', attributes: { k: { type: 'any' }, v: { type: 'integer' }, s: { type: 'string', default: '' } }, indexes: ['v'] },
  c: { type: 'set', key: ['a', 'b'], attributes: { a: { type: 'string' }, b: { type: 'integer' }, n: { type: 'integer', default: 0 } }, indexes: ['n'] },
  g: { type: 'bag', key: 'k', attributes: { k: { type: 'integer' }, x: { type: 'integer' } }, indexes: ['x'] },
};

type Op =
  | { t: 'put'; k: unknown; v: number }
  | { t: 'del'; k: unknown }
  | { t: 'cput'; a: string; b: number; n: number }
  | { t: 'cdel'; a: string; b: number }
  | { t: 'gput'; k: number; x: number }
  | { t: 'gdel'; k: number }
  | { t: 'gdelobj'; k: number; x: number };

const smallKey = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom('a', 'b', 'é', '😀', ''), fc.tuple(fc.integer({ min: 0, max: 2 }), fc.constantFrom('x', 'y')).map((t) => [...t]));
const writeOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('put' as const), k: smallKey, v: fc.integer({ min: -3, max: 3 }) }),
  fc.record({ t: fc.constant('del' as const), k: smallKey }),
  fc.record({ t: fc.constant('cput' as const), a: fc.constantFrom('p', 'q'), b: fc.integer({ min: 0, max: 3 }), n: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ t: fc.constant('cdel' as const), a: fc.constantFrom('p', 'q'), b: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ t: fc.constant('gput' as const), k: fc.integer({ min: 0, max: 3 }), x: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ t: fc.constant('gdel' as const), k: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ t: fc.constant('gdelobj' as const), k: fc.integer({ min: 0, max: 3 }), x: fc.integer({ min: 0, max: 3 }) }),
);
type Step =
  | { s: 'dirty'; op: Op }
  | { s: 'tx'; ops: Op[]; abort: boolean }
  | { s: 'range'; from?: unknown; to?: unknown; limit?: number | undefined; reverse: boolean }
  | { s: 'irange'; from?: number | undefined; to?: number | undefined; limit?: number | undefined; reverse: boolean }
  | { s: 'reopen' };
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ s: fc.constant('dirty' as const), op: writeOp }) },
  { weight: 3, arbitrary: fc.record({ s: fc.constant('tx' as const), ops: fc.array(writeOp, { maxLength: 5 }), abort: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ s: fc.constant('range' as const), from: fc.option(smallKey, { nil: undefined }), to: fc.option(smallKey, { nil: undefined }), limit: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }), reverse: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ s: fc.constant('irange' as const), from: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }), to: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }), limit: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }), reverse: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ s: 'reopen' as const }) },
);

/** The plain in-memory model. */
class Model {
  t = new Map<string, Row>();
  c = new Map<string, Row>();
  g: Row[] = [];
  apply(op: Op): void {
    switch (op.t) {
      case 'put':
        this.t.set(JSON.stringify(op.k), { k: op.k, v: op.v, s: '' });
        break;
      case 'del':
        this.t.delete(JSON.stringify(op.k));
        break;
      case 'cput':
        this.c.set(JSON.stringify([op.a, op.b]), { a: op.a, b: op.b, n: op.n });
        break;
      case 'cdel':
        this.c.delete(JSON.stringify([op.a, op.b]));
        break;
      case 'gput':
        if (!this.g.some((r) => r.k === op.k && r.x === op.x)) this.g.push({ k: op.k, x: op.x });
        break;
      case 'gdel':
        this.g = this.g.filter((r) => r.k !== op.k);
        break;
      case 'gdelobj':
        this.g = this.g.filter((r) => !(r.k === op.k && r.x === op.x));
        break;
    }
  }
  clone(): Model {
    const m = new Model();
    m.t = new Map(this.t);
    m.c = new Map(this.c);
    m.g = [...this.g];
    return m;
  }
}

function applyTx(tx: { put(t: string, r: Row): unknown; delete(t: string, k: unknown): void; deleteObject(t: string, r: Row): void }, op: Op): void {
  switch (op.t) {
    case 'put':
      return void tx.put('t', { k: op.k, v: op.v });
    case 'del':
      return tx.delete('t', op.k);
    case 'cput':
      return void tx.put('c', { a: op.a, b: op.b, n: op.n });
    case 'cdel':
      return tx.delete('c', [op.a, op.b]);
    case 'gput':
      return void tx.put('g', { k: op.k, x: op.x });
    case 'gdel':
      return tx.delete('g', op.k);
    case 'gdelobj':
      return tx.deleteObject('g', { k: op.k, x: op.x });
  }
}

const sortT = (rows: Row[]): Row[] => [...rows].sort((a, b) => cmp(a.k, b.k));
const byKC = (rows: Row[]): Row[] => [...rows].sort((a, b) => cmp([a.a, a.b], [b.a, b.b]));
const sortG = (rows: Row[]): Row[] => [...rows].sort((a, b) => cmp(a.k, b.k) || cmp(a.x, b.x));

async function checkAll(store: Store, m: Model): Promise<void> {
  expect(store.range('t')).toEqual(sortT([...m.t.values()]));
  expect(byKC(store.range('c'))).toEqual(byKC([...m.c.values()]));
  expect(store.range('c').map((r) => [r.a, r.b])).toEqual(byKC([...m.c.values()]).map((r) => [r.a, r.b]));
  expect(sortG(store.range('g'))).toEqual(sortG(m.g));
  for (let x = 0; x <= 3; x++) expect(sortG(store.indexRead('g', 'x', x))).toEqual(sortG(m.g.filter((r) => r.x === x)));
  for (let n = 0; n <= 3; n++) expect(byKC(store.indexRead('c', 'n', n))).toEqual(byKC([...m.c.values()].filter((r) => r.n === n)));
  for (const k of [0, 1, 2, 3]) expect(sortG(store.read('g', k))).toEqual(sortG(m.g.filter((r) => r.k === k)));
  expect(store.count('t')).toBe(m.t.size);
}

describe('store against an in-memory model (real RocksDB)', () => {
  it('random sequences of dirty writes, transactions (committed and aborted), ranges, index ranges and reopens agree with the model', async () => {
    const { dir: root, cleanup } = tempDir('ordo-model-');
    cleanups.push(cleanup);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        const dir = `${root}/${run++}`;
        const e = env();
        let store = await openStore({ env: e, dir, tables });
        let m = new Model();
        try {
          for (const st of steps) {
            if (st.s === 'dirty') {
              const op = st.op;
              if (op.t === 'put') await store.dirtyPut('t', { k: op.k, v: op.v });
              else if (op.t === 'del') await store.dirtyDelete('t', op.k);
              else await store.transaction((tx) => applyTx(tx, op));
              m.apply(op);
            } else if (st.s === 'tx') {
              const before = m.clone();
              const shadow = m.clone();
              const r = store.transaction(async (tx) => {
                for (const op of st.ops) {
                  applyTx(tx, op);
                  shadow.apply(op);
                  // read-your-writes inside the transaction
                  expect(tx.range('t')).toEqual(sortT([...shadow.t.values()]));
                }
                expect(sortG(tx.range('g'))).toEqual(sortG(shadow.g));
                expect(tx.indexRange('t', 'v')).toEqual([...shadow.t.values()].sort((a, b) => cmp(a.v, b.v) || cmp(a.k, b.k)));
                if (st.abort) throw new Error('abort');
              });
              if (st.abort) {
                await expect(r).rejects.toThrow('abort');
                m = before;
              } else {
                await r;
                m = shadow;
              }
            } else if (st.s === 'range') {
              const want = sortT([...m.t.values()]).filter((r) => (st.from === undefined || cmp(r.k, st.from) >= 0) && (st.to === undefined || cmp(r.k, st.to) <= 0));
              if (st.reverse) want.reverse();
              expect(store.range('t', st.from, st.to, { limit: st.limit, reverse: st.reverse })).toEqual(want.slice(0, st.limit));
            } else if (st.s === 'irange') {
              const want = [...m.t.values()].filter((r) => (st.from === undefined || (r.v as number) >= st.from) && (st.to === undefined || (r.v as number) <= st.to)).sort((a, b) => cmp(a.v, b.v) || cmp(a.k, b.k));
              if (st.reverse) want.reverse();
              expect(store.indexRange('t', 'v', st.from, st.to, { limit: st.limit, reverse: st.reverse })).toEqual(want.slice(0, st.limit));
            } else {
              await store.close();
              store = await openStore({ env: e, dir, tables });
            }
          }
          await checkAll(store, m);
          expect((await store.verify()).problems).toEqual([]);
        } finally {
          await store.close();
        }
      }),
      { numRuns: 100 },
    );
    // 100 runs of reopens: every open reads the rows, the on-disk index and the change log (issue 15)
  }, 240_000);

  it('concurrent conflicting transactions re-run: N concurrent increments of one counter sum to N', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    const store = await openStore({ env: e, dir, tables });
    let runs = 0;
    const N = 40;
    await Promise.all(
      Array.from({ length: N }, () =>
        store.transaction(async (tx) => {
          runs++;
          const cur = (tx.get('t', 'counter')?.v as number | undefined) ?? 0;
          await Promise.resolve();
          tx.put('t', { k: 'counter', v: cur + 1 });
        }, { retries: 100 }),
      ),
    );
    expect(store.get('t', 'counter')?.v).toBe(N);
    expect(runs).toBeGreaterThan(N); // some ran more than once
    await store.close();
  });

  it('a transaction that keeps conflicting gives up with ORDO_STORE_TX_RETRIES', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const store = await openStore({ env: env(), dir, tables });
    let i = 0;
    const p = store.transaction(
      async (tx) => {
        tx.get('t', 'hot');
        // another writer commits the key we read, every time
        await store.dirtyPut('t', { k: 'hot', v: i++ % 3 });
        tx.put('t', { k: 'other', v: 1 });
      },
      { retries: 3 },
    );
    await expect(p).rejects.toMatchObject({ code: 'ORDO_STORE_TX_RETRIES', attempts: 4 });
    expect(store.get('t', 'other')).toBeUndefined();
    await store.close();
  });
});
