import { normalize } from 'node:path';
import type { KvAdapter } from '../env/kv.ts';
import { StoreArgumentError } from './errors.ts';
import { LiveHandleRegistry } from './liveHandles.ts';

/**
 * Checks every top-level option of `openStore` before anything is opened, each bad field a
 * typed `ORDO_STORE_ARGUMENT` error naming it and carrying the value (a bad `dir` would
 * otherwise reach the native binding, whose error escapes as an uncaught exception). Table
 * and migration declarations are checked by the schema code. @internal
 */
export function validateOpenOptions(o: unknown): void {
  if (o === null || typeof o !== 'object') throw new StoreArgumentError('(options)', o, 'an object');
  const r = o as Record<string, unknown>;
  const env = r['env'] as Record<string, unknown> | undefined;
  if (env === null || typeof env !== 'object') throw new StoreArgumentError('env', env, 'an Env');
  if (typeof (env['clock'] as { now?: unknown } | undefined)?.now !== 'function') throw new StoreArgumentError('env.clock', env['clock'], 'a Clock');
  if (env['logger'] === null || typeof env['logger'] !== 'object') throw new StoreArgumentError('env.logger', env['logger'], 'a Logger');
  if (env['io'] === null || typeof env['io'] !== 'object') throw new StoreArgumentError('env.io', env['io'], 'the I/O adapters');
  const dir = r['dir'];
  if (typeof dir !== 'string' || dir.trim() === '') throw new StoreArgumentError('dir', dir, 'a non-empty directory path');
  if (dir.includes('\0')) throw new StoreArgumentError('dir', dir, 'a path without NUL characters');
  const optional = (name: string, ok: (v: unknown) => boolean, expected: string): void => {
    const v = r[name];
    if (v !== undefined && !ok(v)) throw new StoreArgumentError(name, v, expected);
  };
  const posInt = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
  // `tables` and `migrations` are checked with the declarations (migrate.ts)
  optional('expectExisting', (v) => typeof v === 'boolean', 'a boolean');
  optional('deferReplicatedMigrations', (v) => typeof v === 'boolean', 'a boolean');
  optional('backupDir', (v) => typeof v === 'string' && v.trim() !== '' && !v.includes('\0'), 'a non-empty directory path');
  optional('changeLogLimit', posInt, 'a positive integer');
  optional('migrationBatchSize', posInt, 'a positive integer');
  // a timer's delay past 2^31 - 1 ms fires after 1 ms in Node (TimeoutOverflowWarning): every synced commit would time out
  optional('commitDeadlineMs', (v) => posInt(v) && (v as number) <= 2_147_483_647, 'a positive integer (ms) up to 2147483647');
  optional('kv', (v) => typeof (v as KvAdapter)?.open === 'function' && typeof (v as KvAdapter)?.exists === 'function', 'a KvAdapter');
  optional('registry', (v) => v instanceof LiveHandleRegistry, 'a LiveHandleRegistry');
  const kv = (r['kv'] ?? (env['io'] as Record<string, unknown>)['kv']) as KvAdapter | undefined;
  if (typeof kv?.open !== 'function') throw new StoreArgumentError('env.io.kv', kv, 'a key-value adapter (pass kv or an Env with io.kv)');
}

/** The canonical spelling of a store directory (the adapter's `realpath`, else a lexical normal form). @internal */
export async function canonicalDir(kv: KvAdapter, dir: string): Promise<string> {
  if (kv.canonical) return kv.canonical(dir);
  const n = normalize(dir);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}
