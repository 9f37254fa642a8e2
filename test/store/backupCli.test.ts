import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { openStore } from '../../src/store/openStore.ts';
import { restoreStore } from '../../src/store/restore.ts';
import { storeCommand } from '../../src/cli/store.ts';
import { env, tempDir, userBuxPoints } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tables = { user_bux_points: userBuxPoints };

describe('backup, restore, export, import', () => {
  it('a backup taken while writes continue is consistent (a point-in-time view), and restores into a new directory', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    const s = await openStore({ env: e, dir: `${dir}/live`, tables });
    // invariant: the sum of balances is always 1000 (transfers)
    await s.dirtyPutMany('user_bux_points', Array.from({ length: 100 }, (_, i) => ({ user_id: `u${i}`, bux_balance: 10 })));
    let stop = false;
    const writer = (async () => {
      let i = 0;
      while (!stop) {
        await s.transaction((tx) => {
          const a = `u${i % 100}`;
          const b = `u${(i * 7 + 3) % 100}`;
          if (a === b) return;
          const ra = tx.get('user_bux_points', a)!;
          const rb = tx.get('user_bux_points', b)!;
          tx.put('user_bux_points', { ...ra, bux_balance: (ra.bux_balance as number) - 1 });
          tx.put('user_bux_points', { ...rb, bux_balance: (rb.bux_balance as number) + 1 });
        });
        i++;
      }
    })();
    const info = await s.backup(`${dir}/b1.ndjson`);
    stop = true;
    await writer;
    expect(info.entries).toBeGreaterThan(100);
    await s.close();
    await expect(restoreStore(e, `${dir}/b1.ndjson`, `${dir}/live`)).rejects.toMatchObject({ code: 'ORDO_STORE_BACKUP' });
    await restoreStore(e, `${dir}/b1.ndjson`, `${dir}/restored`);
    const r = await openStore({ env: e, dir: `${dir}/restored`, tables });
    expect(r.count('user_bux_points')).toBe(100);
    expect(r.fold('user_bux_points', (acc, row) => acc + (row.bux_balance as number), 0)).toBe(1000);
    expect((await r.verify()).problems).toEqual([]);
    expect((await r.info()).lastBackup).toBeUndefined();
    await r.close();
  });

  it('a damaged backup file is refused with ORDO_STORE_BACKUP, never half-restored', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    const s = await openStore({ env: e, dir: `${dir}/live`, tables });
    await s.dirtyPut('user_bux_points', { user_id: 'a', bux_balance: 1 });
    await s.backup(`${dir}/b.ndjson`);
    await s.close();
    const text = readFileSync(`${dir}/b.ndjson`, 'utf8');
    writeFileSync(`${dir}/b.ndjson`, text.replace('"c":"rows"', '"c":"rowz"'));
    await expect(restoreStore(e, `${dir}/b.ndjson`, `${dir}/r`)).rejects.toMatchObject({ code: 'ORDO_STORE_BACKUP' });
    expect(await e.io.fs.exists(`${dir}/r/CURRENT`)).toBe(false);
  });

  it('the CLI: info, export, import, backup, restore', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    const s = await openStore({ env: e, dir: `${dir}/a`, tables });
    await s.dirtyPutMany('user_bux_points', [{ user_id: 'x', bux_balance: 5 }, { user_id: 'y', bux_balance: 7 }]);
    await s.close();
    let out = '';
    const o = (t: string): void => void (out += t);
    expect(await storeCommand(['info', '--dir', `${dir}/a`], e, o)).toBe(0);
    expect(out).toContain('user_bux_points: ordered_set disc, key user_id, 2 rows');
    out = '';
    expect(await storeCommand(['export', '--dir', `${dir}/a`, '--out', `${dir}/x.ndjson`], e, o)).toBe(0);
    expect(readFileSync(`${dir}/x.ndjson`, 'utf8').split('\n')[1]).toBe('{"table":"user_bux_points","row":{"user_id":"x","user_smart_wallet":"","bux_balance":5,"created_at":0,"updated_at":0}}');
    // import into a second store that has the table declared
    const s2 = await openStore({ env: e, dir: `${dir}/b`, tables });
    await s2.close();
    expect(await storeCommand(['import', '--dir', `${dir}/b`, '--in', `${dir}/x.ndjson`], e, o)).toBe(0);
    expect(await storeCommand(['backup', '--dir', `${dir}/b`, '--out', `${dir}/b.bak`], e, o)).toBe(0);
    expect(await storeCommand(['restore', '--from', `${dir}/b.bak`, '--dir', `${dir}/c`], e, o)).toBe(0);
    out = '';
    expect(await storeCommand(['info', '--dir', `${dir}/c`, '--json'], e, o)).toBe(0);
    const info = JSON.parse(out) as { tables: Array<{ name: string; rows: number }> };
    expect(info.tables.find((t) => t.name === 'user_bux_points')?.rows).toBe(2);
    out = '';
    expect(await storeCommand(['info', '--dir', `${dir}/missing`], e, o)).toBe(1);
    expect(out).toContain('ORDO_STORE_MISSING_DIR');
    expect(await e.io.fs.exists(`${dir}/missing`)).toBe(false);
    expect(await storeCommand(['frobnicate'], e, o)).toBe(2);
    // a bad import line is refused before anything is written
    writeFileSync(`${dir}/bad.ndjson`, '{"table":"user_bux_points","row":{"user_id":"z"}}\n{"table":"user_bux_points","row":{"user_id":1}}\n');
    out = '';
    expect(await storeCommand(['import', '--dir', `${dir}/c`, '--in', `${dir}/bad.ndjson`], e, o)).toBe(1);
    expect(out).toContain('ORDO_STORE_VALIDATION');
  });
});
