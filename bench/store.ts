/**
 * Table-store benchmarks (issue 3), each against raw `@nxtedition/rocksdb` measured in the same
 * run: disc point read, index read, synced transactional writes from 64 concurrent writers
 * (group commit) vs sequential `sync: true` puts, unsynced batched writes vs raw batches,
 * open+load of 1M rows, event-loop delay p99 under synced write load.
 * Run: `node --import tsx bench/store.ts` (BENCH_RUNS=3 by default; BENCH_ROWS=1000000 for the load test);
 * one figure alone: `… bench/store.ts synced|batched|reads|load` (three runs, one JSON line each).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { RocksLevel } from '@nxtedition/rocksdb';
import { createRealEnv, type Env } from '../src/env/index.ts';
import { openStore } from '../src/store/openStore.ts';
import { createRocksKv } from '../src/env/rocksdb.ts';
import type { KvAdapter } from '../src/env/kv.ts';
import type { TableDef } from '../src/store/types.ts';
import { type BenchResult, isMain, median, now, printResults } from './lib.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const LOAD_ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);

const quietEnv = (): Env => createRealEnv({ logger: pino({ level: 'silent' }) });

function tmp(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-bench-store-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const users: TableDef = {
  type: 'ordered_set',
  key: 'user_id',
  attributes: { user_id: { type: 'string' }, user_smart_wallet: { type: 'string', default: '' }, bux_balance: { type: 'integer', default: 0 }, updated_at: { type: 'integer', default: 0 } },
  indexes: ['bux_balance'],
};
const plain = (durability: 'sync' | 'async'): TableDef => ({ key: 'id', attributes: { id: { type: 'integer' }, payload: { type: 'string' } }, durability });
const row = (i: number) => ({ user_id: `user-${String(i).padStart(7, '0')}`, user_smart_wallet: `0x${(i * 2654435761).toString(16).padStart(12, '0')}`, bux_balance: (i * 7919) % 100_000, updated_at: 1_700_000_000_000 + i });

/** Raw RocksDB handle with buffer encodings (the baseline). */
async function rawDb(dir: string): Promise<{ db: RawDb; close: () => Promise<void> }> {
  const db = new RocksLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' }) as unknown as RawDb;
  await db.open({ createIfMissing: true });
  return { db, close: () => db.close() };
}
interface RawDb {
  open(o: object): Promise<void>;
  close(): Promise<void>;
  get(k: Buffer): Promise<Buffer>;
  batch(): { put(k: Buffer, v: Buffer): void; write(o: { sync: boolean }): Promise<void> };
  iterator(o: object): { nextv(n: number): Promise<Array<[Buffer, Buffer]>>; close(): Promise<void> };
}

async function pointReads(): Promise<{ store: number; raw: number; index: number; rawIndex: number }> {
  const N = 100_000;
  const READS = 1_000_000;
  const t = tmp();
  const store = await openStore({ env: quietEnv(), dir: t.dir + '/s', tables: { users: { ...users, durability: 'async' } } });
  for (let i = 0; i < N; i += 10_000) await store.dirtyPutMany('users', Array.from({ length: 10_000 }, (_, j) => row(i + j)));
  const keys = Array.from({ length: 4096 }, (_, i) => `user-${String((i * 7919) % N).padStart(7, '0')}`);
  let t0 = now();
  let hits = 0;
  for (let i = 0; i < READS; i++) if (store.get('users', keys[i & 4095]!)) hits++;
  const storeOps = READS / ((now() - t0) / 1000);
  if (hits !== READS) throw new Error('point read missed');
  // index read: rows with one bux_balance value
  const vals = keys.map((_, i) => (i * 7919 * 7919) % 100_000);
  t0 = now();
  const IREADS = 200_000;
  for (let i = 0; i < IREADS; i++) store.indexRead('users', 'bux_balance', vals[i & 4095]!);
  const indexOps = IREADS / ((now() - t0) / 1000);
  await store.close();
  // raw: the same rows as JSON under the same keys; point get, and an index emulated the raw
  // way (a second keyspace `balance|key` scanned by prefix, then a get per hit)
  const { db, close } = await rawDb(t.dir + '/raw');
  for (let i = 0; i < N; i += 10_000) {
    const b = db.batch();
    for (let j = i; j < i + 10_000; j++) {
      const r = row(j);
      b.put(Buffer.from(`r/${r.user_id}`), Buffer.from(JSON.stringify(r)));
      b.put(Buffer.from(`i/${String(r.bux_balance).padStart(6, '0')}/${r.user_id}`), Buffer.from([1]));
    }
    await b.write({ sync: false });
  }
  const RAW_READS = 100_000;
  t0 = now();
  for (let i = 0; i < RAW_READS; i++) JSON.parse((await db.get(Buffer.from(`r/${keys[i & 4095]!}`))).toString());
  const rawOps = RAW_READS / ((now() - t0) / 1000);
  t0 = now();
  const RAW_IREADS = 20_000;
  for (let i = 0; i < RAW_IREADS; i++) {
    const p = `i/${String(vals[i & 4095]!).padStart(6, '0')}/`;
    const it = db.iterator({ gte: Buffer.from(p), lt: Buffer.from(p + '\xff') });
    const hitsRaw = await it.nextv(1000);
    await it.close();
    for (const [k] of hitsRaw) JSON.parse((await db.get(Buffer.from(`r/${k.toString().slice(p.length)}`))).toString());
  }
  const rawIndexOps = RAW_IREADS / ((now() - t0) / 1000);
  await close();
  t.done();
  return { store: storeOps, raw: rawOps, index: indexOps, rawIndex: rawIndexOps };
}

