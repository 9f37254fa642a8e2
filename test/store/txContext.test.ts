import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import { txContextState } from '../../src/store/txContext.ts';
import type { TableDef } from '../../src/store/types.ts';
import { env, tempDir } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const t: TableDef = { key: 'k', attributes: { k: { type: 'string' }, v: { type: 'integer', default: 0 } } };

async function store(): Promise<Store> {
  const { dir, cleanup } = tempDir('ordo-txctx-');
  cleanups.push(cleanup);
  const s = await openStore({ env: env(), dir, tables: { t } });
  cleanups.push(() => s.close());
  return s;
}

/** Node 20's AsyncLocalStorage runs on async hooks and says whether it is on; Node ≥ 22's (AsyncContextFrame) needs no hooks. */
const hookBased = typeof (new (await import('node:async_hooks')).AsyncLocalStorage() as unknown as { enabled?: unknown }).enabled === 'boolean';

describe('the nested-transaction context is on only while a transaction function runs', () => {
  it('on during a transaction (joined ones too), off once every one has settled — after a throw as well — and the next one joins as before', { timeout: 20_000 }, async () => {
    const s = await store();
    expect(txContextState().open).toBe(0);
    const seen: Array<{ open: number; enabled: boolean }> = [];
    await s.transaction(async (tx) => {
      seen.push(txContextState());
      tx.put('t', { k: 'a', v: 1 });
      await s.transaction(async (inner) => {
        // joined: the outer transaction's write is visible, and no second context is opened
        expect(inner.get('t', 'a')?.v).toBe(1);
        seen.push(txContextState());
        inner.put('t', { k: 'b', v: 2 });
      });
    });
    expect(seen.map((x) => x.open)).toEqual([1, 1]);
    if (hookBased) expect(seen.every((x) => x.enabled)).toBe(true);
    expect(txContextState().open).toBe(0);
    if (hookBased) expect(txContextState().enabled).toBe(false);
    expect(s.get('t', 'b')?.v).toBe(2);

    await expect(s.transaction(async () => Promise.reject(new Error('fails')))).rejects.toThrow('fails');
    expect(txContextState().open).toBe(0);
    if (hookBased) expect(txContextState().enabled).toBe(false);

    // two at once: off only after both
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = s.transaction(async (tx) => {
      await gate;
      tx.put('t', { k: 'c', v: 3 });
    });
    await s.transaction(async (tx) => {
      tx.put('t', { k: 'd', v: 4 });
    });
    expect(txContextState().open).toBe(1);
    if (hookBased) expect(txContextState().enabled).toBe(true);
    release();
    await first;
    expect(txContextState().open).toBe(0);
    if (hookBased) expect(txContextState().enabled).toBe(false);
    expect([s.get('t', 'c')?.v, s.get('t', 'd')?.v]).toEqual([3, 4]);
  });
});
