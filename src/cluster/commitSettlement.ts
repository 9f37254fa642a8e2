import type { Logger } from '../env/logger.ts';
import { isTransportError, isWrongLastSequence, TransportError, type PubAckInfo as PubAck } from '../env/transport.ts';
import type { CommitSettlement } from './errors.ts';
import { refusedBeforeStored } from './replicas.ts';

/** A publish whose outcome is being settled: what the stream order can prove about it. */
interface Tracked {
  readonly msgId: string;
  /** Checked commits only: the slot the publish expects (stream-wide, or on `subject`). */
  readonly expect: { seq: number; subject: string | undefined } | undefined;
  outcome: CommitSettlement | undefined;
  readonly listeners: Array<(o: CommitSettlement) => void>;
}

/**
 * Settles commits by what the stream holds, in stream order. The replicator reports every
 * message it takes in order ({@link observe}); a tracked publish is then
 * - **committed at `seq`** when a message carries its `Nats-Msg-Id`;
 * - **not committed** when it was a checked publish and the slot it expected went to another
 *   message (the stream moved past the expected sequence — on its subject for a subject
 *   expectation — with a message that is not it: it can never land, JetStream checks the
 *   expectation when it stores).
 *
 * A dirty (unchecked) publish is only ever proven committed; otherwise it stays unknown until
 * the caller gives up. @internal
 */
export class PendingCommits {
  private readonly byId = new Map<string, Tracked>();

  /** Starts tracking `msgId` (before its first publish). */
  track(msgId: string, expect: Tracked['expect']): Tracked {
    const t: Tracked = { msgId, expect, outcome: undefined, listeners: [] };
    this.byId.set(msgId, t);
    return t;
  }

  /** A message at `seq` on `subject` (with `msgId`, if it has one) was taken in stream order. */
  observe(seq: number, subject: string, msgId: string | undefined): void {
    if (this.byId.size === 0) return;
    if (msgId !== undefined) {
      const t = this.byId.get(msgId);
      if (t) this.settle(t, { committed: true, seq });
    }
    for (const t of this.byId.values()) {
      if (!t.expect || t.outcome) continue;
      if (seq > t.expect.seq && (t.expect.subject === undefined || t.expect.subject === subject)) this.settle(t, { committed: false });
    }
  }

  /** A promise of `t`'s outcome (settles when {@link observe} proves it, or on {@link giveUp}). */
  outcome(t: Tracked): Promise<CommitSettlement> {
    if (t.outcome) return Promise.resolve(t.outcome);
    return new Promise((r) => t.listeners.push(r));
  }

  /** Resolved by a publish ack (or duplicate ack) directly. */
  settle(t: Tracked, o: CommitSettlement): void {
    if (t.outcome) return;
    t.outcome = o;
    this.byId.delete(t.msgId);
    for (const l of t.listeners.splice(0)) l(o);
  }

  /** Stops tracking `t` with whatever is known (`unknown` if nothing). */
  giveUp(t: Tracked): void {
    this.settle(t, { committed: 'unknown' });
  }

  /** Gives up on everything (replicator stopped). */
  giveUpAll(): void {
    for (const t of [...this.byId.values()]) this.giveUp(t);
  }
}

/** What {@link publishSettled} needs from the replicator. */
export interface PublishDeps {
  publish: () => Promise<PubAck>;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /** After a wrong-last-sequence answer: applies the stream up to what the server said it holds. */
  catchUpTo: (e: TransportError) => Promise<void>;
  stopped: () => boolean;
  /** The connection is up (requests go out now, not into the reconnect buffer). */
  canSend: () => boolean;
  log: Logger;
  /**
   * A wait for the stream's next leader (its LEADER_ELECTED advisory). When given, a retry does
   * not sit out its back-off or a stuck attempt's request timeout once a new leader is elected:
   * it re-publishes (same msg id) at once — the write comes back as soon as the new leader answers.
   */
  leaderElected?: () => { promise: Promise<void>; cancel: () => void };
}

/** The stream elected a leader while an attempt was outstanding (the attempt may still land). */
const LEADER_ELECTED = Symbol('leader elected');

/** `attempt`, or {@link LEADER_ELECTED} if the stream gets a new leader first; a late ack still settles `t`. */
async function orNewLeader(pending: PendingCommits, t: Tracked, attempt: Promise<PubAck>, d: PublishDeps): Promise<PubAck | typeof LEADER_ELECTED> {
  if (!d.leaderElected) return attempt;
  const w = d.leaderElected();
  try {
    const r = await Promise.race([attempt, w.promise.then((): typeof LEADER_ELECTED => LEADER_ELECTED)]);
    if (r === LEADER_ELECTED) attempt.then((ack) => pending.settle(t, { committed: true, seq: ack.seq }), () => undefined);
    return r;
  } finally {
    w.cancel();
  }
}

/** Sleeps `ms`, less if the stream elects a leader meanwhile. */
async function backOff(ms: number, d: PublishDeps): Promise<void> {
  if (!d.leaderElected) return d.sleep(ms);
  const w = d.leaderElected();
  try {
    await Promise.race([d.sleep(ms), w.promise]);
  } finally {
    w.cancel();
  }
}

