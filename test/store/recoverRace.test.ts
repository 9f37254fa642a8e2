import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openStore } from '../../src/store/openStore.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { KvError } from '../../src/env/kv.ts';
import { wrapKvWrites } from './kvWrap.ts';

// A store in its failed state probes the engine before it takes the next commit. The probe is
// asynchronous; transactions that checked their reads before it must still see each other as
// pending, or two read-modify-writes of one key both commit after the probe and the second
// overwrites the first (a lost update — found by the jobs lane: two runners could claim one job).

/** A memory disk whose writes can be refused: `durable` — written, then refused as the real adapter refuses a batch whose marker failed; `refuse` — refused, nothing written. */
function faultyDisk() {
  const inner = createMemoryKv();
  const plan: Array<'durable' | 'refuse'> = [];
  const kv = wrapKvWrites(inner, (db, dir) => async (ops, wo) => {
    const next = plan.shift();
    if (next === undefined) return db.write(ops, wo);
    if (next === 'refuse') throw new KvError('nospace', 'ENOSPC (simulated)', dir);
    await db.write(ops, wo);
    throw new KvError('nospace', 'ENOSPC: marker write failed (simulated)', dir, { durable: true });
  });
  return { kv, plan };
}

const tables = { c: { key: 'id', attributes: { id: { type: 'string' as const }, n: { type: 'integer' as const, default: 0 } } } };

/** Opens a store, fails it (a committed-but-unproven write), then plans `probeRefusals` refused probe writes. */
async function failedStore(probeRefusals: number) {
  const env = createTestEnv({ level: 'silent', seed: 1 });
  const disk = faultyDisk();
  const store = await openStore({ env, dir: '/race', kv: disk.kv, tables });
  await store.transaction((tx) => void tx.put('c', { id: 'x', n: 0 }));
  disk.plan.push('durable');
  const first = await store.transaction((tx) => void tx.put('c', { id: 'y', n: 0 })).then(
    () => 'resolved',
    (e: { code?: string }) => e.code,
  );
  expect(first).toBe('ORDO_STORE_COMMIT_INDETERMINATE');
  expect(store.failed).toBeDefined();
  for (let i = 0; i < probeRefusals; i++) disk.plan.push('refuse');
  return store;
}

const increment = (store: Awaited<ReturnType<typeof failedStore>>) =>
  store.transaction((tx) => void tx.put('c', { id: 'x', n: (tx.get('c', 'x')!['n'] as number) + 1 }));

describe('store: commits waiting on the recovery probe', () => {
  it('two read-modify-writes of one key both count (red before: n = 1)', async () => {
    const store = await failedStore(0);
    const r = await Promise.allSettled([increment(store), increment(store)]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(store.get('c', 'x')!['n']).toBe(2);
    expect(store.failed).toBeUndefined();
    await store.close();
  });

  it('property: the counter equals the increments that resolved, whatever the probe does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 0, max: 2 }), async (writers, refusals) => {
        const store = await failedStore(refusals);
        const r = await Promise.allSettled(Array.from({ length: writers }, () => increment(store)));
        const resolved = r.filter((x) => x.status === 'fulfilled').length;
        for (const x of r) if (x.status === 'rejected') expect((x.reason as { code?: string }).code).toMatch(/^ORDO_STORE_/);
        expect(store.get('c', 'x')!['n']).toBe(resolved);
        // once the disk takes writes again, the store takes commits again
        await increment(store);
        expect(store.get('c', 'x')!['n']).toBe(resolved + 1);
        await store.close();
      }),
      { numRuns: 40 },
    );
  });
});
