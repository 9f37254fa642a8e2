import type { ClusterTransport, TransportError } from '../env/transport.ts';
import type { Env } from '../env/env.ts';
import type { Logger } from '../env/logger.ts';
import type { ClusterConnection } from './connection.ts';
import { ReplConflictError, ReplIndeterminateError, ReplMalformedError, ReplUnavailableError } from './errors.ts';
import { publishSettled, type PendingCommits } from './commitSettlement.ts';
import { classifyJetStreamError } from './replicas.ts';
import { encodeBatch, replSubject, tableSubjects, tablesOf, validateBatch } from './replCodec.ts';
import type { ReplApplier } from './replApplier.ts';
import type { CommitFairness } from './commitFairness.ts';
import type { CommitBatch, CommitOp, ReplicatorCommitOptions } from '../store/types.ts';

/** The stream's duplicate window: a publish retried with the same msg id within it is deduplicated by the server. */
export const DUPLICATE_WINDOW_MS = 120_000;

/** What a {@link ReplPublisher} needs from its replicator. @internal */
export interface ReplPublisherDeps {
  env: Env;
  conn: ClusterConnection;
  stream: string;
  prefix: string;
  node: string;
  incarnation: string;
  /** Per replicator instance: a restarted replicator (same incarnation) never reuses a msg id inside the dedupe window. */
  msgNonce: string;
  tableSet: ReadonlySet<string>;
  log: Logger;
  applier: ReplApplier;
  pending: PendingCommits;
  /** The cluster transport (set when the replicator starts). */
  transport: () => ClusterTransport;
  /** Per-publish request timeout. */
  publishTimeoutMs: number;
  stopped: () => boolean;
  conflictDetection: boolean;
  conflictScope: 'stream' | 'table';
  commitTimeoutMs: number;
  settleTimeoutMs: number;
  /** Stream-scope fairness: hold requests of nodes that keep losing (see {@link CommitFairness}). */
  fairness?: CommitFairness;
  /** A wait for the stream's next LEADER_ELECTED advisory: retrying publishes re-publish at once. */
  leaderElected?: () => { promise: Promise<void>; cancel: () => void };
}

/**
 * The publish/commit path of a replicator: publishes a batch with an expected last sequence and
 * a msg id, settles its outcome (retries with the same id, stream order), and resolves once the
 * local node has applied it. @internal
 */
export class ReplPublisher {
  /** Commits of this node that lost a race. */
  conflicts = 0;
  private msgCounter = 0;
  private readonly lanes = new Map<string, Promise<void>>();
  private readonly d: ReplPublisherDeps;

  constructor(deps: ReplPublisherDeps) {
    this.d = deps;
  }

  private ids(): { node: string; stream: string } {
    return { node: this.d.node, stream: this.d.stream };
  }

  /**
   * Publish, then wait for the local apply. Checked commits of this node go out one at a time
   * per expectation scope (the stream, or a table subject under `conflictScope: 'table'`): a
   * second local commit published before the first is applied would expect a stale sequence and
   * lose to its own sibling. Its expectation is fixed synchronously with `opts.stillValid()`,
   * the store's read-set check.
   *
   * A lost race rejects with {@link ReplConflictError} only after this node has applied the
   * batches that won, so the store's re-check sees them.
   */
  async commit(batch: CommitBatch, opts: ReplicatorCommitOptions = {}): Promise<void> {
    const d = this.d;
    if (d.stopped()) throw new ReplUnavailableError('replication stopped', this.ids());
    if (d.applier.halted) throw d.applier.halted;
    // Writes to this node's local tables ride along, applied here only (see ReplMessage.local).
    const local = batch.ops.filter((o) => !d.tableSet.has(o.table));
    if (local.length > 0) batch = { ...batch, ops: batch.ops.filter((o) => d.tableSet.has(o.table)) };
    const why = validateBatch(batch, d.tableSet);
    if (why) throw new ReplMalformedError(`refusing to publish a malformed batch: ${why}`, { ...this.ids(), value: batch });
    const tables = tablesOf(batch);
    const subject = replSubject(d.prefix, d.node, tables);
    const check = d.conflictDetection && opts.check !== false;
    const bySubject = tables.length === 1 && d.conflictScope === 'table';
    // The deadline runs from the call: commits queued behind a stuck one fail with it, not one timeout each.
    const deadline = d.env.clock.now() + d.commitTimeoutMs;
    const release = check ? await this.takeLane(bySubject ? tableSubjects(d.prefix, tables[0]!) : '') : undefined;
    try {
      if (d.env.clock.now() >= deadline) {
        throw new ReplUnavailableError(`commit timed out behind this node's earlier commits (${d.commitTimeoutMs} ms)`, this.ids());
      }
      // another node keeps losing the stream-wide race: let it through first (bounded, ≤ 2 s)
      if (check && !bySubject && d.fairness && !(await d.fairness.gate(deadline))) {
        throw new ReplUnavailableError(`commit timed out holding off for another node (${d.commitTimeoutMs} ms)`, this.ids());
      }
      await this.publishAndApply(batch, local, tables, subject, check, bySubject, opts.stillValid, deadline);
    } finally {
      release?.();
    }
  }

