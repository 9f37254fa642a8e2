import type { Logger } from '../env/logger.ts';
import type { ClusterConnection } from './connection.ts';
import { ReplSnapshotError } from './errors.ts';
import type { SnapshotTransfer } from './snapshotTransfer.ts';
import type { ReplApplier } from './replApplier.ts';
import type { ReplicatedStore } from './replicatedStore.ts';

/** What {@link ReplSnapshots} needs from its replicator. @internal */
export interface ReplSnapshotsDeps {
  conn: ClusterConnection;
  store: ReplicatedStore;
  applier: ReplApplier;
  /** Object-store transfer (created when the replicator starts). */
  transfer: () => SnapshotTransfer;
  stream: string;
  node: string;
  snapshotSubject: string;
  tables: readonly string[];
  tableSet: ReadonlySet<string>;
  log: Logger;
  /** How long a snapshot request waits for a peer. */
  requestTimeoutMs: number;
  /** The stream's last sequence now (a snapshot claiming a later position would skip messages not yet written). */
  streamLast: () => Promise<number>;
}

/**
 * Catch-up by peer snapshot: serving this node's replicated tables to a peer whose stream lost
 * the gap, and loading one (checked: only this replicator's tables and this stream's position).
 * @internal
 */
export class ReplSnapshots {
  private readonly d: ReplSnapshotsDeps;

  constructor(deps: ReplSnapshotsDeps) {
    this.d = deps;
  }

  /** Answers snapshot requests on the store's snapshot subject (one peer of the queue group answers). */
  serve(): { unsubscribe(): void } {
    const { conn, log } = this.d;
    return conn.transport.subscribe(this.d.snapshotSubject, { queue: 'ordo-snapshot' }, (msg) => {
      void this.serveOne().then(
        (data) => msg.respond(data),
        (e: unknown) => log.warn({ report: 'replication_snapshot_serve_failed', err: e }, 'could not serve a snapshot'),
      );
    });
  }

  private async serveOne(): Promise<Uint8Array> {
    const { applier, store, tables } = this.d;
    // Taken between two applies, so `seq` matches the data exactly.
    const snap = await applier.between(async () => ({ seq: applier.applied, tables, data: await Promise.resolve(store.snapshot([...tables])) }));
    const body = new TextEncoder().encode(JSON.stringify(snap));
    const object = await this.d.transfer().upload(body, this.d.conn.transport.info.maxPayload);
    this.d.log.info({ report: 'replication_snapshot_served', seq: snap.seq, bytes: body.length, object }, 'served a snapshot');
    return new TextEncoder().encode(JSON.stringify({ seq: snap.seq, object, bytes: body.length }));
  }

  /**
   * A peer's snapshot may only replace this replicator's tables and this stream's position:
   * one naming another table (a node's local table) or carrying other streams' positions is
   * refused, not loaded.
   */
  private checked(data: unknown): Parameters<ReplicatedStore['loadSnapshot']>[0] {
    const { stream, node, tableSet, tables } = this.d;
    const d = data as { tables?: unknown; applied?: unknown; schemaVersion?: unknown; migrations?: unknown } | null;
    const bad = (why: string): never => {
      throw new ReplSnapshotError(`refusing a peer snapshot: ${why}`, { node, stream });
    };
    if (typeof d !== 'object' || d === null || typeof d.tables !== 'object' || d.tables === null || Array.isArray(d.tables)) return bad('no tables');
    const extra = Object.keys(d.tables).filter((t) => !tableSet.has(t));
    if (extra.length > 0) return bad(`it names tables that are not replicated here (${extra.join(', ')})`);
    // a table it lacks would keep its old rows while the position jumps past their changes
    const missing = tables.filter((t) => !Object.hasOwn(d.tables as object, t));
    if (missing.length > 0) return bad(`it lacks replicated tables (${missing.join(', ')})`);
    const applied = (d.applied ?? {}) as Record<string, unknown>;
    const seq = applied[stream];
    if (seq !== undefined && !Number.isInteger(seq)) return bad('its position is not an integer');
    return { ...(d as Parameters<ReplicatedStore['loadSnapshot']>[0]), applied: seq === undefined ? {} : { [stream]: seq as number } };
  }

  /** Loads a peer snapshot reaching at least `firstSeq - 1` and moves the applier's position to it. */
  async catchUp(firstSeq: number): Promise<void> {
    const { applier, conn, node, stream, log } = this.d;
    log.info({ report: 'replication_snapshot_needed', applied: applier.applied, firstSeq }, 'the stream no longer holds our next sequence: loading a peer snapshot');
    let snap: { seq: number; data: unknown };
    try {
      const reply = await conn.transport.request(this.d.snapshotSubject, new Uint8Array(0), { timeoutMs: this.d.requestTimeoutMs });
      const ref = reply.json<{ seq: number; object: string; bytes: number }>();
      const blob = await this.d.transfer().download(ref.object, (e) => log.debug({ report: 'replication_snapshot_delete_failed', err: e }, 'could not delete the snapshot object; its TTL will'));
      snap = JSON.parse(new TextDecoder().decode(blob)) as { seq: number; data: unknown };
    } catch (e) {
      if (e instanceof ReplSnapshotError) throw e;
      throw new ReplSnapshotError(`catch-up needs a snapshot (applied ${applier.applied}, stream starts at ${firstSeq}) and no live peer provided one`, { node, stream, seq: applier.applied, cause: e });
    }
    if (!Number.isInteger(snap.seq) || snap.seq < firstSeq - 1) {
      throw new ReplSnapshotError(`peer snapshot at seq ${snap.seq} does not reach the stream's first sequence ${firstSeq}`, { node, stream, seq: snap.seq });
    }
    const checked = this.checked(snap.data);
    // A position past the stream's end would make this node skip every message up to it when
    // it is written: a silent loss. No honest peer can have applied what the stream lacks.
    const last = await this.d.streamLast();
    const claimed = Math.max(snap.seq, checked.applied[stream] ?? 0);
    if (claimed > last) {
      throw new ReplSnapshotError(`refusing a peer snapshot at seq ${claimed}: the stream ends at ${last}`, { node, stream, seq: claimed });
    }
    await this.d.store.loadSnapshot(checked);
    // The store adopted the snapshot's positions; seqs between them and snap.seq (malformed ones
    // the peer skipped) are skipped here too.
    applier.jumpTo(Math.max(snap.seq, this.d.store.lastAppliedSeq(stream)));
    log.info({ report: 'replication_snapshot_loaded', seq: snap.seq }, 'caught up from a snapshot');
  }
}
