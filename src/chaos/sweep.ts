import { Worker } from 'node:worker_threads';
import { runScenario, type RunOptions, type RunReport } from './runner.ts';
import { holdGuard } from './guard.ts';
import { validateScenario, type Scenario } from './scenario.ts';
import type { Violation } from './runner.ts';
import { createRealClock } from '../env/clock.ts';

/** Where a worker thread loads a scenario whose tree is code: a module and its export. */
export interface ScenarioModule {
  readonly module: string;
  readonly exportName?: string;
}

/** Options of {@link sweep}. */
export interface SweepOptions extends Omit<RunOptions, 'seed' | 'checkDeterminism'> {
  /** The seeds: a count (1..n) or a list. */
  readonly seeds: number | readonly number[];
  /** Worker threads (default 1: in this thread). More need a data-only scenario or `scenarioModule`. */
  readonly workers?: number | undefined;
  /** For a scenario whose tree is code: where workers import it from. */
  readonly scenarioModule?: ScenarioModule | undefined;
  /** Check determinism (run twice, compare hashes) on every `checkEvery`-th seed (default 10; 1 = all). */
  readonly checkEvery?: number | undefined;
  /** Called after each seed with the number done and failed so far. */
  readonly onProgress?: ((progress: { readonly done: number; readonly total: number; readonly failed: number }) => void) | undefined;
}

/** One seed's result as a sweep keeps it. */
export interface SeedResult {
  readonly seed: number;
  readonly outcome: 'pass' | 'fail';
  readonly asExpected: boolean;
  readonly violation: Violation | undefined;
  readonly traceHash: string;
  readonly deterministic: boolean | undefined;
  readonly steps: number;
  readonly sometimes: Readonly<Record<string, boolean>>;
  readonly coverage: RunReport['coverage'];
}

/** What a sweep found. */
export interface SweepSummary {
  readonly scenario: string;
  readonly runs: number;
  /** Every seed's result, by seed. */
  readonly results: readonly SeedResult[];
  readonly failed: readonly SeedResult[];
  /** Seeds whose outcome was not the scenario's `expect`. */
  readonly unexpected: readonly SeedResult[];
  /** Seeds run twice whose hashes differed (nondeterminism). */
  readonly nondeterministic: readonly number[];
  readonly determinismChecked: number;
  /** Per `sometimes` invariant: in how many runs it held. */
  readonly sometimes: Readonly<Record<string, number>>;
  /** Per fault point: runs where it was active, total evaluations and firings. */
  readonly faultCoverage: Readonly<Record<string, { activeRuns: number; evaluated: number; fired: number }>>;
  readonly steps: number;
  readonly elapsedMs: number;
}

/**
 * The worker's entry: the compiled worker module, or — when running from TypeScript sources —
 * tsx's loader registered first (a worker does not inherit the parent's `--import` hooks).
 */
function workerBootstrap(): string {
  const ts = import.meta.url.endsWith('.ts');
  const url = new URL(ts ? './sweepWorker.ts' : './sweepWorker.js', import.meta.url).href;
  return ts ? `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); });` : `import(${JSON.stringify(url)});`;
}

export function toSeedResult(r: RunReport): SeedResult {
  return { seed: r.seed, outcome: r.outcome, asExpected: r.asExpected, violation: r.violation, traceHash: r.traceHash, deterministic: r.deterministic, steps: r.steps, sometimes: r.sometimes, coverage: r.coverage };
}

/**
 * Runs `scenario` on many seeds — in this thread, or spread over `workers` worker threads
 * (both cores) — and summarises: failures (each replayable from its seed), `sometimes`
 * coverage, fault-point coverage, and determinism checked on a sample of seeds.
 *
 * @example
 * import { restForOneService, sweep } from 'ordo/chaos';
 *
 * // a data-only scenario runs in worker threads as is (a tree that is code needs `scenarioModule`)
 * const summary = await sweep(restForOneService, { seeds: 20, workers: 2, onProgress: ({ done, total }) => process.stderr.write(`\r${done}/${total}`) });
 * console.log(summary.failed.length, summary.unexpected.length);
 */
export async function sweep(scenario: Scenario, options: SweepOptions): Promise<SweepSummary> {
  validateScenario(scenario);
  const seeds = typeof options.seeds === 'number' ? Array.from({ length: options.seeds }, (_, i) => i + 1) : [...options.seeds];
  const workers = Math.max(1, Math.min(options.workers ?? 1, seeds.length));
  const clock = createRealClock();
  const started = clock.now();
  const results: SeedResult[] = [];
  let failed = 0;
  const progress = (r: SeedResult): void => {
    results.push(r);
    if (r.outcome === 'fail') failed++;
    options.onProgress?.({ done: results.length, total: seeds.length, failed });
  };
  const checkEvery = Math.max(1, options.checkEvery ?? 10);
  const base: RunOptions = { ...options, seed: 0 };
  if (workers === 1) {
    const release = holdGuard();
    try {
      for (const [i, seed] of seeds.entries()) progress(toSeedResult(await runScenario(scenario, { ...base, seed, checkDeterminism: i % checkEvery === 0 })));
    } finally {
      release();
    }
  } else {
    if (typeof scenario.tree === 'function' && !options.scenarioModule) {
      throw new TypeError('sweep: a scenario whose tree is code needs scenarioModule to run in worker threads (or workers: 1)');
    }
    const chunks: number[][] = Array.from({ length: workers }, () => []);
    seeds.forEach((s, i) => chunks[i % workers]!.push(s));
    const { onProgress: _p, scenarioModule, oracles: _o, ...plain } = options;
    await Promise.all(
      chunks.map(
        (chunk, w) =>
          new Promise<void>((resolve, reject) => {
            const workerData = { scenario: scenarioModule ? undefined : scenario, scenarioModule, seeds: chunk, checkEvery, offset: w, options: { ...plain, seeds: undefined } };
            const worker = new Worker(workerBootstrap(), { eval: true, workerData });
            worker.on('message', (m: SeedResult) => progress(m));
            worker.on('error', reject);
            worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sweep worker ${w} exited with code ${code}`))));
          }),
      ),
    );
  }
  results.sort((a, b) => a.seed - b.seed);
  const sometimes: Record<string, number> = {};
  const faultCoverage: Record<string, { activeRuns: number; evaluated: number; fired: number }> = {};
  for (const r of results) {
    for (const [k, v] of Object.entries(r.sometimes)) sometimes[k] = (sometimes[k] ?? 0) + (v ? 1 : 0);
    for (const [k, c] of Object.entries(r.coverage)) {
      const f = (faultCoverage[k] ??= { activeRuns: 0, evaluated: 0, fired: 0 });
      f.activeRuns += c.active ? 1 : 0;
      f.evaluated += c.evaluated;
      f.fired += c.fired;
    }
  }
  return {
    scenario: scenario.name,
    runs: results.length,
    results,
    failed: results.filter((r) => r.outcome === 'fail'),
    unexpected: results.filter((r) => !r.asExpected),
    nondeterministic: results.filter((r) => r.deterministic === false).map((r) => r.seed),
    determinismChecked: results.filter((r) => r.deterministic !== undefined).length,
    sometimes,
    faultCoverage,
    steps: results.reduce((s, r) => s + r.steps, 0),
    elapsedMs: clock.now() - started,
  };
}
