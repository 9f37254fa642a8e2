/**
 * Replay from a decision log is exact whichever strategy recorded it: the report names the
 * strategy whose tie-break keys the log was recorded with, and a replay draws those keys (0 under
 * fifo and pct, the schedule stream under random), so of several tasks with the same label due
 * at once it takes the one the run took. Checked by trace hash on a single-node scenario and both
 * 3-node scenarios, for every strategy and a few seeds (issue 11 review: from 0830d08 until this
 * fix, replay drew random keys always and logs recorded under pct or fifo diverged).
 */
import { describe, expect, it } from 'vitest';
import { runScenario, replayCommand } from '../../src/chaos/runner.ts';
import type { ScheduleStrategy } from '../../src/chaos/scheduleStrategy.ts';
import { oneForAllWorkers } from '../../src/chaos/scenarios/library.ts';
import { cluster3Scenario, clusterNodesScenario } from '../../src/chaos/scenarios/cluster3.ts';
import type { Scenario } from '../../src/chaos/scenario.ts';

const strategies: readonly ScheduleStrategy[] = [{ kind: 'random' }, { kind: 'fifo' }, { kind: 'pct' }, { kind: 'pct', depth: 5, expectedSteps: 500 }];
const scenarios: readonly Scenario[] = [oneForAllWorkers, cluster3Scenario, clusterNodesScenario];
const seeds = [1, 2, 3, 4];

describe('replay from a decision log, for every strategy', () => {
  for (const scenario of scenarios) {
    for (const strategy of strategies) {
      it(`${scenario.name} × ${JSON.stringify(strategy)}: the replay of each seed's log has the run's trace hash`, async () => {
        const exact: number[] = [];
        const carried: Array<string | undefined> = [];
        for (const seed of seeds) {
          const run = await runScenario(scenario, { seed, strategy });
          const again = await runScenario(scenario, { seed, decisions: run.decisions, decisionStrategy: run.decisionStrategy });
          if (again.divergence === undefined && again.traceHash === run.traceHash) exact.push(seed);
          carried.push(run.decisionStrategy, again.decisionStrategy);
        }
        expect(exact).toEqual(seeds);
        // the report names the strategy; a replay's own log carries the strategy it followed
        expect(carried).toEqual(carried.map(() => strategy.kind));
      }, 120_000);
    }
  }

  it('a log without its strategy (recorded before the field) is replayed with the random keys', async () => {
    const run = await runScenario(oneForAllWorkers, { seed: 3 });
    const again = await runScenario(oneForAllWorkers, { seed: 3, decisions: run.decisions });
    expect(again.decisionStrategy).toBe('random');
    expect(again.traceHash).toBe(run.traceHash);
  });

  it('the replay line carries a strategy that is not the scenario’s own', () => {
    expect(replayCommand('crashy', 4)).toBe('ordo chaos replay crashy --seed 4');
    expect(replayCommand('crashy', 4, { strategy: { kind: 'fifo' } })).toBe('ordo chaos replay crashy --seed 4 --strategy fifo');
    expect(replayCommand('crashy', 4, { strategy: { kind: 'pct', depth: 5, expectedSteps: 500 } })).toBe('ordo chaos replay crashy --seed 4 --strategy pct:5:500');
    const r = runScenario(oneForAllWorkers, { seed: 2, strategy: { kind: 'pct' } });
    return r.then((report) => expect(report.replay).toBe(`ordo chaos replay ${oneForAllWorkers.name} --seed 2 --strategy pct`));
  });
});
