import type { Env } from '../env/env.ts';
import type { ClusterTransport, StreamConsumer as ConsumerMessages, StreamMsg as JsMsg } from '../env/transport.ts';
import type { Logger } from '../env/logger.ts';

/** Pull expiry of the replication consumer (the server heartbeats every half of it). */
const CONSUMER_EXPIRES_MS = 2000;
/**
 * The watchdog: a consumer that delivered neither a message nor a server heartbeat for this
 * long while the connection was up is re-created. nats.js's own heartbeat monitor cannot be
 * relied on for it: it is cancelled on a disconnect and restarted only once a consumer info
 * succeeds — never, while the consumer's server is down (issue 14's stalled kills).
 */
const IDLE_MS = CONSUMER_EXPIRES_MS + CONSUMER_EXPIRES_MS / 4;
/** Longest wait between two attempts to re-create the consumer (each attempt is bounded by the client's request timeout). */
const MAX_BACKOFF_MS = 500;
/** {@link ReplConsumer.wake} ended an attempt early. */
const WOKEN = Symbol('woken');
/** How often the watchdog looks. */
const WATCHDOG_EVERY_MS = 250;
/** While a consumer is being re-created: how often JetStream's meta leader is asked for (`$JS.API.INFO`), and how long each ask may take. */
const META_PROBE_EVERY_MS = 250;
const META_PROBE_TIMEOUT_MS = 300;

/** What a {@link ReplConsumer} needs from its replicator. */
export interface ReplConsumerDeps {
  env: Env;
  transport: ClusterTransport;
  /** Request timeout of creating and checking the consumer (default: the transport's). */
  requestTimeoutMs?: number;
  stream: string;
  log: Logger;
  /** The first sequence not yet handed to the store: where a (re)created consumer starts. */
  nextSeq: () => number;
  /** Takes one message, in stream order (awaited before the next). */
  onMessage: (m: JsMsg) => Promise<void>;
  /** False once the replicator stopped, halted or is resyncing: nothing is (re)started then. */
  active: () => boolean;
  /** The connection is up (the watchdog does not count time spent disconnected). Default: always. */
  connected?: () => boolean;
}

/**
 * The replicator's ordered consumer and its recovery. Pulls expire after 2 s, so the server
 * heartbeats every second and a consumer whose server died is noticed after two missed
 * heartbeats — by nats.js's monitor, and by this class's own watchdog, which also covers a
 * disconnect (nats.js suspends its monitor then until the consumer answers an info request,
 * which a consumer on a dead server never does); it is then re-created from {@link ReplConsumerDeps.nextSeq} — at once, then
 * whenever {@link wake} is called (the stream-leader advisory), else on a 100 ms → 500 ms back-off.
 * Single-flight; every recovery is logged with its trigger, attempts and duration. A
 * superseded consumer's buffered messages never reach the store. @internal
 */
export class ReplConsumer {
  private readonly d: ReplConsumerDeps;
  private gen = 0;
  private messages: ConsumerMessages | undefined;
  private recovering = false;
  private wakeUp: (() => void) | undefined;
  /** Why {@link wake} was last called (logged with the fresh attempt). */
  private wakeReason = 'stream_leader_elected';
  /** Last sign of life of the current consumer (a message, a heartbeat, a new pull), or of a disconnect. */
  private lastSeen = 0;
  /** A message is being handed to the store (its time is not the consumer's silence). */
  private busy = false;
  private watchdog: ReturnType<Env['clock']['setTimeout']> | undefined;

  constructor(deps: ReplConsumerDeps) {
    this.d = deps;
  }

  /** Re-arms the watchdog (see {@link IDLE_MS}); stops once the consumer is closed or inactive. */
  private armWatchdog(gen: number): void {
    const { d } = this;
    if (this.watchdog !== undefined) d.env.clock.clearTimeout(this.watchdog);
    this.watchdog = d.env.clock.setTimeout(() => {
      this.watchdog = undefined;
      if (gen !== this.gen || !d.active()) return;
      const now = d.env.clock.now();
      if (this.busy || !(d.connected?.() ?? true)) this.lastSeen = now;
      else if (!this.recovering && now - this.lastSeen > IDLE_MS) {
        d.log.warn({ report: 'replication_consumer_idle', idleMs: now - this.lastSeen }, 'replication consumer silent (no message, no heartbeat) while connected; re-creating it');
        this.recover('idle');
        return;
      }
      this.armWatchdog(gen);
    }, WATCHDOG_EVERY_MS);
  }

