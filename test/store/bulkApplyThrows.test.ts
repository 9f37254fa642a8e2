import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import { GroupCommit } from '../../src/store/groupCommit.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { env, tempDir } from './helpers.ts';

// Regression (review of the bulk writer, issue 13): the overlapped write posts the batch, then
// applies it to RAM; an apply that threw skipped `finish` (the write's outcome never read) and
// the commit was reported as "nothing applied" with RAM part applied. Now the write is waited
// for and the batch is settled as unknown: the store fails until reopened.

const tables = { items: { key: 'id', attributes: { id: { type: 'integer' as const }, v: { type: 'integer' as const } }, durability: 'async' as const } };
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('bulk write: an apply that throws during the write', () => {
  it('settles the batch as unknown and fails the store (never "nothing applied")', async () => {
    const t = tempDir('ordo-bulk-apply-');
    cleanups.push(t.cleanup);
    const s = await openStore({ env: env(), dir: `${t.dir}/s`, tables, kv: createRocksKv({ bulkWorker: 'eager' }) });
    cleanups.push(() => s.close().catch(() => undefined));
    const proto = GroupCommit.prototype as unknown as { apply: (...a: unknown[]) => void };
    const real = proto.apply;
    let throws = 1;
    proto.apply = function (this: unknown, ...a: unknown[]) {
      if (throws-- > 0) throw new Error('apply bug (test)');
      return real.apply(this, a);
    };
    cleanups.push(() => {
      proto.apply = real;
    });
    const err = await s.dirtyPutMany('items', Array.from({ length: 400 }, (_, i) => ({ id: i, v: i }))).then(() => undefined, (e: unknown) => e);
    expect(throws).toBe(0);
    expect(err).toMatchObject({ code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'unknown' });
    expect((err as Error).cause).toMatchObject({ message: 'apply bug (test)' });
    expect(s.failed).toMatchObject({ code: 'ORDO_STORE_FAILED' });
  });
});
