/**
 * A 3-node cluster scenario over the simulated NATS: three discovery + election pairs (node
 * names n1–n3, each its own NATS client `ordo:nX`) in one run, with a network nemesis on the
 * timeline (the first two nodes partitioned in turn, a heal, a discovery child killed, a server
 * restart with JetStream back later) and its oracles: one leader at a time, leadership moved,
 * membership converged when the heal phase ends. Used by test/chaos/clusterScenario.test.ts and
 * bench/chaos.ts (the 3-node figure). Not in the shipped list: a run costs ~0.5 s of CPU.
 */
import type { Oracle, RunView } from '../oracles.ts';
import type { Scenario } from '../scenario.ts';
import { discoveryMachine, type ClusterService } from '../../cluster/discovery.ts';
import { electionMachine } from '../../cluster/election.ts';
import type { Env } from '../../env/env.ts';

/** The node names. */
export const CLUSTER3_NODES = ['n1', 'n2', 'n3'];
const NODES = CLUSTER3_NODES;

/** The scenario (see the module). */
export const cluster3Scenario: Scenario = {
  name: 'cluster-3',
  description: 'three nodes: discovery and election over the simulated NATS, with partitions and a server restart',
  tree: () => ({
    strategy: 'one_for_one',
    maxRestarts: 20,
    periodMs: 5000,
    children: NODES.flatMap((n) => [
      {
        id: `disc-${n}`,
        start: {
          machine: discoveryMachine,
          input: ({ env }: { env: Env }) => ({ env, config: { cluster: 'c3', nodeName: n, nats: { servers: ['nats://sim.invalid:4222'], reconnect: { waitMs: 100, jitterMs: 50 } }, heartbeatMs: 200, ttlMs: 1000 } }),
        },
        provides: { name: `cluster-${n}`, select: (s: unknown) => (s as { context: { service: ClusterService } }).context.service },
        startTimeoutMs: 10_000,
      },
      {
        id: `elect-${n}`,
        start: { machine: electionMachine, input: ({ env, deps }: { env: Env; deps: Record<string, unknown> }) => ({ env, cluster: deps[`cluster-${n}`], config: { leaseTtlMs: 1200 } }) },
        requires: [`cluster-${n}`],
      },
    ]),
  }),
  horizonMs: 30_000,
  healAtMs: 20_000,
  faults: {
    timeline: [
      { at: 6000, action: 'partition', client: 'ordo:n1' },
      { at: 9000, action: 'partition', client: 'ordo:n2' },
      { at: 12_000, action: 'heal' },
      { at: 14_000, action: 'kill', child: 'disc-n3' },
      { at: 16_000, action: 'nats-restart', downMs: 1500, jetstreamDelayMs: 500 },
    ],
  },
  invariants: [
    { kind: 'always', oracle: 'oneLeaderAtATime' },
    { kind: 'sometimes', oracle: 'leaderChanged' },
    { kind: 'eventually', oracle: 'membershipConverged' },
  ],
};

/** From the election logs: at no virtual time do two nodes both believe they lead. */
export const oneLeaderAtATime: Oracle = {
  name: 'oneLeaderAtATime',
  description: 'at most one node is leader at any time (election_leader / election_follower in log order)',
  check(run: RunView) {
    const leading = new Set<string>();
    for (const r of run.logs) {
      const node = String((r as Record<string, unknown>)['node']);
      if (r['report'] === 'election_leader') {
        leading.add(node);
        if (leading.size > 1) return { ok: false, t: r.t, message: `two leaders at once: ${[...leading].join(', ')}` };
      } else if (r['report'] === 'election_follower') leading.delete(node);
    }
    return { ok: true };
  },
};

/** Leadership moved at least once (a `sometimes` invariant). */
export const leaderChanged: Oracle = {
  name: 'leaderChanged',
  description: 'leadership moved to another node at least once',
  check(run: RunView) {
    const leaders = run.logs.filter((r) => r['report'] === 'election_leader').map((r) => String((r as Record<string, unknown>)['node']));
    return new Set(leaders).size > 1 ? { ok: true } : { ok: false, t: 0, message: `only ${leaders[0] ?? 'nobody'} led` };
  },
};

/** From the discovery logs up to the orderly stop: every node sees all three (nodeup / nodedown in log order). */
export const membershipConverged: Oracle = {
  name: 'membershipConverged',
  description: 'when the heal phase ends, every node sees every node',
  check(run: RunView) {
    const views = new Map(NODES.map((n) => [n, new Set([n])]));
    const end = run.stopAt ?? Infinity;
    for (const r of run.logs) {
      if (r.t >= end) break;
      const v = views.get(String((r as Record<string, unknown>)['node']));
      const member = String((r as Record<string, unknown>)['member']);
      if (r['report'] === 'discovery_nodeup') v?.add(member);
      else if (r['report'] === 'discovery_nodedown') v?.delete(member);
    }
    for (const [n, v] of views) if (v.size !== NODES.length) return { ok: false, t: end, message: `${n} sees ${[...v].sort().join(', ')}` };
    return { ok: true };
  },
};

/** The oracles the scenario names. */
export const cluster3Oracles: Readonly<Record<string, Oracle>> = { oneLeaderAtATime, leaderChanged, membershipConverged };
