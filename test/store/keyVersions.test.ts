import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { KEY_VERSIONS_PRUNE_MIN } from '../../src/store/memTable.ts';
import type { Store } from '../../src/store/store.ts';

// Per-key versions (the point-conflict check's record of which commit last wrote each key) are
// kept while transactions run. They used to be cleared only when none ran, so a store whose
// transactions overlap without a pause kept one entry per key ever written. They are now pruned
// below the oldest running attempt's start — which must neither hide a conflict nor make one up.

const tables = { c: { key: 'id', attributes: { id: { type: 'string' as const }, n: { type: 'integer' as const, default: 0 } } } };

let dirs = 0;
async function opened(): Promise<Store> {
  return openStore({ env: createTestEnv({ level: 'silent', seed: 1 }), dir: `/kv${dirs++}`, kv: createMemoryKv(), tables });
}

const keyVersions = (s: Store): number => (s as unknown as { state: { tables: Map<string, { keyVersions: Map<string, number> }> } }).state.tables.get('c')!.keyVersions.size;

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

const filler = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: `f${from + i}`, n: i }));

/**
 * `holder` (begun first, it waits for its gate) and then `t`, an increment of x that reads x, says
 * so and waits for `release`; resolves once `t` has read and `holder` has ended, so `t` is the
 * one attempt running, begun at the version `holder` began at or after it.
 */
async function holderThenIncrement(s: Store, before?: () => Promise<void>): Promise<{ t: Promise<void>; release: () => void; runs: () => number }> {
  const holder = gate();
  const h = s.transaction(async () => void (await holder.wait));
  await before?.();
  const release = gate();
  const reading = gate();
  let runs = 0;
  const t = s.transaction(async (tx) => {
    runs++;
    const v = (tx.get('c', 'x')?.['n'] as number) ?? 0;
    reading.open();
    await release.wait;
    tx.put('c', { id: 'x', n: v + 1 });
  });
  await reading.wait;
  holder.open();
  await h;
  return { t, release: release.open, runs: () => runs };
}

describe('per-key versions', () => {
  it('stay bounded while transactions overlap without a pause', async () => {
    const s = await opened();
    const N = 3 * KEY_VERSIONS_PRUNE_MIN;
    const started = Array.from({ length: N + 1 }, gate);
    const done: Promise<void>[] = [];
    let most = 0;
    for (let i = 0; i < N; i++) {
      // transaction i finishes only after transaction i+1 has begun: one always runs
      done.push(
        s.transaction(async (tx) => {
          started[i]!.open();
          tx.put('c', { id: `k${i}`, n: i });
          await started[i + 1]!.wait;
        }),
      );
      await started[i]!.wait;
      most = Math.max(most, keyVersions(s));
    }
    // the last one is still running: nothing was cleared by an idle moment
    expect(keyVersions(s)).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(KEY_VERSIONS_PRUNE_MIN + 2);
    started[N]!.open();
    await Promise.all(done);
    expect(s.get('c', `k${N - 1}`)?.['n']).toBe(N - 1);
    await s.close();
  });

  for (const writtenSince of [true, false]) {
    it(`a read ${writtenSince ? 'whose key was written since still conflicts' : 'whose key was pruned does not conflict'} after a prune`, async () => {
      const s = await opened();
      const { t, release, runs } = await holderThenIncrement(s, async () => {
        await s.dirtyPut('c', { id: 'x', n: 0 }); // recorded: a transaction runs
        expect(keyVersions(s)).toBe(1);
      });
      if (writtenSince) await s.transaction((tx) => void tx.put('c', { id: 'x', n: ((tx.get('c', 'x')?.['n'] as number) ?? 0) + 10 }));
      // enough other writes, while `t` runs, to prune everything older than its start
      await s.dirtyPutMany('c', filler(0, KEY_VERSIONS_PRUNE_MIN + 10));
      // pruned: x's first version (older than `t`'s start) is gone; a version written since is kept
      expect(keyVersions(s)).toBe(KEY_VERSIONS_PRUNE_MIN + 10 + (writtenSince ? 1 : 0));
      release();
      await t;
      expect(s.get('c', 'x')?.['n']).toBe(writtenSince ? 11 : 1);
      expect(runs()).toBe(writtenSince ? 2 : 1);
      await s.close();
    });
  }

  it("two attempts begun at one version: the end of one keeps the other's start as the oldest (no version written since it began is pruned)", async () => {
    const s = await opened();
    // both begin before any commit, at one version
    const { t, release, runs } = await holderThenIncrement(s);
    // x written while `t` runs, then enough writes to prune below the oldest start (`t`'s)
    await s.transaction((tx) => void tx.put('c', { id: 'x', n: ((tx.get('c', 'x')?.['n'] as number) ?? 0) + 10 }));
    await s.dirtyPutMany('c', filler(0, KEY_VERSIONS_PRUNE_MIN + 10));
    expect(keyVersions(s)).toBe(KEY_VERSIONS_PRUNE_MIN + 10 + 1);
    release();
    await t;
    expect(s.get('c', 'x')?.['n']).toBe(11);
    expect(runs()).toBe(2);
    await s.close();
  });
});
