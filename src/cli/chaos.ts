import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { createRealEnv, type Env } from '../env/index.ts';
import { CommandError, UsageError, parseFlags, str } from './args.ts';
import type { CliIo } from './io.ts';
import { importModule } from './loadModule.ts';
import { runScenario, replayCommand, type RunOptions, type RunReport } from '../chaos/runner.ts';
import { sweep } from '../chaos/sweep.ts';
import { shrink } from '../chaos/shrink.ts';
import { renderSummary, renderSvg, renderTimeline, toJsonl } from '../chaos/report.ts';
import { shippedScenarios } from '../chaos/scenarios/library.ts';
import { validateScenario, type Scenario, type TimelineFault } from '../chaos/scenario.ts';
import { ScenarioError } from '../chaos/errors.ts';
import { parseStrategy } from '../chaos/scheduleStrategy.ts';

export const CHAOS_USAGE = `Usage: ordo chaos <run|sweep|replay|shrink|list> <scenario> [options]

Runs a chaos scenario on virtual time: the tree, seeded faults, invariants. <scenario> is a
shipped scenario's name (ordo chaos list), a .json file (a data scenario) or a module
(.ts/.js) exporting \`scenario\` (or a default export).

Commands:
  run <scenario>     one run (--seed, default 1); prints the report and the timeline
  sweep <scenario>   many seeds (--seeds N, default 100; --workers W, default 2); a progress bar on stderr
  replay <scenario>  one run exactly as a report's replay line gives it (--seed, --strategy, --faults, --horizon)
  shrink <scenario>  run --seed, and minimise its failure to the fewest faults and the shortest horizon
  list               the shipped scenarios

Options:
  --seed N         the seed (run, replay, shrink)
  --seeds N        how many seeds (sweep), 1..N from --from (default 1)
  --from N         first seed of a sweep
  --workers W      worker threads for a sweep (default 2; 1 runs in this thread)
  --strategy S     schedule strategy instead of the scenario's: fifo, random, pct, pct:DEPTH, pct:DEPTH:STEPS
  --faults JSON    exactly these faults, no random ones (replay; a minimised counterexample)
  --horizon MS     virtual horizon in ms (replay)
  --out DIR        also write report.txt, trace.jsonl and timeline.svg there
  --json           print the report (or the sweep summary) as JSON
  -h, --help       this help

Exit codes: 0 every run had the scenario's expected outcome; 1 some run did not; 2 usage error.
`;

const FLAGS = { seed: 'string', seeds: 'string', from: 'string', workers: 'string', faults: 'string', horizon: 'string', strategy: 'string', out: 'string', json: 'boolean' } as const;

