/** @internal A sweep's worker thread: runs its share of the seeds and posts each result. */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { runScenario, type RunOptions } from './runner.ts';
import { holdGuard } from './guard.ts';
import { toSeedResult, type ScenarioModule } from './sweep.ts';
import type { Scenario } from './scenario.ts';

const data = workerData as { scenario?: Scenario; scenarioModule?: ScenarioModule; seeds: number[]; checkEvery: number; offset: number; options: Omit<RunOptions, 'seed'> };
let scenario = data.scenario;
if (!scenario && data.scenarioModule) {
  const mod = (await import(pathToFileURL(data.scenarioModule.module).href)) as Record<string, unknown>;
  scenario = (mod[data.scenarioModule.exportName ?? 'default'] ?? mod['scenario']) as Scenario;
}
const release = holdGuard();
try {
  for (const [i, seed] of data.seeds.entries()) {
    const r = await runScenario(scenario!, { ...data.options, seed, checkDeterminism: (i * 2 + data.offset) % data.checkEvery === 0 });
    parentPort!.postMessage(toSeedResult(r));
  }
} finally {
  release();
}
