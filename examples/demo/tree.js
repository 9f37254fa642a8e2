import { supervisor } from "../../src/index.js";
import { discoveryMachine, electionMachine, replicationMachine } from "../../src/cluster/index.js";
import { storeInitializerMachine } from "../../src/store/initializerMachine.js";
import { demoTables, httpFront, jobTicker, leaderboardCache } from "./machines.js";
export function demoTree(options) {
    const crashed = { done: false };
    return {
        strategy: 'rest_for_one',
        maxRestarts: 5,
        periodMs: 10_000,
        children: [
            {
                id: 'cluster',
                start: { machine: discoveryMachine, input: ({ env }) => ({ env, config: { dataDir: options.dataDir, nats: options.nats ? { servers: options.nats } : undefined } }) },
                provides: 'cluster',
            },
            {
                id: 'leader',
                requires: ['cluster'],
                start: { machine: electionMachine, input: ({ env, deps }) => ({ env, cluster: deps['cluster'] }) },
                provides: 'leader',
            },
            {
                id: 'store',
                requires: ['cluster'],
                shutdownMs: 10_000,
                start: {
                    machine: storeInitializerMachine,
                    input: ({ env }) => ({ env, dir: `${options.dataDir}/store`, tables: demoTables, deferReplicatedMigrations: true }),
                },
                provides: 'store',
            },
            {
                id: 'replication',
                requires: ['cluster', 'leader', 'store'],
                start: {
                    machine: replicationMachine,
                    input: ({ env, deps }) => ({
                        env,
                        cluster: deps['cluster'],
                        leadership: deps['leader'],
                        store: deps['store'],
                        config: { store: 'demo', tables: ['user_bux_points'] },
                    }),
                },
                provides: 'replication',
            },
            {
                id: 'leaderboard',
                requires: ['store', 'replication'],
                start: { machine: leaderboardCache, input: ({ deps }) => ({ store: deps['store'], size: 10 }) },
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
                            input: ({ env, deps }) => ({ env, store: deps['store'], everyMs: options.tickMs ?? 400, crashAt: options.crashAtTick ?? 5, crashed }),
                        },
                    },
                ],
            }),
            {
                id: 'http',
                requires: ['leaderboard'],
                start: { machine: httpFront, input: ({ deps }) => ({ leaderboard: deps['leaderboard'] }) },
            },
        ],
    };
}
//# sourceMappingURL=tree.js.map