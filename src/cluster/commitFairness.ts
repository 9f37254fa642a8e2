import type { Env } from '../env/env.ts';
import type { Logger } from '../env/logger.ts';
import type { ClusterTransport } from '../env/transport.ts';

/** Lost races in a row after which a node asks the others to hold off. */
const STARVING_AFTER = 2;
/** Bounds of one hold (ms), whatever a request asks for. */
const MIN_HOLD_MS = 100;
const MAX_HOLD_MS = 2000;
/** After a hold of h ms (as granted, or as long as it lasted when the requester got through), the same requester gets no new hold for 2·h from its start. */
const COOLDOWN_FACTOR = 2;
/** Longest one commit waits in {@link CommitFairness.gate} in all, whatever holds follow one another (then it publishes). */
const MAX_GATE_MS = 2 * MAX_HOLD_MS;

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
  /**
   * The live members' node names (the discovery membership). Only their hold requests are
   * honoured; without a membership view none is.
   */
  members?: () => readonly string[];
}

/**
 * Cooperative fairness for stream-scope checked commits. Every checked commit expects the
 * stream's last sequence (on nats-server 2.9 R3 the only expectation checked when a replica
 * stores the message, so the only sound one), which a node behind a slow link never wins while
 * the others commit faster than its round trip. A node that lost {@link STARVING_AFTER} races
 * in a row publishes a hold request (core NATS, `ordo.fair.<cluster>.<store>.<node>`, carrying
 * three of its round trips); every other node then holds its own new checked commits until that
 * time passes or a message from the requester is applied, whichever is first. Honoured only from
 * a current live member other than this node, at most {@link MAX_HOLD_MS} per hold and one hold
 * per requester per {@link COOLDOWN_FACTOR}× its length; one commit waits at most
 * {@link MAX_GATE_MS} in all and never past its deadline. Only liveness is
 * affected: every commit is still checked; a lost or refused request (no permission, NATS down)
 * just leaves the old behaviour. @internal
 */
export class CommitFairness {
  private lost = 0;
  private holdUntil = 0;
  private holdFor: string | undefined;
  private holdFrom = 0;
  private release: Array<() => void> = [];
  private timer: ReturnType<Env['clock']['setTimeout']> | undefined;
  private sub: { unsubscribe(): void } | undefined;
  /** Holds this node has been asked for (health / tests). */
  holdsGranted = 0;
  /** Hold requests this node sent. */
  holdsAsked = 0;
  /** Hold requests ignored: from no live member, from this node's name, or inside the requester's cooldown. */
  holdsRefused = 0;
  /** When each requester may next be granted a hold. */
  private readonly nextGrant = new Map<string, number>();
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
      if (typeof req.holdMs !== 'number' || !Number.isFinite(req.holdMs)) return;
      const now = d.env.clock.now();
      const why = node === d.node ? 'own node' : !d.members?.().includes(node) ? 'not a live member' : now < (this.nextGrant.get(node) ?? 0) ? 'cooldown' : undefined;
      if (why) {
        this.holdsRefused++;
        d.log.debug({ report: 'replication_fairness_refused', for: node, why, holdMs: req.holdMs }, 'ignored a hold request');
        return;
      }
      const holdMs = Math.min(MAX_HOLD_MS, Math.max(MIN_HOLD_MS, req.holdMs));
      this.nextGrant.set(node, now + COOLDOWN_FACTOR * holdMs);
      const until = now + holdMs;
      if (until <= this.holdUntil) return;
      this.holdUntil = until;
      this.holdFor = node;
      this.holdFrom = now;
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

  /**
   * Before a checked commit is published: resolves once no other node's hold is in force, or
   * after {@link MAX_GATE_MS} in all. Resolves `false` if `deadline` (the commit's) came first:
   * the caller fails the commit as timed out.
   */
  async gate(deadline: number): Promise<boolean> {
    const clock = this.d.env.clock;
    const limit = Math.min(deadline, clock.now() + MAX_GATE_MS);
    while (clock.now() < this.holdUntil && clock.now() < limit) {
      await new Promise<void>((r) => {
        const done = (): void => {
          clock.clearTimeout(t);
          const i = this.release.indexOf(done);
          if (i >= 0) this.release.splice(i, 1);
          r();
        };
        const t = clock.setTimeout(done, limit - clock.now());
        this.release.push(done);
      });
    }
    return clock.now() < deadline;
  }

  /** A message written by `node` was applied here: a hold for it ends (it got through). */
  applied(node: string): void {
    if (node !== this.holdFor) return;
    // it got through: its cooldown is 2× the time it was actually held for, so it is at most half the time
    const now = this.d.env.clock.now();
    this.nextGrant.set(node, Math.min(this.nextGrant.get(node) ?? 0, now + (COOLDOWN_FACTOR - 1) * (now - this.holdFrom)));
    this.end();
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
