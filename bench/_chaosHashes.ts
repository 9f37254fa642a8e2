/**
 * Trace fingerprints of the chaos engine across code versions — the check every speed change
 * to the engine, kernel or supervisor is held to: the same seed must give the same trace hash,
 * outcome, step count, `sometimes` verdicts and violations as before, unless the change is
 * meant to alter the trace (then say why in the commit).
 *
 * Record (the repository root to load the code from: this checkout by default, or an exported
 * old commit, e.g. `git archive <commit> | tar -x -C /tmp/old` with node_modules linked):
 *   node --import tsx bench/_chaosHashes.ts record out.json [--root DIR] [--seeds 200]
 * Compare two records (exit code 1 on any difference, the first three per scenario printed):
 *   node --import tsx bench/_chaosHashes.ts compare before.json after.json
 *
 * Scenarios: every shipped scenario, the bench scenario (bench/chaos.ts) and `cluster-3`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

type Fingerprints = Record<string, string[]>;

interface Loaded {
  runScenario: (s: unknown, o: { seed: number; oracles?: unknown }) => Promise<{ traceHash: string; outcome: string; steps: number; sometimes: unknown; violations: readonly { invariant: string }[] }>;
  holdGuard: () => () => void;
  scenarios: Array<{ name: string; scenario: unknown; oracles: unknown }>;
}

async function load(root: string): Promise<Loaded> {
  const runner = (await import(`${root}/src/chaos/runner.ts`)) as { runScenario: Loaded['runScenario'] };
  const guard = (await import(`${root}/src/chaos/guard.ts`)) as { holdGuard: Loaded['holdGuard'] };
  const lib = (await import(`${root}/src/chaos/scenarios/library.ts`)) as { shippedScenarios: Record<string, { name: string }> };
  const c3 = (await import(`${root}/src/chaos/scenarios/cluster3.ts`)) as { cluster3Scenario: unknown; cluster3Oracles: unknown };
  const bench = (await import(`${root}/bench/chaos.ts`)) as { benchScenario: unknown };
  return {
    runScenario: runner.runScenario,
    holdGuard: guard.holdGuard,
    scenarios: [
      ...Object.values(lib.shippedScenarios).map((s) => ({ name: s.name, scenario: s as unknown, oracles: undefined })),
      { name: 'bench', scenario: bench.benchScenario, oracles: undefined },
      { name: 'cluster-3', scenario: c3.cluster3Scenario, oracles: c3.cluster3Oracles },
    ],
  };
}

async function record(out: string, root: string, seeds: number): Promise<void> {
  const { runScenario, holdGuard, scenarios } = await load(root);
  const release = holdGuard();
  const res: Fingerprints = {};
  try {
    for (const { name, scenario, oracles } of scenarios) {
      const lines: string[] = [];
      for (let seed = 1; seed <= seeds; seed++) {
        const r = await runScenario(scenario, { seed, oracles });
        lines.push(`${r.traceHash} ${r.outcome} ${r.steps} ${JSON.stringify(r.sometimes)} ${r.violations.map((v) => v.invariant).join(',')}`);
      }
      res[name] = lines;
      process.stderr.write(`${name}: ${seeds} seeds\n`);
    }
  } finally {
    release();
  }
  writeFileSync(out, JSON.stringify(res, null, 1));
}

function compare(a: string, b: string): number {
  const before = JSON.parse(readFileSync(a, 'utf8')) as Fingerprints;
  const after = JSON.parse(readFileSync(b, 'utf8')) as Fingerprints;
  let differ = 0;
  for (const name of Object.keys(before)) {
    const x = before[name]!;
    const y = after[name] ?? [];
    let d = 0;
    for (let i = 0; i < x.length; i++) {
      if (x[i] === y[i]) continue;
      if (d < 3) process.stdout.write(`${name} seed ${i + 1}: ${x[i]} != ${y[i] ?? '(missing)'}\n`);
      d++;
    }
    process.stdout.write(`${name}: ${x.length} seeds, ${d === 0 ? 'same' : `${d} differ`}\n`);
    differ += d;
  }
  return differ === 0 ? 0 : 1;
}

const [cmd, ...rest] = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
if (cmd === 'record' && rest[0]) {
  await record(rest[0], resolve(opt('--root') ?? resolve(import.meta.dirname, '..')), Number(opt('--seeds') ?? 200));
} else if (cmd === 'compare' && rest[0] && rest[1]) {
  process.exitCode = compare(rest[0], rest[1]);
} else {
  process.stderr.write('usage: node --import tsx bench/_chaosHashes.ts record OUT.json [--root DIR] [--seeds N] | compare A.json B.json\n');
  process.exitCode = 2;
}