  /** A recovery is in progress. */
  get isRecovering(): boolean {
    return this.recovering;
  }

  /** The server-side name of the current consumer (for tests and logs; undefined before it exists). */
  async consumerName(): Promise<string | undefined> {
    return this.messages?.name?.();
  }

  /** Creates the consumer (replacing any previous one); throws if JetStream refuses. */
  async start(): Promise<void> {
    const { d } = this;
    const gen = ++this.gen;
    const old = this.messages;
    this.messages = undefined;
    // not awaited: closing a consumer whose server died can wait out a request timeout
    void old?.close().catch((e: unknown) => d.log.debug({ report: 'replication_consumer_close_failed', err: e }, 'old consumer close'));
    const start = d.nextSeq();
    // Short pulls (nats.js's default 30 s pulls and its own 30 s back-off were issue 14's 43 s stall).
    const messages = await d.transport.consume(d.stream, { ...(start > 1 ? { startSeq: start } : {}), maxMessages: 512, expiresMs: CONSUMER_EXPIRES_MS, ...(d.requestTimeoutMs !== undefined ? { timeoutMs: d.requestTimeoutMs } : {}) });
    if (gen !== this.gen || !d.active()) {
      await messages.close().catch((e: unknown) => d.log.debug({ report: 'replication_consumer_close_failed', err: e }, 'superseded consumer close failed'));
      return;
    }
    this.messages = messages;
    this.lastSeen = d.env.clock.now();
    // only a transport whose server heartbeats idle pulls can tell silence from an idle stream
    if (messages.heartbeatMs !== undefined) this.armWatchdog(gen);
    void (async () => {
      for await (const s of messages.status()) {
        if (gen !== this.gen || !d.active()) break;
        if (s.type === 'other' && s.name === 'heartbeat') this.lastSeen = d.env.clock.now();
        if (s.type === 'heartbeats_missed' && s.count >= 2) {
          d.log.warn({ report: 'replication_consumer_stalled', missed: s.count }, 'replication consumer missed its heartbeats; re-creating it');
          this.recover('heartbeats_missed');
          break;
        }
      }
    })().catch((e: unknown) => d.log.debug({ report: 'replication_consumer_status_ended', err: e }, 'consumer status ended'));
    void (async () => {
      try {
        for await (const m of messages) {
          // a superseded consumer's buffered messages must not reach the store (they would look like a gap)
          if (gen !== this.gen) break;
          this.busy = true;
          try {
            await d.onMessage(m);
          } finally {
            this.busy = false;
            this.lastSeen = d.env.clock.now();
          }
          if (!d.active()) break;
        }
      } catch (e) {
        d.log.warn({ report: 'replication_consumer_ended', err: e }, 'replication consumer failed');
      }
      if (gen === this.gen && d.active()) {
        d.log.warn({ report: 'replication_consumer_restart' }, 'replication consumer ended; restarting');
        this.recover('consumer_ended');
      }
    })();
  }

  /** Re-creates the consumer (see the class); a call during a recovery wakes its wait. */
  recover(trigger: string): void {
    const { d } = this;
    if (!d.active()) return;
    if (this.recovering) {
      this.wake();
      return;
    }
    this.recovering = true;
    const t0 = d.env.clock.now();
    // creating a consumer needs the JetStream meta leader, and 2.9 publishes no advisory when a
    // new one is elected: ask for it (one short $JS.API.INFO request every 250 ms) while
    // recovering, and start a fresh attempt the moment it answers after it did not
    const probe = this.probeMeta();
    void (async () => {
      for (let attempt = 1; d.active(); attempt++) {
        try {
          // a new stream leader while an attempt is stuck (on a dead server's request timeout):
          // start a fresh one at once — the superseded attempt closes what it created
          if ((await this.orWake(this.start())) === WOKEN) {
            d.log.info({ report: 'replication_consumer_retry_now', trigger, attempt, why: this.wakeReason }, `${this.wakeReason === 'meta_leader_back' ? 'JetStream has a meta leader again' : 'the stream elected a leader'}: re-creating the consumer at once`);
            continue;
          }
          // JetStream 2.9 places an R1 consumer on any of the stream's peers, an offline one
          // included: ask the new consumer at once rather than wait for the watchdog
          const placed = await this.messages?.check?.().then(
            () => true,
            (e: unknown) => {
              d.log.warn({ report: 'replication_consumer_unanswered', trigger: 'created', attempt, err: e }, 'the re-created consumer does not answer (placed on a server that is down?); re-creating it');
              return false;
            },
          );
          if (placed === false) continue;
          d.log.info({ report: 'replication_consumer_recovered', trigger, attempts: attempt, afterMs: d.env.clock.now() - t0, from: d.nextSeq() }, 'replication consumer (re)created');
          return;
        } catch (e) {
          d.log.warn({ report: 'replication_consumer_restart_failed', trigger, attempt, err: e }, 'could not re-create the consumer; retrying when the stream has a leader');
          await new Promise<void>((resolve) => {
            const t = d.env.clock.setTimeout(() => resolve(), Math.min(MAX_BACKOFF_MS, 100 * 2 ** (attempt - 1)));
            this.wakeUp = () => {
              d.env.clock.clearTimeout(t);
              resolve();
            };
          });
          this.wakeUp = undefined;
        }
      }
    })().finally(() => {
      probe.cancel();
      this.recovering = false;
    });
  }

