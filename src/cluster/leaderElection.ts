import type { Env } from '../env/env.ts';
import type { TransportKv as KV, TransportKvEntry as KvWatchEntry, TransportKvWatch } from '../env/transport.ts';
import type { TimerHandle } from '../env/clock.ts';
import type { ClusterConnection } from './connection.ts';
import { createWithReplicas, reconcileReplicas } from './replicas.ts';
import { onStreamLeader } from './streamLeader.ts';

/** A leader term: who leads and the fencing token (the KV revision that created the lease). */
export interface LeaderTerm {
  node: string;
  incarnation: string;
  /** Strictly increasing across terms; pass it with every leader-only write to fence stale leaders. */
  token: number;
}

/** Election events. */
export interface LeaderEvents {
  leader: (term: LeaderTerm) => void;
  follower: (why: string) => void;
}

/**
 * The handle the election child provides.
 *
 * @example
 * // no-run: a fragment of a leader-only plugin; `election` is the election child's service
 * import type { Leadership } from 'ordo/cluster';
 *
 * declare const election: Leadership;
 * declare function startPlugins(token: number): void;
 * declare function stopPlugins(): void;
 * election.on('leader', (t) => startPlugins(t.token));
 * election.on('follower', () => stopPlugins());
 */
export interface Leadership {
  isLeader(): boolean;
  /** The current term if this node leads. */
  term(): LeaderTerm | undefined;
  /** The last lease holder seen (this node or another), if any. */
  leader(): { node: string; incarnation: string } | undefined;
  on<E extends keyof LeaderEvents>(event: E, listener: LeaderEvents[E]): () => void;
}

interface LeaseValue {
  node: string;
  incarnation: string;
}

/** Bucket name of a cluster's leases. */
export const leaseBucket = (cluster: string): string => `ordo_leases_${cluster}`;

/** Timing of the lease. */
export interface LeaseTiming {
  /** Lease TTL (also the bucket TTL): a dead leader's lease vanishes after this. */
  leaseTtlMs: number;
  /** Renew period (default TTL / 3). */
  renewMs: number;
  /** Follower retry period (default TTL / 10, jittered). */
  retryMs: number;
}

/**
 * Leader election on a NATS KV lease, Oban #1488's lesson applied: a lease is taken only by a
 * write that names what it replaces — **create-if-absent** on a fresh bucket, otherwise a
 * **revision-checked update** of the revision this node read from the stream leader — and
 * renewed only by a revision-checked update of the revision this node wrote. The fencing token
 * is always the revision of this node's own acknowledged write, never one it read. Any error →
 * this node is not leader. The leader steps down on its own clock when a renewal has not
 * succeeded within `leaseTtlMs - renewMs`; {@link isLeader} checks that deadline itself, so a
 * late timer never extends a term.
 *
 * The bucket has **no TTL** (no `max_age`): a lease does not vanish on the server, a follower
 * takes it over once it has seen the same revision unchanged for a whole `leaseTtlMs` on its own
 * clock (counted from a read that returned after the write, so never before the holder's own
 * deadline). Server-side expiry is what made nats-server 2.9 hand one revision to two nodes: a
 * create arriving as the key expires is checked by each replica against its own copy, and
 * replicas expire on their own timers (docs/cluster.md, *Leases on nats-server 2.9*).
 *
 * @internal Driven by the election machine.
 */
export class KvLeaderElection implements Leadership {
  private kv: KV | undefined;
  private rev = 0;
  private current: LeaderTerm | undefined;
  /** Until when (this node's clock) the current term may be claimed. */
  private leaseUntil = 0;
  private seen: LeaseValue | undefined;
  /** Another node's lease as the stream leader last showed it, and when this node first saw that revision. */
  private observed: { rev: number; at: number } | undefined;
  private timer: TimerHandle | undefined;
  private deadline: TimerHandle | undefined;
  private stopped = false;
  private busy = false;
  /** A tick was asked for while one ran: run again right after it. */
  private again = false;
  private watcher: TransportKvWatch | undefined;
  private offConn: (() => void) | undefined;
  private offLeader: (() => void) | undefined;
  private readonly listeners = { leader: new Set<LeaderEvents['leader']>(), follower: new Set<LeaderEvents['follower']>() };
  private readonly log;
  private readonly me: LeaseValue;

  private readonly env: Env;
  private readonly conn: ClusterConnection;
  private readonly opts: { cluster: string; node: string; incarnation: string; name: string; timing: LeaseTiming; replicas?: number; replicasExplicit?: boolean };
  constructor(
    env: Env,
    conn: ClusterConnection,
    opts: { cluster: string; node: string; incarnation: string; name: string; timing: LeaseTiming; replicas?: number; replicasExplicit?: boolean },
  ) {
    this.env = env;
    this.conn = conn;
    this.opts = opts;
    this.me = { node: opts.node, incarnation: opts.incarnation };
    this.log = env.logger.child({ component: 'election', node: opts.node, election: opts.name });
  }

