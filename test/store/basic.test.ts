import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import { env, tempDir, userBuxPoints } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('store basics on real RocksDB', () => {
  it('writes, reads, survives reopen, and answers the leaderboard from the index', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    let store = await openStore({ env: e, dir, tables: { user_bux_points: userBuxPoints } });
    await store.transaction(async (tx) => {
      for (let i = 0; i < 300; i++) tx.put('user_bux_points', { user_id: `u${String(i).padStart(3, '0')}`, bux_balance: (i * 37) % 1000 });
    });
    expect(store.count('user_bux_points')).toBe(300);
    expect(store.get('user_bux_points', 'u007')).toMatchObject({ bux_balance: 259, user_smart_wallet: '' });
    await store.close();
    store = await openStore({ env: e, dir, tables: { user_bux_points: userBuxPoints } });
    cleanups.push(() => store.close());
    expect(store.count('user_bux_points')).toBe(300);
    const top = store.indexRange('user_bux_points', 'bux_balance', undefined, undefined, { reverse: true, limit: 100 });
    expect(top).toHaveLength(100);
    const balances = top.map((r) => r.bux_balance as number);
    const all = store.range('user_bux_points').map((r) => r.bux_balance as number).sort((a, b) => b - a);
    expect(balances).toEqual(all.slice(0, 100));
    expect((await store.verify()).ok).toBe(true);
  });
});
