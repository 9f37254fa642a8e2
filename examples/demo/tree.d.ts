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
import type { SupervisorSpec } from '../../src/index.ts';
export interface DemoOptions {
    dataDir: string;
    /** NATS servers; none → single-node mode. */
    nats?: string[];
    /** The job ticker crashes on this tick (once). */
    crashAtTick?: number;
    tickMs?: number;
}
export declare function demoTree(options: DemoOptions): SupervisorSpec;
//# sourceMappingURL=tree.d.ts.map