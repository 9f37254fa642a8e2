import type { Env } from '../env/env.ts';
import type { TransportKv as KV, TransportKvEntry as KvWatchEntry, TransportKvWatch } from '../env/transport.ts';
import type { TimerHandle } from '../env/clock.ts';
import type { ClusterConnection } from './connection.ts';
import type { DiscoveryTiming } from './config.ts';
import { createWithReplicas, reconcileReplicas } from './replicas.ts';
import { onStreamLeader } from './streamLeader.ts';

/** What a node publishes about itself in the members bucket. */
export interface MemberInfo {
  name: string;
  /** Changes on every boot: a restarted node is a new incarnation. */
  incarnation: string;
  /**
   * The writer's `env.clock.now()` at its last heartbeat — informational: ages are measured
   * on the NATS server's timestamps, never by comparing two machines' clocks.
   */
  heartbeatAt: number;
  startedAt: number;
  meta?: Record<string, string>;
}

/** Why a node went down. */
export type NodeDownReason = 'left' | 'timeout' | 'restarted';

/** Membership events. */
export interface MembershipEvents {
  nodeup: (m: MemberInfo) => void;
  nodedown: (m: MemberInfo, reason: NodeDownReason) => void;
  health: (h: MembershipHealth) => void;
}

/** Health of discovery as reported to the Application. */
export interface MembershipHealth {
  status: 'ok' | 'degraded' | 'stopped';
  mode: 'cluster' | 'single';
  node: string;
  /** Why degraded, as `{ code, message }`. */
  reason?: { code: string; message: string };
  members: string[];
}

/**
 * The membership handle discovery provides: who is up, and `nodeup`/`nodedown` events.
 *
 * @example
 * // no-run: a fragment; `membership` is the discovery child's service
 * import type { Logger } from 'ordo';
 * import type { Membership } from 'ordo/cluster';
 *
 * declare const membership: Membership;
 * declare const log: Logger;
 * membership.on('nodedown', (m, why) => log.warn({ node: m.name, why }, 'nodedown'));
 * membership.members().map((m) => m.name);
 */
export interface Membership {
  /** This node's name. */
  readonly self: string;
  /** Live members, this node included, sorted by name. */
  members(): MemberInfo[];
  on<E extends keyof MembershipEvents>(event: E, listener: MembershipEvents[E]): () => void;
  health(): MembershipHealth;
}

type Listeners = { [E in keyof MembershipEvents]: Set<MembershipEvents[E]> };

/** Bucket name for a cluster's members. */
export const membersBucket = (cluster: string): string => `ordo_members_${cluster}`;

/**
 * Membership over a NATS KV bucket whose TTL is the member TTL: each node puts its
 * {@link MemberInfo} every heartbeat; nodeup comes from the bucket watch; nodedown from a
 * delete (graceful stop) or from heartbeat age, checked every heartbeat — on nats-server 2.9
 * a key expiring by bucket TTL emits no watch event. Ages come from the server's timestamp of
 * each entry, translated to this node's clock through the offset seen on its own entries, so
 * clock skew between machines does not move the TTL.
 *
 * A NATS outage makes it *degraded* (health), never throws: nats.js reconnects, the watch is
 * re-opened on reconnect and the next heartbeat re-registers this node.
 *
 * @internal Started and stopped by the discovery machine.
 */
export class KvMembership implements Membership {
  private readonly live = new Map<string, MemberInfo>();
  /** Per member: when its last heartbeat was written, on this node's clock. */
  private readonly writtenAt = new Map<string, number>();
  /** Server time minus this node's clock, from this node's own entries (latest sample). */
  private serverOffset = 0;
  private readonly listeners: Listeners = { nodeup: new Set(), nodedown: new Set(), health: new Set() };
  private kv: KV | undefined;
  private watcher: TransportKvWatch | undefined;
  private hbTimer: TimerHandle | undefined;
  private beating = false;
  private stopped = false;
  private heartbeatError: Error | undefined;
  private lastHealth = '';
  private offConn: (() => void) | undefined;
  private offLeader: (() => void) | undefined;
  /** When this node's own current heartbeat last came back through the watch (its clock). */
  private ownSeenAt = 0;
  /** This node cannot see the bucket (heartbeats failing or the watch silent): ages are not judged. */
  private blindSince: number | undefined;
  private lastWatchOpen = 0;
  private readonly info: MemberInfo;
  private readonly log;

  private readonly env: Env;
  private readonly conn: ClusterConnection;
  private readonly opts: { cluster: string; node: string; incarnation: string; timing: DiscoveryTiming; replicas?: number; replicasExplicit?: boolean; meta?: Record<string, string> };
  constructor(
    env: Env,
    conn: ClusterConnection,
    opts: { cluster: string; node: string; incarnation: string; timing: DiscoveryTiming; replicas?: number; replicasExplicit?: boolean; meta?: Record<string, string> },
  ) {
    this.env = env;
    this.conn = conn;
    this.opts = opts;
    const now = env.clock.now();
    this.info = { name: opts.node, incarnation: opts.incarnation, heartbeatAt: now, startedAt: now, ...(opts.meta ? { meta: opts.meta } : {}) };
    this.log = env.logger.child({ component: 'discovery', node: opts.node });
  }

