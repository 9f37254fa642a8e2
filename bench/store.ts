/**
 * Table-store benchmarks (issues 3 and 13), each against its fair baseline measured in the same
 * process, sides alternating run by run (a b, b a, …) after one unrecorded warm-up pair; each
 * figure is the median of BENCH_RUNS (default 5) runs and each ratio the median of the per-run
 * ratios; the load average is recorded with each figure (the machine is shared).
 *
 * | figure | fair baseline | target |
 * |---|---|---|
 * | `disc` point read (`store.get`, 100k rows) | `Map.get` on a `Map` of the same frozen rows | ≥ 0.5× |
 * | synced transactions, 64 writers (group commit) | raw `batch()` of 64 puts, `sync: true` (the coalescing by hand) | ≥ 0.5× |
 * | unsynced 1000-row batches (`dirtyPutMany`) | raw 1000-put batches | ≥ 0.8× |
 * | open + load of BENCH_ROWS rows | raw open + scan that parses, freezes and puts every row in a `Map` | ≤ 1.5× |
 *
 * Context rows (not targets): the old headlines' baselines (an async `db.get` + `JSON.parse`;
 * sequential one-put `sync: true` batches), unsynced transactions, the load with an index, the
 * heap held, the durable watermark's cost (same store with it switched off), event-loop delay; the
 * strict watermark's floor (a raw synced batch and a marker fdatasync in series: a floor, not a baseline).
 *
 * Run: `npm run bench -- store` or `node --expose-gc --import tsx bench/store.ts` (BENCH_RUNS=5,
 * BENCH_ROWS=1000000); one group alone: `… bench/store.ts reads|synced|async|batched|load|watermark`.
 * The store runs from the TypeScript source through tsx; with `BENCH_DIST=1` (after `npm run
 * build`) from the compiled `dist/` (see `_impl.ts`).
 */
import { type BenchResult, alternate, isMain, load1, median, printResults } from './lib.ts';
import * as w from './_storeWork.ts';
import { BUILD, DIST, impl } from './_impl.ts';

const { createRocksKv } = await impl();

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const LOAD_ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const CMD = `${DIST ? 'BENCH_DIST=1 ' : ''}node --expose-gc --import tsx bench/store.ts`;

type Pair = Awaited<ReturnType<typeof alternate>>;
function result(name: string, unit: string, p: Pair, baseName: string, target: string, met: (ratio: number) => boolean, command: string, headline = false): BenchResult {
  const ratio = median(p.ratios);
  return { name, value: median(p.a), unit, baseline: { name: baseName, value: median(p.b) }, ratio, target, met: met(ratio), runs: p.ratios, warmups: p.warmups, loadavg: median(p.loads), headline, command };
}

export async function reads(runs = RUNS): Promise<BenchResult[]> {
  const f = await w.readFixture();
  try {
    // sides alternate slice by slice inside each run (getsVsMap)
    w.getsVsMap(f.store, f.map); // warm-up, dropped
    const get: Pair = { a: [], b: [], ratios: [], loads: [], warmups: 1 };
    for (let r = 0; r < runs; r++) {
      const x = w.getsVsMap(f.store, f.map);
      get.a.push(x.store);
      get.b.push(x.map);
      get.ratios.push(x.store / x.map);
      get.loads.push(load1());
    }
    const raw = await alternate(runs, async () => w.storeGets(f.store), () => w.rawGets(f.raw));
    const idx = await alternate(runs, async () => w.storeIndexReads(f.store), () => w.rawIndexReads(f.raw));
    return [
      result('disc point read (store.get, 100k rows)', 'ops/s', get, 'Map.get, same frozen rows', '≥ 0.5× Map', (r) => r >= 0.5, `${CMD} reads`, true),
      result('  context: same reads vs raw async db.get + JSON.parse (the old "90.7×" baseline)', 'ops/s', raw, 'raw db.get + JSON.parse', 'context', () => true, `${CMD} reads`),
      // context, not a target: RAM index against disk reads, met by construction
      result('index read (indexRead, one value, ~1 row)', 'ops/s', idx, 'raw prefix scan of an index keyspace + get (disk, async: context, not a like-for-like baseline)', 'context', () => true, `${CMD} reads`),
    ];
  } finally {
    await f.close();
  }
}

