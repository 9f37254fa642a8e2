import type { Env } from '../env/env.ts';
import type { Logger } from '../env/logger.ts';
import type { ClusterTransport } from '../env/transport.ts';

/** Lost races in a row after which a node asks the others to hold off. */
const STARVING_AFTER = 2;
/** Bounds of one hold (ms), whatever a request asks for. */
const MIN_HOLD_MS = 100;
const MAX_HOLD_MS = 2000;

/** The core-NATS subject on which `node` asks the others of store `store` to hold off (not captured by the replication stream). */
export const fairnessSubject = (cluster: string, store: string, node: string): string => `ordo.fair.${cluster}.${store}.${node}`;

/** What {@link CommitFairness} needs. @internal */
export interface CommitFairnessDeps {
  env: Env;
  transport: () => ClusterTransport;
  cluster: string;
  store: string;
  node: string;
  log: Logger;
}

/**
 * Cooperative fairness for stream-scope checked commits. Every checked commit expects the
 * stream's last sequence (on nats-server 2.9 R3 the only expectation checked when a replica
 * stores the message, so the only sound one), which a node behind a slow link never wins while
 * the others commit faster than its round trip. A node that lost {@link STARVING_AFTER} races
 * in a row publishes a hold request (core NATS, `ordo.fair.<cluster>.<store>.<node>`, carrying
 * three of its round trips); every other node then holds its own new checked commits until that
 * time passes or a message from the requester is applied, whichever is first. Only liveness is
 * affected: every commit is still checked; a lost or refused request (no permission, NATS down)
 * just leaves the old behaviour. @internal
 */
export class CommitFairness {
  private lost = 0;
  private holdUntil = 0;
  private holdFor: string | undefined;
  private release: Array<() => void> = [];
  private timer: ReturnType<Env['clock']['setTimeout']> | undefined;
  private sub: { unsubscribe(): void } | undefined;
  /** Holds this node has been asked for (health / tests). */
  holdsGranted = 0;
  /** Hold requests this node sent. */
  holdsAsked = 0;
  private readonly d: CommitFairnessDeps;

  constructor(deps: CommitFairnessDeps) {
    this.d = deps;
  }

  /** Listens for the other nodes' hold requests. */
  start(): void {
    const d = this.d;
    this.sub = d.transport().subscribe(`ordo.fair.${d.cluster}.${d.store}.*`, {}, (m) => {
      let req: { node?: unknown; holdMs?: unknown };
      try {
        req = m.json<{ node?: unknown; holdMs?: unknown }>();
      } catch {
        return;
      }
      const node = m.subject.slice(`ordo.fair.${d.cluster}.${d.store}.`.length);
      if (node === d.node || typeof req.holdMs !== 'number' || !Number.isFinite(req.holdMs)) return;
      const until = d.env.clock.now() + Math.min(MAX_HOLD_MS, Math.max(MIN_HOLD_MS, req.holdMs));
      if (until <= this.holdUntil) return;
      this.holdUntil = until;
      this.holdFor = node;
      this.holdsGranted++;
      d.log.debug({ report: 'replication_fairness_hold', for: node, holdMs: until - d.env.clock.now() }, 'holding checked commits: another node keeps losing');
      if (this.timer !== undefined) d.env.clock.clearTimeout(this.timer);
      this.timer = d.env.clock.setTimeout(() => this.end(), until - d.env.clock.now());
    });
  }

  /** Stops listening; nothing waits any more. */
  stop(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.end();
  }

  /** Before a checked commit is published: resolves once no other node's hold is in force. */
  async gate(): Promise<void> {
    while (this.d.env.clock.now() < this.holdUntil) await new Promise<void>((r) => this.release.push(r));
  }

  /** A message written by `node` was applied here: a hold for it ends (it got through). */
  applied(node: string): void {
    if (node === this.holdFor) this.end();
  }

  /** This node's checked commit won. */
  won(): void {
    this.lost = 0;
  }

  /** This node's checked commit lost a race after `rttMs` (publish to answer): asks for a hold once it keeps losing. */
  lostRace(rttMs: number): void {
    const d = this.d;
    if (++this.lost < STARVING_AFTER) return;
    this.lost = 0;
    const holdMs = Math.round(3 * Math.max(rttMs, 1) + 50);
    try {
      d.transport().publishCore(fairnessSubject(d.cluster, d.store, d.node), new TextEncoder().encode(JSON.stringify({ node: d.node, holdMs })));
      this.holdsAsked++;
      d.log.info({ report: 'replication_fairness_asked', holdMs, lostInARow: STARVING_AFTER }, 'lost checked commits in a row: asked the other nodes to hold off');
    } catch (e) {
      d.log.debug({ report: 'replication_fairness_ask_failed', err: e }, 'could not ask for a hold');
    }
  }

  private end(): void {
    if (this.timer !== undefined) this.d.env.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.holdUntil = 0;
    this.holdFor = undefined;
    for (const r of this.release.splice(0)) r();
  }
}
