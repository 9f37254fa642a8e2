import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SEAL_KEY } from '../../src/store/integrity.ts';
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

describe('store reads and table kinds', () => {
  const tables = {
    scores: { type: 'ordered_set' as const, key: ['game', 'player'], attributes: { game: { type: 'string' as const }, player: { type: 'integer' as const }, score: { type: 'integer' as const, default: 0 }, note: { type: 'string' as const, nullable: true } }, indexes: ['score'] },
    sessions: { key: 'id', storage: 'ram' as const, attributes: { id: { type: 'string' as const }, user: { type: 'string' as const } }, indexes: ['user'] },
  };

  it('composite keys range in key order; match, select with a resumable cursor, fold, keys', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const store = await openStore({ env: env(), dir, tables });
    cleanups.push(() => store.close());
    const rows = [];
    for (const game of ['chess', 'go']) for (let p = 1; p <= 30; p++) rows.push({ game, player: p, score: (p * 13) % 17 });
    await store.dirtyPutMany('scores', rows);
    expect(store.get('scores', ['go', 7])).toEqual({ game: 'go', player: 7, score: 6, note: null });
    expect(store.range('scores', ['chess', 28], ['go', 2]).map((r) => [r.game, r.player])).toEqual([['chess', 28], ['chess', 29], ['chess', 30], ['go', 1], ['go', 2]]);
    expect(store.range('scores', ['go'], undefined, { limit: 2 }).map((r) => r.player)).toEqual([1, 2]);
    expect(store.match('scores', { game: 'go', score: 6 }).map((r) => r.player)).toEqual(store.range('scores', ['go'], ['go', 99]).filter((r) => r.score === 6).map((r) => r.player));
    expect(store.match('scores', { game: 'go', player: 3 })).toHaveLength(1);
    // select in pages of 7 with a cursor covers every matching row exactly once
    const seen: unknown[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = store.select('scores', (r) => (r.score as number) > 8, { limit: 7, cursor });
      seen.push(...page.rows.map((r) => `${r.game}/${r.player}`));
      cursor = page.cursor;
      pages++;
    } while (cursor);
    const want = store.range('scores').filter((r) => (r.score as number) > 8).map((r) => `${r.game}/${r.player}`);
    expect(seen).toEqual(want);
    expect(pages).toBeGreaterThan(2);
    expect(store.fold('scores', (acc, r) => acc + (r.score as number), 0)).toBe(rows.reduce((a, r) => a + r.score, 0));
    expect(store.keys('scores')).toHaveLength(60);
    expect(store.keys('scores')[0]).toEqual(['chess', 1]);
  });

  it('ram tables are served from memory, never written to disk, and start empty', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    let store = await openStore({ env: e, dir, tables });
    await store.dirtyPut('sessions', { id: 's1', user: 'u1' });
    await store.transaction((tx) => void tx.put('sessions', { id: 's2', user: 'u1' }));
    expect(store.indexRead('sessions', 'user', 'u1')).toHaveLength(2);
    const disk = await store.verify();
    expect(disk.rows).toBe(0);
    const backup = await store.backup(`${dir}/b.ndjson`);
    const lines = readFileSync(`${dir}/b.ndjson`, 'utf8').split('\n');
    // the only entry in `rows` is the commit seal (integrity.ts), never a ram row
    const seal = `"k":"${SEAL_KEY.toString('base64')}"`;
    expect(lines.filter((l) => l.startsWith('{"c":"rows"') && !l.includes(seal))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('{"c":"meta"')).length).toBeGreaterThan(0);
    expect(backup.entries).toBeGreaterThan(0);
    await store.close();
    store = await openStore({ env: e, dir, tables });
    expect(store.count('sessions')).toBe(0);
    await store.close();
  });
});
