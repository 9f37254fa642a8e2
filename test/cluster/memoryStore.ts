/**
 * A small in-memory store implementing the replication contract (`ReplicatedStore`), used
 * to test the replicator until the real store (branch `store`) lands. It follows the
 * contract: atomic apply + last-applied record, duplicates as no-ops, malformed → throw and
 * apply nothing, newer schema → `ORDO_STORE_NEWER_SCHEMA`.
 */
import { createHash } from 'node:crypto';
import type { CommitBatch, CommitOp, CommitOptions, DeferredMigrationInfo, ReplicatedStore, StoreReplicator, StreamPosition } from '../../src/cluster/replicatedStore.ts';

export class StoreError extends Error {
  readonly code: 'ORDO_STORE_NEWER_SCHEMA' | 'ORDO_STORE_MALFORMED';
  constructor(
    code: 'ORDO_STORE_NEWER_SCHEMA' | 'ORDO_STORE_MALFORMED',
    message: string,
  ) {
    super(message);
    this.code = code;
  }
}

export interface MemorySnapshot {
  applied: Record<string, number>;
  tables: Record<string, Array<[string, Record<string, unknown>]>>;
}

export class MemoryReplicatedStore implements ReplicatedStore {
  readonly tables = new Map<string, Map<string, Record<string, unknown>>>();
  private readonly last = new Map<string, number>();
  private replicator: StoreReplicator | undefined;
  /** How many times each stream seq was applied (must stay ≤ 1). */
  readonly applyCount = new Map<number, number>();
  /** Deferred migrations: `up` writes ops (run by `runDeferredMigrations`). */
  deferred: Array<DeferredMigrationInfo & { up: () => CommitOp[] }> = [];
  /** Migration versions applied, in order. */
  readonly history: number[] = [];

  readonly tableNames: string[];
  schemaVersion: number;
  constructor(tableNames: string[], schemaVersion = 1) {
    this.tableNames = tableNames;
    this.schemaVersion = schemaVersion;
    for (const t of tableNames) this.tables.set(t, new Map());
  }

  setReplicator(r: StoreReplicator | undefined): void {
    this.replicator = r;
  }

  /** A transaction: through the replicator when set, else local. */
  async transact(ops: CommitOp[], opts?: CommitOptions): Promise<void> {
    const batch: CommitBatch = { ops, schemaVersion: this.schemaVersion };
    if (this.replicator) return this.replicator.commit(batch, opts);
    this.write(ops);
  }

  private write(ops: readonly CommitOp[]): void {
    for (const o of ops) {
      const t = this.tables.get(o.table)!;
      if (o.op === 'put') t.set(JSON.stringify(o.key), o.value!);
      else t.delete(JSON.stringify(o.key));
    }
  }

  deferredMigrations(): readonly DeferredMigrationInfo[] {
    return this.deferred.map(({ version, description }) => ({ version, description }));
  }

  async runDeferredMigrations(): Promise<'ran' | 'none'> {
    if (this.deferred.length === 0) return 'none';
    const ops = this.deferred.flatMap((d) => d.up());
    const migrations = this.deferred.map((d) => d.version);
    if (this.replicator) await this.replicator.commit({ ops, schemaVersion: this.schemaVersion, migrations });
    else this.migrated(ops, migrations);
    return 'ran';
  }

  private migrated(ops: readonly CommitOp[], versions: readonly number[]): void {
    this.write(ops);
    for (const v of versions) if (!this.history.includes(v)) this.history.push(v);
    this.deferred = this.deferred.filter((d) => !versions.includes(d.version));
  }

  async applyReplicated(batch: CommitBatch, pos: StreamPosition): Promise<'applied' | 'duplicate'> {
    if (pos.seq <= (this.last.get(pos.stream) ?? 0)) return 'duplicate';
    if (batch.schemaVersion > this.schemaVersion) throw new StoreError('ORDO_STORE_NEWER_SCHEMA', `schema ${batch.schemaVersion} > ${this.schemaVersion}`);
    for (const o of batch.ops) if (!this.tables.has(o.table)) throw new StoreError('ORDO_STORE_MALFORMED', `no table ${o.table}`);
    if (batch.migrations) this.migrated(batch.ops, batch.migrations);
    else this.write(batch.ops);
    this.last.set(pos.stream, pos.seq);
    this.applyCount.set(pos.seq, (this.applyCount.get(pos.seq) ?? 0) + 1);
    return 'applied';
  }

  lastAppliedSeq(stream: string): number {
    return this.last.get(stream) ?? 0;
  }

  snapshot(tables: readonly string[] = this.tableNames): MemorySnapshot {
    return {
      applied: Object.fromEntries(this.last),
      tables: Object.fromEntries(tables.map((t) => [t, [...(this.tables.get(t) ?? new Map()).entries()]])),
    };
  }

  async loadSnapshot(snap: MemorySnapshot): Promise<void> {
    for (const [t, entries] of Object.entries(snap.tables)) this.tables.set(t, new Map(entries));
    for (const [s, seq] of Object.entries(snap.applied)) this.last.set(s, seq);
  }

  get(table: string, key: unknown): Record<string, unknown> | undefined {
    return this.tables.get(table)?.get(JSON.stringify(key));
  }

  /** A content hash of every table, order-independent. */
  contentHash(): string {
    const h = createHash('sha256');
    for (const t of [...this.tables.keys()].sort()) {
      h.update(`#${t}\n`);
      for (const [k, v] of [...this.tables.get(t)!.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) h.update(`${k}=${JSON.stringify(v)}\n`);
    }
    return h.digest('hex');
  }
}
