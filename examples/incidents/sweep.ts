/**
 * The long sweep: every with-Ordo scenario of every incident over many seeds (default 10,000),
 * progress on stderr, one line per step on stdout, exit code 1 if any seed failed.
 * Run: `node --import tsx examples/incidents/sweep.ts [SEEDS]`.
 */
import { runScenario } from '../../src/chaos/runner.ts';
import { incidents } from './index.ts';

const seeds = Number(process.argv[2] ?? 10_000);
let failed = 0;
for (const incident of incidents) {
  for (const step of incident.steps) {
    let passed = 0;
    const t0 = performance.now();
    for (let seed = 1; seed <= seeds; seed++) {
      const r = await runScenario(step.withOrdo, { seed, oracles: step.oracles });
      if (r.outcome === 'pass') passed++;
      else {
        failed++;
        process.stdout.write(`${incident.id} ${step.id} seed ${seed}: ${r.violation?.invariant} at ${r.violation?.t} ms — ${r.violation?.message}\n  replay: ${r.replay}\n`);
      }
      if (seed % 100 === 0 || seed === seeds) process.stderr.write(`\r${incident.id} ${step.id}: ${seed}/${seeds}`);
    }
    process.stderr.write('\n');
    process.stdout.write(`${incident.id} ${step.id} withOrdo: ${passed}/${seeds} seeds passed (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
