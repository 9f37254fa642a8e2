import { afterEach, describe, expect, it } from 'vitest';
import type { KvAdapter, KvDb, KvIterator } from '../../src/env/kv.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import { createSimKv } from '../../src/chaos/simKv.ts';
import { pumpedSimulation } from '../support/simPump.ts';
import { tempDir } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const b = (s: string | number[]): Buffer => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s));

async function all(db: KvDb, column: string, range = {}): Promise<string[]> {
  const it = db.iterator(column, range);
  const out: string[] = [];
  for (let c = await it.next(2); c.length > 0; c = await it.next(2)) for (const [k, v] of c) out.push(`${k.toString('hex')}=${v.toString()}`);
  await it.close();
  return out;
}

/** Each adapter, and whether its synced writes with a mark report the WAL's durability first (`onDurable`: the strict watermark). */
const adapters: Array<[string, () => KvAdapter, boolean]> = [
  ['rocksdb', () => createRocksKv(), true],
  ['rocksdb, pipelined watermark', () => createRocksKv({ watermark: 'pipelined' }), false],
  ['memory-level', () => createMemoryKv(), false],
  [
    'simulated (memory-level on the chaos timeline)',
    () => {
      const p = pumpedSimulation();
      cleanups.push(p.stop);
      return createSimKv(p.sim);
    },
    false,
  ],
  [
    'simulated, strict watermark modelled (markLatencyMs)',
    () => {
      const p = pumpedSimulation();
      cleanups.push(p.stop);
      return createSimKv(p.sim, { markLatencyMs: () => 2 });
    },
    true,
  ],
];

