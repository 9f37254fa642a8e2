/**
 * The demo application `npm start` boots, on the embedded default: one node (discovery in
 * single-node mode — no NATS), data under `./data`. A rest_for_one root: cluster → store →
 * leaderboard → jobs → http, so a crash restarts what depends on it and nothing before it.
 * Each child starts only when the one it needs is *ready* — no child waits on a fixed delay.
 */
import type { Env, SupervisorSpec } from '../../src/index.ts';
import { supervisor } from '../../src/index.ts';
import { discoveryMachine } from '../../src/cluster/index.ts';
import type { Store } from '../../src/store/index.ts';
import { storeInitializerMachine } from '../../src/store/initializerMachine.ts';
import { demoTables, httpFront, jobTicker, leaderboardCache, type Leaderboard } from './machines.ts';

export interface DemoOptions {
  dataDir: string;
  /** NATS servers; none → single-node mode. */
  nats?: string[];
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
        start: { machine: discoveryMachine, input: ({ env }: { env: Env }) => ({ env, config: { dataDir: options.dataDir, nats: options.nats ? { servers: options.nats } : undefined } }) },
        provides: 'cluster',
      },
      {
        id: 'store',
        requires: ['cluster'],
        shutdownMs: 10_000,
        start: { machine: storeInitializerMachine, input: ({ env }: { env: Env }) => ({ env, dir: `${options.dataDir}/store`, tables: demoTables }) },
        provides: 'store',
      },
      {
        id: 'leaderboard',
        requires: ['store'],
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
