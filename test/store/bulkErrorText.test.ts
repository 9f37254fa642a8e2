import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../src/store/openStore.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { _setFaultHook } from '../../src/env/faults.ts';
import { env, tempDir } from './helpers.ts';

// Regression (review of the bulk writer, issue 13): the worker used to cut its refusal JSON at
// 1024 UTF-16 units and the main thread JSON.parsed it: under a long directory (~1 KB of path;
// PATH_MAX is 4096) `finish` threw a SyntaxError instead of the engine's error, and the commit's
// ORDO_STORE_IO lost the engine's message, errno and reason. Now the fields are shortened (head
// and tail kept) until the JSON fits.

const tables = { items: { key: 'id', attributes: { id: { type: 'integer' as const }, v: { type: 'integer' as const } }, durability: 'async' as const } };
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  _setFaultHook(undefined);
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('bulk writer refusal text', () => {
  it('a refused bulk write under a long directory still carries the engine\'s error (not a JSON SyntaxError)', async () => {
    const t = tempDir('ordo-bulk-long-');
    cleanups.push(t.cleanup);
    // ~1100 characters of path, in components of 200
    let dir = t.dir;
    for (let i = 0; i < 5; i++) dir = join(dir, String(i).repeat(200));
    mkdirSync(dir, { recursive: true });
    dir = join(dir, 's');
    const s = await openStore({ env: env(), dir, tables, kv: createRocksKv({ bulkWorker: 'eager' }) });
    cleanups.push(() => s.close().catch(() => undefined));
    let fail = true;
    _setFaultHook({ point: (n) => n === 'kv.bulk.eio' && fail, delayMs: () => 0 });
    const rows = Array.from({ length: 400 }, (_, i) => ({ id: i, v: i }));
    const err = await s.dirtyPutMany('items', rows).then(() => undefined, (e: unknown) => e);
    fail = false;
    expect(err).toBeDefined();
    expect((err as { code?: string }).code).toBe('ORDO_STORE_IO');
    // the whole cause chain, as text: the engine's message must be in it
    const chain: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) chain.push(`${e.name}: ${e.message}`);
    expect(chain.join(' <- ')).not.toMatch(/SyntaxError|JSON/);
    expect(chain.join(' <- ')).toMatch(/Input\/output error/);
    // and nothing was applied
    expect(s.range('items')).toEqual([]);
  });
});
