/**
 * 3-node cluster scenarios over the simulated NATS, each node its own application
 * ({@link Scenario.nodes}): its own kernel and root supervisor, a discovery child and an election
 * child under `rest_for_one`, its own NATS connection (`ordo:<node>`), on one simulation and seed.
 *
 * - {@link cluster3Scenario} (30 s): the first two nodes partitioned in turn, a heal, node n3
 *   killed and booted again on the same data, a server restart with JetStream back later. Used by
 *   test/chaos/clusterScenario.test.ts and bench/chaos.ts (the 3-node figure).
 * - {@link clusterNodesScenario} (12 s, shipped — in the CI determinism check): one partition and
 *   heal, a node killed for good and another killed and booted again, a server restart.
 *
 * Invariants: one leader at a time across nodes, leadership moved (sometimes), membership
 * converged among the nodes that are up when the heal phase ends, and per node and boot the
 * supervisor oracles (strategy, dependencies ready, reverse-order stop, no timers left).
 */
import type { InvariantSpec, Scenario, ScenarioContext } from '../scenario.ts';
import type { SupervisorSpec } from '../../supervisor/types.ts';
import { discoveryMachine, type ClusterService } from '../../cluster/discovery.ts';
import { electionMachine } from '../../cluster/election.ts';
import type { Env } from '../../env/env.ts';
import { clusterOracles, leaderChanged, membershipConverged, oneLeaderAtATime } from '../clusterOracles.ts';

/** The node names. */
export const CLUSTER3_NODES = ['n1', 'n2', 'n3'];

/** One node's tree: discovery (provides the cluster service) then election, under `rest_for_one`. */
export function clusterNodeTree(ctx: ScenarioContext, timing: { heartbeatMs: number; ttlMs: number; leaseTtlMs: number }): SupervisorSpec {
  const node = ctx.node ?? 'n1';
  return {
    strategy: 'rest_for_one',
    maxRestarts: 20,
    periodMs: 5000,
    children: [
      {
        id: 'disc',
        start: {
          machine: discoveryMachine,
          input: ({ env }: { env: Env }) => ({ env, config: { cluster: 'c3', nodeName: node, nats: { servers: ['nats://sim.invalid:4222'], reconnect: { waitMs: 100, jitterMs: 50 } }, heartbeatMs: timing.heartbeatMs, ttlMs: timing.ttlMs } }),
        },
        provides: { name: 'cluster', select: (s: unknown) => (s as { context: { service: ClusterService } }).context.service },
        startTimeoutMs: 10_000,
      },
      {
        id: 'elect',
        start: { machine: electionMachine, input: ({ env, deps }: { env: Env; deps: Record<string, unknown> }) => ({ env, cluster: deps['cluster'], config: { leaseTtlMs: timing.leaseTtlMs } }) },
        requires: ['cluster'],
      },
    ],
  };
}

const invariants: readonly InvariantSpec[] = [
  { kind: 'always', oracle: 'oneLeaderAtATime' },
  { kind: 'sometimes', oracle: 'leaderChanged' },
  { kind: 'eventually', oracle: 'membershipConverged' },
  { kind: 'always', oracle: 'restartStrategy' },
  { kind: 'always', oracle: 'depsReady' },
  { kind: 'always', oracle: 'reverseStop' },
  { kind: 'always', oracle: 'noTimersAfterStop' },
];

/** The 30 s scenario (see the module). */
export const cluster3Scenario: Scenario = {
  name: 'cluster-3',
  description: 'three nodes, each its own application: discovery and election over the simulated NATS, with partitions, a node killed and booted again, and a server restart',
  nodes: CLUSTER3_NODES.map((name) => ({ name })),
  tree: (ctx) => clusterNodeTree(ctx, { heartbeatMs: 200, ttlMs: 1000, leaseTtlMs: 1200 }),
  horizonMs: 30_000,
  healAtMs: 20_000,
  faults: {
    timeline: [
      { at: 6000, action: 'partition', node: 'n1' },
      { at: 9000, action: 'partition', node: 'n2' },
      { at: 12_000, action: 'heal' },
      { at: 14_000, action: 'node-restart', node: 'n3', downMs: 1000 },
      { at: 16_000, action: 'nats-restart', downMs: 1500, jetstreamDelayMs: 500 },
    ],
  },
  invariants,
};

/** The shipped 12 s scenario (see the module). */
export const clusterNodesScenario: Scenario = {
  name: 'cluster-3-nodes',
  description: 'three nodes, each its own application (kernel, root supervisor, NATS connection): a partition and heal, a node killed for good, another killed and booted again on its data, a server restart',
  nodes: CLUSTER3_NODES.map((name) => ({ name })),
  tree: (ctx) => clusterNodeTree(ctx, { heartbeatMs: 250, ttlMs: 1000, leaseTtlMs: 1200 }),
  horizonMs: 12_000,
  healAtMs: 8000,
  latency: { deliveryMs: { uniform: [0, 2] } },
  faults: {
    timeline: [
      { at: 1500, action: 'partition', node: 'n1' },
      { at: 3000, action: 'heal', node: 'n1' },
      { at: 3500, action: 'node-restart', node: 'n2', downMs: 800 },
      { at: 5000, action: 'nats-restart', downMs: 600, jetstreamDelayMs: 200 },
      { at: 6500, action: 'node-kill', node: 'n3' },
    ],
  },
  invariants,
};

/** The cluster oracles (also known to every run; kept here for older imports). */
export const cluster3Oracles = clusterOracles;
export { oneLeaderAtATime, leaderChanged, membershipConverged };