export async function synced(runs = RUNS): Promise<BenchResult[]> {
  const sp: number[] = [];
  const rp: number[] = [];
  const p = await alternate(
    runs,
    async () => {
      const x = await w.storeTx('sync');
      sp.push(x.p99);
      return x.ops;
    },
    async () => {
      const x = await w.rawTxBatches(true);
      rp.push(x.p99);
      return x.ops;
    },
  );
  const seq = await alternate(runs, async () => (await w.storeTx('sync')).ops, () => w.rawSequentialSync(), 0);
  // the strict design's floor (two fdatasyncs in series, nothing else): how far the store is
  // from it, and how far it is from the raw baseline (the best ratio any strict store could show)
  const floor = await alternate(runs, async () => (await w.storeTx('sync')).ops, () => w.rawTxBatchesWithMarker(), 0);
  const ceiling = await alternate(runs, () => w.rawTxBatchesWithMarker(), async () => (await w.rawTxBatches(true)).ops, 0);
  const [a, b] = [sp.slice(-runs), rp.slice(-runs)];
  const lat: Pair = { a, b, ratios: a.map((x, i) => x / b[i]!), loads: p.loads, warmups: p.warmups };
  return [
    result(`synced tx writes, 64 concurrent writers, one row each (group commit)`, 'tx/s', p, 'raw batch of 64 puts, sync: true', '≥ 0.5× raw', (r) => r >= 0.5, `${CMD} synced`, true),
    result('  context: same vs sequential one-put sync:true batches (the old "7.9×" baseline)', 'tx/s', seq, 'raw sequential sync puts', 'context', () => true, `${CMD} synced`),
    result('  context: same vs the strict floor — raw 64-put sync batch, then a marker slot pwrite + fdatasync, in series (no store work)', 'tx/s', floor, 'floor: the two fdatasyncs in series', 'context (a floor, not a baseline)', () => true, `${CMD} synced`),
    result('  context: the strict floor vs the raw 64-put sync batches (the ratio no strict-watermark store can beat here)', 'tx/s', ceiling, 'raw batch of 64 puts, sync: true', 'context (a floor, not a baseline)', () => true, `${CMD} synced`),
    result('event-loop delay p99 under the synced write load', 'ms', lat, 'same during the raw 64-put synced batches (whose fsync runs on the main thread, the store\'s on its writer thread: context)', 'report', () => true, `${CMD} synced`),
  ];
}

export async function asyncTx(runs = RUNS): Promise<BenchResult[]> {
  const p = await alternate(runs, async () => (await w.storeTx('async')).ops, async () => (await w.rawTxBatches(false)).ops);
  return [result('unsynced tx writes (async table), 64 concurrent writers', 'tx/s', p, 'raw batch of 64 puts, sync: false', 'context (per-transaction cost)', () => true, `${CMD} async`)];
}

