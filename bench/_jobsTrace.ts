/**
 * Where an enqueue→start sample of `bench/jobs.ts` waits (a diagnosis, not a figure: no
 * baseline, nothing compared). Runs Ordo's side of the jobs bench — a throughput phase, then
 * sequential enqueue→start samples with the same 1 ms gap — with the store's synced writes
 * timed through a pass-through KvAdapter, and prints per run:
 * - p50/p99 of the samples, synced writes per sample, and write durations (WAL + marker
 *   fdatasyncs, as the store awaits them) by batch size (ops), each with the idle time before it;
 * - how many synced writes each sample overlaps (a histogram with the median latency of each
 *   bucket): 2 means the sample's insert waited behind another flush (mostly the previous job's
 *   completion), 1 that it rode a flush of its own;
 * - the time from a job's start to the next write being issued (its completion's flush);
 * - the slowest samples with the writes they waited through (start..end, relative to enqueue).
 * Run: `node --import tsx bench/_jobsTrace.ts` (TRACE_RUNS=3, TRACE_JOBS=5000,
 * TRACE_SAMPLES=300, TRACE_DURABILITY=sync|async; `BENCH_DIST=1` loads `dist/`, see _impl.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { KvAdapter, KvDb, KvOp, KvWriteOptions } from '../src/env/kv.ts';
import { load1, median, now, percentile } from './lib.ts';
import { BUILD } from './_impl.ts';
import { jobsImpl } from './_jobsImpl.ts';

const { createRealEnv, openStore, createRocksKv, jobs: { JobRunner, defineWorker, jobTables } } = await jobsImpl();

const RUNS = Number(process.env['TRACE_RUNS'] ?? 3);
const JOBS = Number(process.env['TRACE_JOBS'] ?? 5000);
const SAMPLES = Number(process.env['TRACE_SAMPLES'] ?? 300);
const DURABILITY = process.env['TRACE_DURABILITY'] === 'async' ? 'async' : 'sync';

interface Write {
  readonly s: number;
  e: number;
  readonly n: number;
  /** When the engine reported it durable in the WAL, its mark still pending (`onDurable`; 0: never). */
  d: number;
}

