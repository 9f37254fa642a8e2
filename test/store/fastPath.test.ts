import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import type { Row } from '../../src/store/types.ts';
import { crc32 } from '../../src/store/crc.ts';
import { decodeValue, encodeValue } from '../../src/store/valueCodec.ts';
import { env, tempDir } from './helpers.ts';

// The store's faster commit and load paths (issue 13): the CRC-32 computed in JavaScript over
// the bytes already held, the row a put replaces resolved once while the batch is built (and no
// row-map lookup for a key after the table's last), store.get's by-value read cache filled on
// hits, and rows loaded from disk frozen without a call per value. Each against an independent
// reference: zlib.crc32, a Map model of the table, the same store reopened.

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function dir(): string {
  const t = tempDir('ordo-fast-path-');
  cleanups.push(t.cleanup);
  return `${t.dir}/s`;
}

const items = {
  type: 'ordered_set' as const,
  key: 'id',
  attributes: { id: { type: 'integer' as const }, v: { type: 'integer' as const, default: 0 }, doc: { type: 'json' as const, nullable: true } },
  indexes: ['v'],
  durability: 'async' as const,
};

describe('CRC-32 in JavaScript', () => {
  it('equals zlib.crc32 over any byte range (every length class: byte loop, slicing-by-8, native)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const b0 = Buffer.from(bytes);
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
        expect(crc32(b0, start, end)).toBe(zlibCrc32(b0.subarray(start, end)));
        expect(crc32(b0)).toBe(zlibCrc32(b0));
      }),
      { numRuns: 2000 },
    );
  });

  it('a stored value carries zlib.crc32 of its payload, and one flipped bit is refused', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), fc.nat(), (v, bit) => {
        const b = encodeValue(v);
        expect(b.readUInt32BE(1)).toBe(zlibCrc32(b.subarray(5)));
        expect(decodeValue(b)).toEqual({ ok: true, value: JSON.parse(JSON.stringify(v)) });
        const bad = Buffer.from(b);
        const i = 8 + (bit % ((bad.length - 1) * 8 - 7)); // any bit after the format byte
        bad[i >> 3]! ^= 1 << (i & 7);
        expect(decodeValue(bad).ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

describe('commit path against a model', () => {
  it('batches of puts (appends, rewrites, duplicates in one batch) and deletes leave exactly the model, in RAM and after a reopen (digest checked at open)', async () => {
    const d = dir();
    let s: Store = await openStore({ env: env(), dir: d, tables: { items } });
    try {
      const op = fc.oneof(
        // a batch of puts: keys drawn around the table's end, so some append and some rewrite
        fc.record({ kind: fc.constant('batch' as const), keys: fc.array(fc.integer({ min: -5, max: 40 }), { minLength: 1, maxLength: 12 }), v: fc.integer({ min: 0, max: 5 }) }),
        fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 8 }), v: fc.integer({ min: 0, max: 5 }) }),
        fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: -5, max: 60 }) }),
        fc.record({ kind: fc.constant('tx' as const), a: fc.integer({ min: -5, max: 60 }), b: fc.integer({ min: -5, max: 60 }) }),
      );
      let top = 40;
      let n = 0;
      const model = new Map<number, { id: number; v: number; doc: unknown }>();
      const check = (st: Store): void => {
        const want = [...model.values()].sort((x, y) => x.id - y.id);
        expect(st.range('items')).toEqual(want);
        expect(st.count('items')).toBe(model.size);
        for (let v = 0; v <= 5; v++) expect(st.indexRead('items', 'v', v).map((r) => r['id'])).toEqual(want.filter((r) => r.v === v).map((r) => r.id));
        for (const k of [-5, 0, 7, top, top + 1]) expect(st.get('items', k)).toEqual(model.get(k));
      };
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
          for (const o of ops) {
            if (o.kind === 'batch' || o.kind === 'append') {
              const keys = o.kind === 'batch' ? o.keys : Array.from({ length: o.n }, (_, i) => top + 1 + i);
              if (o.kind === 'append') top += o.n;
              const rows = keys.map((id) => ({ id, v: o.v, doc: { n: ++n, tags: [id] } }));
              await s.dirtyPutMany('items', rows);
              for (const r of rows) model.set(r.id, r);
            } else if (o.kind === 'delete') {
              await s.dirtyDelete('items', o.key);
              model.delete(o.key);
            } else {
              // two writers in one turn: one group-commit batch with two commits
              const ra = { id: o.a, v: 1, doc: null };
              const rb = { id: o.b, v: 2, doc: null };
              await Promise.all([s.transaction((tx) => void tx.put('items', ra)), s.dirtyDelete('items', o.b).then(() => s.dirtyPut('items', rb))]);
              model.set(ra.id, ra);
              model.set(rb.id, rb);
            }
            check(s);
          }
        }),
        { numRuns: 30 },
      );
      expect((await s.verify()).problems).toEqual([]);
      await s.close();
      s = await openStore({ env: env(), dir: d, tables: { items }, expectExisting: true });
      check(s);
      expect((await s.verify()).problems).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe('appends resolved without the batch map (writeBatch run)', () => {
  it('a batch that appends keys, then rewrites and deletes some of them (several commits in one flush), leaves the last write of each, in RAM, the index and after a reopen', async () => {
    const d = dir();
    let s: Store = await openStore({ env: env(), dir: d, tables: { items } });
    try {
      await s.dirtyPutMany('items', [{ id: 100, v: 0 }]);
      // one commit: 101..103 append, then 101 and 102 are rewritten in the same batch
      await s.dirtyPutMany('items', [{ id: 101, v: 1 }, { id: 102, v: 1 }, { id: 101, v: 2 }, { id: 103, v: 3 }, { id: 102, v: 4 }, { id: 104, v: 5 }]);
      // several commits in one turn (one flush): appends, a delete of one of them, a re-put after it
      await Promise.all([s.dirtyPutMany('items', [{ id: 110, v: 1 }, { id: 111, v: 1 }]), s.dirtyDelete('items', 110), s.dirtyPutMany('items', [{ id: 112, v: 2 }, { id: 111, v: 3 }]), s.dirtyDelete('items', 112), s.dirtyPut('items', { id: 112, v: 4 })]);
      const want = [
        { id: 100, v: 0, doc: null },
        { id: 101, v: 2, doc: null },
        { id: 102, v: 4, doc: null },
        { id: 103, v: 3, doc: null },
        { id: 104, v: 5, doc: null },
        { id: 111, v: 3, doc: null },
        { id: 112, v: 4, doc: null },
      ];
      const check = (st: Store): void => {
        expect(st.range('items')).toEqual(want);
        expect(st.count('items')).toBe(want.length);
        for (let v = 0; v <= 5; v++) expect(st.indexRead('items', 'v', v).map((r) => r['id'])).toEqual(want.filter((r) => r.v === v).map((r) => r.id));
      };
      check(s);
      expect((await s.verify()).problems).toEqual([]);
      await s.close();
      // the digest is checked at open: a row counted twice or a stale hash refuses the open
      s = await openStore({ env: env(), dir: d, tables: { items }, expectExisting: true });
      check(s);
      expect((await s.verify()).problems).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe('one flush, row puts of several tables (the digests as runs of puts, writeBatch fill)', () => {
  it('property: commits of one turn that put rows of two tables, interleaved, leave both tables exact, in RAM and after a reopen (each digest checked at open)', async () => {
    const d = dir();
    const other = { ...items, indexes: [] };
    let s: Store = await openStore({ env: env(), dir: d, tables: { items, other } });
    const model = { items: new Map<number, Row>(), other: new Map<number, Row>() };
    const check = (st: Store): void => {
      for (const t of ['items', 'other'] as const) expect(st.range(t)).toEqual([...model[t].values()].sort((x, y) => (x['id'] as number) - (y['id'] as number)));
    };
    try {
      // each commit a list of puts, each to either table; every commit of a run issued in one turn
      const put = fc.record({ table: fc.constantFrom('items' as const, 'other' as const), id: fc.integer({ min: 0, max: 30 }), v: fc.integer({ min: 0, max: 3 }) });
      await fc.assert(
        fc.asyncProperty(fc.array(fc.array(put, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }), async (commits) => {
          await Promise.all(
            commits.map((c) =>
              s.transaction((tx) => {
                for (const p of c) tx.put(p.table, { id: p.id, v: p.v, doc: null });
              }),
            ),
          );
          for (const c of commits) for (const p of c) model[p.table].set(p.id, { id: p.id, v: p.v, doc: null });
          check(s);
        }),
        { numRuns: 40 },
      );
      expect((await s.verify()).problems).toEqual([]);
      await s.close();
      s = await openStore({ env: env(), dir: d, tables: { items, other }, expectExisting: true });
      check(s);
      expect((await s.verify()).problems).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe('store.get read cache', () => {
  it('a hit is cached under the row key; a rewrite, a delete, a rewrite in a transaction are seen at once; a loaded table holds no cache until read', async () => {
    const d = dir();
    const tables = { u: { key: 'name', attributes: { name: { type: 'string' as const }, n: { type: 'integer' as const, default: 0 } }, durability: 'async' as const } };
    let s = await openStore({ env: env(), dir: d, tables });
    try {
      await s.dirtyPutMany('u', [{ name: 'a', n: 1 }, { name: 'b', n: 2 }]);
      const mem = s.state.tables.get('u')!;
      expect(mem.byKey!.size).toBe(0);
      const key = JSON.parse('"a"') as string; // a string of the caller's own
      expect(s.get('u', key)).toEqual({ name: 'a', n: 1 });
      expect(s.get('u', key)).toBe(s.get('u', 'a'));
      expect([...mem.byKey!.keys()]).toEqual(['a']);
      await s.dirtyPut('u', { name: 'a', n: 3 });
      expect(s.get('u', 'a')).toEqual({ name: 'a', n: 3 });
      await s.transaction((tx) => void tx.put('u', { name: 'a', n: 4 }));
      expect(s.get('u', 'a')).toEqual({ name: 'a', n: 4 });
      await s.dirtyDelete('u', 'a');
      expect(s.get('u', 'a')).toBeUndefined();
      expect(s.get('u', 'b')).toEqual({ name: 'b', n: 2 });
      await s.close();
      s = await openStore({ env: env(), dir: d, tables, expectExisting: true });
      expect(s.state.tables.get('u')!.byKey!.size).toBe(0);
      expect(s.get('u', 'b')).toEqual({ name: 'b', n: 2 });
      expect(s.get('u', 'a')).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('rows loaded from disk are deeply immutable, a `__proto__` key and nested arrays of objects included', async () => {
    const d = dir();
    let s = await openStore({ env: env(), dir: d, tables: { items } });
    const doc = JSON.parse('{"__proto__":{"x":[{"y":[1,{"z":2}]}]},"list":[[{"a":1}]]}') as Row;
    await s.dirtyPut('items', { id: 1, doc });
    await s.close();
    s = await openStore({ env: env(), dir: d, tables: { items }, expectExisting: true });
    try {
      const row = s.get('items', 1)!;
      expect(JSON.stringify(row['doc'])).toBe(JSON.stringify(doc));
      const seen: unknown[] = [];
      const walk = (v: unknown): void => {
        if (typeof v !== 'object' || v === null) return;
        seen.push(v);
        expect(Object.isFrozen(v)).toBe(true);
        for (const k of Object.getOwnPropertyNames(v)) walk((v as Record<string, unknown>)[k]);
      };
      walk(row);
      expect(seen.length).toBe(10);
      expect(Object.getPrototypeOf(row['doc'])).toBe(Object.prototype);
    } finally {
      await s.close();
    }
  });
});

describe('table digest on rewrites', () => {
  // A rewritten row leaves the digest by the CRC its own write computed (no second encode):
  // rows written in this process, rows loaded from disk (never encoded here), and a stored row
  // written back as the same frozen object must all leave exactly what they put in — a digest
  // off by one row is refused at the next open (ORDO_STORE_CORRUPT), so verify and reopen.
  it('stays exact over rewrites of rows written here, rows loaded from disk and stored rows written back as they are', async () => {
    const d = dir();
    let s: Store = await openStore({ env: env(), dir: d, tables: { items } });
    try {
      await s.dirtyPutMany('items', Array.from({ length: 20 }, (_, id) => ({ id, v: id % 3, doc: { id, tags: ['a', id] } })));
      for (let round = 0; round < 3; round++) {
        // rewritten in this process, twice in one transaction, and written back unchanged
        await s.transaction((tx) => {
          for (let id = 0; id < 20; id += 2) tx.put('items', { id, v: (round + id) % 4, doc: { round, id } });
          for (let id = 0; id < 20; id += 4) tx.put('items', { id, v: 5, doc: [round] });
          for (let id = 1; id < 20; id += 2) tx.put('items', tx.get('items', id)!);
        });
        expect((await s.verify()).problems).toEqual([]);
        await s.close();
        s = await openStore({ env: env(), dir: d, tables: { items }, expectExisting: true });
        // rows loaded from disk, rewritten (one deleted and put back)
        await s.transaction((tx) => {
          for (let id = 1; id < 20; id += 3) tx.put('items', { ...tx.get('items', id)!, v: round });
        });
        await s.dirtyDelete('items', 7);
        await s.dirtyPut('items', { id: 7, v: 1, doc: null });
        expect((await s.verify()).problems).toEqual([]);
      }
      await s.close();
      s = await openStore({ env: env(), dir: d, tables: { items }, expectExisting: true });
      expect(s.count('items')).toBe(20);
      expect((await s.verify()).problems).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
