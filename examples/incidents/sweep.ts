/**
 * The long sweep: every with-Ordo scenario of every incident over many seeds (default 10,000),
 * spread over worker processes (default 2: both cores), progress on stderr, one line per step
 * on stdout, a replay command for every failing seed, exit code 1 if any seed failed.
 * Run: `node --import tsx examples/incidents/sweep.ts [SEEDS] [--workers N] [--step ID]`
 * (`--help` for the options).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runScenario } from '../../src/chaos/runner.ts';
import { incidents } from './index.ts';

const USAGE = `usage: node --import tsx examples/incidents/sweep.ts [SEEDS] [options]

Runs every incident step's with-Ordo scenario on seeds 1..SEEDS (default 10000) and prints,
per step, the seeds run and passed and the time it took; every failing seed is printed with
its first violated invariant and a replay command. Exit 0 when every seed passed, 1 when one
failed, 2 on a usage error.

options:
  --workers N   worker processes, seeds split round-robin (default 2: one per core)
  --step ID     only this step (e.g. step08, deadNode); repeatable
  --help        this text`;

interface StepLine {
  readonly incident: string;
  readonly step: string;
  readonly run: number;
  readonly passed: number;
  readonly ms: number;
  readonly failures: readonly string[];
}

function usage(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function parse(argv: readonly string[]): { seeds: number; workers: number; steps: string[] } {
  let seeds = 10_000;
  let workers = 2;
  const steps: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (a === '--workers') {
      workers = Number(argv[++i]);
      if (!Number.isInteger(workers) || workers < 1) usage(`--workers needs a whole number ≥ 1, got ${argv[i]}`);
    } else if (a === '--step') {
      const id = argv[++i];
      if (id === undefined) usage('--step needs a step id');
      steps.push(id);
    } else if (/^\d+$/.test(a)) seeds = Number(a);
    else usage(`unknown argument ${a}`);
  }
  if (!(seeds >= 1)) usage(`SEEDS must be ≥ 1, got ${seeds}`);
  const known = incidents.flatMap((inc) => inc.steps.map((s) => s.id));
  for (const s of steps) if (!known.includes(s)) usage(`unknown step ${s} (known: ${known.join(', ')})`);
  return { seeds, workers, steps };
}

/** One worker's share: seeds ≡ index (mod count) of every selected step, one JSON line per step on stdout. */
async function work(seeds: number, index: number, count: number, only: readonly string[]): Promise<void> {
  for (const incident of incidents) {
    for (const step of incident.steps) {
      if (only.length > 0 && !only.includes(step.id)) continue;
      const t0 = performance.now();
      let run = 0;
      let passed = 0;
      const failures: string[] = [];
      for (let seed = 1 + index; seed <= seeds; seed += count) {
        const r = await runScenario(step.withOrdo, { seed, oracles: step.oracles });
        run++;
        if (r.outcome === 'pass') passed++;
        else failures.push(`${incident.id} ${step.id} seed ${seed}: ${r.violation?.invariant} at ${r.violation?.t} ms — ${r.violation?.message}\n  replay: ${r.replay}`);
        if (run % 50 === 0) process.send?.({ progress: { step: step.id, run } });
      }
      const line: StepLine = { incident: incident.id, step: step.id, run, passed, ms: performance.now() - t0, failures };
      process.send?.({ line });
    }
  }
}

async function main(): Promise<void> {
  const workerArgs = process.argv.indexOf('--worker-of');
  if (workerArgs >= 0) {
    const [seeds, index, count, only] = process.argv.slice(workerArgs + 1);
    await work(Number(seeds), Number(index), Number(count), only ? only.split(',').filter(Boolean) : []);
    return;
  }
  const { seeds, workers, steps } = parse(process.argv.slice(2));
  const t0 = performance.now();
  const selected = incidents.flatMap((inc) => inc.steps.filter((s) => steps.length === 0 || steps.includes(s.id)).map((s) => `${inc.id} ${s.id}`));
  const lines = new Map<string, StepLine[]>();
  const progress = new Map<number, string>();
  let failed = 0;
  let printed = 0;
  const printReady = (): void => {
    // Print steps in catalogue order, each once every worker has finished it.
    while (printed < selected.length && (lines.get(selected[printed]!)?.length ?? 0) === workers) {
      const parts = lines.get(selected[printed]!)!;
      const run = parts.reduce((n, p) => n + p.run, 0);
      const passed = parts.reduce((n, p) => n + p.passed, 0);
      const ms = Math.max(...parts.map((p) => p.ms));
      for (const p of parts) for (const f of p.failures) process.stdout.write(`${f}\n`);
      failed += run - passed;
      process.stdout.write(`${selected[printed]} withOrdo: ${passed}/${run} seeds passed (${(ms / 1000).toFixed(1)} s)\n`);
      printed++;
    }
  };
  const self = fileURLToPath(import.meta.url);
  await Promise.all(
    Array.from({ length: workers }, (_, w) =>
      new Promise<void>((resolve, reject) => {
        const child = fork(self, ['--worker-of', String(seeds), String(w), String(workers), steps.join(',')], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        child.on('message', (m: { line?: StepLine; progress?: { step: string; run: number } }) => {
          if (m.progress) {
            progress.set(w, `${m.progress.step} ${m.progress.run}`);
            if (process.stderr.isTTY) process.stderr.write(`\r${[...progress.values()].join(' | ')}   `);
          }
          if (m.line) {
            const key = `${m.line.incident} ${m.line.step}`;
            lines.set(key, [...(lines.get(key) ?? []), m.line]);
            if (!process.stderr.isTTY) process.stderr.write(`worker ${w}: ${key} done (${m.line.passed}/${m.line.run})\n`);
            printReady();
          }
        });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sweep worker ${w} exited with code ${code}`))));
      }),
    ),
  );
  if (process.stderr.isTTY) process.stderr.write('\n');
  process.stdout.write(`${selected.length} steps × ${seeds} seeds on ${workers} workers: ${failed} failed, ${((performance.now() - t0) / 1000).toFixed(1)} s wall\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