  isLeader(): boolean {
    return this.term() !== undefined;
  }
  term(): LeaderTerm | undefined {
    // the step-down timer may run late (a busy event loop): the deadline itself decides
    if (this.current && this.env.clock.now() >= this.leaseUntil) this.stepDown('lease_expired');
    return this.current;
  }
  leader(): { node: string; incarnation: string } | undefined {
    return this.current ? this.me : this.seen;
  }
  on<E extends keyof LeaderEvents>(event: E, listener: LeaderEvents[E]): () => void {
    const set = this.listeners[event] as Set<LeaderEvents[E]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Opens the lease bucket and makes a first attempt. */
  async start(): Promise<void> {
    // Every lease request times out well inside the lease: a request stuck in an outage
    // must not hold the campaign loop past the TTL.
    const timeout = Math.max(250, Math.floor(this.opts.timing.renewMs));
    const replicas = this.opts.replicas ?? 1;
    const bucket = leaseBucket(this.opts.cluster);
    this.kv = await createWithReplicas(`KV_${bucket}`, replicas, () => this.conn.transport.kv(bucket, { history: 1, timeoutMs: timeout, replicas }), { node: this.opts.node });
    await reconcileReplicas(this.conn.transport, `KV_${bucket}`, replicas, this.opts.replicasExplicit ?? false, this.log, { node: this.opts.node });
    await this.removeBucketTtl(`KV_${bucket}`);
    await this.tick();
    await this.openWatch();
    // The lease bucket elected a leader (after losing one): a follower campaigns and re-watches now.
    this.offLeader = onStreamLeader(this.conn, [`KV_${bucket}`], (_s, leader) => {
      this.log.info({ report: 'election_lease_bucket_leader', leader }, 'the lease bucket has a leader');
      void this.openWatch();
      if (!this.current) this.schedule(0);
    });
    this.offConn = this.conn.on((e) => {
      if (e.type === 'nats.reconnect') void this.openWatch();
    });
  }

  /**
   * A lease bucket made by an earlier Ordo has a TTL (`max_age`): removed, so no lease is
   * expired by the server (see the class doc). Logged `election_lease_bucket_ttl_removed`.
   */
  private async removeBucketTtl(stream: string): Promise<void> {
    const info = await this.conn.transport.streams.info(stream);
    if (!(info.config.maxAgeMs && info.config.maxAgeMs > 0)) return;
    await this.conn.transport.streams.update(stream, { maxAgeMs: 0 });
    this.log.info({ report: 'election_lease_bucket_ttl_removed', stream, maxAgeMs: info.config.maxAgeMs }, 'lease bucket TTL removed: leases expire on the followers\' clocks');
  }

  /**
   * Followers watch the lease key: every change (a renewal, a release) makes them read the lease
   * from the stream leader at once, so a follower sees each revision within a round trip of its
   * write, and takes over a dead leader's lease `leaseTtlMs` after its last renewal. The watch's
   * own revisions are not used (a watch is served by one replica). The poll (`retryMs`) stays
   * as the fallback when the watch is down.
   */
  private async openWatch(): Promise<void> {
    if (!this.kv || this.stopped) return;
    this.watcher?.stop();
    let it: TransportKvWatch;
    try {
      it = await this.kv.watch({ key: this.opts.name, include: 'last' });
    } catch (e) {
      this.log.debug({ report: 'election_watch_failed', err: e }, 'lease watch failed; polling');
      return;
    }
    this.watcher = it;
    void (async () => {
      for await (const _e of it) {
        if (this.stopped) break;
        if (!this.current) this.schedule(0);
      }
    })().catch((err: unknown) => this.log.debug({ report: 'election_watch_ended', err }, 'lease watch ended'));
  }

  /** Stops campaigning; a leader releases its lease (delete checked against its own revision). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.offConn?.();
    this.offLeader?.();
    this.watcher?.stop();
    this.env.clock.clearTimeout(this.timer);
    this.env.clock.clearTimeout(this.deadline);
    if (this.current && this.kv) {
      const rev = this.rev;
      this.stepDown('stopped');
      await this.kv
        .delete(this.opts.name, { previousRevision: rev })
        .catch((e: unknown) => this.log.warn({ report: 'election_release_failed', err: e }, 'could not release the lease; it will expire'));
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.env.clock.clearTimeout(this.timer);
    this.timer = this.env.clock.setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    if (this.stopped || !this.kv) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.again = false;
    let next: number;
    try {
      next = this.current ? await this.renew(this.kv) : await this.campaign(this.kv);
    } finally {
      this.busy = false;
    }
    // a watch event during a follower's read: the lease may have changed since, look again now
    this.schedule(this.again && !this.current ? 0 : next);
  }

  /** The follower's poll period, jittered. */
  private retryDelay(): number {
    const t = this.opts.timing;
    return t.retryMs / 2 + this.env.random.int(Math.max(1, Math.floor(t.retryMs)));
  }

  /** Reads the lease from the stream leader and takes it if it is free; returns the delay to the next tick. */
  private async campaign(kv: KV): Promise<number> {
    let cur: KvWatchEntry | null;
    try {
      cur = await kv.get(this.opts.name);
    } catch (e) {
      this.log.debug({ report: 'election_campaign_failed', err: e }, 'lease read failed');
      return this.retryDelay();
    }
    const readAt = this.env.clock.now();
    if (!cur) {
      // a bucket that never held this lease
      const sentAt = this.env.clock.now();
      try {
        this.becomeLeader(await kv.create(this.opts.name, JSON.stringify(this.me)), sentAt, 'created');
        return this.opts.timing.renewMs;
      } catch (e) {
        this.log.debug({ report: 'election_campaign_failed', err: e }, 'lease create refused');
        return this.retryDelay();
      }
    }
    let why: string;
    if (cur.operation !== 'PUT') {
      this.seen = undefined;
      why = 'released';
    } else {
      let v: LeaseValue;
      try {
        v = cur.json<LeaseValue>();
      } catch {
        v = { node: '', incarnation: '' }; // not a lease: someone else's row, left alone until it goes stale
      }
      this.seen = { node: String(v.node), incarnation: String(v.incarnation) };
      if (v.node === this.me.node && v.incarnation === this.me.incarnation) why = 'own';
      else {
        if (this.observed?.rev !== cur.revision) this.observed = { rev: cur.revision, at: readAt };
        const left = this.observed.at + this.opts.timing.leaseTtlMs - readAt;
        if (left > 0) return left + 5;
        why = 'expired';
      }
    }
    return this.takeOver(kv, cur.revision, why);
  }

  /**
   * Replaces revision `rev` (a release marker, this node's own lease from an earlier term, or a
   * lease unchanged for a whole TTL) with this node's lease, then reads it back: nats-server 2.9
   * checks an update's expected revision before proposing it, so two updates of the same
   * revision racing each other can both be stored — only the later one is the lease.
   */
  private async takeOver(kv: KV, rev: number, why: string): Promise<number> {
    const sentAt = this.env.clock.now();
    let token: number;
    try {
      token = await kv.update(this.opts.name, JSON.stringify(this.me), rev);
    } catch (e) {
      this.log.debug({ report: 'election_campaign_failed', err: e, why }, 'lease takeover refused');
      return this.retryDelay();
    }
    try {
      const back = await kv.get(this.opts.name);
      if (!back || back.revision !== token) {
        this.log.info({ report: 'election_takeover_raced', token, now: back?.revision }, 'another node replaced the lease right after this node took it');
        return this.retryDelay();
      }
    } catch (e) {
      this.log.debug({ report: 'election_campaign_failed', err: e, why }, 'lease read-back failed');
      return this.retryDelay();
    }
    this.observed = undefined;
    this.becomeLeader(token, sentAt, why);
    return this.opts.timing.renewMs;
  }

  private async renew(kv: KV): Promise<number> {
    const sentAt = this.env.clock.now();
    try {
      const rev = await kv.update(this.opts.name, JSON.stringify(this.me), this.rev);
      if (!this.term()) return this.retryDelay(); // stepped down meanwhile; a later campaign takes it back if still ours
      this.rev = rev;
      this.armDeadline(sentAt);
      return this.opts.timing.renewMs;
    } catch (e) {
      this.log.warn({ report: 'election_renew_failed', err: e }, 'lease renewal failed; stepping down');
      this.stepDown('renew_failed');
      return this.retryDelay();
    }
  }

  /** `token` is the revision of this node's own acknowledged write, sent at `sentAt`. */
  private becomeLeader(token: number, sentAt: number, why: string): void {
    if (this.stopped) return;
    if (this.until(sentAt) <= this.env.clock.now()) {
      this.log.warn({ report: 'election_write_too_slow', token, why }, 'the lease write took longer than the lease: not claimed');
      return;
    }
    this.rev = token;
    this.current = { node: this.me.node, incarnation: this.me.incarnation, token };
    this.armDeadline(sentAt);
    this.log.info({ report: 'election_leader', token, why }, 'became leader');
    for (const l of [...this.listeners.leader]) l(this.current);
  }

  /** The end of a term whose last successful write was sent at `sentAt`: before the lease could go stale for a follower. */
  private until(sentAt: number): number {
    const t = this.opts.timing;
    return sentAt + t.leaseTtlMs - Math.min(t.renewMs, t.leaseTtlMs / 4);
  }

  /** Steps down on our own clock if no renewal lands before the lease could expire on the server. */
  private armDeadline(sentAt: number): void {
    this.env.clock.clearTimeout(this.deadline);
    this.leaseUntil = this.until(sentAt);
    const left = this.leaseUntil - this.env.clock.now();
    if (left <= 0) this.stepDown('lease_expired');
    else this.deadline = this.env.clock.setTimeout(() => this.stepDown('lease_expired'), left);
  }

  private stepDown(why: string): void {
    this.env.clock.clearTimeout(this.deadline);
    if (!this.current) return;
    const token = this.current.token;
    this.current = undefined;
    this.rev = 0;
    this.log.info({ report: 'election_follower', token, why }, 'not leader');
    for (const l of [...this.listeners.follower]) l(why);
  }
}
