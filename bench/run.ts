/**
 * `npm run bench [-- NAME ...] [--json]`: runs each benchmark module's `run()` and prints its
 * figures with ratios against the baselines measured in the same run. A module is any
 * `bench/*.ts` that exports `run()` (all of them by default, in name order; name some to run
 * only those). Each module's results are also written to `reports/bench-<name>.json`; with
 * `--json` the whole run is printed to stdout as one JSON document (`{ commit, node, date,
 * summary: SummaryRow[], modules: { name: BenchResult[] } }` — `summary` holds the rows of the
 * summary table at the top of docs/benchmarks.md: each module's `headline` figures, or, for a
 * module that marks none, every figure with a target) and the human lines go to stderr, so
 * `npm run --silent bench -- --json > bench.json` keeps a record to diff across commits.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatResults, load1, type BenchResult } from './lib.ts';

/** One row of the summary table (docs/benchmarks.md) as JSON. */
interface SummaryRow {
  module: string;
  figure: string;
  ordo: number;
  unit: string;
  baseline: string | undefined;
  baselineValue: number | undefined;
  ratio: number | undefined;
  target: string | undefined;
  met: boolean | undefined;
  runs: number | undefined;
  warmups: number | undefined;
  loadavg: number;
  command: string;
}

function summaryOf(module: string, results: BenchResult[], loadAtEnd: number): SummaryRow[] {
  const marked = results.filter((r) => r.headline);
  const rows = marked.length > 0 ? marked : results.filter((r) => r.target !== undefined && !/^(report|context)/.test(r.target));
  return rows.map((r) => ({
    module,
    figure: r.name.trim(),
    ordo: r.value,
    unit: r.unit,
    baseline: r.baseline?.name,
    baselineValue: r.baseline?.value,
    ratio: r.ratio,
    target: r.target,
    met: r.met,
    runs: r.runs?.length,
    warmups: r.warmups,
    loadavg: r.loadavg ?? loadAtEnd,
    command: r.command ?? `npm run bench -- ${module}`,
  }));
}

const args = process.argv.slice(2);
const json = args.includes('--json');
// `--dist`: store, core and peers load Ordo from the compiled dist/ (bench/_impl.ts)
const unknown = args.filter((a) => a.startsWith('-') && !['--json', '--dist', '--help', '-h'].includes(a));
const available = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.ts') && !['lib.ts', 'run.ts'].includes(f) && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();
if (args.includes('--help') || args.includes('-h') || unknown.length > 0) {
  (unknown.length ? process.stderr : process.stdout).write(
    `${unknown.length ? `unknown option ${unknown.join(' ')}\n` : ''}usage: npm run bench [-- NAME ...] [--json] [--dist]\nmodules: ${available.join(' ')}\n`,
  );
  process.exit(unknown.length ? 2 : 0);
}
const wanted = args.filter((a) => !a.startsWith('-'));
const missing = wanted.filter((w) => !available.includes(w));
if (missing.length > 0) {
  process.stderr.write(`no bench module ${missing.join(', ')} (modules: ${available.join(' ')})\n`);
  process.exit(2);
}
const names = wanted.length ? wanted : available;
const human = json ? process.stderr : process.stdout;
mkdirSync('reports', { recursive: true });
const modules: Record<string, BenchResult[] | { error: string }> = {};
const summary: SummaryRow[] = [];
let failed = false;
for (const name of names) {
  try {
    const mod = (await import(join(import.meta.dirname, `${name}.ts`))) as { run?: () => Promise<BenchResult[]> };
    if (typeof mod.run !== 'function') continue;
    const results = await mod.run();
    modules[name] = results;
    summary.push(...summaryOf(name, results, load1()));
    human.write(formatResults(name, results));
    writeFileSync(join('reports', `bench-${name}.json`), JSON.stringify(results, null, 2));
  } catch (e) {
    failed = true;
    modules[name] = { error: String((e as Error).stack ?? e) };
    process.stderr.write(`bench ${name} failed: ${(e as Error).stack ?? String(e)}\n`);
  }
}
if (json) {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout: the record says so
  }
  process.stdout.write(JSON.stringify({ commit, node: process.version, date: new Date().toISOString(), summary, modules }, null, 2) + '\n');
}
process.exitCode = failed ? 1 : 0;
