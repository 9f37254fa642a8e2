/**
 * The demo application `npm start` boots, on the embedded default: one node (discovery in
 * single-node mode — no NATS), data under `./data`. A rest_for_one root: cluster → leader →
 * store → replication → leaderboard → jobs → http, so a crash restarts what depends on it and
 * nothing before it. Each child starts only when the one it needs is *ready* — no child waits
 * on a fixed delay.
 *
 * The same tree runs clustered with `ordo start --nats URL`: discovery joins the cluster,
 * one node holds the leader lease, `user_bux_points` replicates through JetStream (single-node
 * mode writes it locally), and the leaderboard loads only once replication has caught up.
 */
import type { Env, SupervisorSpec } from '../../src/index.ts';
import { supervisor } from '../../src/index.ts';
import { discoveryMachine, electionMachine, replicationMachine, type ClusterService, type Leadership } from '../../src/cluster/index.ts';
import type { Store } from '../../src/store/index.ts';
import { storeInitializerMachine } from '../../src/store/initializerMachine.ts';
import { demoTables, httpFront, jobTicker, leaderboardCache, type Leaderboard } from './machines.ts';

export interface DemoOptions {
  dataDir: string;
  /** NATS servers; none → single-node mode. */
  nats?: string[];
  /** Replicas of every stream and bucket (default `'auto'`: R3 on a 3+ server cluster, else R1). */
  replicas?: number | 'auto';
  /** The job ticker crashes on this tick (once). */
  crashAtTick?: number;
  tickMs?: number;
}

export function demoTree(options: DemoOptions): SupervisorSpec {
  const crashed = { done: false };
  return {
    strategy: 'rest_for_one',
    maxRestarts: 5,
    periodMs: 10_000,
    children: [
      {
        id: 'cluster',
        start: { machine: discoveryMachine, input: ({ env }: { env: Env }) => ({ env, config: { dataDir: options.dataDir, nats: options.nats ? { servers: options.nats } : undefined, ...(options.replicas !== undefined ? { replicas: options.replicas } : {}) } }) },
        provides: 'cluster',
      },
      {
        id: 'leader',
        requires: ['cluster'],
        start: { machine: electionMachine, input: ({ env, deps }: { env: Env; deps: Record<string, unknown> }) => ({ env, cluster: deps['cluster'] as ClusterService }) },
        provides: 'leader',
      },
      {
        id: 'store',
        requires: ['cluster'],
        shutdownMs: 10_000,
        start: {
          machine: storeInitializerMachine,
          input: ({ env }: { env: Env }) => ({ env, dir: `${options.dataDir}/store`, tables: demoTables, deferReplicatedMigrations: true }),
        },
        provides: 'store',
      },
      {
        id: 'replication',
        requires: ['cluster', 'leader', 'store'],
        start: {
          machine: replicationMachine,
          input: ({ env, deps }: { env: Env; deps: Record<string, unknown> }) => ({
            env,
            cluster: deps['cluster'] as ClusterService,
            leadership: deps['leader'] as Leadership,
            store: deps['store'] as Store,
            config: { store: 'demo', tables: ['user_bux_points'] },
          }),
        },
        provides: 'replication',
      },
      {
        id: 'leaderboard',
        requires: ['store', 'replication'],
        start: { machine: leaderboardCache, input: ({ deps }: { deps: Record<string, unknown> }) => ({ store: deps['store'] as Store, size: 10 }) },
        provides: 'leaderboard',
      },
      supervisor('jobs', {
        strategy: 'one_for_one',
        maxRestarts: 3,
        periodMs: 5000,
        backoff: { initialMs: 200, maxMs: 5000, factor: 2, jitter: 0.1, resetAfterMs: 10_000 },
        children: [
          {
            id: 'ticker',
            requires: ['store'],
            start: {
              machine: jobTicker,
              input: ({ env, deps }: { env: Env; deps: Record<string, unknown> }) => ({ env, store: deps['store'] as Store, everyMs: options.tickMs ?? 400, crashAt: options.crashAtTick ?? 5, crashed }),
            },
          },
        ],
      }),
      {
        id: 'http',
        requires: ['leaderboard'],
        start: { machine: httpFront, input: ({ deps }: { deps: Record<string, unknown> }) => ({ leaderboard: deps['leaderboard'] as Leaderboard }) },
      },
    ],
  };
}