/** `inner` with every synced write of each opened database timed into `out` (everything else passes through). */
function timed(inner: KvAdapter, out: Write[]): KvAdapter {
  return {
    exists: (d) => inner.exists(d),
    ...(inner.canonical ? { canonical: (d: string) => inner.canonical!(d) } : {}),
    async open(dir, o) {
      const db = await inner.open(dir, o);
      const write = async (ops: readonly KvOp[], wo: KvWriteOptions): Promise<void> => {
        const w: Write = { s: now(), e: 0, n: ops.length, d: 0 };
        const onDurable = wo.onDurable;
        try {
          await db.write(ops, onDurable ? { ...wo, onDurable: () => ((w.d = now()), onDurable()) } : wo);
        } finally {
          w.e = now();
          if (wo.sync) out.push(w);
        }
      };
      // a Proxy, so the non-enumerable members (beginWrite) and getters (marker) pass through
      return new Proxy(db, {
        get(t, k) {
          if (k === 'write') return write;
          const v = (t as unknown as Record<PropertyKey, unknown>)[k];
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      }) as KvDb;
    },
  };
}

const f = (x: number, d = 2): string => x.toFixed(d);

async function traceRun(run: number): Promise<{ p50: number; p99: number }> {
  const writes: Write[] = [];
  const env = createRealEnv({ logger: pino({ level: 'silent' }) });
  const dir = mkdtempSync(join(tmpdir(), 'ordo-trace-jobs-'));
  const store = await openStore({ env, dir, tables: jobTables({ durability: DURABILITY }), kv: timed(createRocksKv(), writes) });
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
  const runner = await JobRunner.start({ env, store, config: { workers: [noop], queues: { default: 50 } } });
  try {
    const finished = new Promise<void>((r) => (allDone = r));
    await Promise.all(Array.from({ length: JOBS }, (_, n) => runner.enqueue(noop, { n })));
    await finished;
    done = -1e9;
    writes.length = 0;
    const samples: Array<{ t0: number; t1: number }> = [];
    for (let i = 0; i < SAMPLES; i++) {
      const t0 = now();
      const s = new Promise<void>((r) => (started = r));
      void runner.enqueue(noop, { n: i });
      await s;
      samples.push({ t0, t1: now() });
      await new Promise((r) => setTimeout(r, 1));
    }
    // the last completion's flush
    await new Promise((r) => setTimeout(r, 50));
    const lat = samples.map((x) => x.t1 - x.t0);
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    const dur = writes.map((w) => w.e - w.s);
    console.log(`run ${run} (load ${f(load1(), 1)}): p50 ${f(p50)} p99 ${f(p99)} ms; ${writes.length} synced writes (${f(writes.length / SAMPLES)} a sample), duration p50 ${f(percentile(dur, 50))} p90 ${f(percentile(dur, 90))} p99 ${f(percentile(dur, 99))} ms`);
    const bySize = new Map<number, { d: number[]; idle: number[] }>();
    writes.forEach((w, i) => {
      const b = bySize.get(w.n) ?? bySize.set(w.n, { d: [], idle: [] }).get(w.n)!;
      b.d.push(w.e - w.s);
      if (i > 0) b.idle.push(w.s - writes[i - 1]!.e);
    });
    // the strict commit pipeline: a write issued while the one before waits for its mark
    const behind = writes.filter((w, i) => i > 0 && w.s < writes[i - 1]!.e).length;
    const walMs = writes.filter((w) => w.d > 0).map((w) => w.d - w.s);
    const markMs = writes.filter((w) => w.d > 0).map((w) => w.e - w.d);
    console.log(`  written behind a write waiting for its mark: ${behind} of ${writes.length}; WAL part p50 ${walMs.length ? f(percentile(walMs, 50)) : '-'} ms, mark part p50 ${markMs.length ? f(percentile(markMs, 50)) : '-'} ms`);
    console.log(`  by batch size: ${[...bySize].sort((a, b) => b[1].d.length - a[1].d.length).map(([n, b]) => `${n} ops ×${b.d.length} p50 ${f(percentile(b.d, 50))} ms (idle before ${b.idle.length ? f(percentile(b.idle, 50)) : '-'})`).join('; ')}`);
    const buckets = new Map<number, number[]>();
    for (const { t0, t1 } of samples) {
      const k = writes.filter((w) => w.e > t0 && w.s < t1).length;
      (buckets.get(k) ?? buckets.set(k, []).get(k)!).push(t1 - t0);
    }
    console.log(`  writes a sample overlaps: ${[...buckets].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}: ${v.length} samples, median ${f(percentile(v, 50))} ms`).join('; ')}`);
    const toNext = samples.map(({ t1 }) => writes.find((w) => w.s >= t1)).map((w, i) => (w ? w.s - samples[i]!.t1 : NaN)).filter((x) => !Number.isNaN(x));
    console.log(`  start → next write issued: p50 ${f(percentile(toNext, 50), 3)} p90 ${f(percentile(toNext, 90), 3)} ms`);
    const slowest = samples.map((_, i) => i).sort((a, b) => lat[b]! - lat[a]!).slice(0, 5);
    for (const i of slowest) {
      const { t0, t1 } = samples[i]!;
      const ws = writes.filter((w) => w.e > t0 && w.s < t1).map((w) => `[${f(w.s - t0)}..${f(w.e - t0)} ${w.n} ops${w.d > 0 ? `, WAL durable at ${f(w.d - t0)}` : ''}]`);
      console.log(`  sample ${i}: ${f(lat[i]!)} ms, waited through ${ws.join(' ')}`);
    }
    return { p50, p99 };
  } finally {
    await runner.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`jobs trace (${BUILD}, ${DURABILITY} job tables, ${JOBS} jobs then ${SAMPLES} samples)`);
const res: Array<{ p50: number; p99: number }> = [];
for (let run = 0; run < RUNS; run++) res.push(await traceRun(run));
console.log(`median of runs: p50 ${f(median(res.map((r) => r.p50)))} p99 ${f(median(res.map((r) => r.p99)))} ms`);
