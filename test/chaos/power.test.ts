import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runScenario, type RunOptions, type RunReport } from '../../src/chaos/runner.ts';
import { shrink } from '../../src/chaos/shrink.ts';
import { holdGuard } from '../../src/chaos/guard.ts';
import type { Scenario } from '../../src/chaos/scenario.ts';
import type { Oracle } from '../../src/chaos/oracles.ts';
import { __chaosBugs } from '../../src/env/testBugs.ts';
import { bugs, createBus, discoveryMachine, membershipConverges } from './fixtures/discoveryModel.ts';

/**
 * Power: four defects re-injected behind test-only flags are each found within 1,000 seeds and
 * minimised to ≤ 5 fault events in ≤ 40 replays; with the flag off the same seeds pass (the oracle
 * does not fail on correct code).
 */
let release: () => void;
beforeAll(() => {
  release = holdGuard();
});
afterAll(() => release());
afterEach(() => {
  __chaosBugs.earlyReady = false;
  __chaosBugs.shutdownNoWait = false;
  __chaosBugs.intensityMiscount = false;
  bugs.discoveryPublishFirst = false;
});

async function firstFailure(s: Scenario, max: number, o: Partial<RunOptions> = {}): Promise<RunReport | undefined> {
  for (let seed = 1; seed <= max; seed++) {
    const r = await runScenario(s, { ...o, seed });
    if (r.outcome === 'fail') return r;
  }
  return undefined;
}

async function expectFoundAndShrunk(s: Scenario, flag: () => void, invariant: string, o: Partial<RunOptions> = {}): Promise<void> {
  // Correct code: the same scenario passes (40 seeds, the oracle is not trivially red).
  expect(await firstFailure(s, 40, o)).toBeUndefined();
  flag();
  const found = await firstFailure(s, 1000, o);
  expect(found, 'found within 1,000 seeds').toBeDefined();
  expect(found!.violation!.invariant).toBe(invariant);
  // no wall-clock budget here (its 5 s default would cut the shrink short on a slow machine and
  // leave more faults): the cost is counted in replays, each one deterministic simulation
  const min = await shrink(s, found!, { base: o, budgetMs: Number.POSITIVE_INFINITY });
  expect(min.reproduced).toBe(true);
  expect(min.faults.length).toBeLessThanOrEqual(5);
  expect(min.runs).toBeLessThanOrEqual(40);
  expect(min.report.violation!.invariant).toBe(invariant);
  // The minimised counterexample replays on its own: same seed, its faults, its horizon.
  const again = await runScenario(s, { ...o, seed: min.seed, faults: min.faults, horizonMs: min.horizonMs });
  expect(again.violation?.invariant).toBe(invariant);
  expect(again.traceHash).toBe(min.report.traceHash);
}

describe('power: re-injected defects are found and minimised', () => {
  it('a restart that reopens the store before the old handle closed (shutdown resolves before the child is down)', async () => {
    const s: Scenario = {
      name: 'reopen-before-close',
      tree: {
        strategy: 'one_for_all',
        maxRestarts: 20,
        periodMs: 1000,
        children: [
          { id: 'store', provides: 'store', register: false, kvDir: '/data/power', writeEveryMs: 1000, startMs: { uniform: [1, 10] }, stopMs: { uniform: [5, 60] } },
          { id: 'worker', requires: ['store'], startMs: 2 },
        ],
      },
      horizonMs: 20_000,
      latency: { deliveryMs: { uniform: [0, 2] }, ioMs: { uniform: [1, 4] } },
      faults: { random: { crashes: { children: ['worker'], meanIntervalMs: 4000 } } },
      invariants: [{ kind: 'always', oracle: 'handleClosedBeforeReopen' }],
    };
    await expectFoundAndShrunk(s, () => (__chaosBugs.shutdownNoWait = true), 'handleClosedBeforeReopen');
  }, 60_000);

  it('a consumer started before its dependency is ready (readiness reported at spawn)', async () => {
    const s: Scenario = {
      name: 'dependency-not-ready',
      tree: {
        strategy: 'rest_for_one',
        maxRestarts: 20,
        periodMs: 1000,
        children: [
          { id: 'store', provides: 'store', startMs: { uniform: [0, 30] } },
          { id: 'cache', requires: ['store'], provides: 'cache', startMs: { uniform: [0, 10] } },
        ],
      },
      horizonMs: 20_000,
      latency: { deliveryMs: { uniform: [0, 2] } },
      faults: { random: { crashes: { children: ['store', 'cache'], meanIntervalMs: 3000 } } },
      invariants: [{ kind: 'always', oracle: 'depsReady' }],
    };
    await expectFoundAndShrunk(s, () => (__chaosBugs.earlyReady = true), 'depsReady');
  }, 60_000);

  it('discovery publishing before subscribing (a model of the announce protocol)', async () => {
    const nodes = ['n1', 'n2', 'n3'];
    const s: Scenario = {
      name: 'discovery-announce',
      tree: (ctx) => {
        const hop = ctx.random('bus');
        const bus = createBus(ctx.env, () => 1 + Math.floor(hop() * 20));
        return {
          strategy: 'one_for_one',
          maxRestarts: 20,
          periodMs: 1000,
          children: nodes.map((node) => ({ id: node, start: { machine: discoveryMachine, name: node, input: { node, bus, probe: ctx.probe } } })),
        };
      },
      horizonMs: 20_000,
      latency: { deliveryMs: { uniform: [0, 2] } },
      faults: { random: { crashes: { children: nodes, meanIntervalMs: 4000 } } },
      invariants: [{ kind: 'eventually', oracle: 'membershipConverges' }],
    };
    const oracles: Record<string, Oracle> = { membershipConverges: membershipConverges(nodes) };
    await expectFoundAndShrunk(s, () => (bugs.discoveryPublishFirst = true), 'membershipConverges', { oracles });
  }, 60_000);

  it('an intensity window that miscounts (the new restart is not counted)', async () => {
    const s: Scenario = {
      name: 'intensity-miscount',
      tree: { strategy: 'one_for_one', maxRestarts: 3, periodMs: 2000, children: ['a', 'b', 'c'].map((id) => ({ id, startMs: 1 })) },
      horizonMs: 20_000,
      latency: { deliveryMs: { uniform: [0, 2] } },
      faults: { random: { crashes: { children: ['a', 'b', 'c'], meanIntervalMs: 700 } } },
      invariants: [{ kind: 'always', oracle: 'restartIntensity' }],
    };
    await expectFoundAndShrunk(s, () => (__chaosBugs.intensityMiscount = true), 'restartIntensity');
  }, 60_000);
});
