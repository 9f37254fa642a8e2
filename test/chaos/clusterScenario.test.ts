/**
 * A 3-node cluster scenario: three discovery + election pairs (node names n1–n3, each its own
 * NATS client `ordo:nX`) in one simulated run over the run's simulated NATS, with a network
 * nemesis on the timeline (a partition of the first leader, a heal, a server restart) and a
 * kill of a discovery child. Checked: one leader at a time (by the election logs), membership
 * converges after the heal, and the same seed gives the same trace hash.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/chaos/runner.ts';
import type { Scenario } from '../../src/chaos/scenario.ts';
import { cluster3Oracles as oracles, cluster3Scenario as scenario } from '../../src/chaos/scenarios/cluster3.ts';

describe('a 3-node cluster scenario over the simulated NATS', () => {
  it('one leader at a time through partitions, a kill and a server restart; membership converges after the heal; deterministic', async () => {
    const r1 = await runScenario(scenario, { seed: 7, oracles });
    expect(r1.violations).toEqual([]);
    expect(r1.outcome).toBe('pass');
    expect(r1.sometimes['leaderChanged']).toBe(true);
    expect(r1.faults.map((f) => f.action)).toEqual(['partition', 'partition', 'heal', 'kill', 'nats-restart']);
    const r2 = await runScenario(scenario, { seed: 7, oracles });
    expect(r2.traceHash).toBe(r1.traceHash);
    const r3 = await runScenario(scenario, { seed: 8, oracles });
    expect(r3.violations).toEqual([]);
  }, 60_000);

  it('the oracles can fail: without the heal, the partitioned nodes never see the others again', async () => {
    const noHeal: Scenario = { ...scenario, name: 'cluster-3-no-heal', faults: { timeline: scenario.faults!.timeline!.filter((f) => f.action !== 'heal') } };
    const r = await runScenario(noHeal, { seed: 7, oracles });
    expect(r.outcome).toBe('fail');
    expect(r.violations.map((v) => v.invariant)).toContain('membershipConverged');
  }, 60_000);
});