/**
 * The durable commit watermark's cost (issue 15): the same synced group-commit load with the
 * watermark (the marker file's fdatasync after each synced batch) and without it
 * (`createRocksKv({ unsafeNoWatermark: true })`), sides alternating, median of the paired ratios.
 */
async function watermarkCost(runs: number): Promise<{ withWm: number; without: number; ratio: number; ratios: number[] }> {
  const w: number[] = [];
  const wo: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? [true, false] : [false, true];
    const got: Record<string, number> = {};
    for (const on of order) got[String(on)] = (await syncedStore(on ? createRocksKv() : createRocksKv({ unsafeNoWatermark: true }))).ops;
    w.push(got['true']!);
    wo.push(got['false']!);
    ratios.push(got['true']! / got['false']!);
  }
  return { withWm: median(w), without: median(wo), ratio: median(ratios), ratios };
}

/** The store side of {@link syncedWrites}: 64 concurrent writers of synced transactions through `kv`. */
async function syncedStore(kv: KvAdapter): Promise<{ ops: number }> {
  const t = tmp();
  const store = await openStore({ env: quietEnv(), dir: t.dir + '/s', tables: { t: plain('sync') }, kv });
  const TOTAL = 6400;
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < TOTAL) {
        const id = next++;
        await store.transaction((tx) => void tx.put('t', { id, payload: `payload-${id}` }));
      }
    }),
  );
  const ops = TOTAL / ((now() - t0) / 1000);
  await store.close();
  t.done();
  return { ops };
}

/** 64 concurrent writers, synced transactions, group commit; event-loop delay p99 meanwhile. */
async function syncedWrites(): Promise<{ store: number; raw: number; storeP99: number; rawP99: number }> {
  const t = tmp();
  const store = await openStore({ env: quietEnv(), dir: t.dir + '/s', tables: { t: plain('sync') } });
  const TOTAL = 6400;
  let next = 0;
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let t0 = now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < TOTAL) {
        const id = next++;
        await store.transaction((tx) => void tx.put('t', { id, payload: `payload-${id}` }));
      }
    }),
  );
  const storeOps = TOTAL / ((now() - t0) / 1000);
  h.disable();
  const storeP99 = h.percentile(99) / 1e6;
  await store.close();
  const { db, close } = await rawDb(t.dir + '/raw');
  const RAW = 1000;
  const h2 = monitorEventLoopDelay({ resolution: 1 });
  h2.enable();
  t0 = now();
  for (let i = 0; i < RAW; i++) {
    const b = db.batch();
    b.put(Buffer.from(`k${i}`), Buffer.from(JSON.stringify({ id: i, payload: `payload-${i}` })));
    await b.write({ sync: true });
    // let the loop turn between puts (the binding resolves on nextTick, which would otherwise
    // starve the delay monitor's timer and hide the stalls)
    await new Promise<void>((r) => setImmediate(r));
  }
  const rawOps = RAW / ((now() - t0) / 1000);
  h2.disable();
  await close();
  t.done();
  return { store: storeOps, raw: rawOps, storeP99, rawP99: h2.percentile(99) / 1e6 };
}

