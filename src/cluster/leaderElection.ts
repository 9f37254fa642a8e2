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
 * Leader election on a NATS KV lease, Oban #1488's lesson applied: the lease is taken only by
 * **create-if-absent** and renewed only by a **revision-checked update** of the revision this
 * node wrote — never an upsert of a row someone else owns. Any error → this node is not leader.
 * The leader also steps down on its own clock when a renewal has not succeeded within
 * `leaseTtlMs - renewMs`, before the server could expire the lease and let another node in.
 *
 * @internal Driven by the election machine.
 */
export class KvLeaderElection implements Leadership {
  private kv: KV | undefined;
  private rev = 0;
  private current: LeaderTerm | undefined;
  private seen: LeaseValue | undefined;
  private timer: TimerHandle | undefined;
  private deadline: TimerHandle | undefined;
  private stopped = false;
  private busy = false;
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
    return this.current !== undefined;
  }
  term(): LeaderTerm | undefined {
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
    this.kv = await createWithReplicas(`KV_${bucket}`, replicas, () => this.conn.transport.kv(bucket, { ttlMs: this.opts.timing.leaseTtlMs, history: 1, timeoutMs: timeout, replicas }), { node: this.opts.node });
    await reconcileReplicas(this.conn.transport, `KV_${bucket}`, replicas, this.opts.replicasExplicit ?? false, this.log, { node: this.opts.node });
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
   * Followers watch the lease key: a renewal (PUT) pushes the next campaign to just after the
   * lease would expire (`seen + leaseTtlMs`), a release (DEL) triggers one at once. So failover
   * after a leader dies is the lease TTL counted from its last renewal, not TTL + a poll period.
   * The poll (`retryMs`) stays as the fallback when the watch is down.
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
      for await (const e of it) {
        if (this.stopped) break;
        if (this.current) continue;
        if (e.operation === 'PUT') this.schedule(this.opts.timing.leaseTtlMs + 5);
        else this.schedule(0);
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
    if (this.stopped || this.busy || !this.kv) return;
    this.busy = true;
    try {
      if (this.current) await this.renew(this.kv);
      else await this.campaign(this.kv);
    } finally {
      this.busy = false;
    }
    const t = this.opts.timing;
    this.schedule(this.current ? t.renewMs : t.retryMs / 2 + this.env.random.int(Math.max(1, Math.floor(t.retryMs))));
  }

  private async campaign(kv: KV): Promise<void> {
    const sentAt = this.env.clock.now();
    try {
      const rev = await kv.create(this.opts.name, JSON.stringify(this.me));
      this.becomeLeader(rev, rev, sentAt);
      return;
    } catch (e) {
      // Someone holds it — or our own create timed out after it landed. Look, and adopt the
      // lease only if it is exactly ours (same node *and* incarnation).
      try {
        const cur = await kv.get(this.opts.name);
        if (cur && cur.operation === 'PUT') {
          const v = cur.json<LeaseValue>();
          this.seen = { node: String(v.node), incarnation: String(v.incarnation) };
          if (v.node === this.me.node && v.incarnation === this.me.incarnation) {
            // Ours, but written at a time we do not know (a create that landed after it timed out,
            // a renewal from before an outage): the server expires it from that write, not from
            // now. Renew it first and count the lease from this update — adopting it as it stood
            // let another node create the lease when it expired while we still believed we led.
            const renewAt = this.env.clock.now();
            const rev = await kv.update(this.opts.name, JSON.stringify(this.me), cur.revision);
            this.becomeLeader(rev, rev, renewAt);
          }
        } else this.seen = undefined;
      } catch (e2) {
        this.log.debug({ report: 'election_campaign_failed', err: new AggregateError([e, e2], 'create refused and the lease read failed') }, 'campaign failed');
      }
    }
  }

  private async renew(kv: KV): Promise<void> {
    const sentAt = this.env.clock.now();
    try {
      const rev = await kv.update(this.opts.name, JSON.stringify(this.me), this.rev);
      if (!this.current) return; // stepped down meanwhile; a later campaign adopts it if still ours
      this.rev = rev;
      this.armDeadline(sentAt);
    } catch (e) {
      this.log.warn({ report: 'election_renew_failed', err: e }, 'lease renewal failed; stepping down');
      this.stepDown('renew_failed');
    }
  }

  private becomeLeader(token: number, rev: number, sentAt: number): void {
    if (this.stopped) return;
    this.rev = rev;
    this.current = { node: this.me.node, incarnation: this.me.incarnation, token };
    this.armDeadline(sentAt);
    this.log.info({ report: 'election_leader', token }, 'became leader');
    for (const l of [...this.listeners.leader]) l(this.current);
  }

  /** Steps down on our own clock if no renewal lands before the lease could expire on the server. */
  private armDeadline(sentAt: number): void {
    this.env.clock.clearTimeout(this.deadline);
    const t = this.opts.timing;
    const until = sentAt + t.leaseTtlMs - Math.min(t.renewMs, t.leaseTtlMs / 4);
    this.deadline = this.env.clock.setTimeout(() => this.stepDown('lease_expired'), Math.max(0, until - this.env.clock.now()));
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
