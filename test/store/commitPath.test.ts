import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import { decodeKey, fromBytes } from '../../src/store/keyCodec.ts';
import { SEAL_KEY } from '../../src/store/integrity.ts';
import { decodeValue } from '../../src/store/valueCodec.ts';
import { readMarker } from '../../src/env/rocksdbMarker.ts';
import { env, tempDir } from './helpers.ts';

// The faster commit path (issue 13): one change-log record per group-commit batch, pruned by
// commit sequence across reopens; `store.get` by key value (MemTable.byKey) agreeing with the
// encoded lookup; the durable watermark written off the critical path but never ahead of the
// WAL and made durable by close.

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function dir(): string {
  const t = tempDir('ordo-commit-path-');
  cleanups.push(t.cleanup);
  return `${t.dir}/s`;
}

const items = { key: 'id', attributes: { id: { type: 'integer' as const }, v: { type: 'string' as const, default: '' } }, durability: 'sync' as const };

/** The change-log records on disk: key (last commit sequence) → the sequences of the commits it lists. */
async function logRecords(s: Store): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  const it = s.kv.iterator('log', { lt: SEAL_KEY });
  try {
    for (let c = await it.next(1000); c.length > 0; c = await it.next(1000)) {
      for (const [k, v] of c) {
        const d = decodeValue(v);
        if (!d.ok) throw new Error(d.problem);
        out.set(decodeKey(fromBytes(k)) as number, (d.value as { commits: Array<{ seq: number }> }).commits.map((x) => x.seq));
      }
    }
  } finally {
    await it.close();
  }
  return out;
}

describe('the commit path (issue 13)', () => {
  it('writes one change-log record per batch, covering each of the last changeLogLimit commits, pruned across a reopen', async () => {
    const d = dir();
    const limit = 7;
    let s = await openStore({ env: env(), dir: d, tables: { items }, changeLogLimit: limit });
    // 10 batches of 1..4 concurrent commits each (one group-commit batch per round)
    let id = 0;
    for (let round = 0; round < 10; round++) await Promise.all(Array.from({ length: 1 + (round % 4) }, () => s.dirtyPut('items', { id: id++ })));
    const check = async (): Promise<void> => {
      const seq = s.state.commitSeq;
      const recs = await logRecords(s);
      for (const [key, seqs] of recs) {
        expect(key).toBe(Math.max(...seqs)); // keyed by its last commit
        expect(key).toBeGreaterThan(seq - limit); // nothing older than the limit survives
      }
      const covered = new Set([...recs.values()].flat());
      for (let q = seq - limit + 1; q <= seq; q++) if (q > 0) expect(covered.has(q)).toBe(true);
    };
    await check();
    expect((await logRecords(s)).size).toBeLessThan(limit); // batched: fewer records than commits
    await s.close();
    // a reopen reads the record keys and goes on pruning the old ones
    s = await openStore({ env: env(), dir: d, tables: { items }, changeLogLimit: limit, expectExisting: true });
    try {
      for (let i = 0; i < 12; i++) await s.dirtyPut('items', { id: id++ });
      await check();
    } finally {
      await s.close();
    }
  });

  it('store.get by key value agrees with the encoded lookup (property: random puts, deletes, reads)', async () => {
    const d = dir();
    const s = await openStore({ env: env(), dir: d, tables: { t: { key: 'k', attributes: { k: { type: 'any' }, n: { type: 'integer', default: 0 } }, durability: 'async' } } });
    try {
      const key = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom('a', 'b', '1', ''), fc.boolean(), fc.constantFrom(0.5, -0));
      const step = fc.record({ op: fc.constantFrom('put', 'delete', 'get'), key });
      await fc.assert(
        fc.asyncProperty(fc.array(step, { maxLength: 30 }), async (steps) => {
          const model = new Map<string, number>();
          for (const k of [...s.keys('t')]) await s.dirtyDelete('t', k);
          let n = 0;
          for (const { op, key: k } of steps) {
            const mk = JSON.stringify(Object.is(k, -0) ? 0 : k);
            if (op === 'put') {
              await s.dirtyPut('t', { k: Object.is(k, -0) ? 0 : k, n: ++n });
              model.set(mk, n);
            } else if (op === 'delete') {
              await s.dirtyDelete('t', k);
              model.delete(mk);
            }
            expect(s.get('t', k)?.n).toBe(model.get(mk));
            // a tuple key is never confused with a scalar one
            expect(s.get('t', [k])).toBeUndefined();
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      await s.close();
    }
  });

  it('the durable watermark is never ahead of the committed sequence, and close makes the last commit durable in it', async () => {
    const d = dir();
    const s = await openStore({ env: env(), dir: d, tables: { items } });
    let seen = 0;
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < 20; i++) {
          await s.transaction((tx) => void tx.put('items', { id: w * 100 + i }));
          const mark = readMarker(d)!.mark;
          expect(mark).toBeLessThanOrEqual(s.state.commitSeq);
          seen = Math.max(seen, mark);
        }
      }),
    );
    // the marker moved while the store ran, not only at close
    expect(seen).toBeGreaterThan(0);
    const last = s.state.commitSeq;
    await s.close();
    expect(readMarker(d)!.mark).toBe(last);
    expect(last).toBeGreaterThan(0);
  });

  it("strict watermark (the default): an acknowledged synced commit is already at or below the durable watermark on disk", async () => {
    const d = dir();
    const s = await openStore({ env: env(), dir: d, tables: { items } });
    try {
      for (let i = 0; i < 30; i++) {
        await s.transaction((tx) => void tx.put('items', { id: i }));
        // one writer: nothing else in flight, so the commit just acknowledged is the last one
        expect(readMarker(d)!.mark).toBe(s.state.commitSeq);
      }
    } finally {
      await s.close();
    }
  });
});
