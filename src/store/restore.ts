import type { Env } from '../env/env.ts';
import type { KvAdapter } from '../env/kv.ts';
import { restoreKv } from './backup.ts';
import { StoreIoError } from './errors.ts';

/**
 * Restores a backup written by `store.backup(path)` into a new data directory `dir`
 * (refuses a directory that already holds a database). Open the result with `openStore`.
 *
 * @example
 * import { createRealEnv } from 'ordo';
 * import { openStore, restoreStore } from 'ordo/store';
 *
 * const env = createRealEnv();
 * const store = await openStore({ env, dir: './data/store', tables: { users: { type: 'set', key: 'id', attributes: { id: { type: 'string' } } } } });
 * await store.backup('./data/store-2026-11-21.ndjson');
 * await store.close();
 * await restoreStore(env, './data/store-2026-11-21.ndjson', './data/store-restored'); // a new directory, never over a store
 */
export async function restoreStore(env: Env, path: string, dir: string, kv?: KvAdapter): Promise<{ entries: number }> {
  const adapter = kv ?? env.io.kv;
  if (!adapter) throw new StoreIoError(dir, 'restore', { cause: new Error('no key-value adapter (env.io.kv)') });
  return restoreKv(env, adapter, path, dir);
}
