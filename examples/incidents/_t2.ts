import { runScenario } from '../../src/chaos/runner.ts';
import { step02 as step } from './2025-02-25/step02-release-command.ts';
const r = await runScenario(step.asDeployed, { seed: 1, oracles: step.oracles });
for (const e of r.trace.slice(0, 40)) console.log(JSON.stringify(e).slice(0, 220));
