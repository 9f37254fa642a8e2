import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRocksKv } from '../../src/env/index.ts';
import type { KvDb, KvOp } from '../../src/env/kv.ts';
import { _setFaultHook } from '../../src/env/faults.ts';

// Regression (review of the bulk writer, issue 13): after a batch went unanswered (finish threw
// `durable: 'unknown'`), KvDb.beginWrite used to hand out the next batch on the same worker and
// status word, and the old batch's late "done" settled the new one: finish() of a batch the
// worker dropped (kv.bulk.hang) returned "written" with nothing on disk. Now the writer starts
// no batch after an unanswered one (beginWrite is undefined until the database is reopened).
// Batch 1 is large (its write is far from done when finish(0) looks), batch 2 is dropped.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  _setFaultHook(undefined);
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('bulk writer: a late answer of an unanswered batch', () => {
  it('is never taken for the next batch (finish of a dropped batch must not report it written)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ordo-bulk-late-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const db: KvDb = await createRocksKv({ bulkWorker: 'eager' }).open(dir, { columns: ['rows'], createIfMissing: true });
    cleanups.push(() => db.close());
    const big = Buffer.alloc(4096, 7);
    const ops1: KvOp[] = Array.from({ length: 10_000 }, (_, i) => ({ type: 'put', column: 'rows', key: Buffer.from(`a${String(i).padStart(6, '0')}`), value: big }));
    const w1 = db.beginWrite!()!;
    w1.commit(ops1, 0);
    const first = (() => {
      try {
        w1.finish(0);
        return 'written';
      } catch (e) {
        return (e as { durable?: unknown }).durable;
      }
    })();
    // only meaningful when batch 1 did go unanswered (40 MB: its write is not done at once)
    expect(first).toBe('unknown');
    _setFaultHook({ point: (n) => n === 'kv.bulk.hang', delayMs: () => 0 });
    const w2 = db.beginWrite!();
    let second: unknown = 'refused at begin';
    if (w2) {
      w2.commit([{ type: 'put', column: 'rows', key: Buffer.from('b'), value: Buffer.from('never written') }], 0);
      try {
        w2.finish(20_000);
        second = 'written';
      } catch (e) {
        second = (e as { durable?: unknown }).durable ?? 'error';
      }
    }
    _setFaultHook(undefined);
    const it = db.iterator('rows', { gte: Buffer.from('b'), lt: Buffer.from('c') });
    const onDisk = (await it.next(10)).length;
    await it.close();
    expect({ second, onDisk }).not.toEqual({ second: 'written', onDisk: 0 });
  }, 120_000);
});
