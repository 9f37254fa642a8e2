/**
 * Cluster oracles: what discovery and election must keep across nodes, read from the run's trace
 * (the nodes' `election_*` / `discovery_*` reports, and in a multi-node run the `node.up` /
 * `node.down` events). They hold for one application running several nodes' children as for
 * several applications (`Scenario.nodes`), one per node.
 */
import type { Oracle, RunView } from './oracles.ts';
import type { TraceEvent } from './simulation.ts';

const nodeOf = (r: TraceEvent): string => String(r['node']);

/** The node names of a run: the scenario's nodes, else every node its reports name. */
function nodeNames(run: RunView): string[] {
  if (run.scenario.nodes) return run.scenario.nodes.map((n) => n.name);
  const seen = new Set<string>();
  for (const r of run.trace) if (r.kind === 'report' && typeof r['report'] === 'string' && (r['report'] as string).startsWith('discovery_') && r['node'] !== undefined) seen.add(nodeOf(r));
  return [...seen].sort();
}

/** At no virtual time do two nodes both believe they lead (a killed node stops believing anything). */
export const oneLeaderAtATime: Oracle = {
  name: 'oneLeaderAtATime',
  description: 'at most one node is leader at any time (election_leader / election_follower in order; a node killed stops leading)',
  check(run: RunView) {
    const leading = new Set<string>();
    for (const r of run.trace) {
      if (r.kind === 'node.down') leading.delete(nodeOf(r));
      if (r.kind !== 'report') continue;
      if (r['report'] === 'election_leader') {
        leading.add(nodeOf(r));
        if (leading.size > 1) return { ok: false, t: r.t, message: `two leaders at once: ${[...leading].join(', ')}` };
      } else if (r['report'] === 'election_follower') leading.delete(nodeOf(r));
    }
    return { ok: true };
  },
};

/** Leadership moved at least once (a `sometimes` invariant). */
export const leaderChanged: Oracle = {
  name: 'leaderChanged',
  description: 'leadership moved to another node at least once',
  check(run: RunView) {
    const leaders = run.trace.filter((r) => r.kind === 'report' && r['report'] === 'election_leader').map(nodeOf);
    return new Set(leaders).size > 1 ? { ok: true } : { ok: false, t: 0, message: `only ${leaders[0] ?? 'nobody'} led` };
  },
};

/**
 * When the heal phase ends (the orderly stop begins), every node that is up sees exactly the
 * nodes that are up (nodeup / nodedown in order; a node booted again starts from itself).
 */
export const membershipConverged: Oracle = {
  name: 'membershipConverged',
  description: 'when the heal phase ends, every node that is up sees every node that is up',
  check(run: RunView) {
    const all = nodeNames(run);
    const views = new Map(all.map((n) => [n, new Set([n])]));
    const up = new Set(all);
    const end = run.stopAt ?? Infinity;
    for (const r of run.trace) {
      if (r.t >= end) break;
      const n = nodeOf(r);
      if (r.kind === 'node.down') up.delete(n);
      else if (r.kind === 'node.up') {
        up.add(n);
        views.set(n, new Set([n]));
      } else if (r.kind === 'report') {
        const v = views.get(n);
        const member = String(r['member']);
        if (r['report'] === 'discovery_nodeup') v?.add(member);
        else if (r['report'] === 'discovery_nodedown') v?.delete(member);
      }
    }
    const want = [...up].sort().join(', ');
    for (const n of [...up].sort()) {
      const v = [...views.get(n)!].sort().join(', ');
      if (v !== want) return { ok: false, t: end, message: `${n} sees ${v}; up: ${want}` };
    }
    return { ok: true };
  },
};

/** The cluster oracles by name (the runner knows them beside the supervisor library). */
export const clusterOracles: Readonly<Record<string, Oracle>> = { oneLeaderAtATime, leaderChanged, membershipConverged };
