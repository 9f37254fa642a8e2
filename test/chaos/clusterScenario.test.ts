/**
 * Multi-node runs: a scenario names its nodes and each boots its own application (its own kernel
 * and root supervisor, Env, disk directories and NATS connection) on one simulation and seed.
 * Node-level faults (kill for good, kill and boot again on the same data, partition one node),
 * invariants across nodes (one leader at a time, membership converged) and per node and boot
 * (the supervisor oracles), determinism by trace hash, replay and shrink with node faults.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/chaos/runner.ts';
import { shrink } from '../../src/chaos/shrink.ts';
import { validateScenario, type Scenario } from '../../src/chaos/scenario.ts';
import { ScenarioError } from '../../src/chaos/errors.ts';
import { cluster3Scenario, clusterNodesScenario } from '../../src/chaos/scenarios/cluster3.ts';
import { restForOneService } from '../../src/chaos/scenarios/library.ts';

const boots = (r: { trace: readonly Record<string, unknown>[] }) => r.trace.filter((e) => e['kind'] === 'node.up').map((e) => `${e['node'] as string}#${e['boot'] as number}`);

describe('multi-node runs: one application per node on one simulation', () => {
  it('cluster-3: one leader at a time through partitions, a node killed and booted again, a server restart; membership converges; deterministic', async () => {
    const r1 = await runScenario(cluster3Scenario, { seed: 7 });
    expect(r1.violations).toEqual([]);
    expect(r1.sometimes['leaderChanged']).toBe(true);
    expect(r1.faults.map((f) => f.action)).toEqual(['partition', 'partition', 'heal', 'node-restart', 'nats-restart']);
    expect(boots(r1)).toEqual(['n1#1', 'n2#1', 'n3#1', 'n3#2']);
    const r2 = await runScenario(cluster3Scenario, { seed: 7 });
    expect(r2.traceHash).toBe(r1.traceHash);
    expect((await runScenario(cluster3Scenario, { seed: 8 })).violations).toEqual([]);
  }, 60_000);

  it('each node is its own application: its own root supervisor, kernel (pids start again per node and boot) and NATS client; a kill is abrupt — no stop, its timers cancelled — and the others see it leave', async () => {
    const r = await runScenario(clusterNodesScenario, { seed: 3 });
    expect(r.violations).toEqual([]);
    const roots = r.trace.filter((e) => e.kind === 'report' && e['report'] === 'progress' && e['supervisor'] === 'cluster-3-nodes' && e['child'] === 'disc');
    expect(roots.map((e) => `${e['node'] as string}#${e['boot'] as number}`)).toEqual(expect.arrayContaining(['n1#1', 'n2#1', 'n3#1', 'n2#2']));
    const firstSpawn = (node: string, boot: number) => r.trace.find((e) => e.kind === 'spawn' && e['node'] === node && e['boot'] === boot)?.['pid'];
    expect(firstSpawn('n1', 1)).toBe(firstSpawn('n2', 1));
    expect(firstSpawn('n2', 2)).toBe(firstSpawn('n2', 1));
    const clients = new Set(r.trace.filter((e) => e.kind === 'nats.status').map((e) => e['client']));
    expect([...clients].sort()).toEqual(['ordo:n1', 'ordo:n2', 'ordo:n3']);
    // n3 killed at 6500: nothing of n3 boot 1 after it — no exit with 'shutdown', no report
    const killAt = r.trace.find((e) => e.kind === 'node.down' && e['node'] === 'n3')!.t;
    expect(r.trace.filter((e) => e['node'] === 'n3' && e['boot'] === 1 && e.t >= killAt && e.kind !== 'node.down' && e.kind !== 'fault')).toEqual([]);
    // the survivors see it leave (heartbeat age: 2.9 has no expiry event)
    for (const n of ['n1', 'n2']) expect(r.trace.some((e) => e['report'] === 'discovery_nodedown' && e['node'] === n && e['member'] === 'n3' && e.t > killAt)).toBe(true);
  }, 60_000);

  it('a data tree on two nodes: each its own directories on the simulated disk; a node killed and booted again reopens its data (no acknowledged write lost); the supervisor oracles hold per node and boot', async () => {
    const two: Scenario = {
      ...restForOneService,
      name: 'rest-for-one-on-two-nodes',
      nodes: [{ name: 'a' }, { name: 'b' }],
      faults: { ...restForOneService.faults, timeline: [{ at: 7000, action: 'node-restart', node: 'a', downMs: 500 }, { at: 15_000, action: 'node-kill', node: 'b' }] },
    };
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = await runScenario(two, { seed });
      expect(r.violations, `seed ${seed}`).toEqual([]);
      expect(new Set(r.trace.filter((e) => e.kind === 'kv.open').map((e) => e['dir']))).toEqual(new Set(['/a/data/service', '/b/data/service']));
      expect(boots(r)).toEqual(['a#1', 'b#1', 'a#2']);
      // a's second boot opened the same directory again, after the first boot's handle was dropped with the process
      const opens = r.trace.filter((e) => e.kind === 'kv.open' && e['dir'] === '/a/data/service' && e.t > 7000);
      expect(opens.length).toBeGreaterThan(0);
      expect(r.trace.some((e) => e.kind === 'kv.closed' && e['dir'] === '/a/data/service' && e['abandoned'] === true && e.t === 7000)).toBe(true);
    }
  }, 60_000);

  it('the oracles can fail across nodes: without the heal the partitioned nodes never see the others again', async () => {
    const noHeal: Scenario = { ...cluster3Scenario, name: 'cluster-3-no-heal', faults: { timeline: cluster3Scenario.faults!.timeline!.filter((f) => f.action !== 'heal') } };
    const r = await runScenario(noHeal, { seed: 7 });
    expect(r.outcome).toBe('fail');
    expect(r.violations.map((v) => v.invariant)).toContain('membershipConverged');
  }, 60_000);

  it('per node and boot: a tree oracle names the node and boot it failed on', async () => {
    // a node whose election child is started before its provider is ready would break depsReady; here the
    // supervisor's restartStrategy must hold on every boot, and a killed boot is not asked to be stopped in order
    const r = await runScenario({ ...clusterNodesScenario, invariants: [...clusterNodesScenario.invariants, { kind: 'always', oracle: 'treeUp' }] }, { seed: 4 });
    const up = r.violations.filter((v) => v.invariant === 'treeUp');
    // n3 was killed for good: its boot is not asked; the others are up
    expect(up).toEqual([]);
    const down: Scenario = { ...clusterNodesScenario, name: 'no-restart', faults: { timeline: [{ at: 3000, action: 'node-kill', node: 'n2' }] }, invariants: [{ kind: 'eventually', oracle: 'noTimersAfterStop' }] };
    expect((await runScenario(down, { seed: 4 })).violations).toEqual([]);
  }, 60_000);

  it('replay and shrink with node faults: the minimal failing list keeps the partition and drops the rest; its replay fails the same way', async () => {
    const noHeal: Scenario = { ...clusterNodesScenario, name: 'nodes-no-heal', faults: { timeline: clusterNodesScenario.faults!.timeline!.filter((f) => f.action !== 'heal') } };
    const failing = await runScenario(noHeal, { seed: 5 });
    expect(failing.outcome).toBe('fail');
    // no wall-clock budget: what the shrink finds must not depend on the machine's speed (6 replays)
    const min = await shrink(noHeal, failing, { budgetMs: Number.POSITIVE_INFINITY });
    expect(min.reproduced).toBe(true);
    expect(min.faults.map((f) => f.action)).toContain('partition');
    expect(min.faults.length).toBeLessThan(failing.faults.length);
    const again = await runScenario(noHeal, { seed: 5, faults: min.faults, horizonMs: min.horizonMs });
    expect(again.violation?.invariant).toBe(min.report.violation?.invariant);
    expect(again.traceHash).toBe(min.report.traceHash);
    // a replay from the decision log follows it to the end and is the same run
    const replayed = await runScenario(noHeal, { seed: 5, decisions: failing.decisions });
    expect(replayed.divergence).toBeUndefined();
    expect(replayed.violation?.invariant).toBe(failing.violation?.invariant);
    expect(replayed.decisions).toEqual(failing.decisions);
    expect(replayed.traceHash).toBe(failing.traceHash); // exact: same-label ties broken as the run broke them
  }, 120_000);

  it('node faults are validated: an unknown node, a node fault without nodes, a node-kill without a node, duplicate nodes', () => {
    const withFaults = (timeline: readonly unknown[], nodes: Scenario['nodes'] | undefined): Scenario => {
      const { nodes: _drop, ...rest } = clusterNodesScenario;
      return { ...rest, ...(nodes ? { nodes } : {}), faults: { timeline: timeline as never } };
    };
    const n = clusterNodesScenario.nodes;
    expect(() => validateScenario(withFaults([{ at: 1, action: 'node-kill', node: 'n9' }], n))).toThrow(/unknown node/);
    expect(() => validateScenario(withFaults([{ at: 1, action: 'node-kill', node: 'n1' }], undefined))).toThrow(/no nodes/);
    expect(() => validateScenario(withFaults([{ at: 1, action: 'node-restart' }], n))).toThrow(/must name the node/);
    expect(() => validateScenario(withFaults([], [{ name: 'a' }, { name: 'a' }]))).toThrow(ScenarioError);
    expect(() => validateScenario(withFaults([{ at: 1, action: 'partition', node: 'n2' }], n))).not.toThrow();
  });
});
