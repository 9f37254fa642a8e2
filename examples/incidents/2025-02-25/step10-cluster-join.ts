/**
 * Step 10 — "Both machines crash ~10 s after startup": with the fresh build Mnesia's tables were
 * ready and the two machines joined the cluster; then both exited (`shutdown`) in the same
 * millisecond. The hypothesis: the cluster interaction that starts at the join (Oban's global
 * peer election, Mnesia's first cross-node sync) crashes a child on each node, and the restarts
 * escalate to each node's root.
 *
 * Replayed with two "machines" (node subtrees n1, n2) that discover each other over the run's
 * simulated NATS (the cluster3 pattern). Each node's peer child enters the first cross-node
 * sync when it sees the other node join; the sync is one transaction over both nodes (as
 * Mnesia's schema merge is), so its outcome reaches both peers in the same virtual millisecond.
 * The tables are still being copied for a while after the join, so the first syncs abort.
 */
import { fromCallback, fromPromise, setup } from 'xstate';
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { Oracle } from '../../../src/chaos/oracles.ts';
import { discoveryMachine, type ClusterService } from '../../../src/cluster/discovery.ts';
import type { Env } from '../../../src/env/index.ts';
import { supervisor, type ChildSpec, type SupervisorInit } from '../../../src/supervisor/index.ts';
import { appStaysUp, healthProbe, noCrash, type IncidentStep } from './kit.ts';

/** The two machines. */
const NODES = ['n1', 'n2'] as const;
/** How long after both nodes joined the copy of the tables stays unsyncable (drawn per run). */
const COPY_MS = { min: 1500, max: 4000 } as const;
/** With Ordo: the peer's retry of a refused sync, doubling, at most this. */
const SYNC_RETRY = { initialMs: 250, maxMs: 2000 } as const;

/** Raised by a sync the other node cannot serve yet. */
export class SyncRefusedError extends Error {
  readonly node: string;
  readonly remote: string;
  constructor(node: string, remote: string) {
    super(`${node}: cross-node sync with ${remote} refused: its tables are still being copied`);
    this.name = 'SyncRefusedError';
    this.node = node;
    this.remote = remote;
  }
}

interface PeerInput {
  readonly node: string;
  readonly cluster: ClusterService;
  readonly env: Env;
  /** The cross-node sync: settles once both nodes have entered it, for both at once. */
  readonly sync: CrossNodeSync;
  readonly probe: ScenarioContext['probe'];
  /** As deployed: a refused sync is a crash. With Ordo: degraded, retried with backoff. */
  readonly ordo: boolean;
}

interface PeerCtx {
  readonly input: PeerInput;
  remote: string | undefined;
  attempt: number;
}

/** Oban's global peer + the first cross-node sync, on one node. */
export const peerMachine = setup({
  types: { input: {} as PeerInput, context: {} as PeerCtx, events: {} as { type: 'joined'; remote: string } | { type: 'ordo.stop' } },
  actors: {
    watch: fromCallback<{ type: 'joined'; remote: string }, PeerInput>(({ input, sendBack }) => {
      const other = input.cluster.members().find((m) => m.name !== input.node);
      if (other) sendBack({ type: 'joined', remote: other.name });
      return input.cluster.on('nodeup', (m) => {
        if (m.name !== input.node) sendBack({ type: 'joined', remote: m.name });
      });
    }),
    sync: fromPromise<void, { input: PeerInput; remote: string }>(({ input: { input, remote } }) => input.sync.enter(input.node, remote)),
  },
  delays: { retry: ({ context }) => Math.min(SYNC_RETRY.maxMs, SYNC_RETRY.initialMs * 2 ** context.attempt) },
}).createMachine({
  context: ({ input }) => ({ input, remote: undefined, attempt: 0 }),
  initial: 'alone',
  on: { 'ordo.stop': '.done' },
  states: {
    alone: {
      tags: ['ready'],
      invoke: { src: 'watch', input: ({ context }) => context.input },
      on: { joined: { target: 'syncing', actions: ({ context, event }) => { context.remote = event.remote; } } },
    },
    syncing: {
      tags: ['ready'],
      invoke: {
        src: 'sync',
        input: ({ context }) => ({ input: context.input, remote: context.remote! }),
        onDone: 'synced',
        onError: [{ guard: ({ context }) => context.input.ordo, target: 'degraded' }, { target: 'crashed' }],
      },
    },
    degraded: {
      tags: ['ready', 'degraded'],
      entry: ({ context }) => context.input.probe('peer.degraded', { node: context.input.node, remote: context.remote ?? null }),
      after: { retry: { target: 'syncing', actions: ({ context }) => { context.attempt++; } } },
    },
    synced: { tags: ['ready'], entry: ({ context }) => context.input.probe('peer.synced', { node: context.input.node, remote: context.remote ?? null }) },
    crashed: { type: 'final', output: ({ event }) => ({ reason: { peer: String((event as { error?: unknown }).error) } }) },
    done: { type: 'final' },
  },
});

