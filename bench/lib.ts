/** Shared helpers for Ordo's benchmarks. Benchmarks may read the wall clock: they are not in src/. */
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
  return `${value} ${unit}`;
}

/** The human lines for one module's results (what `printResults` writes). */
export function formatResults(title: string, results: BenchResult[]): string {
  const lines = [`\n## ${title}`];
  for (const r of results) {
    const base = r.baseline ? ` | baseline ${r.baseline.name}: ${fmt(r.baseline.value, r.unit)} | ratio ${r.ratio?.toFixed(2)}×` : '';
    const target = r.target ? ` | target ${r.target}: ${r.met ? 'met' : 'MISSED'}` : '';
    lines.push(`- ${r.name}: ${fmt(r.value, r.unit)}${base}${target}`);
  }
  return lines.join('\n') + '\n';
}

export function printResults(title: string, results: BenchResult[]): void {
  process.stdout.write(formatResults(title, results));
}

export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && metaUrl === new URL(`file://${process.argv[1]}`).href;
}