/** How a publish ended, as far as the stream can tell. */
export type PublishOutcome =
  | { kind: 'committed'; seq: number; duplicate: boolean }
  | { kind: 'conflict'; error: TransportError }
  /** Every attempt was refused before reaching a stream: nothing was stored. */
  | { kind: 'refused'; error: unknown; attempts: number }
  /** Some attempt may have been stored and nothing proved either way before `settleBy`. */
  | { kind: 'unknown'; error: unknown; attempts: number };

/**
 * Publishes with one msg id until the outcome is known: an ack (or a duplicate ack — JetStream
 * dedupes the same `Nats-Msg-Id` within the duplicate window), a conflict proven by the stream,
 * or every attempt refused before storing (no responders, an API error) by `deadline`. Once an
 * attempt may have been stored (a timeout, a lost connection), it keeps republishing the same
 * id — which cannot store it twice — until `settleBy` while the stream order may also settle it
 * ({@link PendingCommits.observe}). A wrong-last-sequence answer after such an attempt is only
 * a conflict once this node has applied the stream up to the winner without seeing its id.
 */
export async function publishSettled(pending: PendingCommits, t: Tracked, deadline: number, settleBy: number, d: PublishDeps): Promise<PublishOutcome> {
  let mayHaveLanded = false;
  let last: unknown;
  let attempt = 0;
  let settlingLogged = false;
  for (;;) {
    const known = t.outcome;
    if (known && known.committed === true) return { kind: 'committed', seq: known.seq, duplicate: true };
    if (known && known.committed === false && isTransportError(last, 'api')) return { kind: 'conflict', error: last };
    if (!d.canSend()) {
      // Not connected: a request now would sit in the client's reconnect buffer and might be
      // stored long after it timed out. Send nothing until connected again.
      if (d.stopped() || d.now() >= (mayHaveLanded ? settleBy : deadline)) {
        const error = last ?? new TransportError('NATS connection down: not sent', { kind: 'closed' });
        return mayHaveLanded ? { kind: 'unknown', error, attempts: attempt } : { kind: 'refused', error, attempts: attempt };
      }
      await d.sleep(50);
      continue;
    }
    attempt++;
    try {
      // the first attempt runs plainly (the common, healthy path); retries race the next leader
      const r = attempt === 1 ? await d.publish() : await orNewLeader(pending, t, d.publish(), d);
      if (r === LEADER_ELECTED) {
        // the outstanding attempt may still be stored: only the same msg id may follow it
        mayHaveLanded = true;
        // elections can follow one another (a flapping cluster): this path never sleeps, so it
        // must honour the settle deadline itself, or a commit waits past it
        if (d.stopped() || d.now() >= settleBy) return { kind: 'unknown', error: last ?? new TransportError('the stream elected a leader while the attempt was outstanding', { kind: 'other' }), attempts: attempt };
        d.log.debug({ report: 'replication_publish_leader_elected', msgId: t.msgId, attempt }, 'the stream elected a leader: re-publishing at once');
        continue;
      }
      const ack = r;
      pending.settle(t, { committed: true, seq: ack.seq });
      if (ack.duplicate) d.log.info({ report: 'replication_publish_settled', msgId: t.msgId, seq: ack.seq, attempt }, 'publish settled by its msg id: it had been stored');
      return { kind: 'committed', seq: ack.seq, duplicate: ack.duplicate };
    } catch (e) {
      last = e;
      if (isWrongLastSequence(e)) {
        if (!mayHaveLanded) {
          pending.settle(t, { committed: false });
          return { kind: 'conflict', error: e };
        }
        // An earlier attempt may be in the stream ahead of the winner: look before calling it lost.
        await d.catchUpTo(e);
        const o = t.outcome as CommitSettlement | undefined;
        if (o?.committed === true) {
          d.log.info({ report: 'replication_publish_settled', msgId: t.msgId, seq: o.seq, attempt }, 'publish settled by the stream: it had been stored');
          return { kind: 'committed', seq: o.seq, duplicate: true };
        }
        if (o?.committed === false || t.expect) {
          pending.settle(t, { committed: false });
          return { kind: 'conflict', error: e };
        }
      } else if (!refusedBeforeStored(e)) mayHaveLanded = true;
      const now = d.now();
      if (d.stopped()) return mayHaveLanded ? { kind: 'unknown', error: e, attempts: attempt } : { kind: 'refused', error: e, attempts: attempt };
      if (now >= deadline) {
        if (!mayHaveLanded) {
          pending.settle(t, { committed: false });
          return { kind: 'refused', error: e, attempts: attempt };
        }
        if (now >= settleBy) return { kind: 'unknown', error: e, attempts: attempt };
        if (!settlingLogged) {
          settlingLogged = true;
          d.log.warn({ report: 'replication_publish_settling', msgId: t.msgId, attempt, err: e }, 'commit timeout passed with the outcome unknown (an attempt may be stored): settling by msg id');
        }
      }
      d.log.debug({ report: 'replication_publish_retry', attempt, err: e }, 'publish failed; retrying with the same msg id');
      await backOff(Math.min(500, 25 * attempt), d);
    }
  }
}