/** One sync transaction spanning both nodes (Mnesia's schema merge at the join). */
export interface CrossNodeSync {
  /** Waits until every node has entered, then settles for all of them in the same tick. */
  enter(node: string, remote: string): Promise<void>;
}

function crossNodeSync(ctx: ScenarioContext, copyMs: number): CrossNodeSync {
  let syncableAt: number | undefined;
  let done = false;
  const waiting = new Map<string, { remote: string; resolve: () => void; reject: (e: Error) => void }>();
  return {
    enter(node, remote) {
      if (done) {
        ctx.probe('peer.sync', { node, remote, ok: true });
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        waiting.set(node, { remote, resolve, reject });
        if (waiting.size < NODES.length) return;
        const now = ctx.env.clock.now();
        syncableAt ??= now + copyMs;
        const ok = now >= syncableAt;
        done = ok;
        const all = [...waiting];
        waiting.clear();
        for (const [n, w] of all) {
          ctx.probe('peer.sync', { node: n, remote: w.remote, ok });
          if (ok) w.resolve();
          else w.reject(new SyncRefusedError(n, w.remote));
        }
      });
    },
  };
}

function nodeTree(ctx: ScenarioContext, n: string, ordo: boolean, sync: CrossNodeSync): ChildSpec {
  const disc: ChildSpec = {
    id: `disc-${n}`,
    start: {
      machine: discoveryMachine,
      input: ({ env }: { env: Env }) => ({ env, config: { cluster: 'blockster', nodeName: n, nats: { servers: ['nats://sim.invalid:4222'], reconnect: { waitMs: 100, jitterMs: 50 } }, heartbeatMs: 200, ttlMs: 1000 } }),
    },
    provides: { name: `cluster-${n}`, select: (s: unknown) => (s as { context: { service: ClusterService } }).context.service },
    startTimeoutMs: 10_000,
  };
  const peer: ChildSpec = {
    id: `oban_peer-${n}`,
    requires: [`cluster-${n}`],
    start: {
      machine: peerMachine,
      name: `oban_peer-${n}`,
      input: ({ env, deps }: { env: Env; deps: Readonly<Record<string, unknown>> }) => ({ node: n, cluster: deps[`cluster-${n}`] as ClusterService, env, sync, probe: ctx.probe, ordo }),
    },
  };
  // As deployed: the peer sits beside discovery under the node's root, OTP defaults (3 in 5 s).
  // With Ordo: discovery is a sibling; the peer's own subtree has its own intensity, and a refused
  // sync degrades it (retried with backoff) rather than crashing it.
  return ordo
    ? supervisor(`node-${n}`, { strategy: 'one_for_one', maxRestarts: 3, periodMs: 5000, children: [disc, supervisor(`peer-${n}`, { strategy: 'one_for_one', maxRestarts: 3, periodMs: 5000, children: [peer] })] })
    : supervisor(`node-${n}`, { strategy: 'one_for_one', maxRestarts: 3, periodMs: 5000, children: [disc, peer] });
}

function tree(ctx: ScenarioContext, ordo: boolean): SupervisorInit {
  const copyMs = COPY_MS.min + Math.floor(ctx.random('copy')() * (COPY_MS.max - COPY_MS.min));
  const sync = crossNodeSync(ctx, copyMs);
  return {
    strategy: 'one_for_one',
    maxRestarts: 3,
    periodMs: 5000,
    children: [...NODES.map((n) => nodeTree(ctx, n, ordo, sync)), healthProbe(ctx, 250)],
  };
}

