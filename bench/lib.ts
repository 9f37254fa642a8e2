/** Shared helpers for Ordo's benchmarks. Benchmarks may read the wall clock: they are not in src/. */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

export interface BenchResult {
  /** What was measured. */
  name: string;
  /** Ordo's figure (median of runs). */
  value: number;
  unit: string;
  /** The baseline measured in the same run, if any. */
  baseline?: { name: string; value: number };
  /** value / baseline (for time: >1 means slower; for throughput: <1 means slower). */
  ratio?: number;
  /** The target, in words, and whether it was met. */
  target?: string;
  met?: boolean;
  runs?: number[];
  /** Unrecorded warm-up runs before `runs` (stated, never silently dropped). */
  warmups?: number;
  /** The machine's 1-minute load average while this figure was measured (median of samples, one per run). */
  loadavg?: number;
  /** A row of the summary table at the top of docs/benchmarks.md. */
  headline?: boolean;
  /** The command that reproduces this figure. */
  command?: string;
}

/** The 1-minute load average now (the machine is shared: every figure records it). */
export function load1(): number {
  return loadavg()[0]!;
}

/**
 * Runs `a` and `b` `runs` times each, alternating which goes first (a b, b a, a b, …) after
 * `warmups` unrecorded pairs, sampling the load average after each pair. Returns each side's
 * runs and the per-pair ratios a/b.
 */
export async function alternate(runs: number, a: () => Promise<number>, b: () => Promise<number>, warmups = 1): Promise<{ a: number[]; b: number[]; ratios: number[]; loads: number[]; warmups: number }> {
  for (let w = 0; w < warmups; w++) {
    await a();
    await b();
  }
  const out = { a: [] as number[], b: [] as number[], ratios: [] as number[], loads: [] as number[], warmups };
  for (let r = 0; r < runs; r++) {
    let va: number;
    let vb: number;
    if (r % 2 === 0) {
      va = await a();
      vb = await b();
    } else {
      vb = await b();
      va = await a();
    }
    out.a.push(va);
    out.b.push(vb);
    out.ratios.push(va / vb);
    out.loads.push(load1());
  }
  return out;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const now = (): number => performance.now();

/** Runs `fn` `runs` times (after one warm-up) and returns each run's result. */
export async function repeat(runs: number, fn: () => Promise<number>): Promise<number[]> {
  await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn());
  return out;
}

/** Nanoseconds-per-op → human string. */
export function fmt(value: number, unit: string): string {
  if (unit === 'ns/op') return value >= 1000 ? `${(value / 1000).toFixed(2)} µs/op` : `${value.toFixed(0)} ns/op`;
  if (unit === 'ops/s') return `${Math.round(value).toLocaleString('en-US')} ops/s`;
  if (unit === 'ms') return `${value.toFixed(2)} ms`;
  if (unit === 'µs') return `${value.toFixed(1)} µs`;
  if (unit === 'rows/s' || unit === 'tx/s') return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
  if (unit === 'MB') return `${value.toFixed(0)} MB`;
  return `${value} ${unit}`;
}

/** The human lines for one module's results (what `printResults` writes). */
export function formatResults(title: string, results: BenchResult[]): string {
  const lines = [`\n## ${title}`];
  for (const r of results) {
    const base = r.baseline ? ` | baseline ${r.baseline.name}: ${fmt(r.baseline.value, r.unit)} | ratio ${r.ratio?.toFixed(2)}×` : '';
    const target = r.target ? ` | target ${r.target}: ${r.met ? 'met' : 'MISSED'}` : '';
    const ctx = r.loadavg !== undefined || r.warmups !== undefined ? ` | ${r.runs ? `${r.runs.length} runs` : ''}${r.warmups !== undefined ? `, ${r.warmups} warm-up dropped` : ''}${r.loadavg !== undefined ? `, load ${r.loadavg.toFixed(1)}` : ''}` : '';
    lines.push(`- ${r.name}: ${fmt(r.value, r.unit)}${base}${target}${ctx}`);
  }
  return lines.join('\n') + '\n';
}

export function printResults(title: string, results: BenchResult[]): void {
  process.stdout.write(formatResults(title, results));
}

export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && metaUrl === new URL(`file://${process.argv[1]}`).href;
}

/** What {@link oneRowTxWriters} needs of a store (either build's `Store`). */
interface TxStore {
  transaction(fn: (tx: { put(table: string, row: { id: number; payload: string }): unknown }) => void): Promise<unknown>;
}

/**
 * `writers` concurrent writers, each committing one-row transactions (`{ id, payload }` into table
 * `t`) one after another until `total` are done: the synced/unsynced transaction loop of
 * `bench/store.ts` and `bench/_syncedTxAB.ts`.
 */
export async function oneRowTxWriters(store: TxStore, total: number, writers = 64): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < total) {
        const id = next++;
        await store.transaction((tx) => void tx.put('t', { id, payload: `payload-${id}` }));
      }
    }),
  );
}
