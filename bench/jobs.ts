/**
 * Job-runner benchmarks (issue 10) against BullMQ on a real `redis-server` (Debian's), both in
 * this process, sides alternating, median of runs, at two comparable durabilities:
 * - the store's `async` job tables vs Redis `appendonly yes` + `appendfsync everysec`;
 * - the store's `sync` job tables (every commit fdatasynced, group commit) vs `appendfsync always`.
 * Figures: no-op job throughput (enqueue N jobs and run them all, concurrency 50) and
 * enqueue→start latency p50/p99 (one job at a time, the worker idle and waiting).
 * Run: `BENCH_RUNS=5 node --import tsx bench/jobs.ts` or `npm run bench -- jobs` (defaults
 * BENCH_RUNS=5, BENCH_JOBS=5000, BENCH_SAMPLES=300); the load average and each run's throughput
 * go to stderr. At sync it also measures, as context, Ordo's latency on the store's opt-in
 * pipelined watermark (same run, alternating; throughput and latency, an extra row: one
 * fdatasync per ack, as Redis `appendfsync always`): what the default strict watermark adds.
 * `BENCH_SYNC_ONLY=1` runs only the sync comparison (tables `sync` vs `appendfsync always`), and
 * `BENCH_NO_PIPELINED=1` leaves out its pipelined-watermark context rows (A/B runs of the strict path).
 * With `--dist` (`npm run build` first) Ordo is loaded from the compiled `dist/`, as the other
 * benchmarks do; the rows' names say which build ran.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { Queue as BullQueue, Worker as BullWorker, createBunRedisClient } from 'bullmq';
import type { Env } from '../src/env/index.ts';
import { type BenchResult, isMain, load1, median, now, percentile, printResults } from './lib.ts';
import { MiniRedis } from './_resp.ts';
import { BUILD } from './_impl.ts';
import { jobsImpl } from './_jobsImpl.ts';

const { createRealEnv, createRocksKv, openStore, jobs: { JobRunner, defineWorker, jobTables } } = await jobsImpl();

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const JOBS = Number(process.env['BENCH_JOBS'] ?? 5000);
const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 300);
const CONCURRENCY = 50;
const SYNC_ONLY = process.env['BENCH_SYNC_ONLY'] === '1';
const NO_PIPELINED = process.env['BENCH_NO_PIPELINED'] === '1';

const quietEnv = (): Env => createRealEnv({ logger: pino({ level: 'silent' }) });

/** A phase that has not ended after this long is a hang: the run stops, saying where (never a silent wait). */
const PHASE_MS = Number(process.env['BENCH_PHASE_MS'] ?? 120_000);
/** `p`, or an error naming `what` and `state()` (what the side had done) once {@link PHASE_MS} passed. */
async function within<T>(what: string, p: Promise<T>, state: () => unknown): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`jobs bench: ${what} did not end within ${PHASE_MS} ms: ${JSON.stringify(state())}`)), PHASE_MS);
  });
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(t);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** A redis-server on a free loopback port with its AOF in a temp dir. */
async function startRedis(fsync: 'everysec' | 'always'): Promise<{ port: number; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-bench-redis-'));
  const port = await freePort();
  // no AOF rewrite: one server serves every run of a durability, so its AOF grows across runs and a
  // rewrite (a fork) could fall on a later BullMQ run, while each Ordo run starts on a fresh directory
  const proc: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', fsync, '--auto-aof-rewrite-percentage', '0', '--save', '', '--protected-mode', 'yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once('exit', (c) => reject(new Error(`redis-server exited ${c}: ${out}`)));
  });
  return {
    port,
    stop: async () => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Side {
  /** Enqueue JOBS no-op jobs and wait until all completed: jobs/s. */
  throughput(): Promise<number>;
  /** SAMPLES sequential enqueue→start latencies (ms). */
  latency(): Promise<number[]>;
  close(): Promise<void>;
}

async function ordoSide(durability: 'sync' | 'async', watermark: 'strict' | 'pipelined' = 'strict'): Promise<Side> {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-bench-jobs-'));
  const env = quietEnv();
  // the default adapter (strict watermark) unless the pipelined context figure is asked for
  const store = await openStore({ env, dir, tables: jobTables({ durability }), ...(watermark === 'pipelined' ? { kv: createRocksKv({ watermark: 'pipelined' }) } : {}) });
  let started: (() => void) | undefined;
  let done = 0;
  let allDone: (() => void) | undefined;
  const noop = defineWorker<{ n: number }>({
    name: 'noop',
    perform: () => {
      started?.();
      if (++done === JOBS) allDone?.();
    },
  });
  // the default pruner (completed jobs older than 60 s): completed jobs are kept during a run,
  // as on the BullMQ side (its completed set); a pruner deleting mid-sample is work the baseline
  // does not do
  const runner = await JobRunner.start({ env, store, config: { workers: [noop], queues: { default: CONCURRENCY } } });
  return {
    async throughput() {
      done = 0;
      const finished = new Promise<void>((r) => (allDone = r));
      const t0 = now();
      await within('ordo enqueue', Promise.all(Array.from({ length: JOBS }, (_, n) => runner.enqueue(noop, { n }))), () => ({ done }));
      await within('ordo throughput', finished, () => ({ done, of: JOBS, jobs: runner.metrics().jobs, health: runner.health() }));
      allDone = undefined;
      return JOBS / ((now() - t0) / 1000);
    },
    async latency() {
      const out: number[] = [];
      done = -1e9;
      for (let i = 0; i < SAMPLES; i++) {
        const t0 = now();
        const s = new Promise<void>((r) => (started = r));
        void runner.enqueue(noop, { n: i });
        await within('ordo latency sample', s, () => ({ sample: i, jobs: runner.metrics().jobs, health: runner.health() }));
        out.push(now() - t0);
        // the same 1 ms gap as the BullMQ side: a busy loop (setImmediate) keeps the process
        // runnable, and on a loaded machine the scheduler then preempts it mid-sample
        await new Promise((r) => setTimeout(r, 1));
      }
      started = undefined;
      return out;
    },
    async close() {
      await runner.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function bullSide(port: number, name: string): Promise<Side> {
  // BullMQ 6's Bun adapter over a minimal RESP2 client (ioredis is not installed: see _resp.ts)
  // connections handed in are the caller's to close (BullMQ closes only those it made itself)
  const handedIn: { disconnect(): unknown }[] = [];
  const client = (): never => {
    const c = createBunRedisClient(new MiniRedis(`redis://127.0.0.1:${port}`) as never) as unknown as { disconnect(): unknown };
    handedIn.push(c);
    return c as never;
  };
  const queue = new BullQueue(name, { connection: client() });
  let started: (() => void) | undefined;
  let done = 0;
  let allDone: (() => void) | undefined;
  const worker = new BullWorker(
    name,
    async () => {
      started?.();
      if (++done === JOBS) allDone?.();
    },
    { connection: client(), concurrency: CONCURRENCY },
  );
  await worker.waitUntilReady();
  await queue.waitUntilReady();
  return {
    async throughput() {
      done = 0;
      const finished = new Promise<void>((r) => (allDone = r));
      const t0 = now();
      await within('bullmq enqueue', Promise.all(Array.from({ length: JOBS }, (_, n) => queue.add('noop', { n }))), () => ({ done }));
      await within('bullmq throughput', finished, () => ({ done, of: JOBS }));
      allDone = undefined;
      return JOBS / ((now() - t0) / 1000);
    },
    async latency() {
      const out: number[] = [];
      done = -1e9;
      for (let i = 0; i < SAMPLES; i++) {
        const t0 = now();
        const s = new Promise<void>((r) => (started = r));
        void queue.add('noop', { n: i });
        await within('bullmq latency sample', s, () => ({ sample: i }));
        out.push(now() - t0);
        await new Promise((r) => setTimeout(r, 1));
      }
      started = undefined;
      return out;
    },
    async close() {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
      for (const c of handedIn) c.disconnect();
    },
  };
}

const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');

async function compare(label: string, durability: 'sync' | 'async', fsync: 'everysec' | 'always'): Promise<BenchResult[]> {
  const redis = await startRedis(fsync);
  const loadBefore = load();
  const tput = { ordo: [] as number[], bull: [] as number[] };
  const p50 = { ordo: [] as number[], bull: [] as number[] };
  const p99 = { ordo: [] as number[], bull: [] as number[] };
  // context at sync: Ordo's latency on the opt-in pipelined watermark (the strict one's cost)
  const piped = { tput: [] as number[], p50: [] as number[], p99: [] as number[] };
  const loads: number[] = [];
  try {
    for (let run = 0; run <= RUNS; run++) {
      // sides alternate, and which goes first alternates too; run 0 is a warm-up
      const order = run % 2 === 0 ? (['ordo', 'bull'] as const) : (['bull', 'ordo'] as const);
      for (const who of order) {
        const side = who === 'ordo' ? await ordoSide(durability) : await bullSide(redis.port, `bench-${label}-${run}`);
        try {
          const t = await side.throughput();
          const lat = await side.latency();
          if (run > 0) {
            tput[who].push(t);
            p50[who].push(percentile(lat, 50));
            p99[who].push(percentile(lat, 99));
          }
        } finally {
          await within(`${who} close`, side.close(), () => ({ run }));
        }
      }
      if (durability === 'sync' && run > 0 && !NO_PIPELINED) {
        const side = await ordoSide(durability, 'pipelined');
        try {
          piped.tput.push(await side.throughput());
          const lat = await side.latency();
          piped.p50.push(percentile(lat, 50));
          piped.p99.push(percentile(lat, 99));
        } finally {
          await within('ordo (pipelined) close', side.close(), () => ({ run }));
        }
      }
      if (run > 0) loads.push(load1());
    }
  } finally {
    await redis.stop();
  }
  // the machine is shared: the load average says how noisy the figures are
  process.stderr.write(`jobs bench ${label} (${BUILD}): load average before ${loadBefore}, after ${load()}, per run ${JSON.stringify(loads.map((l) => +l.toFixed(1)))}; runs ordo ${JSON.stringify(tput.ordo.map(Math.round))} bull ${JSON.stringify(tput.bull.map(Math.round))} jobs/s; p50 ordo ${JSON.stringify(p50.ordo.map((x) => +x.toFixed(2)))} bull ${JSON.stringify(p50.bull.map((x) => +x.toFixed(2)))}; p99 ordo ${JSON.stringify(p99.ordo.map((x) => +x.toFixed(1)))} bull ${JSON.stringify(p99.bull.map((x) => +x.toFixed(1)))} ms\n`);
  const loadavg = median(loads);
  const bull = `BullMQ 6, Redis AOF appendfsync ${fsync}`;
  const tm = median(tput.ordo);
  const tb = median(tput.bull);
  const res: BenchResult[] = [
    { name: `no-op job throughput, ${durability} job tables (${JOBS} jobs, concurrency ${CONCURRENCY})`, value: tm, unit: 'ops/s', baseline: { name: bull, value: tb }, ratio: tm / tb, target: 'ahead of BullMQ', met: tm > tb, runs: tput.ordo, warmups: 1, loadavg },
  ];
  for (const [q, xs] of [['p50', p50], ['p99', p99]] as const) {
    const a = median(xs.ordo);
    const b = median(xs.bull);
    res.push({ name: `enqueue→start latency ${q}, ${durability} job tables`, value: a, unit: 'ms', baseline: { name: bull, value: b }, ratio: a / b, target: 'ahead of BullMQ (lower)', met: a < b, runs: xs.ordo, warmups: 1, loadavg });
  }
  if (durability === 'sync' && !NO_PIPELINED) {
    const a = median(piped.tput);
    // an extra row, not the headline: one fdatasync per acknowledged commit (the WAL's), as Redis
    // `appendfsync always` does one per write; the default strict watermark waits for a second
    // (the marker's) and stays the headline row above
    res.push({ name: `no-op job throughput, sync job tables on the opt-in pipelined watermark (extra row: one fdatasync per ack, as appendfsync always; the strict default above is the headline)`, value: a, unit: 'ops/s', baseline: { name: bull, value: tb }, ratio: a / tb, runs: piped.tput, loadavg });
  }
  for (const q of durability === 'sync' && !NO_PIPELINED ? (['p50', 'p99'] as const) : []) {
    const a = median(piped[q]);
    const b = median((q === 'p50' ? p50 : p99).bull);
    // context, not a target (no `target`: not a summary row): the strict watermark's cost
    res.push({ name: `enqueue→start latency ${q}, sync job tables on the opt-in pipelined watermark (extra row: one fdatasync per ack, as appendfsync always; the default strict one acknowledges after a second fdatasync, the marker's)`, value: a, unit: 'ms', baseline: { name: bull, value: b }, ratio: a / b, runs: piped[q], loadavg });
  }
  return res;
}

export async function run(): Promise<BenchResult[]> {
  return [...(SYNC_ONLY ? [] : await compare('async', 'async', 'everysec')), ...(await compare('sync', 'sync', 'always'))];
}

if (isMain(import.meta.url)) printResults(`jobs (${BUILD})`, await run());
