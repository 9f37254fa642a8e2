import type { Env } from '../env/env.ts';
import type { ClusterTransport, StreamConsumer as ConsumerMessages, StreamMsg as JsMsg } from '../env/transport.ts';
import type { Logger } from '../env/logger.ts';

/** Pull expiry of the replication consumer (the server heartbeats every half of it). */
const CONSUMER_EXPIRES_MS = 2000;

/** What a {@link ReplConsumer} needs from its replicator. */
export interface ReplConsumerDeps {
  env: Env;
  transport: ClusterTransport;
  stream: string;
  log: Logger;
  /** The first sequence not yet handed to the store: where a (re)created consumer starts. */
  nextSeq: () => number;
  /** Takes one message, in stream order (awaited before the next). */
  onMessage: (m: JsMsg) => Promise<void>;
  /** False once the replicator stopped, halted or is resyncing: nothing is (re)started then. */
  active: () => boolean;
}

/**
 * The replicator's ordered consumer and its recovery. Pulls expire after 2 s, so the server
 * heartbeats every second and a consumer whose server died is noticed after two missed
 * heartbeats; it is then re-created from {@link ReplConsumerDeps.nextSeq} — at once, then
 * whenever {@link wake} is called (the stream-leader advisory), else on a 100 ms → 2 s back-off.
 * Single-flight; every recovery is logged with its trigger, attempts and duration. A
 * superseded consumer's buffered messages never reach the store. @internal
 */
export class ReplConsumer {
  private readonly d: ReplConsumerDeps;
  private gen = 0;
  private messages: ConsumerMessages | undefined;
  private recovering = false;
  private wakeUp: (() => void) | undefined;

  constructor(deps: ReplConsumerDeps) {
    this.d = deps;
  }

  /** A recovery is in progress. */
  get isRecovering(): boolean {
    return this.recovering;
  }

  /** Creates the consumer (replacing any previous one); throws if JetStream refuses. */
  async start(): Promise<void> {
    const { d } = this;
    const gen = ++this.gen;
    const old = this.messages;
    this.messages = undefined;
    await old?.close().catch((e: unknown) => d.log.debug({ report: 'replication_consumer_close_failed', err: e }, 'old consumer close'));
    const start = d.nextSeq();
    // Short pulls (nats.js's default 30 s pulls and its own 30 s back-off were issue 14's 43 s stall).
    const messages = await d.transport.consume(d.stream, { ...(start > 1 ? { startSeq: start } : {}), maxMessages: 512, expiresMs: CONSUMER_EXPIRES_MS });
    if (gen !== this.gen || !d.active()) {
      await messages.close().catch((e: unknown) => d.log.debug({ report: 'replication_consumer_close_failed', err: e }, 'superseded consumer close failed'));
      return;
    }
    this.messages = messages;
    void (async () => {
      for await (const s of messages.status()) {
        if (gen !== this.gen || !d.active()) break;
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
          await d.onMessage(m);
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
    void (async () => {
      for (let attempt = 1; d.active(); attempt++) {
        try {
          await this.start();
          d.log.info({ report: 'replication_consumer_recovered', trigger, attempts: attempt, afterMs: d.env.clock.now() - t0, from: d.nextSeq() }, 'replication consumer (re)created');
          return;
        } catch (e) {
          d.log.warn({ report: 'replication_consumer_restart_failed', trigger, attempt, err: e }, 'could not re-create the consumer; retrying when the stream has a leader');
          await new Promise<void>((resolve) => {
            const t = d.env.clock.setTimeout(() => resolve(), Math.min(2000, 100 * 2 ** (attempt - 1)));
            this.wakeUp = () => {
              d.env.clock.clearTimeout(t);
              resolve();
            };
          });
          this.wakeUp = undefined;
        }
      }
    })().finally(() => {
      this.recovering = false;
    });
  }

  /** Ends a recovery's back-off wait now (the stream has a leader again). */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops consuming (a pending recovery ends at its next check of `active`). */
  async close(): Promise<void> {
    this.gen++;
    this.wake();
    const msgs = this.messages;
    this.messages = undefined;
    await msgs?.close().catch((e: unknown) => this.d.log.debug({ report: 'replication_consumer_close_failed', err: e }, 'consumer close'));
  }
}
