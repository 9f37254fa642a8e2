import { assign, fromCallback, fromPromise, setup } from 'xstate';
import type { Env } from '../env/env.ts';
import { retryDelay } from '../supervisor/backoff.ts';
import { CLUSTER_DEFAULTS, CLUSTER_RETRY, validateName } from './config.ts';
import { ClusterConfigError } from './errors.ts';
import type { ClusterService } from './discovery.ts';
import { KvLeaderElection, type LeaderEvents, type LeaderTerm, type Leadership, type LeaseTiming } from './leaderElection.ts';

/** Configuration of an election child. */
export interface ElectionConfig {
  /** Election name (the lease key); default `leader`. */
  name?: string;
  leaseTtlMs?: number;
  renewMs?: number;
  retryMs?: number;
}

/** Input of the election machine: the discovery service it depends on. */
export interface ElectionInput {
  env: Env;
  cluster: ClusterService;
  config?: ElectionConfig;
}

/** Resolves lease timing with defaults; bad values are {@link ClusterConfigError}s. */
export function leaseTiming(c: ElectionConfig = {}): LeaseTiming {
  const leaseTtlMs = c.leaseTtlMs ?? CLUSTER_DEFAULTS.leaseTtlMs;
  const renewMs = c.renewMs ?? Math.floor(leaseTtlMs / 3);
  const retryMs = c.retryMs ?? Math.max(20, Math.floor(leaseTtlMs / 10));
  if (!(leaseTtlMs > 0) || !(renewMs > 0) || renewMs * 2 > leaseTtlMs) {
    throw new ClusterConfigError('need leaseTtlMs > 0 and 0 < renewMs <= leaseTtlMs / 2', { value: { leaseTtlMs, renewMs } });
  }
  if (!(retryMs > 0)) throw new ClusterConfigError('retryMs must be positive', { value: retryMs });
  return { leaseTtlMs, renewMs, retryMs };
}

/** Single-node mode: this node is always the leader of term 1. */
function soloLeadership(node: string, incarnation: string): Leadership {
  const term: LeaderTerm = { node, incarnation, token: 1 };
  return {
    isLeader: () => true,
    term: () => term,
    leader: () => ({ node, incarnation }),
    on: <E extends keyof LeaderEvents>(event: E, l: LeaderEvents[E]) => {
      if (event === 'leader') (l as LeaderEvents['leader'])(term);
      return () => undefined;
    },
  };
}

interface Ctx {
  input: ElectionInput;
  election: KvLeaderElection | undefined;
  service: Leadership | undefined;
  attempt: number;
  error: string | undefined;
  /** Set when the child failed for good (bad config): becomes the output's reason. */
  fatal: { code: string; message: string } | undefined;
}

/**
 * The leader-election child (xstate v5, docs/child-protocol.md). Needs the discovery service.
 * Ready (`ready` tag, `context.service` = {@link Leadership}) once the lease bucket is open and
 * the first campaign has run; it may be leader or follower. `ordo.stop` releases the lease.
 * In single-node mode it is leader at once.
 *
 * @example
 * // no-run: needs a running discovery child (docs/cluster.md runs the whole tree)
 * import { createTestEnv } from 'ordo';
 * import { electionMachine, type ClusterService } from 'ordo/cluster';
 * import { createActor } from 'xstate';
 *
 * declare const discoveryService: ClusterService; // what the discovery child provides
 * const env = createTestEnv();
 * const actor = createActor(electionMachine, { input: { env, cluster: discoveryService }, clock: env.clock }).start();
 * actor.getSnapshot().context.service?.isLeader();
 */
export const electionMachine = setup({
  types: {
    input: {} as ElectionInput,
    context: {} as Ctx,
    events: {} as { type: 'ordo.stop'; reason?: unknown } | { type: 'role.leader' } | { type: 'role.follower' },
    output: {} as { reason?: unknown },
  },
  actors: {
    open: fromPromise<{ election: KvLeaderElection | undefined; service: Leadership }, ElectionInput>(async ({ input }) => {
      const { env, cluster } = input;
      const timing = leaseTiming(input.config);
      const name = validateName('election name', input.config?.name ?? 'leader');
      if (!cluster.connection) return { election: undefined, service: soloLeadership(cluster.self, cluster.incarnation) };
      const election = new KvLeaderElection(env, cluster.connection, { cluster: cluster.cluster, node: cluster.self, incarnation: cluster.incarnation, name, timing, replicas: cluster.replicas ?? 1, replicasExplicit: cluster.replicasExplicit ?? false });
      await election.start();
      return { election, service: election };
    }),
    watchRole: fromCallback<{ type: 'role.leader' } | { type: 'role.follower' }, { service: Leadership | undefined }>(({ sendBack, input }) => {
      const svc = input.service;
      if (!svc) return undefined;
      if (svc.isLeader()) sendBack({ type: 'role.leader' });
      const offs = [svc.on('leader', () => sendBack({ type: 'role.leader' })), svc.on('follower', () => sendBack({ type: 'role.follower' }))];
      return () => offs.forEach((off) => off());
    }),
    release: fromPromise<void, { election: KvLeaderElection | undefined }>(async ({ input }) => {
      await input.election?.stop();
    }),
  },
  delays: {
    retryDelay: ({ context }) => retryDelay(CLUSTER_RETRY.steady, context.attempt, context.input.env.random),
  },
}).createMachine({
  id: 'ordo.election',
  context: ({ input }) => ({ input, election: undefined, service: undefined, attempt: 0, error: undefined, fatal: undefined }),
  initial: 'opening',
  states: {
    opening: {
      invoke: {
        src: 'open',
        input: ({ context }) => context.input,
        onDone: { target: 'running', actions: assign(({ event }) => ({ election: event.output.election, service: event.output.service, error: undefined })) },
        onError: [
          {
            guard: ({ event }) => (event.error as { code?: string })?.code === 'ORDO_CLUSTER_CONFIG',
            target: 'failed',
            actions: assign(({ event }) => ({ fatal: { code: 'ORDO_CLUSTER_CONFIG', message: String((event.error as Error).message) } })),
          },
          {
            target: 'retrying',
            actions: [
              ({ event, context }) => context.input.env.logger.warn({ report: 'election_open_failed', err: event.error }, 'could not open the lease bucket; retrying'),
              assign(({ event, context }) => ({ attempt: context.attempt + 1, error: String(event.error) })),
            ],
          },
        ],
      },
      on: { 'ordo.stop': 'stopped' },
    },
    retrying: { tags: ['degraded'], after: { retryDelay: 'opening' }, on: { 'ordo.stop': 'stopped' } },
    running: {
      tags: ['ready'],
      // Substates mirror the role, so an Application's health shows who leads.
      invoke: { src: 'watchRole', input: ({ context }) => ({ service: context.service }) },
      initial: 'follower',
      states: {
        follower: { on: { 'role.leader': 'leader' } },
        leader: { on: { 'role.follower': 'follower' } },
      },
      on: { 'ordo.stop': 'stopping' },
    },
    stopping: { invoke: { src: 'release', input: ({ context }) => ({ election: context.election }), onDone: 'stopped', onError: 'stopped' } },
    failed: { type: 'final' },
    stopped: { type: 'final' },
  },
  output: ({ context }) => ({ reason: context.fatal ?? 'shutdown' }),
});
