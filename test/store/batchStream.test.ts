import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemTable } from '../../src/store/memTable.ts';
import { normalizeTable } from '../../src/store/schema.ts';
import { encodeKey } from '../../src/store/keyCodec.ts';
import { encodeValues, encodeValue } from '../../src/store/valueCodec.ts';
import { STREAM_ROWS, buildWriteBatch } from '../../src/store/writeBatch.ts';
import type { BuiltBatch, Pending } from '../../src/store/writeBatch.ts';
import type { KvOp } from '../../src/env/kv.ts';
import type { CommitOp, Row } from '../../src/store/types.ts';

// A batch built in pieces (BatchContext.sink: what an overlapped write sends to the engine's
// other thread while the rest is built) must be exactly the batch built at once: the same ops in
// the same order with the same bytes, the same digests, the same RAM changes. The model is the
// unstreamed build (the path every batch took before).

const tables = {
  t: normalizeTable('t', { type: 'ordered_set', key: 'id', attributes: { id: { type: 'integer' }, v: { type: 'integer' }, s: { type: 'string', default: '' } }, indexes: ['v'], durability: 'async' }, 1),
  b: normalizeTable('b', { type: 'bag', key: 'k', attributes: { k: { type: 'integer' }, x: { type: 'integer' } }, durability: 'async' }, 2),
  r: normalizeTable('r', { key: 'id', attributes: { id: { type: 'integer' }, v: { type: 'integer' } }, storage: 'ram' }, 3),
};
type Name = keyof typeof tables;

function fixture(seed: ReadonlyArray<[Name, Row]>): Map<string, MemTable> {
  const mems = new Map<string, MemTable>();
  for (const [n, def] of Object.entries(tables)) mems.set(n, new MemTable(def));
  for (const [n, row] of seed) {
    const mem = mems.get(n)!;
    const rk = mem.rowKeyOf(row);
    if (mem.rows.has(rk)) continue;
    mem.put(rk, Object.freeze(row));
  }
  return mems;
}

const rowOf = (n: Name, id: number, v: number): Row => (n === 'b' ? { k: id % 7, x: v } : n === 't' ? { id, v, s: `s${v}` } : { id, v });
const op = fc.tuple(fc.constantFrom<Name>('t', 't', 't', 'b', 'r'), fc.constantFrom('put', 'put', 'put', 'delete'), fc.integer({ min: 0, max: 700 }), fc.integer({ min: 0, max: 40 }));
// sizes across the piece boundary (fast-check's default size would keep every array small)
const commit = fc.oneof(fc.array(op, { minLength: 1, maxLength: 20 }), fc.array(op, { minLength: 200, maxLength: 900, size: 'max' }));

function pendingOf(mems: Map<string, MemTable>, commits: ReadonlyArray<ReadonlyArray<[Name, string, number, number]>>): Pending[] {
  return commits.map((c) => {
    const ops: CommitOp[] = c.map(([n, o, id, v]) => {
      const row = Object.freeze(rowOf(n, id, v));
      const key = n === 'b' ? row['k'] : id;
      return o === 'put' ? { table: n, op: 'put', key, value: row } : { table: n, op: 'delete', key };
    });
    const encKeys = ops.map((o) => encodeKey(o.key)!);
    void mems;
    return { ops, encKeys, resolve: () => undefined, reject: () => undefined };
  });
}

const bytes = (o: KvOp): string => `${o.type} ${o.column} ${Buffer.from(o.key).toString('hex')} ${o.type === 'put' ? Buffer.from(o.value).toString('hex') : ''}`;
const shape = (b: BuiltBatch): unknown => ({
  ops: b.kvOps.map(bytes),
  changes: b.changes.map((cs) => cs.map((c) => [c.mem.def.name, c.rowKey, c.row, c.old ?? null])),
  sync: b.sync,
  seq: b.seq,
  digests: [...b.digests].map(([m, d]) => [m.def.name, d.count, d.sum]),
  logPruned: b.logPruned,
  logAdded: b.logAdded,
});

describe('a batch built in pieces (the overlapped write)', () => {
  it('property: the pieces, then the rest, are the unstreamed batch op for op and byte for byte; digests and RAM changes the same', () => {
    let streamedRuns = 0;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom<Name>('t', 'b', 'r'), fc.integer({ min: 0, max: 700 }), fc.integer({ min: 0, max: 40 })), { maxLength: 400, size: 'max' }), fc.array(commit, { minLength: 1, maxLength: 3 }), fc.nat(50), (seed, commits, logs) => {
        const mems = fixture(seed.map(([n, id, v]) => [n, rowOf(n, id, v)]));
        const batch = pendingOf(mems, commits);
        const logSeqs = Array.from({ length: logs }, (_, i) => i + 1);
        const ctx = { table: (n: string) => mems.get(n)!, commitSeq: 100, schemaVersion: 3, changeLogLimit: 40, logSeqs };
        const whole = buildWriteBatch(batch, ctx);
        // the bytes as they are at the call (a writer copies them then)
        const pieces: string[] = [];
        let calls = 0;
        const streamed = buildWriteBatch(batch, {
          ...ctx,
          sink: (ops, from, to) => {
            expect(from).toBe(pieces.length);
            expect(to).toBeGreaterThan(from);
            calls++;
            for (let i = from; i < to; i++) pieces.push(bytes(ops[i]!));
          },
        });
        expect(streamed.streamed).toBe(pieces.length);
        const puts = batch.reduce((n, p) => n + p.ops.filter((o) => o.op === 'put').length, 0);
        // a piece at every STREAM_ROWS row puts (deletes of absent keys and bag duplicates put nothing), and the rest of the rows
        expect(calls).toBeLessThanOrEqual(Math.floor(puts / STREAM_ROWS) + 1);
        expect([...pieces, ...streamed.kvOps.slice(streamed.streamed).map(bytes)]).toEqual(whole.kvOps.map(bytes));
        expect(shape(streamed)).toEqual(shape(whole));
        expect(whole.streamed).toBe(0);
        if (calls > 0) streamedRuns++;
      }),
      { numRuns: 60 },
    );
    // the property saw pieces (not only batches too small to stream)
    expect(streamedRuns).toBeGreaterThan(10);
  });

  it('a 1000-row append streams three pieces of 256 row puts and one of the other 232, the rest (log record, digest, seal) left to the caller', () => {
    const mems = fixture([]);
    const batch = pendingOf(mems, [Array.from({ length: 1000 }, (_, i) => ['t', 'put', i, i % 41] as [Name, string, number, number])]);
    const sizes: number[] = [];
    const built = buildWriteBatch(batch, { table: (n) => mems.get(n)!, commitSeq: 0, schemaVersion: 1, changeLogLimit: 10, logSeqs: [], sink: (_ops, from, to) => sizes.push(to - from) });
    // each row put is followed by its index entry's put; the last rows go before the log record is built
    expect(sizes).toEqual([512, 512, 512, 232 * 2]);
    expect(built.kvOps.length - built.streamed).toBe(1 + 1 + 4);
  });

  it('encodeValues from an index encodes exactly the tail', () => {
    const values = Array.from({ length: 40 }, (_, i) => ({ id: i, s: `"x,${i}}` }));
    for (const from of [0, 1, 30, 33, 39, 40]) {
      expect(encodeValues(values, from).map((b) => Buffer.from(b).toString('hex'))).toEqual(values.slice(from).map((v) => encodeValue(v).toString('hex')));
    }
  });
});
