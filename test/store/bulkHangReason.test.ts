import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { _setFaultHook } from '../../src/env/faults.ts';
import { env, tempDir } from './helpers.ts';

// Regression (review of the bulk writer, issue 13): an unanswered bulk write used to reject with
// reason 'io' and the adapter's KvError as cause (no ORDO_STORE_COMMIT_TIMEOUT, no deadline or
// commit count), unlike an unanswered synced write (commitDeadline.test.ts); docs/store.md says
// it behaves as a synced write: indeterminate { outcome: 'unknown', reason: 'timeout' } caused by
// ORDO_STORE_COMMIT_TIMEOUT { deadlineMs, seq, commits }, then the store fails, reason 'timeout'.

const tables = { items: { key: 'id', attributes: { id: { type: 'integer' as const }, v: { type: 'integer' as const } }, durability: 'async' as const } };
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  _setFaultHook(undefined);
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('bulk write: an unanswered one is typed as a timeout', () => {
  it('indeterminate reason timeout, cause ORDO_STORE_COMMIT_TIMEOUT, store failed reason timeout', async () => {
    const t = tempDir('ordo-bulk-hang-');
    cleanups.push(t.cleanup);
    const dir = `${t.dir}/s`;
    const s = await openStore({ env: env(), dir, tables, kv: createRocksKv({ bulkWorker: 'eager' }), commitDeadlineMs: 300 });
    cleanups.push(() => s.close().catch(() => undefined));
    _setFaultHook({ point: (n) => n === 'kv.bulk.hang', delayMs: () => 0 });
    const err = await s.dirtyPutMany('items', Array.from({ length: 400 }, (_, i) => ({ id: i, v: i }))).then(() => undefined, (e: unknown) => e);
    _setFaultHook(undefined);
    expect(s.count('items')).toBe(0);
    expect(err).toMatchObject({ code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'unknown' });
    expect({ reason: (err as { reason?: unknown }).reason, failed: (s.failed as { code?: unknown; reason?: unknown } | undefined)?.reason }).toEqual({ reason: 'timeout', failed: 'timeout' });
    expect((err as Error).cause).toMatchObject({ code: 'ORDO_STORE_COMMIT_TIMEOUT', deadlineMs: 300, commits: 1, bulk: true, cause: { code: 'ORDO_KV_ERROR', durable: 'unknown' } });
  }, 30_000);
});