  /** Waits for this node's previous checked commit in the same scope; returns the release. */
  private async takeLane(key: string): Promise<() => void> {
    const prev = this.lanes.get(key);
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev ? prev.then(() => mine) : mine;
    this.lanes.set(key, tail);
    if (prev) await prev;
    return () => {
      release();
      if (this.lanes.get(key) === tail) this.lanes.delete(key);
    };
  }

  private async publishAndApply(batch: CommitBatch, local: CommitOp[], tables: string[], subject: string, check: boolean, bySubject: boolean, stillValid: (() => boolean) | undefined, deadline: number): Promise<void> {
    const d = this.d;
    const applier = d.applier;
    if (d.stopped()) throw new ReplUnavailableError('replication stopped', this.ids());
    if (applier.halted) throw applier.halted;
    const data = encodeBatch(d.node, batch, local);
    // Unpredictable per commit: a msg id another publisher could guess in advance would let it
    // pre-empt this commit through the stream's dedupe (ours then acked as its duplicate).
    const msgID = `${d.node}.${d.incarnation}.${d.msgNonce}.${++this.msgCounter}.${d.env.random.int(2 ** 31).toString(36)}`;
    const expect: { lastSubjectSequence?: number; lastSubjectSequenceSubject?: string; lastSequence?: number } = {};
    // table scope: the table's last sequence over every node's subject for it
    const tableKey = bySubject ? tableSubjects(d.prefix, tables[0]!) : undefined;
    if (check) {
      if (tableKey && !applier.subjectSeq.has(tableKey)) await this.knownSubjectSeq(tableKey);
      // From here to the publish call nothing yields: the expectation and the read-set check
      // describe the same state.
      if (tableKey) {
        expect.lastSubjectSequence = applier.subjectSeq.get(tableKey) ?? 0;
        expect.lastSubjectSequenceSubject = tableKey;
      }
      else expect.lastSequence = applier.applied;
      if (stillValid && !stillValid()) {
        this.conflicts++;
        throw new ReplConflictError(`conflict on ${tables.join(', ')}: what the transaction read changed before it could publish`, { ...this.ids(), value: expect });
      }
    }
    const expectSeq = expect.lastSequence ?? expect.lastSubjectSequence;
    // table scope: settled by the table's subjects of every node (the key), not by this node's own subject
    const tracked = d.pending.track(msgID, expectSeq === undefined ? undefined : { seq: expectSeq, subject: tableKey });
    const settleBy = deadline + d.settleTimeoutMs;
    const sentAt = d.env.clock.now();
    const outcome = await publishSettled(d.pending, tracked, deadline, settleBy, {
      publish: () => d.transport().publish(subject, data, { msgID, expect, timeoutMs: d.publishTimeoutMs }),
      now: () => d.env.clock.now(),
      sleep: (ms) => this.sleep(ms),
      catchUpTo: (e) => this.catchUpAfterConflict(e, settleBy),
      stopped: d.stopped,
      canSend: () => d.conn.state() === 'connected',
      log: d.log,
      ...(d.leaderElected ? { leaderElected: d.leaderElected } : {}),
    });
    const ids = this.ids();
    if (check && !bySubject) {
      if (outcome.kind === 'conflict') d.fairness?.lostRace(d.env.clock.now() - sentAt);
      else if (outcome.kind === 'committed') d.fairness?.won();
    }
    if (outcome.kind === 'conflict') {
      // Catch up with the winners first: the store's re-check must see what beat us.
      this.conflicts++;
      await this.catchUpAfterConflict(outcome.error, deadline);
      throw new ReplConflictError(`conflict on ${tables.join(', ')}: another node committed first (${outcome.error.message})`, { ...ids, value: expect, cause: outcome.error });
    }
    if (outcome.kind === 'refused') {
      // Never stored: safe for the caller to retry.
      throw classifyJetStreamError(outcome.error, d.conn.state() === 'connected', `could not publish the batch within the commit timeout (${outcome.attempts} attempts, none stored)`, ids);
    }
    if (outcome.kind === 'unknown') {
      const settled = d.pending.outcome(tracked);
      // Stream order may still prove it either way; after the duplicate window nothing can.
      const t = d.env.clock.setTimeout(() => d.pending.giveUp(tracked), DUPLICATE_WINDOW_MS);
      void settled.then((o) => {
        d.env.clock.clearTimeout(t);
        d.log.warn({ report: 'replication_indeterminate_settled', msgId: msgID, outcome: o }, 'an indeterminate commit settled');
      });
      const err = new ReplIndeterminateError(`commit outcome unknown after ${outcome.attempts} attempts: the batch may be in the stream (msg id ${msgID}); not retried`, { ...ids, msgId: msgID, settled, cause: outcome.error });
      d.log.error({ report: 'replication_indeterminate', msgId: msgID, err }, err.message);
      throw err;
    }
    const seq = outcome.seq;
    // Fast path: when our batch is the very next sequence, apply it now instead of waiting for
    // the consumer to bring it back; the consumer then sees it as already applied. Stream
    // order holds: it is applied only if `seq === applied + 1` when its turn comes.
    void applier.enqueue(seq, subject, data, local.length > 0 ? { ...batch, ops: [...batch.ops, ...local] } : batch, msgID);
    await this.waitCommittedApplied(seq);
  }