/** Health while a peer waits on its sync: 503 `degraded` naming that peer; 200 at the end. */
export const degradedNamingPeer: Oracle = {
  name: 'degradedNamingPeer',
  description: '/health/ready answers 503 degraded naming the peer while its sync is refused, 200 once synced',
  check(view) {
    for (const e of view.trace) {
      if (e.kind !== 'health.ready' || (view.stopAt !== undefined && e.t >= view.stopAt)) continue;
      const degradedNow = [...view.trace].reverse().find((p) => (p.kind === 'peer.degraded' || p.kind === 'peer.synced') && p.t < e.t);
      if (degradedNow?.kind === 'peer.degraded' && e.t - degradedNow.t > 1) {
        const stillDegraded = !view.trace.some((p) => p.kind === 'peer.synced' && p['node'] === degradedNow['node'] && p.t <= e.t);
        if (stillDegraded && (e['code'] !== 503 || e['status'] !== 'degraded' || !String(e['child']).includes('oban_peer-'))) return { ok: false, t: e.t, message: `/health/ready answered ${String(e['code'])} ${String(e['status'])} (child ${String(e['child'])}) while ${String(degradedNow['node'])}'s peer was degraded` };
      }
    }
    const last = [...view.trace].reverse().find((e) => e.kind === 'health.ready' && (view.stopAt === undefined || e.t < view.stopAt));
    if (!last || last['code'] !== 200) return { ok: false, t: last?.t ?? view.scenario.horizonMs, message: `/health/ready did not answer 200 at the end (last: ${String(last?.['code'])})` };
    return { ok: true };
  },
};

/** Both nodes' peers synced with each other before the end. */
export const bothSynced: Oracle = {
  name: 'bothSynced',
  description: "each node's peer completed its first cross-node sync",
  check(view) {
    const synced = new Set(view.trace.filter((e) => e.kind === 'peer.synced' && (view.stopAt === undefined || e.t < view.stopAt)).map((e) => String(e['node'])));
    const missing = NODES.filter((n) => !synced.has(n));
    return missing.length ? { ok: false, t: view.stopAt ?? view.scenario.horizonMs, message: `not synced: ${missing.join(', ')}` } : { ok: true };
  },
};

const invariants = [
  { kind: 'always', oracle: 'appStaysUp' },
  { kind: 'always', oracle: 'noCrash' },
  { kind: 'always', oracle: 'degradedNamingPeer' },
  { kind: 'eventually', oracle: 'bothSynced' },
] as const;

const horizonMs = 15_000;

export const asDeployed: Scenario = {
  name: 'step10-cluster-join/as-deployed',
  description: "two nodes join over NATS; each node's peer crashes on a refused first sync, OTP defaults (3 in 5 s) per node and at the root",
  tree: (ctx) => tree(ctx, false),
  horizonMs,
  invariants,
  expect: 'fail',
};

export const withOrdo: Scenario = {
  name: 'step10-cluster-join/with-ordo',
  description: "the peer in its own subtree per node; a refused sync degrades it and is retried with backoff",
  tree: (ctx) => tree(ctx, true),
  horizonMs,
  invariants,
  expect: 'pass',
};

export const step10: IncidentStep = {
  id: 'step10',
  step: '10',
  title: 'Both machines crash in the same millisecond right after joining the cluster',
  story:
    'With the fresh build Mnesia reported "All tables ready" and "Successfully joined cluster and synced tables"; then both machines exited (`Application blockster_v2 exited: shutdown`) at the exact same millisecond. The hypothesis: the cluster interaction that starts at the join — Oban.Peers.Global\'s election, Mnesia\'s cross-node sync — crashes a child on each node, and the restarts cascade up to the root.',
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'appStaysUp',
  mechanism:
    "Subtrees with their own intensity (src/supervisor) + degraded health (src/health): each node's peer runs in its own subtree, and a refused first sync tags it `degraded` and retries with backoff (0.25 s doubling to 2 s) instead of crashing; nothing escalates to the node's root. The application stays up, `/health/ready` answers 503 naming the peer until the sync succeeds, then 200.",
  oracles: { appStaysUp, noCrash, degradedNamingPeer, bothSynced },
};