  /**
   * Polls JetStream's meta leader while a recovery runs (see {@link META_PROBE_EVERY_MS}); once a
   * probe is answered after one that was not, {@link wake}s the recovery (reason
   * `meta_leader_back`). A meta leader that answers all along wakes nothing. Without
   * `checkJetStream` on the transport, nothing is polled.
   */
  private probeMeta(): { cancel(): void } {
    const { d } = this;
    let stopped = false;
    let missing = false;
    let timer: ReturnType<Env['clock']['setTimeout']> | undefined;
    const next = (): void => {
      if (stopped) return;
      timer = d.env.clock.setTimeout(() => {
        timer = undefined;
        if (stopped || !d.active()) return;
        d.transport.checkJetStream(META_PROBE_TIMEOUT_MS).then(
          () => {
            if (stopped) return;
            if (missing) {
              missing = false;
              d.log.info({ report: 'replication_meta_leader_back' }, 'JetStream meta leader answers again');
              this.wake('meta_leader_back');
            }
            next();
          },
          () => {
            missing = true;
            next();
          },
        );
      }, META_PROBE_EVERY_MS);
    };
    if (typeof d.transport.checkJetStream === 'function') next();
    return {
      cancel: () => {
        stopped = true;
        if (timer !== undefined) d.env.clock.clearTimeout(timer);
      },
    };
  }

  /**
   * Asks the server for the current consumer (one consumer info, bounded by the client's request
   * timeout); re-creates it when that fails — after a reconnect, a consumer whose server died
   * is found in ~1 s instead of the watchdog's 2.5 s.
   */
  verify(trigger: string): void {
    const { d } = this;
    const c = this.messages;
    const gen = this.gen;
    if (!c?.check || this.recovering || !d.active()) return;
    c.check().then(
      () => undefined,
      (e: unknown) => {
        if (gen !== this.gen || !d.active()) return;
        d.log.warn({ report: 'replication_consumer_unanswered', trigger, err: e }, 'the replication consumer did not answer after a reconnect; re-creating it');
        this.recover(trigger);
      },
    );
  }

  /** Ends a recovery's back-off wait, or its stuck attempt, now (the stream, or JetStream's meta group, has a leader again). */
  wake(reason = 'stream_leader_elected'): void {
    if (!this.wakeUp) return;
    this.wakeReason = reason;
    this.wakeUp();
  }

  /** `attempt`, or {@link WOKEN} when {@link wake} is called first (the attempt's failure is then ignored). */
  private async orWake(attempt: Promise<void>): Promise<void | typeof WOKEN> {
    attempt.catch(() => undefined);
    try {
      return await Promise.race([attempt, new Promise<typeof WOKEN>((r) => (this.wakeUp = () => r(WOKEN)))]);
    } finally {
      this.wakeUp = undefined;
    }
  }

  /** Stops consuming (a pending recovery ends at its next check of `active`). */
  async close(): Promise<void> {
    this.gen++;
    if (this.watchdog !== undefined) this.d.env.clock.clearTimeout(this.watchdog);
    this.watchdog = undefined;
    this.wake();
    const msgs = this.messages;
    this.messages = undefined;
    await msgs?.close().catch((e: unknown) => this.d.log.debug({ report: 'replication_consumer_close_failed', err: e }, 'consumer close'));
  }
}