describe.each(adapters)('KV adapter contract: %s', (_name, make, reportsWal) => {
  const setup = (): { kv: KvAdapter; dir: string } => {
    const { dir, cleanup } = tempDir('ordo-kv-');
    cleanups.push(cleanup);
    return { kv: make(), dir: `${dir}/db` };
  };

  it('refuses a missing database without createIfMissing, and reports existence', async () => {
    const { kv, dir } = setup();
    expect(await kv.exists(dir)).toBe(false);
    await expect(kv.open(dir, { columns: ['a'], createIfMissing: false })).rejects.toMatchObject({ kind: 'missing' });
    const db = await kv.open(dir, { columns: ['a'], createIfMissing: true });
    expect(await kv.exists(dir)).toBe(true);
    await db.close();
  });

  it('writes atomically across columns, keeps memcmp order per column, reads back after reopen', async () => {
    const { kv, dir } = setup();
    let db = await kv.open(dir, { columns: ['a', 'b'], createIfMissing: true });
    await db.write(
      [
        { type: 'put', column: 'a', key: b([2]), value: b('two') },
        { type: 'put', column: 'a', key: b([1, 255]), value: b('one-ff') },
        { type: 'put', column: 'a', key: b([1]), value: b('one') },
        { type: 'put', column: 'b', key: b([1]), value: b('other') },
      ],
      { sync: true },
    );
    await db.write([{ type: 'del', column: 'a', key: b([2]) }], { sync: false });
    expect(await all(db, 'a')).toEqual(['01=one', '01ff=one-ff']);
    expect(await all(db, 'b')).toEqual(['01=other']);
    expect(await all(db, 'a', { gt: b([1]) })).toEqual(['01ff=one-ff']);
    expect(await all(db, 'a', { reverse: true, limit: 1 })).toEqual(['01ff=one-ff']);
    expect((await db.get('b', b([1])))?.toString()).toBe('other');
    expect(await db.get('b', b([9]))).toBeUndefined();
    await db.close();
    db = await kv.open(dir, { columns: ['a', 'b'], createIfMissing: false });
    expect(await all(db, 'a')).toEqual(['01=one', '01ff=one-ff']);
    await db.close();
  });

  it('an iterator sees the state at its creation, not later writes', async () => {
    const { kv, dir } = setup();
    const db = await kv.open(dir, { columns: ['a', 'b'], createIfMissing: true });
    await db.write([{ type: 'put', column: 'a', key: b('k1'), value: b('1') }], { sync: false });
    const ia = db.iterator('a');
    const ib = db.iterator('b');
    await db.write(
      [
        { type: 'put', column: 'a', key: b('k2'), value: b('2') },
        { type: 'put', column: 'b', key: b('k2'), value: b('2') },
      ],
      { sync: false },
    );
    expect((await ia.next(10)).map(([k]) => k.toString())).toEqual(['k1']);
    expect(await ib.next(10)).toEqual([]);
    await ia.close();
    await ib.close();
    await db.close();
  });

  it('a keys-only iterator (values: false) gives every key in range, in order, each with a buffer for a value; a write right after open and a close right after open both work', async () => {
    const { kv, dir } = setup();
    const db = await kv.open(dir, { columns: ['a'], createIfMissing: true });
    await db.write(['k3', 'k1', 'k2', 'j0'].map((k) => ({ type: 'put' as const, column: 'a', key: b(k), value: b(`v-${k}`) })), { sync: true });
    const it = db.iterator('a', { gte: b('k'), values: false });
    const got: Array<[string, boolean]> = [];
    for (let c = await it.next(2); c.length > 0; c = await it.next(2)) for (const [k, v] of c) got.push([k.toString(), Buffer.isBuffer(v)]);
    await it.close();
    expect(got).toEqual([['k1', true], ['k2', true], ['k3', true]]);
    await db.close();
    // the sync writer thread may still be starting: close waits for it, and so does a write
    await (await kv.open(dir, { columns: ['a'], createIfMissing: false })).close();
    const again = await kv.open(dir, { columns: ['a'], createIfMissing: false });
    await again.write([{ type: 'put', column: 'a', key: b('k4'), value: b('4') }], { sync: true });
    expect((await again.get('a', b('k4')))?.toString()).toBe('4');
    await again.close();
  });

  it('a second open of the same directory is refused as locked until the first closes', async () => {
    const { kv, dir } = setup();
    const db = await kv.open(dir, { columns: ['a'], createIfMissing: true });
    await expect(kv.open(dir, { columns: ['a'], createIfMissing: true })).rejects.toMatchObject({ kind: 'locked' });
    await db.close();
    const again = await kv.open(dir, { columns: ['a'], createIfMissing: true });
    await again.close();
  });

  it('defer runs after promise continuations queued in the same turn', async () => {
    const { kv, dir } = setup();
    const db = await kv.open(dir, { columns: ['a'], createIfMissing: true });
    const order: string[] = [];
    const done = new Promise<void>((r) => db.defer(() => (order.push('deferred'), r())));
    void Promise.resolve().then(() => order.push('micro-1')).then(() => order.push('micro-2'));
    await done;
    expect(order).toEqual(['micro-1', 'micro-2', 'deferred']);
    await db.close();
  });

  it('a synced write with a mark reports the WAL durable (onDurable) at most once, before it settles, the batch readable then; an unsynced one never', async () => {
    const { kv, dir } = setup();
    const db = await kv.open(dir, { columns: ['a'], createIfMissing: true });
    const events: string[] = [];
    let view: KvIterator | undefined;
    const onDurable = (): void => {
      events.push('durable');
      view ??= db.iterator('a');
    };
    await db.write([{ type: 'put', column: 'a', key: b('k'), value: b('v') }], { sync: true, mark: 1, onDurable }).then(() => events.push('settled'));
    await db.write([{ type: 'put', column: 'a', key: b('u'), value: b('w') }], { sync: false, onDurable }).then(() => events.push('unsynced settled'));
    expect(events).toEqual(reportsWal ? ['durable', 'settled', 'unsynced settled'] : ['settled', 'unsynced settled']);
    if (view) {
      const seen: string[] = [];
      for (let c = await view.next(8); c.length > 0; c = await view.next(8)) for (const [k, v] of c) seen.push(`${k.toString()}=${v.toString()}`);
      await view.close();
      expect(seen).toEqual(['k=v']);
    }
    await db.close();
  });

  it('a synced write whose onDurable throws is refused as durable (typed, durable: true), never as not written, where the WAL is reported first — and never called where it is not; the batch is there after a reopen', async () => {
    const { kv, dir } = setup();
    const db = await kv.open(dir, { columns: ['a'], createIfMissing: true });
    const bug = new Error('caller bug');
    let calls = 0;
    const onDurable = (): void => {
      calls++;
      throw bug;
    };
    const refused = await db.write([{ type: 'put', column: 'a', key: b('k'), value: b('v') }], { sync: true, mark: 1, onDurable }).then(() => undefined, (e: unknown) => e);
    if (reportsWal) expect(refused).toMatchObject({ code: 'ORDO_KV_ERROR', durable: true, cause: bug });
    else expect(refused).toBeUndefined();
    expect(calls).toBe(reportsWal ? 1 : 0);
    expect((await db.get('a', b('k')))?.toString()).toBe('v');
    // the mark was made durable all the same: the next write (mark 2) goes through
    await db.write([{ type: 'put', column: 'a', key: b('u'), value: b('w') }], { sync: true, mark: 2 });
    await db.close();
    const again = await kv.open(dir, { columns: ['a'], createIfMissing: false });
    expect(await all(again, 'a')).toEqual([`${b('k').toString('hex')}=v`, `${b('u').toString('hex')}=w`]);
    await again.close();
  });
});

