import type { Env } from '../env/env.ts';
import type { Logger } from '../env/logger.ts';
import { ClusterError, ReplApplyError, ReplMalformedError, ReplNewerSchemaError, ReplUnavailableError } from './errors.ts';
import type { PendingCommits } from './commitSettlement.ts';
import { decodeMessage, parseReplSubject, tableKeyOf, type DecodeResult } from './replCodec.ts';
import type { CommitBatch } from '../store/types.ts';
import type { ReplicatedStore } from './replicatedStore.ts';

/** Stands for the payload of a message that was copied into the stream from another one (never decoded). */
export const FOREIGN = new Uint8Array(0);

/** Messages handed to the store ahead of confirmation, at most. */
const MAX_IN_FLIGHT = 1024;

/** What a {@link ReplApplier} needs from its replicator. @internal */
export interface ReplApplierDeps {
  env: Env;
  store: ReplicatedStore;
  stream: string;
  prefix: string;
  node: string;
  tableSet: ReadonlySet<string>;
  log: Logger;
  /** Settles this node's commits by what the stream holds, in stream order. */
  pending: PendingCommits;
  /** Replication was stopped: nothing more is handed over. */
  stopped: () => boolean;
  /** The stream skipped past `seq - 1` (limits, purge): load a peer snapshot instead of applying on. */
  onGap: (seq: number) => void;
  /** Applying stopped for good (called once). */
  onHalt: (err: ClusterError) => void;
}

type Waiter = { resolve: () => void; reject: (e: unknown) => void };

/**
 * The apply path of a replicator: hands messages to the store in stream order without waiting
 * for each to be durable (the store's group commit then writes a run of them in one batch),
 * confirms them strictly in order, skips only a message that is itself invalid, and halts at a
 * message the store could not write or whose schema is newer — never skipping it.
 *
 * The writer of a message is the node its subject names (NATS permissions bind it), never the
 * payload's claim. @internal
 */
export class ReplApplier {
  /** Last stream sequence confirmed applied (or skipped as malformed). */
  applied = 0;
  /** Highest seq handed to the store (or skipped); `applied` trails it until confirmed. */
  submitted = 0;
  /** Why applying stopped for good (a newer schema, a store that could not write). */
  halted: ClusterError | undefined;
  /** Messages skipped as malformed. */
  malformed = 0;
  lastMalformed: { seq: number; why: string } | undefined;
  /** Last sequence seen per table subject key (for `conflictScope: 'table'` expectations). */
  readonly subjectSeq = new Map<string, number>();
  private readonly waiters = new Map<number, Waiter[]>();
  private submitChain: Promise<void> = Promise.resolve();
  private confirmChain: Promise<void> = Promise.resolve();
  /** Highest schema version seen applied: a newer one is a barrier (see `submit`). */
  private schemaOk = -1;
  private readonly d: ReplApplierDeps;

  constructor(deps: ReplApplierDeps) {
    this.d = deps;
  }

  /** Sets the position (at start, or after a snapshot was loaded): nothing at or below `seq` is applied. */
  jumpTo(seq: number): void {
    this.applied = seq;
    this.submitted = seq;
  }

  /**
   * Hands message `seq` to the store in stream order. A batch with a schema version not yet seen
   * applied, or carrying migrations, is a barrier: everything before it is confirmed first and
   * nothing after it is submitted until it is — so a newer-schema refusal halts exactly there.
   * `own` is this node's just-published batch (already validated: not parsed back).
   */
  enqueue(seq: number, subject: string, data: Uint8Array, own?: CommitBatch, msgId?: string): Promise<void> {
    const p = this.submitChain.then(() => this.submit(seq, subject, data, own, msgId));
    // The chain only orders submissions; the caller awaiting `p` sees its error.
    this.submitChain = p.catch(() => undefined);
    return p;
  }

