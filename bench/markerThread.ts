/**
 * Where the strict watermark's marker fdatasync runs (issue 13, context for the synced figure):
 * a worker thread writes 64-put RocksDB batches with `sync: true`, driven one at a time from the
 * main thread (shared-memory handshake), and after each batch the marker's 64-byte slot is
 * written in place and fdatasynced either
 * - **on the worker**, right after the WAL write returned (one hop fewer per batch), or
 * - **through libuv's pool** from the main thread once the worker answered (what the store does), or
 * - through the pool as one `pwrite` on a descriptor opened `O_DSYNC` (one pool job instead of a
 *   write and an fdatasync: one hop and one main-thread wake-up fewer).
 * Per batch: the wall time, and the worker's time inside the WAL write and the marker write.
 * Sides alternate run by run after one warm-up pair; medians of BENCH_RUNS (default 5) runs.
 *
 * Run: `node --import tsx bench/markerThread.ts` (temp dirs under the OS temp dir, removed).
 */
import { Worker } from 'node:worker_threads';
import { closeSync, constants, fdatasync, mkdtempSync, openSync, rmSync, write, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RocksLevel } from '@nxtedition/rocksdb';
import { type BenchResult, alternate, isMain, median, printResults } from './lib.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const BATCHES = 200;

// control words: 0 request, 1 answer, 2 marker on the worker (1) or not (0), 3 stop, 4/5 worker µs in WAL/marker writes
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { RocksLevel } = require(workerData.modulePath);
const db = new RocksLevel(workerData.handle);
const ctl = new Int32Array(workerData.ctl);
const slot = Buffer.alloc(64, 3);
db.open().then(() => {
  parentPort.postMessage('ready');
  let seen = 0, id = 0;
  for (;;) {
    Atomics.wait(ctl, 0, seen);
    seen = Atomics.load(ctl, 0);
    if (ctl[3]) break;
    const t0 = performance.now();
    const b = db.batch();
    for (let i = 0; i < 64; i++, id++) b._put(Buffer.from('t/' + id), Buffer.from(JSON.stringify({ id, payload: 'payload-' + id })), {});
    b._writeSync({ sync: true });
    b._closeSync();
    db.detachResource(b);
    const t1 = performance.now();
    ctl[4] += Math.round((t1 - t0) * 1000);
    if (ctl[2]) {
      fs.writeSync(workerData.fd, slot, 0, 64, (seen % 2) * 64);
      fs.fdatasyncSync(workerData.fd);
      ctl[5] += Math.round((performance.now() - t1) * 1000);
    }
    Atomics.store(ctl, 1, seen);
    Atomics.notify(ctl, 1);
  }
});
`;

type WaitAsync = (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

interface Side {
  us: number[];
  wal: number[];
  marker: number[];
}

export async function run(runs = RUNS): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-bench-marker-'));
  const db = new RocksLevel(`${dir}/db`, { keyEncoding: 'buffer', valueEncoding: 'buffer' }) as unknown as { handle: bigint; open(o: object): Promise<void>; close(): Promise<void> };
  await db.open({ createIfMissing: true });
  const fd = openSync(`${dir}/marker`, 'w+');
  writeSync(fd, Buffer.alloc(128), 0, 128, 0);
  const fdDsync = openSync(`${dir}/marker`, constants.O_RDWR | constants.O_DSYNC);
  const ctl = new Int32Array(new SharedArrayBuffer(32));
  const modulePath = createRequire(import.meta.url).resolve('@nxtedition/rocksdb');
  const w = new Worker(WORKER, { eval: true, workerData: { handle: db.handle, ctl: ctl.buffer, fd, modulePath } });
  await new Promise((r) => w.once('message', r));
  let req = 0;
  const call = async (onWorker: boolean): Promise<void> => {
    ctl[2] = onWorker ? 1 : 0;
    const id = ++req;
    const done = waitAsync(ctl, 1, id - 1);
    Atomics.store(ctl, 0, id);
    Atomics.notify(ctl, 0);
    if (done.async) await done.value;
  };
  const slot = Buffer.alloc(64, 4);
  const markOnPool = (epoch: number): Promise<void> =>
    new Promise((resolve, reject) => write(fd, slot, 0, 64, (epoch % 2) * 64, (err) => (err ? reject(err) : fdatasync(fd, (e) => (e ? reject(e) : resolve())))));
  const markDsync = (epoch: number): Promise<void> => new Promise((resolve, reject) => write(fdDsync, slot, 0, 64, (epoch % 2) * 64, (err) => (err ? reject(err) : resolve())));
  type Name = 'worker' | 'pool' | 'dsync';
  const sides: Record<Name, Side> = { worker: { us: [], wal: [], marker: [] }, pool: { us: [], wal: [], marker: [] }, dsync: { us: [], wal: [], marker: [] } };
  const side = (name: Name) => async (): Promise<number> => {
    const [w0, m0] = [ctl[4]!, ctl[5]!];
    const t0 = performance.now();
    for (let i = 0; i < BATCHES; i++) {
      if (name === 'worker') await call(true);
      else {
        await call(false);
        const m = performance.now();
        await (name === 'pool' ? markOnPool(i) : markDsync(i));
        ctl[5] = ctl[5]! + Math.round((performance.now() - m) * 1000);
      }
    }
    const us = ((performance.now() - t0) * 1000) / BATCHES;
    sides[name].us.push(us);
    sides[name].wal.push((ctl[4]! - w0) / BATCHES);
    sides[name].marker.push((ctl[5]! - m0) / BATCHES);
    return us;
  };
  try {
    const p = await alternate(runs, side('worker'), side('pool'));
    const d = await alternate(runs, side('dsync'), side('pool'));
    const last = (xs: number[]): number => median(xs.slice(-runs));
    const cmd = 'node --import tsx bench/markerThread.ts';
    return [
      { name: 'synced 64-put batch + marker fdatasync on the sync writer thread, per batch (time: >1 slower)', value: median(p.a), unit: 'µs', baseline: { name: 'marker through libuv\'s pool (the store\'s path)', value: median(p.b) }, ratio: median(p.ratios), target: 'report', met: true, runs: p.ratios, warmups: p.warmups, loadavg: median(p.loads), command: cmd },
      { name: 'same, marker as one O_DSYNC pwrite through the pool (one hop fewer)', value: median(d.a), unit: 'µs', baseline: { name: 'write + fdatasync through the pool', value: median(d.b) }, ratio: median(d.ratios), target: 'report', met: true, runs: d.ratios, warmups: d.warmups, loadavg: median(d.loads), command: cmd },
      { name: '  of which the WAL write (worker thread)', value: last(sides.worker.wal), unit: 'µs', baseline: { name: 'same, marker on the pool', value: last(sides.pool.wal) }, ratio: last(sides.worker.wal) / last(sides.pool.wal), target: 'report', met: true, command: cmd },
      { name: '  of which the marker write + fdatasync', value: last(sides.worker.marker), unit: 'µs', baseline: { name: 'on the pool, as the main thread sees it', value: last(sides.pool.marker) }, ratio: last(sides.worker.marker) / last(sides.pool.marker), target: 'report', met: true, command: cmd },
    ];
  } finally {
    ctl[3] = 1;
    Atomics.store(ctl, 0, ++req);
    Atomics.notify(ctl, 0);
    await w.terminate();
    closeSync(fd);
    closeSync(fdDsync);
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) printResults('Marker thread (strict watermark)', await run());