function int(flags: Record<string, string | true>, name: string, fallback: number, min: number): number {
  const v = str(flags, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError('chaos', `option '--${name}' must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

/** A scenario by shipped name, .json file or module path; `source` is what replay lines name. */
async function loadScenario(ref: string, env: Env): Promise<{ scenario: Scenario; source: string; module?: string }> {
  const shipped = shippedScenarios[ref];
  if (shipped) return { scenario: shipped, source: ref };
  const path = resolve(ref);
  if (!(await env.io.fs.exists(path))) throw new UsageError('chaos', `no scenario '${ref}' (not a shipped scenario — ${Object.keys(shippedScenarios).join(', ')} — nor a file)`);
  if (path.endsWith('.json')) {
    let data: unknown;
    try {
      data = JSON.parse((await env.io.fs.readFile(path)).toString('utf8'));
    } catch (e) {
      throw new CommandError(`${ref}: not valid JSON: ${(e as Error).message}`, { cause: e });
    }
    return { scenario: data as Scenario, source: ref };
  }
  const mod = await importModule<Record<string, unknown>>(pathToFileURL(path).href, `the scenario module ${ref}`);
  const scenario = (mod['scenario'] ?? mod['default']) as Scenario | undefined;
  if (!scenario) throw new CommandError(`${ref}: exports no 'scenario' (nor a default export)`);
  return { scenario, source: ref, module: path };
}

async function writeArtifacts(env: Env, dir: string, report: RunReport): Promise<string[]> {
  await env.io.fs.mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ['report.txt', renderSummary(report) + '\n' + renderTimeline(report)],
    ['trace.jsonl', toJsonl(report)],
    ['timeline.svg', renderSvg(report)],
  ];
  for (const [name, text] of files) await env.io.fs.writeFile(`${dir}/${name}`, text);
  return files.map(([n]) => `${dir}/${n}`);
}

/** The code version a report names: the package version and, in a git checkout, the commit. */
async function codeVersion(env: Env): Promise<string> {
  const fs = env.io.fs;
  let version = 'unknown';
  try {
    version = (JSON.parse((await fs.readFile(resolve('package.json'))).toString('utf8')) as { version?: string }).version ?? version;
  } catch {
    return version; // not run from a package directory: the version stays unknown
  }
  try {
    let gitDir = resolve('.git');
    const st = await fs.stat(gitDir);
    if (st?.isFile) gitDir = (await fs.readFile(gitDir)).toString('utf8').replace(/^gitdir:\s*/, '').trim();
    const head = (await fs.readFile(`${gitDir}/HEAD`)).toString('utf8').trim();
    if (!head.startsWith('ref: ')) return `${version}+${head.slice(0, 12)}`;
    const ref = head.slice(5);
    const common = (await fs.exists(`${gitDir}/commondir`)) ? resolve(gitDir, (await fs.readFile(`${gitDir}/commondir`)).toString('utf8').trim()) : gitDir;
    for (const base of [gitDir, common]) {
      if (await fs.exists(`${base}/${ref}`)) return `${version}+${(await fs.readFile(`${base}/${ref}`)).toString('utf8').trim().slice(0, 12)}`;
    }
    return version;
  } catch {
    return version; // no readable git metadata: the package version alone
  }
}

function progressBar(io: CliIo): (p: { done: number; total: number; failed: number }) => void {
  let lastLine = -1;
  return ({ done, total, failed }) => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    const text = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} seeds, ${failed} failed`;
    if (io.isTTY) io.err(`\r${text}${done === total ? '\n' : ''}`);
    else {
      const tenth = Math.floor((done * 10) / total);
      if (tenth !== lastLine) {
        lastLine = tenth;
        io.err(`${text}\n`);
      }
    }
  };
}

/** `ordo chaos run | sweep | replay | shrink | list`. */
export async function chaosCommand(argv: readonly string[], io: CliIo, options: { env?: Env } = {}): Promise<number> {
  const { flags, positional } = parseFlags('chaos', argv, FLAGS);
  const [sub, ref, extra] = positional;
  if (flags['help'] || sub === undefined) {
    io.out(CHAOS_USAGE);
    return sub === undefined && !flags['help'] ? 2 : 0;
  }
  if (sub === 'list') {
    for (const s of Object.values(shippedScenarios)) io.out(`${s.name}  ${s.description ?? ''}\n`);
    return 0;
  }
  if (!['run', 'sweep', 'replay', 'shrink'].includes(sub)) throw new UsageError('chaos', `unknown subcommand '${sub}' (run, sweep, replay, shrink, list)`);
  if (ref === undefined) throw new UsageError('chaos', `which scenario? (ordo chaos ${sub} <scenario>; ordo chaos list)`);
  if (extra !== undefined) throw new UsageError('chaos', `unexpected argument '${extra}'`);
  const env = options.env ?? createRealEnv({ level: 'warn', logTo: 'stderr' });
  const { scenario, source, module } = await loadScenario(ref, env);
  try {
    validateScenario(scenario);
  } catch (e) {
    if (e instanceof ScenarioError) throw new UsageError('chaos', e.message);
    throw e;
  }
  const version = await codeVersion(env);
  const strategyFlag = str(flags, 'strategy');
  const strategy = strategyFlag === undefined ? undefined : parseStrategy(strategyFlag);
  if (strategyFlag !== undefined && strategy === undefined) throw new UsageError('chaos', `option '--strategy' must be fifo, random, pct, pct:DEPTH or pct:DEPTH:STEPS, got '${strategyFlag}'`);
  const base: Omit<RunOptions, 'seed'> = { codeVersion: version, source, strategy };
  const json = !!flags['json'];

  if (sub === 'sweep') {
    const count = int(flags, 'seeds', 100, 1);
    const from = int(flags, 'from', 1, 0);
    const workers = int(flags, 'workers', 2, 1);
    const seeds = Array.from({ length: count }, (_, i) => from + i);
    const summary = await sweep(scenario, { ...base, seeds, workers: typeof scenario.tree === 'function' && !module ? 1 : workers, scenarioModule: module ? { module } : undefined, onProgress: progressBar(io) });
    if (json) io.out(JSON.stringify({ ...summary, results: undefined }) + '\n');
    else {
      io.out(`${summary.scenario}: ${summary.runs} seeds, ${summary.failed.length} failed, ${summary.unexpected.length} not as expected, ${summary.nondeterministic.length} nondeterministic of ${summary.determinismChecked} checked, ${Math.round(summary.runs / (summary.elapsedMs / 1000))} runs/s\n`);
      for (const [k, n] of Object.entries(summary.sometimes)) io.out(`  sometimes ${k}: ${n}/${summary.runs} runs${n === 0 ? '  (NEVER — the scenario does not reach it)' : ''}\n`);
      for (const [k, c] of Object.entries(summary.faultCoverage)) io.out(`  fault ${k}: active in ${c.activeRuns} runs, fired ${c.fired} of ${c.evaluated}\n`);
      for (const f of summary.unexpected.slice(0, 10)) io.out(`  seed ${f.seed}: ${f.violation ? `${f.violation.invariant} at ${f.violation.t} ms: ${f.violation.message}` : `passed, expected a failure`}\n    replay: ${replayCommand(source, f.seed, { strategy })}\n`);
    }
    return summary.unexpected.length === 0 && summary.nondeterministic.length === 0 ? 0 : 1;
  }

  const seed = int(flags, 'seed', 1, 0);
  let faults: TimelineFault[] | undefined;
  const faultsFlag = str(flags, 'faults');
  if (faultsFlag !== undefined) {
    try {
      faults = JSON.parse(faultsFlag) as TimelineFault[];
    } catch {
      throw new UsageError('chaos', `option '--faults' must be a JSON array of faults, got '${faultsFlag}'`);
    }
  }
  const horizonFlag = str(flags, 'horizon');
  const horizonMs = horizonFlag === undefined ? undefined : int(flags, 'horizon', 0, 1);
  let report = await runScenario(scenario, { ...base, seed, faults, horizonMs, checkDeterminism: true });
  if (sub === 'shrink') {
    if (report.outcome === 'pass') {
      io.err(`seed ${seed} passes: nothing to shrink\n`);
      io.out(renderSummary(report));
      return report.asExpected ? 0 : 1;
    }
    const min = await shrink(scenario, report, { base: { ...base, horizonMs } });
    io.err(`shrunk ${report.faults.length} fault(s) to ${min.faults.length}, horizon ${horizonMs ?? scenario.horizonMs} → ${min.horizonMs} ms, in ${min.runs} runs (${Math.round(min.elapsedMs)} ms)${min.reproduced ? '' : ' — did not reproduce from its faults alone; showing the original'}\n`);
    report = min.report;
  }
  if (json) io.out(JSON.stringify({ ...report, trace: undefined, decisions: undefined }) + '\n');
  else io.out(renderSummary(report) + '\n' + renderTimeline(report, { limit: 400 }));
  const out = str(flags, 'out');
  if (out !== undefined) for (const f of await writeArtifacts(env, out, report)) io.err(`wrote ${f}\n`);
  if (report.deterministic === false) io.err(`NONDETERMINISM: the second run of seed ${seed} gave another trace hash\n`);
  return report.asExpected && report.deterministic !== false ? 0 : 1;
}