  get self(): string {
    return this.opts.node;
  }

  /** Opens the bucket, registers this node, starts watching and heartbeating. Throws on failure. */
  async start(): Promise<void> {
    // Requests time out within a heartbeat or two, so an outage shows up as degraded quickly.
    const timeout = Math.max(500, this.opts.timing.heartbeatMs * 2);
    const replicas = this.opts.replicas ?? 1;
    const bucket = membersBucket(this.opts.cluster);
    this.kv = await createWithReplicas(`KV_${bucket}`, replicas, () => this.conn.transport.kv(bucket, { ttlMs: this.opts.timing.ttlMs, history: 1, timeoutMs: timeout, replicas }), { node: this.opts.node });
    await reconcileReplicas(this.conn.transport, `KV_${bucket}`, replicas, this.opts.replicasExplicit ?? false, this.log, { node: this.opts.node });
    await this.beat(true);
    const mine = await this.kv.get(this.info.name);
    if (mine) this.serverOffset = mine.created.getTime() - this.env.clock.now();
    this.live.set(this.info.name, this.info);
    this.ownSeenAt = this.env.clock.now();
    await this.openWatch();
    // The members bucket elected a leader (after losing one): re-open the watch and heartbeat now.
    this.offLeader = onStreamLeader(this.conn, [`KV_${bucket}`], (_s, leader) => {
      this.log.info({ report: 'discovery_members_bucket_leader', leader }, 'the members bucket has a leader');
      void this.openWatch();
      void this.beat(false);
    });
    this.offConn = this.conn.on((e) => {
      if (e.type === 'nats.reconnect') {
        void this.openWatch();
        void this.beat(false);
      }
      this.emitHealth();
    });
    this.scheduleTick();
    this.log.info({ report: 'discovery_registered', incarnation: this.info.incarnation }, 'registered in members bucket');
  }

