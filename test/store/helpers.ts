import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestEnv } from '../../src/env/env.ts';
import type { TestEnv } from '../../src/env/env.ts';
import type { TableDef } from '../../src/store/types.ts';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';

/** A temp directory removed by the returned `cleanup`. */
export function tempDir(prefix = 'ordo-store-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A test env (virtual clock, real RocksDB adapter) with warn-level logs. */
export function env(): TestEnv {
  return createTestEnv({ level: 'warn', startMs: 1_700_000_000_000 });
}

/**
 * A store on real RocksDB in a fresh temp dir, and a `reopen` (closes it, opens the same dir with
 * the same env); everything it opens is closed and the dir removed by the `cleanups` the caller
 * runs after each test.
 */
export async function openedTemp(tables: Record<string, TableDef>, prefix: string, cleanups: Array<() => void | Promise<void>>): Promise<{ s: Store; reopen: () => Promise<Store> }> {
  const { dir, cleanup } = tempDir(prefix);
  cleanups.push(cleanup);
  const e = env();
  const s = await openStore({ env: e, dir, tables });
  cleanups.push(() => s.close());
  return {
    s,
    reopen: async () => {
      await s.close();
      const again = await openStore({ env: e, dir, tables });
      cleanups.push(() => again.close());
      return again;
    },
  };
}

/** The seed's `user_bux_points` table. */
export const userBuxPoints: TableDef = {
  type: 'ordered_set',
  key: 'user_id',
  attributes: {
    user_id: { type: 'string' },
    user_smart_wallet: { type: 'string', default: '' },
    bux_balance: { type: 'integer', default: 0 },
    created_at: { type: 'integer', default: 0 },
    updated_at: { type: 'integer', default: 0 },
  },
  indexes: ['bux_balance', 'updated_at'],
};

/** Where two sequences first differ (a cheap failure message for long ones), or `undefined`. */
export function firstDiff(a: readonly unknown[], b: readonly unknown[]): string | undefined {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = JSON.stringify(a[i]);
    const y = JSON.stringify(b[i]);
    if (x !== y) return `at ${i} of ${a.length} / ${b.length}: ${x} vs ${y}`;
  }
  return undefined;
}