describe('memory KV fault injection', () => {
  it('a failing write applies nothing', async () => {
    let fail = false;
    const kv = createMemoryKv({
      beforeWrite: () => {
        if (fail) throw new Error('EIO: simulated');
      },
    });
    const db = await kv.open('/sim/db', { columns: ['a'], createIfMissing: true });
    await db.write([{ type: 'put', column: 'a', key: b('x'), value: b('1') }], { sync: true });
    fail = true;
    await expect(db.write([{ type: 'put', column: 'a', key: b('y'), value: b('2') }, { type: 'del', column: 'a', key: b('x') }], { sync: true })).rejects.toMatchObject({ kind: 'io' });
    expect(await all(db, 'a')).toEqual([`${b('x').toString('hex')}=1`]);
    await db.close();
  });
});

describe('simulated KV faults (the chaos engine\'s fault points)', () => {
  const withFaults = (faults: Parameters<typeof pumpedSimulation>[1]) => {
    const p = pumpedSimulation(1, faults);
    cleanups.push(p.stop);
    return { kv: createSimKv(p.sim), sim: p.sim };
  };

  it('open fails with EIO, then succeeds; a LOCK still held is refused as locked', async () => {
    const { kv } = withFaults([
      { at: 0, name: 'kv.open.fail', subject: '/sim/a' },
      { at: 0, name: 'kv.open.locked', subject: '/sim/b' },
    ]);
    await expect(kv.open('/sim/a', { columns: ['c'], createIfMissing: true })).rejects.toMatchObject({ kind: 'io' });
    await (await kv.open('/sim/a', { columns: ['c'], createIfMissing: true })).close();
    await expect(kv.open('/sim/b', { columns: ['c'], createIfMissing: true })).rejects.toMatchObject({ kind: 'locked' });
  });

  it('EIO and ENOSPC on write apply nothing; later writes go through', async () => {
    const { kv } = withFaults([
      { at: 0, name: 'kv.write.eio', subject: '/sim/w' },
      { at: 0, name: 'kv.write.enospc', subject: '/sim/w' },
    ]);
    const db = await kv.open('/sim/w', { columns: ['c'], createIfMissing: true });
    const put = (k: string) => db.write([{ type: 'put', column: 'c', key: b(k), value: b(k) }], { sync: true });
    await expect(put('x')).rejects.toThrow(/EIO/);
    await expect(put('y')).rejects.toThrow(/ENOSPC/);
    await put('z');
    expect(await all(db, 'c')).toEqual([`${b('z').toString('hex')}=z`]);
    await db.close();
  });

  it('slow recovery delays the open by the injected virtual time; a corrupted value is returned as read', async () => {
    const { kv, sim } = withFaults([
      { at: 0, name: 'kv.open.slow', subject: '/sim/s', delayMs: 4000 },
      { at: 0, name: 'kv.get.corrupt', subject: '/sim/s' },
    ]);
    const t0 = sim.now;
    const db = await kv.open('/sim/s', { columns: ['c'], createIfMissing: true });
    expect(sim.now - t0).toBeGreaterThanOrEqual(4000);
    await db.write([{ type: 'put', column: 'c', key: b('k'), value: b([1, 2, 3]) }], { sync: true });
    expect([...(await db.get('c', b('k')))!]).toEqual([0xfe, 2, 3]);
    expect([...(await db.get('c', b('k')))!]).toEqual([1, 2, 3]);
    await db.close();
  });
});