  /** Runs `fn` between two applies, once everything submitted so far is confirmed (a snapshot's `seq` then matches its data). */
  between<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.submitChain.then(async () => {
      await this.confirmChain;
      return fn();
    });
    // Ordering only: the caller sees the error through `p`.
    this.submitChain = p.then(() => undefined, () => undefined);
    return p;
  }

  /** Resolves once everything handed to the store so far is confirmed (or halted). */
  confirmed(): Promise<void> {
    return this.confirmChain;
  }

  /** Resolves once every queued submission and confirmation has run. */
  async drain(): Promise<void> {
    await this.submitChain;
    await this.confirmChain;
  }

  private async submit(seq: number, subject: string, data: Uint8Array, own: CommitBatch | undefined, msgId: string | undefined): Promise<void> {
    const d = this.d;
    if (this.halted || d.stopped() || seq <= this.submitted) return;
    if (own && seq !== this.submitted + 1) return; // not next: the consumer brings it in order
    if (!own && seq > this.submitted + 1) {
      // A gap: the stream dropped messages this node never applied (limits, purge). Applying on
      // would silently diverge; load a peer snapshot instead.
      d.onGap(seq);
      return;
    }
    if (this.submitted - this.applied >= MAX_IN_FLIGHT) await this.confirmChain;
    this.submitted = seq;
    // only a message on this node's own subject can settle this node's commit by its msg id
    const ownSubject = parseReplSubject(d.prefix, subject)?.node === d.node;
    d.pending.observe(seq, tableKeyOf(d.prefix, subject) ?? subject, ownSubject ? msgId : undefined);
    // Our own batch was validated before publishing: no need to parse it back.
    // The writer is the node the subject names (NATS permissions bind it), never the payload's claim.
    const decoded: DecodeResult = own
      ? { ok: true, node: d.node, batch: own }
      : data === FOREIGN
        ? { ok: false, why: 'copied or republished from another stream by the server: only messages a node published here are applied' }
        : decodeMessage(d.prefix, subject, data, d.tableSet);
    if (!decoded.ok) {
      const why = decoded.why;
      this.confirmChain = this.confirmChain.then(() => this.skipMalformed(seq, subject, why));
      return;
    }
    // Our own local writes (from the publish, or from the stream after a restart) apply with it.
    const mine = !own && decoded.local && decoded.node === d.node;
    const batch = mine ? { ...decoded.batch, ops: [...decoded.batch.ops, ...decoded.local!] } : decoded.batch;
    // a migration batch changes the store's schema history and deferred list: nothing after it
    // is handed over before it is confirmed
    const barrier = batch.schemaVersion > this.schemaOk || batch.migrations !== undefined;
    if (barrier) await this.confirmChain;
    if (this.halted || d.stopped()) return;
    const applying = d.store.applyReplicated(batch, { stream: d.stream, seq }).then(
      (r) => ({ ok: true as const, r }),
      (e: unknown) => ({ ok: false as const, e }),
    );
    const step = this.confirmChain.then(async () => {
      const res = await applying;
      // stopped at an earlier seq: whatever became of this one, the position does not move past it
      if (this.halted) return;
      if (res.ok) {
        if (res.r === 'duplicate') d.log.debug({ report: 'replication_duplicate', seq }, 'already applied');
        this.schemaOk = Math.max(this.schemaOk, batch.schemaVersion);
        this.advance(seq, subject);
        return;
      }
      const code = (res.e as { code?: unknown })?.code;
      // Only a message that is itself invalid is skipped: the store refused its contents and
      // wrote nothing. Anything else (I/O, a closed store, an unknown failure) means a valid
      // message was not written: skipping it would lose it on this node for good.
      if (code === 'ORDO_STORE_VALIDATION') {
        this.skipMalformed(seq, subject, `store refused it: ${res.e instanceof Error ? res.e.message : String(res.e)}`, res.e);
        return;
      }
      if (code === 'ORDO_STORE_NEWER_SCHEMA' || code === 'ORDO_REPL_NEWER_SCHEMA') {
        this.halt(new ReplNewerSchemaError(
          `record at seq ${seq} has schema version ${batch.schemaVersion}, newer than this node's code: refusing to apply (upgrade this node)`,
          { node: d.node, stream: d.stream, seq, value: batch.schemaVersion, cause: res.e },
        ), seq, res.e);
        return;
      }
      this.halt(new ReplApplyError(
        `the local store could not apply seq ${seq} (${typeof code === 'string' ? code : 'unknown error'}): stopping at it, to re-apply from the recorded position after a restart`,
        { node: d.node, stream: d.stream, seq, cause: res.e },
      ), seq, res.e);
    });
    this.confirmChain = step;
    if (barrier) await step;
  }

  /** Stops applying at `seq` for good: nothing after it is handed to the store; waiters get `err`; `onHalt` runs. */
  private halt(err: ClusterError, seq: number, cause: unknown): void {
    if (this.halted) return;
    this.halted = err;
    this.d.log.error({ report: 'replication_halted', code: err.code, seq, err: cause }, err.message);
    this.rejectWaiters(seq, err);
    this.d.onHalt(err);
  }

  private skipMalformed(seq: number, subject: string, why: string, cause?: unknown): void {
    const err = new ReplMalformedError(`malformed replicated message at seq ${seq}: ${why}`, { node: this.d.node, stream: this.d.stream, seq, cause });
    this.malformed++;
    this.lastMalformed = { seq, why };
    this.d.log.error({ report: 'replication_malformed', code: err.code, err, seq, why }, err.message);
    // Not applied; a committer waiting on exactly this seq learns why.
    const list = this.waiters.get(seq);
    this.waiters.delete(seq);
    for (const w of list ?? []) w.reject(err);
    // Skipped, but it is the subject's latest message: the next expectation must count it.
    this.advance(seq, subject);
  }

  private advance(seq: number, subject: string): void {
    this.applied = seq;
    const key = tableKeyOf(this.d.prefix, subject);
    if (key !== undefined && (this.subjectSeq.get(key) ?? 0) < seq) this.subjectSeq.set(key, seq);
    this.resolveWaiters();
  }

  private resolveWaiters(): void {
    for (const [s, list] of this.waiters) {
      if (s > this.applied) continue;
      this.waiters.delete(s);
      for (const w of list) w.resolve();
    }
  }

  /** Rejects everyone waiting for a sequence at or above `fromSeq`. */
  rejectWaiters(fromSeq: number, err: unknown): void {
    for (const [s, list] of this.waiters) {
      if (s < fromSeq) continue;
      this.waiters.delete(s);
      for (const w of list) w.reject(err);
    }
  }

  /** Resolves once the local store has applied `seq`; rejects if halted, stopped or after `timeoutMs` (none: no deadline). */
  waitApplied(seq: number, timeoutMs: number | undefined): Promise<void> {
    const { env, node, stream } = this.d;
    if (this.applied >= seq) return Promise.resolve();
    if (this.halted) return Promise.reject(this.halted);
    if (this.d.stopped()) return Promise.reject(new ReplUnavailableError('replication stopped', { node, stream, seq }));
    return new Promise((resolve, reject) => {
      const t = timeoutMs === undefined ? undefined : env.clock.setTimeout(() => {
        const list = this.waiters.get(seq);
        if (list) this.waiters.set(seq, list.filter((w) => w !== entry));
        reject(new ReplUnavailableError(`sequence ${seq} not applied within ${timeoutMs} ms`, { node, stream, seq }));
      }, timeoutMs);
      const entry: Waiter = {
        resolve: () => (env.clock.clearTimeout(t), resolve()),
        reject: (e: unknown) => (env.clock.clearTimeout(t), reject(e)),
      };
      const list = this.waiters.get(seq) ?? [];
      list.push(entry);
      this.waiters.set(seq, list);
    });
  }
}