  members(): MemberInfo[] {
    return [...this.live.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  on<E extends keyof MembershipEvents>(event: E, listener: MembershipEvents[E]): () => void {
    const set = this.listeners[event] as Set<MembershipEvents[E]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  health(): MembershipHealth {
    const base = { mode: 'cluster' as const, node: this.opts.node, members: this.members().map((m) => m.name) };
    if (this.stopped) return { status: 'stopped', ...base };
    if (this.conn.state() !== 'connected') {
      return { status: 'degraded', ...base, reason: { code: 'ORDO_NATS_UNREACHABLE', message: `NATS connection ${this.conn.state()}` } };
    }
    if (this.heartbeatError) return { status: 'degraded', ...base, reason: { code: 'ORDO_JETSTREAM_UNAVAILABLE', message: `heartbeat failed: ${this.heartbeatError.message}` } };
    if (this.blindSince !== undefined) return { status: 'degraded', ...base, reason: { code: 'ORDO_JETSTREAM_UNAVAILABLE', message: 'the members watch is silent (bucket without a leader?): peers are not judged down meanwhile' } };
    return { status: 'ok', ...base };
  }

  /** Graceful stop: stops timers and the watch, deletes this node's entry (others see nodedown at once). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.env.clock.clearTimeout(this.hbTimer);
    this.offConn?.();
    this.offLeader?.();
    this.watcher?.stop();
    if (this.kv && this.conn.state() === 'connected') {
      await this.kv.delete(this.info.name).catch((e: unknown) => this.log.warn({ report: 'discovery_leave_failed', err: e }, 'could not delete own entry; it will expire'));
    }
    this.log.info({ report: 'discovery_left' }, 'left the cluster');
    this.emitHealth();
  }

  private scheduleTick(): void {
    if (this.stopped) return;
    this.hbTimer = this.env.clock.setTimeout(() => {
      void this.beat(false);
      this.checkAges();
      this.scheduleTick();
    }, this.opts.timing.heartbeatMs);
  }

  private async beat(first: boolean): Promise<void> {
    if (this.beating || !this.kv || (this.stopped && !first)) return;
    this.beating = true;
    this.info.heartbeatAt = this.env.clock.now();
    try {
      await this.kv.put(this.info.name, JSON.stringify(this.info));
      if (this.heartbeatError) this.log.info({ report: 'discovery_heartbeat_ok' }, 'heartbeat restored');
      this.heartbeatError = undefined;
    } catch (e) {
      if (first) throw e;
      if (!this.heartbeatError) this.log.warn({ report: 'discovery_heartbeat_failed', err: e }, 'heartbeat failed; degraded');
      this.heartbeatError = e instanceof Error ? e : new Error(String(e));
    } finally {
      this.beating = false;
      this.emitHealth();
    }
  }

  private async openWatch(): Promise<void> {
    if (!this.kv || this.stopped) return;
    this.lastWatchOpen = this.env.clock.now();
    this.watcher?.stop();
    let it: TransportKvWatch;
    try {
      it = await this.kv.watch({ include: 'last' });
    } catch (e) {
      this.log.warn({ report: 'discovery_watch_failed', err: e }, 'could not open the members watch; retrying on reconnect');
      return;
    }
    this.watcher = it;
    void (async () => {
      try {
        for await (const e of it) this.onEntry(e);
      } catch (err) {
        this.log.warn({ report: 'discovery_watch_ended', err }, 'members watch ended');
      }
    })();
  }

  private onEntry(e: KvWatchEntry): void {
    if (this.stopped) return;
    const known = this.live.get(e.key);
    if (e.operation !== 'PUT') {
      if (e.key === this.info.name) return; // our own entry: the next heartbeat restores it
      if (known) this.down(known, 'left');
      return;
    }
    let m: MemberInfo;
    try {
      m = e.json<MemberInfo>();
    } catch (err) {
      this.log.warn({ report: 'discovery_bad_entry', key: e.key, err }, 'ignoring a malformed member entry');
      return;
    }
    if (typeof m?.name !== 'string' || typeof m.incarnation !== 'string' || typeof m.heartbeatAt !== 'number' || m.name !== e.key) {
      this.log.warn({ report: 'discovery_bad_entry', key: e.key }, 'ignoring a malformed member entry');
      return;
    }
    if (m.name === this.info.name) {
      if (m.incarnation === this.info.incarnation) {
        this.serverOffset = e.created.getTime() - this.env.clock.now();
        this.ownSeenAt = this.env.clock.now();
      }
      else {
        this.log.error({ report: 'discovery_name_clash', other: m.incarnation }, 'another process registered under this node name');
      }
      return;
    }
    const writtenAt = e.created.getTime() - this.serverOffset;
    if (this.env.clock.now() - writtenAt > this.opts.timing.ttlMs) return; // a stale value replayed by the watch
    this.writtenAt.set(m.name, writtenAt);
    if (known && known.incarnation !== m.incarnation) this.down(known, 'restarted');
    const isNew = !this.live.has(m.name);
    this.live.set(m.name, m);
    if (isNew) {
      this.log.info({ report: 'discovery_nodeup', member: m.name, incarnation: m.incarnation }, 'nodeup');
      for (const l of [...this.listeners.nodeup]) l(m);
      this.emitHealth();
    }
  }

  /**
   * Heartbeat age check: the only way to see a key that expired silently (2.9). Only while this
   * node can see the bucket — its own heartbeats succeed and come back through the watch; a
   * members bucket without a leader (or a stalled watch) makes every peer *look* old, so then
   * membership is `degraded` and nobody is reported down. When sight returns, every peer gets one
   * TTL from that moment to show its next heartbeat (the watch replays the latest entries).
   */
  private checkAges(): void {
    const now = this.env.clock.now();
    const t = this.opts.timing;
    const blind = this.heartbeatError !== undefined || now - this.ownSeenAt > Math.min(2 * t.heartbeatMs, t.ttlMs / 2);
    if (blind) {
      if (this.blindSince === undefined) {
        this.blindSince = now;
        this.log.warn({ report: 'discovery_members_blind', heartbeatFailing: this.heartbeatError !== undefined }, 'cannot see the members bucket: degraded, no nodedown judged');
        this.emitHealth();
      }
      // fallback when no leader advisory arrives: re-open the watch once per TTL
      if (now - this.lastWatchOpen >= t.ttlMs) void this.openWatch();
      return;
    }
    if (this.blindSince !== undefined) {
      this.log.info({ report: 'discovery_members_visible', blindMs: now - this.blindSince }, 'the members bucket is visible again');
      this.blindSince = undefined;
      for (const name of this.writtenAt.keys()) this.writtenAt.set(name, Math.max(this.writtenAt.get(name) ?? 0, now));
      this.emitHealth();
      return;
    }
    for (const m of [...this.live.values()]) {
      if (m.name === this.info.name) continue;
      if (now - (this.writtenAt.get(m.name) ?? m.heartbeatAt) > this.opts.timing.ttlMs) this.down(m, 'timeout');
    }
  }

  private down(m: MemberInfo, reason: NodeDownReason): void {
    if (this.live.get(m.name) !== m) return;
    this.live.delete(m.name);
    this.writtenAt.delete(m.name);
    this.log.info({ report: 'discovery_nodedown', member: m.name, incarnation: m.incarnation, reason }, 'nodedown');
    for (const l of [...this.listeners.nodedown]) l(m, reason);
    this.emitHealth();
  }

  private emitHealth(): void {
    const h = this.health();
    const key = JSON.stringify(h);
    if (key === this.lastHealth) return;
    this.lastHealth = key;
    for (const l of [...this.listeners.health]) l(h);
  }
}

/**
 * Membership of single-node mode (no NATS configured — the embedded default, like DNSCluster's
 * `:ignore`): this node alone, no events.
 */
export function singleNodeMembership(node: string, incarnation: string, startedAt: number): Membership {
  const me: MemberInfo = { name: node, incarnation, heartbeatAt: startedAt, startedAt };
  return {
    self: node,
    members: () => [me],
    on: () => () => undefined,
    health: () => ({ status: 'ok', mode: 'single', node, members: [node] }),
  };
}