/** Unsynced batched writes: 1000-row batches, store (`durability: 'async'`) vs raw batch puts. */
async function batchedWrites(): Promise<{ store: number; raw: number; rawMap: number }> {
  const t = tmp();
  const BATCHES = 300;
  const SIZE = 1000;
  const store = await openStore({ env: quietEnv(), dir: t.dir + '/s', tables: { t: plain('async') } });
  let t0 = now();
  for (let b = 0; b < BATCHES; b++) await store.dirtyPutMany('t', Array.from({ length: SIZE }, (_, j) => ({ id: b * SIZE + j, payload: `payload-${b * SIZE + j}` })));
  const storeOps = (BATCHES * SIZE) / ((now() - t0) / 1000);
  await store.close();
  const { db, close } = await rawDb(t.dir + '/raw');
  t0 = now();
  for (let b = 0; b < BATCHES; b++) {
    const batch = db.batch();
    for (let j = 0; j < SIZE; j++) {
      const id = b * SIZE + j;
      batch.put(Buffer.from(`t/${id}`), Buffer.from(JSON.stringify({ id, payload: `payload-${id}` })));
    }
    await batch.write({ sync: false });
  }
  const rawOps = (BATCHES * SIZE) / ((now() - t0) / 1000);
  // context, not the target's baseline: raw batches plus the RAM copy an app would keep to
  // read at RAM speed (a Map of the rows), which the store maintains too
  const ram = new Map<string, object>();
  t0 = now();
  for (let b = 0; b < BATCHES; b++) {
    const batch = db.batch();
    for (let j = 0; j < SIZE; j++) {
      const id = b * SIZE + j;
      const r = { id, payload: `payload-${id}` };
      batch.put(Buffer.from(`m/${id}`), Buffer.from(JSON.stringify(r)));
      ram.set(`m/${id}`, r);
    }
    await batch.write({ sync: false });
  }
  const rawMapOps = (BATCHES * SIZE) / ((now() - t0) / 1000);
  await close();
  t.done();
  return { store: storeOps, raw: rawOps, rawMap: rawMapOps };
}

/** Open + load of LOAD_ROWS rows into RAM (time, heap) vs raw open + full iteration. */
async function openLoad(): Promise<{ storeMs: number; rawMs: number; heapMb: number }> {
  const t = tmp();
  let store = await openStore({ env: quietEnv(), dir: t.dir + '/s', tables: { users: { ...users, durability: 'async' } } });
  for (let i = 0; i < LOAD_ROWS; i += 20_000) await store.dirtyPutMany('users', Array.from({ length: Math.min(20_000, LOAD_ROWS - i) }, (_, j) => row(i + j)));
  await store.close();
  const { db, close } = await rawDb(t.dir + '/raw');
  for (let i = 0; i < LOAD_ROWS; i += 20_000) {
    const b = db.batch();
    for (let j = i; j < Math.min(i + 20_000, LOAD_ROWS); j++) b.put(Buffer.from(`r/${row(j).user_id}`), Buffer.from(JSON.stringify(row(j))));
    await b.write({ sync: false });
  }
  await close();
  const runs: number[] = [];
  const raws: number[] = [];
  let heap = 0;
  for (let r = 0; r < RUNS; r++) {
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let t0 = now();
    store = await openStore({ env: quietEnv(), dir: t.dir + '/s', tables: { users: { ...users, durability: 'async' } } });
    runs.push(now() - t0);
    global.gc?.();
    heap = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
    if (store.count('users') !== LOAD_ROWS) throw new Error('load lost rows');
    await store.close();
    store = undefined as never;
    t0 = now();
    const raw = await rawDb(t.dir + '/raw');
    const it = raw.db.iterator({});
    let n = 0;
    for (let c = await it.nextv(2000); c.length > 0; c = await it.nextv(2000)) for (const [, v] of c) (JSON.parse(v.toString()), n++);
    await it.close();
    await raw.close();
    raws.push(now() - t0);
    if (n !== LOAD_ROWS) throw new Error('raw load lost rows');
  }
  t.done();
  return { storeMs: median(runs), rawMs: median(raws), heapMb: heap };
}