export async function batched(runs = RUNS): Promise<BenchResult[]> {
  const p = await alternate(runs, () => w.storeBatches(), () => w.rawBatches(false));
  const m = await alternate(runs, () => w.storeBatches(), () => w.rawBatches(true), 0);
  // CPU time (process.cpuUsage: every thread, RocksDB's included) per row: less moved by the
  // neighbours' load than wall time, and the same for a side that waits on a thread
  const cpu = async (f: () => Promise<number>): Promise<number> => {
    const c0 = process.cpuUsage();
    await f();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / w.BATCH_ROWS;
  };
  const c = await alternate(runs, () => cpu(() => w.storeBatches()), () => cpu(() => w.rawBatches(false)), 0);
  const cm = await alternate(runs, () => cpu(() => w.storeBatches()), () => cpu(() => w.rawBatches(true)), 0);
  // the opt-in bulk worker (RocksDB write on a second thread while the batch is applied to RAM) against the default inline write
  const bulk = createRocksKv({ bulkWorker: 'eager' });
  const o = await alternate(runs, () => w.storeBatches(bulk), () => w.storeBatches(), 0);
  const oc = await alternate(runs, () => cpu(() => w.storeBatches(bulk)), () => cpu(() => w.storeBatches()), 0);
  return [
    result('unsynced batched writes (dirtyPutMany, 1000-row batches, async table)', 'rows/s', p, 'raw 1000-put batches', '≥ 0.8× raw', (r) => r >= 0.8, `${CMD} batched`, true),
    result('  context: same vs raw batches + a RAM Map of the frozen rows', 'rows/s', m, 'raw batches + Map', 'context', () => true, `${CMD} batched`),
    result('  context: CPU time per row, same batches (>1: the store spends more)', 'µs', c, 'raw 1000-put batches', 'report', () => true, `${CMD} batched`),
    result('  context: CPU time per row vs raw batches + a RAM Map of the frozen rows', 'µs', cm, 'raw batches + Map', 'report', () => true, `${CMD} batched`),
    result("  context: same with createRocksKv({ bulkWorker: 'eager' }) (written on a second thread while applied to RAM)", 'rows/s', o, 'same store, inline write (default)', 'report', () => true, `${CMD} batched`),
    result("  context: CPU time per row (every thread), bulkWorker 'eager' vs inline", 'µs', oc, 'same store, inline write (default)', 'report', () => true, `${CMD} batched`),
  ];
}

export async function load(runs = RUNS, rows = LOAD_ROWS): Promise<BenchResult[]> {
  const n = rows.toLocaleString('en-US');
  const res: BenchResult[] = [];
  for (const indexes of [[], ['bux_balance']]) {
    const f = await w.loadFixture(rows, indexes);
    try {
      const heaps: number[] = [];
      const p = await alternate(
        runs,
        async () => {
          const r = await w.storeLoad(f.storeDir, rows, indexes);
          heaps.push(r.heapMb);
          return r.ms;
        },
        () => w.rawLoad(f.rawDir, rows),
      );
      const name = indexes.length === 0 ? `open + load ${n} rows (4 attributes, no index)` : `  context: open + load ${n} rows with 1 index (rebuilt in RAM)`;
      res.push(result(name, 'ms', p, 'raw open + scan + JSON.parse + freeze + Map.set', indexes.length === 0 ? '≤ 1.5× raw' : 'context', (r) => indexes.length > 0 || r <= 1.5, `${CMD} load`, indexes.length === 0));
      res.push({ name: `  heap held by ${n} rows${indexes.length ? ' + 1 index' : ''} (--expose-gc)`, value: median(heaps.slice(-runs)), unit: 'MB', target: 'report', met: true, loadavg: load1() });
    } finally {
      f.done();
    }
  }
  return res;
}

/** The durable commit watermark's cost: the same synced load with it and without it (`unsafeNoWatermark`). */
export async function watermark(runs = RUNS): Promise<BenchResult[]> {
  const p = await alternate(runs, async () => (await w.storeTx('sync')).ops, async () => (await w.storeTx('sync', createRocksKv({ unsafeNoWatermark: true }))).ops);
  const q = await alternate(runs, async () => (await w.storeTx('sync', createRocksKv({ watermark: 'pipelined' }))).ops, async () => (await w.storeTx('sync')).ops);
  return [
    result('synced tx writes with the durable commit watermark (strict, the default)', 'tx/s', p, 'same store, watermark off', 'report', () => true, `${CMD} watermark`),
    result('  context: synced tx writes, opt-in pipelined watermark', 'tx/s', q, 'same store, strict watermark (default)', 'report', () => true, `${CMD} watermark`),
  ];
}

const GROUPS = { reads, synced, async: asyncTx, batched, load, watermark } as const;

/** Runs every store benchmark. */
export async function run(): Promise<BenchResult[]> {
  const res: BenchResult[] = [];
  for (const g of Object.values(GROUPS)) res.push(...(await g()));
  return res;
}

if (isMain(import.meta.url)) {
  const only = process.argv[2] as keyof typeof GROUPS | undefined;
  if (only && !(only in GROUPS)) {
    process.stderr.write(`unknown group ${only} (${Object.keys(GROUPS).join('|')})\n`);
    process.exit(2);
  }
  printResults(`Store (${BUILD})`, only ? await GROUPS[only]() : await run());
}
