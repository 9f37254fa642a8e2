import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createSimKv } from '../../src/chaos/simKv.ts';
import { openStore } from '../../src/store/openStore.ts';
import { planFaults, simRun } from './pipelineSim.ts';

// A failed store (its write refused, the recovery probe refused too) takes commits again once
// the engine accepts a probe write. Commits called while it is failed are owed what a healthy
// store gives: they take in call order, like a queue (the last one called is the row a reader
// sees; acknowledgements in call order) — whatever order the engine answers the probes in.

const tables = { r: { key: 'id', attributes: { id: { type: 'string' as const }, n: { type: 'integer' as const } }, durability: 'sync' as const } };

let runs = 0;

async function recoverInOrder(plan: { readonly seed: number; readonly calls: number; readonly synced: boolean }): Promise<void> {
  await simRun(plan.seed, async ({ sim }) => {
    let armed = false;
    // the commit's write and the probe after it are refused: the store fails
    planFaults({ markFails: [], walFails: [1, 2] }, () => armed);
    // each write (a probe's too) answers after 1–6 virtual ms: probes may come back in any order
    const kv = createSimKv(sim, { latencyMs: (op, r) => (op === 'write' ? 1 + Math.floor(r() * 6) : 1) });
    // a directory per run: a failed run's handle (left open) never locks the next one
    const dir = `/recover-${++runs}`;
    const env = sim.createEnv({ kv });
    const t = plan.synced ? tables : { r: { ...tables.r, durability: 'async' as const } };
    const s = await openStore({ env, dir, tables: t });
    const failed = new Promise((r) => s.onFailure(r));
    armed = true;
    await expect(s.dirtyPut('r', { id: 'k', n: -1 })).rejects.toMatchObject({ code: 'ORDO_STORE_IO' });
    await failed;
    armed = false;
    const settled: number[] = [];
    await Promise.all(Array.from({ length: plan.calls }, (_, n) => s.dirtyPut('r', { id: 'k', n }).then(() => void settled.push(n))));
    expect({ settled, last: s.get('r', 'k')?.['n'], failed: s.failed }).toEqual({ settled: Array.from({ length: plan.calls }, (_, n) => n), last: plan.calls - 1, failed: undefined });
    await s.close();
    const again = await openStore({ env, dir, tables: t });
    const onDisk = again.get('r', 'k')?.['n'];
    await again.close();
    expect(onDisk).toBe(plan.calls - 1);
  });
}

describe('store: commits called while the store is failed take in call order once it recovers', () => {
  it('property: acknowledgements and the row a reader sees follow the call order, whatever order the probes come back in (synced and unsynced failures)', async () => {
    await fc.assert(fc.asyncProperty(fc.record({ seed: fc.integer({ min: 1, max: 1_000_000 }), calls: fc.integer({ min: 2, max: 6 }), synced: fc.boolean() }), recoverInOrder), { numRuns: 60 });
  });
});