/** Runs every store benchmark (median of BENCH_RUNS runs each). */
export async function run(): Promise<BenchResult[]> {
  const reads: Array<Awaited<ReturnType<typeof pointReads>>> = [];
  const synced: Array<Awaited<ReturnType<typeof syncedWrites>>> = [];
  const batched: Array<Awaited<ReturnType<typeof batchedWrites>>> = [];
  await batchedWrites(); // warm-up (JIT) before measured runs
  await syncedWrites();
  for (let r = 0; r < RUNS; r++) {
    reads.push(await pointReads());
    synced.push(await syncedWrites());
    batched.push(await batchedWrites());
  }
  const load = await openLoad();
  const wm = await watermarkCost(RUNS);
  const m = <T>(xs: T[], f: (x: T) => number): number => median(xs.map(f));
  const res: BenchResult[] = [];
  const add = (name: string, value: number, unit: string, baseName: string, base: number, target: string, met: boolean, runs: number[]): void => {
    res.push({ name, value, unit, baseline: { name: baseName, value: base }, ratio: value / base, target, met, runs });
  };
  const pr = m(reads, (x) => x.store);
  add('disc point read (store.get)', pr, 'ops/s', 'raw db.get + JSON.parse', m(reads, (x) => x.raw), '≥ 1,000,000 ops/s', pr >= 1_000_000, reads.map((x) => x.store));
  add('index read (indexRead, 1 value)', m(reads, (x) => x.index), 'ops/s', 'raw prefix scan + get', m(reads, (x) => x.rawIndex), 'faster than raw', m(reads, (x) => x.index) > m(reads, (x) => x.rawIndex), reads.map((x) => x.index));
  const sw = m(synced, (x) => x.store);
  const swRaw = m(synced, (x) => x.raw);
  add('synced tx writes, 64 concurrent writers (group commit)', sw, 'ops/s', 'raw sequential sync:true puts', swRaw, '≥ 5× raw', sw / swRaw >= 5, synced.map((x) => x.store));
  const bw = m(batched, (x) => x.store);
  const bwRaw = m(batched, (x) => x.raw);
  add('unsynced batched writes (1000-row batches)', bw, 'ops/s', 'raw batch puts', bwRaw, '≥ 0.8× raw', bw / bwRaw >= 0.8, batched.map((x) => x.store));
  const bwMap = m(batched, (x) => x.rawMap);
  add('  same, context: raw batch puts + a RAM Map of the rows', bw, 'ops/s', 'raw batch puts + Map', bwMap, 'context only', true, batched.map((x) => x.rawMap));
  add(`open + load ${LOAD_ROWS.toLocaleString('en-US')} rows`, load.storeMs, 'ms', 'raw open + full iteration + JSON.parse', load.rawMs, 'report', true, []);
  res.push({ name: `heap held for ${LOAD_ROWS.toLocaleString('en-US')} rows (+1 index)`, value: load.heapMb, unit: 'MB', target: 'report', met: true });
  add('synced tx writes with the durable commit watermark', wm.withWm, 'ops/s', 'same store, watermark off', wm.without, 'report (median of paired ratios)', true, wm.ratios);
  const p99 = m(synced, (x) => x.storeP99);
  add('event-loop delay p99 under synced write load', p99, 'ms', 'raw sequential sync puts', m(synced, (x) => x.rawP99), 'report', true, synced.map((x) => x.storeP99));
  return res;
}

if (isMain(import.meta.url)) {
  if (process.argv[2] === 'synced') {
    for (let i = 0; i < 3; i++) process.stdout.write(JSON.stringify(await syncedWrites()) + '\n');
    process.exit(0);
  }
  if (process.argv[2] === 'watermark') {
    process.stdout.write(JSON.stringify(await watermarkCost(Number(process.env['BENCH_RUNS'] ?? 5))) + '\n');
    process.exit(0);
  }
  if (process.argv[2] === 'reads') {
    for (let i = 0; i < 3; i++) process.stdout.write(JSON.stringify(await pointReads()) + '\n');
    process.exit(0);
  }
  if (process.argv[2] === 'load') {
    for (let i = 0; i < 3; i++) process.stdout.write(JSON.stringify(await openLoad()) + '\n');
    process.exit(0);
  }
  if (process.argv[2] === 'batched') {
    for (let i = 0; i < 3; i++) process.stdout.write(JSON.stringify(await batchedWrites()) + '\n');
    process.exit(0);
  }
  const results = await run();
  printResults('Store', results);
}
