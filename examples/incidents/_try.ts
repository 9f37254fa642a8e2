import { runScenario } from '../../src/chaos/runner.ts';
import { step02 as step } from './2025-02-25/step02-release-command.ts';
import { summarize } from './2025-02-25/kit.ts';
for (const [name, s] of [['asDeployed', step.asDeployed], ['withOrdo', step.withOrdo]] as const) {
  for (const seed of [1, 2, 3]) {
    const r = await runScenario(s, { seed, oracles: step.oracles });
    console.log(name, seed, r.outcome, r.violations.map((v) => `${v.invariant}@${v.t}: ${v.message.slice(0, 110)}`).join(' | '), JSON.stringify(summarize(r)));
  }
}
