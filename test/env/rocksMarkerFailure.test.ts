import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRocksKv, KvError } from '../../src/env/index.ts';
import type { KvDb, KvOp } from '../../src/env/kv.ts';
import { _setFaultHook } from '../../src/env/faults.ts';
import { MARKER_FILE, readMarker } from '../../src/env/rocksdbMarker.ts';

// Strict watermark (the default): a synced write is acknowledged once its WAL write and the
// marker naming it are durable. A marker write that fails must not be taken for a durable one:
// it is retried once synchronously before the acknowledgement, and when that fails too the write
// is refused typed (naming the marker file) and the next write retries first. The fault point
// `kv.marker.enospc` fails marker writes as a full disk would.

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  _setFaultHook(undefined);
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function open(): Promise<{ db: KvDb; dir: string }> {
  const root = mkdtempSync(join(tmpdir(), 'ordo-marker-fail-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const dir = `${root}/s`;
  const db = await createRocksKv().open(dir, { columns: ['meta', 'rows'], createIfMissing: true });
  cleanups.push(() => db.close());
  await db.release?.();
  return { db, dir };
}

const put = (k: string): KvOp[] => [{ type: 'put', column: 'rows', key: Buffer.from(k), value: Buffer.from(`v-${k}`) }];

/** Fails the next `n` marker writes (`kv.marker.enospc`: the write after the WAL's and the retry alike) of `dir`. */
function failMarkerWrites(dir: string, n: number): { fired: () => number } {
  let fired = 0;
  _setFaultHook({
    point: (name, subject) => {
      if (name !== 'kv.marker.enospc' || subject !== dir || fired >= n) return false;
      fired++;
      return true;
    },
    delayMs: () => 0,
  });
  return { fired: () => fired };
}

describe('strict watermark: the acknowledgement waits for the marker, whose failures are never taken for success', () => {
  it('an acknowledged synced write is under the durable marker on disk, one write after another', async () => {
    const { db, dir } = await open();
    for (let m = 1; m <= 20; m++) {
      await db.write(put(`k${m}`), { sync: true, mark: m });
      expect(readMarker(dir)!.mark).toBe(m);
      expect(db.marker?.mark).toBe(m);
    }
  });

  it('each acknowledged write advances the epoch by one into the slot epoch % 2; the other slot keeps the previous mark', async () => {
    const { db, dir } = await open();
    const epoch0 = readMarker(dir)!.epoch;
    for (let m = 1; m <= 7; m++) {
      await db.write(put(`k${m}`), { sync: true, mark: m });
      const e = epoch0 + m;
      const b = readFileSync(`${dir}/${MARKER_FILE}`);
      const slot = (i: number): { epoch: number; mark: number } => ({ epoch: Number(b.readBigUInt64BE(i * 64 + 24)), mark: Number(b.readBigUInt64BE(i * 64 + 32)) });
      expect(slot(e % 2)).toEqual({ epoch: e, mark: m });
      // a torn write of the slot being written would leave this one, the previous mark
      expect(slot((e + 1) % 2)).toEqual({ epoch: e - 1, mark: m - 1 });
    }
  });

  it('a failed marker write is retried before the acknowledgement; both failing refuse the write typed; the next write retries first', async () => {
    const { db, dir } = await open();
    await db.write(put('a'), { sync: true, mark: 1 });
    expect(readMarker(dir)!.mark).toBe(1);

    // the marker write fails, the synchronous retry succeeds: acknowledged, and durable on disk
    const once = failMarkerWrites(dir, 1);
    await db.write(put('b'), { sync: true, mark: 2 });
    expect(once.fired()).toBe(1);
    expect(readMarker(dir)!.mark).toBe(2);
    expect(db.marker?.mark).toBe(2);

    // both fail: the write (durable in the WAL) is refused, typed, naming the marker file; the
    // marker on disk stays behind it — never ahead
    const twice = failMarkerWrites(dir, 2);
    const err = (await db.write(put('c'), { sync: true, mark: 3 }).catch((e: unknown) => e)) as KvError;
    expect(twice.fired()).toBe(2);
    expect(err).toBeInstanceOf(KvError);
    expect(err.kind).toBe('nospace');
    expect(err.file).toBe(readMarker(dir)!.file);
    expect(readMarker(dir)!.mark).toBe(2);

    // still failing: the next write is refused before anything is written
    failMarkerWrites(dir, 1);
    await expect(db.write(put('d'), { sync: true, mark: 4 })).rejects.toMatchObject({ kind: 'nospace' });
    expect(await db.get('rows', Buffer.from('d'))).toBeUndefined();

    // the disk recovers: the next write first records the kept mark, then its own
    _setFaultHook(undefined);
    await db.write(put('e'), { sync: true, mark: 5 });
    expect(readMarker(dir)!.mark).toBe(5);
    expect((await db.get('rows', Buffer.from('c')))?.toString()).toBe('v-c');
  });

  it('a failed WAL write records no mark (the watermark is never ahead of the WAL)', async () => {
    const { db, dir } = await open();
    await db.write(put('a'), { sync: true, mark: 1 });
    // an unknown column fails the batch before anything reaches the WAL
    await expect(db.write([{ type: 'put', column: 'nope', key: Buffer.from('x'), value: Buffer.from('y') }], { sync: true, mark: 2 })).rejects.toBeInstanceOf(KvError);
    expect(readMarker(dir)!.mark).toBe(1);
    // nor later: close writes the newest recorded mark, and that is still 1
    await db.close();
    expect(readMarker(dir)!.mark).toBe(1);
    // reopened, a later write is not held back by it
    const again = await createRocksKv().open(dir, { columns: ['meta', 'rows'], createIfMissing: false });
    cleanups.push(() => again.close());
    await again.release?.();
    await again.write(put('b'), { sync: true, mark: 3 });
    expect(readMarker(dir)!.mark).toBe(3);
  });
});
