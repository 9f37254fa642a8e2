import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRocksKv } from '../../src/env/index.ts';
import type { KvDb, KvOp } from '../../src/env/kv.ts';
import { _setFaultHook } from '../../src/env/faults.ts';

// The RocksDB adapter's overlapped unsynced write (KvDb.beginWrite, the bulk worker thread):
// pieces then the rest, atomic, refused whole, dropped by abort; not inherited by a wrapper that
// spreads the database to intercept `write`; absent when switched off.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  _setFaultHook(undefined);
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function open(bulkWorker: 'eager' | 'off' | 'lazy'): Promise<{ db: KvDb; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-bulk-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const db = await createRocksKv({ bulkWorker }).open(dir, { columns: ['rows', 'meta'], createIfMissing: true });
  cleanups.push(() => db.close());
  return { db, dir };
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const puts = (n: number, tag: string): KvOp[] => Array.from({ length: n }, (_, i) => ({ type: 'put', column: i % 2 ? 'rows' : 'meta', key: b(`k${String(i).padStart(4, '0')}`), value: b(`${tag}${i}`) }));

async function all(db: KvDb, column: string): Promise<string[]> {
  const it = db.iterator(column);
  const out: string[] = [];
  for (let e = await it.next(1000); e.length > 0; e = await it.next(1000)) for (const [k, v] of e) out.push(`${k.toString()}=${v.toString()}`);
  await it.close();
  return out;
}

describe('RocksDB overlapped unsynced write (bulk worker)', () => {
  it('pieces and the rest are written as one batch, in order (a later put of a key wins); finish returns once written', async () => {
    const { db } = await open('eager');
    const ops = [...puts(300, 'a'), { type: 'del', column: 'rows', key: b('k0001') } as KvOp, { type: 'put', column: 'meta', key: b('k0000'), value: b('last') } as KvOp];
    const w = db.beginWrite!()!;
    w.add(ops, 0, 100);
    w.add(ops, 100, 250);
    w.commit(ops, 250);
    w.finish(60_000);
    const meta = await all(db, 'meta');
    const rows = await all(db, 'rows');
    expect(meta).toHaveLength(150);
    expect(meta[0]).toBe('k0000=last');
    expect(rows).toHaveLength(149);
    expect(rows[0]).toBe('k0003=a3');
  });

  it('abort drops the pieces sent (nothing written); the next batch is written alone', async () => {
    const { db } = await open('eager');
    const w = db.beginWrite!()!;
    w.add(puts(10, 'x'), 0, 10);
    w.abort();
    const v = db.beginWrite!()!;
    v.commit(puts(4, 'y'), 0);
    v.finish(60_000);
    expect([...(await all(db, 'meta')), ...(await all(db, 'rows'))].sort()).toEqual(['k0000=y0', 'k0001=y1', 'k0002=y2', 'k0003=y3']);
  });

  it('refused (kv.bulk.eio): a typed KvError (io, durable false), nothing of the batch written; the worker goes on', async () => {
    const { db, dir } = await open('eager');
    let fail = true;
    _setFaultHook({ point: (n, subject) => n === 'kv.bulk.eio' && subject === dir && fail, delayMs: () => 0 });
    const w = db.beginWrite!()!;
    w.add(puts(50, 'z'), 0, 25);
    w.commit(puts(50, 'z'), 25);
    let err: unknown;
    try {
      w.finish(60_000);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ORDO_KV_ERROR', kind: 'io', durable: false, dir });
    expect(await all(db, 'meta')).toEqual([]);
    fail = false;
    const v = db.beginWrite!()!;
    v.commit(puts(2, 'ok'), 0);
    v.finish(60_000);
    expect(await all(db, 'meta')).toEqual(['k0000=ok0']);
  });

  it('a wake while the word still says busy (kv.bulk.late-wake: a previous answer\'s late notify) is not an answer: finish waits on and returns written', async () => {
    // The one-off empty-message StoreIoError under load: the worker stores DONE, then notifies;
    // descheduled between the two, its notify woke the next batch's wait with the word still
    // BUSY, and finish took that for a refusal with an empty error text.
    const { db, dir } = await open('eager');
    _setFaultHook({ point: (n, subject) => n === 'kv.bulk.late-wake' && subject === dir, delayMs: () => 0 });
    for (let round = 0; round < 3; round++) {
      const w = db.beginWrite!()!;
      w.add(puts(20, `r${round}-`), 0, 10);
      w.commit(puts(20, `r${round}-`), 10);
      expect(() => w.finish(60_000)).not.toThrow();
    }
    _setFaultHook(undefined);
    expect(await all(db, 'meta')).toHaveLength(10);
    expect((await all(db, 'meta'))[0]).toBe('k0000=r2-0');
    const v = db.beginWrite!()!;
    v.commit(puts(2, 'ok'), 0);
    v.finish(60_000);
    expect((await all(db, 'meta'))[0]).toBe('k0000=ok0');
  });

  it('no answer within the timeout (kv.bulk.hang): a KvError with durable unknown', async () => {
    const { db, dir } = await open('eager');
    _setFaultHook({ point: (n, subject) => n === 'kv.bulk.hang' && subject === dir, delayMs: () => 0 });
    const w = db.beginWrite!()!;
    w.commit(puts(3, 'h'), 0);
    expect(() => w.finish(100)).toThrow(expect.objectContaining({ code: 'ORDO_KV_ERROR', durable: 'unknown' }));
  });

  it('lazy: the first offer starts the thread and answers undefined (that batch is written inline); the default is off', async () => {
    const { db: lazy } = await open('lazy');
    expect(lazy.beginWrite!()).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'ordo-bulk-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const dflt = await createRocksKv().open(dir, { columns: ['rows'], createIfMissing: true });
    cleanups.push(() => dflt.close());
    expect(dflt.beginWrite!()).toBeUndefined();
    expect(dflt.beginWrite!()).toBeUndefined();
  });

  it("off: never offered; a wrapper that spreads the database to intercept write does not inherit it", async () => {
    const { db: off } = await open('off');
    expect(off.beginWrite?.()).toBeUndefined();
    const { db } = await open('eager');
    expect(db.beginWrite?.()).toBeDefined();
    const wrapped: KvDb = { ...db, write: (ops, o) => db.write(ops, o) };
    expect(wrapped.beginWrite).toBeUndefined();
  });
});