  /**
   * A committed batch (it is in the stream at `seq`) resolves only as committed: it waits for
   * the local apply with no deadline — the consumer recovers as soon as the stream has a leader
   * — and if replication stops or halts first, it still resolves (the stream has it; this node
   * applies it when it resumes). Never reported as a failure.
   */
  private async waitCommittedApplied(seq: number): Promise<void> {
    try {
      await this.d.applier.waitApplied(seq, undefined);
    } catch (e) {
      if (!this.d.stopped() && !this.d.applier.halted) throw e;
      this.d.log.warn({ report: 'replication_committed_not_applied', seq, err: e }, 'commit is in the stream; replication stopped before applying it here');
    }
  }

  /** After a wrong-last-sequence answer: wait until this node applied what the server holds. */
  private async catchUpAfterConflict(e: TransportError, deadline: number): Promise<void> {
    // nats-server says "wrong last sequence: N" (the subject's or the stream's last sequence).
    const m = /wrong last sequence: (\d+)/.exec(e.message);
    let last = m ? Number(m[1]) : undefined;
    if (last === undefined) last = (await this.d.transport().streams.info(this.d.stream)).state.lastSeq;
    await this.d.applier.waitApplied(last, Math.max(0, deadline - this.d.env.clock.now()));
  }

  /** The last sequence of `subject` this node knows; asks the server for subjects not seen since start. */
  async knownSubjectSeq(subject: string): Promise<number> {
    const applier = this.d.applier;
    const known = applier.subjectSeq.get(subject);
    if (known !== undefined) return known;
    const seq = (await this.d.transport().streams.lastBySubject(this.d.stream, subject))?.seq ?? 0;
    // The server may know a newer write than we applied: wait for it, so the expectation is what we have seen.
    if (seq > applier.applied) await applier.waitApplied(seq, this.d.commitTimeoutMs);
    const now = applier.subjectSeq.get(subject) ?? 0;
    const v = Math.max(now, seq);
    applier.subjectSeq.set(subject, v);
    return v;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => this.d.env.clock.setTimeout(() => r(), ms));
  }
}
