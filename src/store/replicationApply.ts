/**
 * The store's side of replication: applying a replicated batch (atomically with its stream
 * position), and snapshots for a node that catches up. @internal
 */
import type { KvOp } from '../env/kv.ts';
import type { CommitBatch, CommitOp, Row } from './types.ts';
import type { MemTable } from './memTable.ts';
import type { Store } from './store.ts';
import { mustEncode } from './query.ts';
import { StoreIoError, StoreNewerSchemaError, StoreReplicationGapError, StoreValidationError } from './errors.ts';
import { encodeValue } from './valueCodec.ts';
import { META, metaKey } from './layout.ts';
import { adoptMigrated, checkMigrationsField, migratedState, validateReplicatedRow } from './deferredMigrations.ts';
import { commitMigrated } from './deferredRun.ts';

/** What {@link Store.snapshot} returns (JSON-serialisable). */
export interface StoreSnapshot {
  readonly schemaVersion: number;
  /** Versions in the snapshot node's schema history: deferred migrations among them are done in these rows. */
  readonly migrations?: readonly number[];
  readonly applied: Readonly<Record<string, number>>;
  readonly tables: Readonly<Record<string, Row[]>>;
}

/**
 * `Store.applyReplicated`. Throws {@link StoreValidationError} only when the batch itself does
 * not fit (nothing written, the position unchanged: the caller may skip it); any other error
 * means it was not written and the caller must not move past it. @internal
 */
export async function applyReplicated(store: Store, batch: CommitBatch, meta: { stream: string; seq: number }): Promise<'applied' | 'duplicate'> {
  const s = store.state;
  if (batch.schemaVersion > s.schemaVersion) throw new StoreNewerSchemaError(batch.schemaVersion, s.schemaVersion, s.dir);
  const failed = store.commits.failedApply.get(meta.stream);
  if (failed !== undefined) {
    // an earlier apply of this stream was not written: only a re-apply from at or before it re-opens the stream
    if (meta.seq > failed) throw new StoreReplicationGapError(meta.stream, meta.seq, failed);
    store.commits.failedApply.delete(meta.stream);
  }
  const last = Math.max(s.applied.get(meta.stream) ?? 0, store.commits.pendingApplied.get(meta.stream) ?? 0);
  if (meta.seq <= last) return 'duplicate';
  // a batch written before a deferred migration carries rows of the old shape
  const migrations = checkMigrationsField(batch?.migrations);
  if (migrations) checkMigrationsKnown(store, migrations);
  const ops = validateBatch(store, batch, migrations === undefined, true);
  store.commits.pendingApplied.set(meta.stream, meta.seq);
  const extra: KvOp[] = [{ type: 'put', column: 'meta', key: metaKey(META.appliedPrefix + meta.stream), value: encodeValue(meta.seq) }];
  const applied = { stream: meta.stream, seq: meta.seq };
  try {
    if (migrations) await commitMigrated(store, ops, migrations, extra, applied);
    else await store.commits.enqueue({ ops, extra, applied });
  } catch (err) {
    // This batch was valid: a validation error now is another commit's in the same group
    // flush. The caller must see "not written", never "malformed" (it would skip it).
    if (err instanceof StoreValidationError) throw new StoreIoError(s.dir, `replicated apply of ${meta.stream} seq ${meta.seq} (its group commit failed)`, { cause: err });
    throw err;
  }
  return 'applied';
}

/**
 * A migration batch may only record versions that are deferred here or already in the schema
 * history (a no-op then): a message naming a migration that does not exist must not add it to
 * the history. (A node whose code does not know the version at all refused the batch before,
 * as a newer schema.)
 */
function checkMigrationsKnown(store: Store, versions: readonly number[]): void {
  const s = store.state;
  const known = new Set([...s.deferred.map((d) => d.version), ...s.history.map((h) => h.version)]);
  for (const v of versions) {
    if (!known.has(v)) {
      throw new StoreValidationError('?', undefined, versions, 'bad_batch', `migration ${v} is neither deferred nor in this store's schema history`);
    }
  }
}

/**
 * Validates every op of a replicated batch (nothing applied on a malformed one); rows frozen,
 * keys from the rows. With `checkKeys`, a put whose `key` disagrees with its row's key is
 * refused (it would be stored under the row's key while the sender meant another).
 */
function validateBatch(store: Store, batch: CommitBatch, legacyOk = false, checkKeys = false): CommitOp[] {
  const s = store.state;
  if (!batch || !Array.isArray(batch.ops)) throw new StoreValidationError('?', undefined, batch, 'bad_batch', 'ops must be an array');
  const legacy = legacyOk && s.deferred.length > 0 ? s.legacy : undefined;
  const valid = (mem: MemTable, value: unknown): Row => validateReplicatedRow(mem.def, legacy?.get(mem.def.name), value, legacy !== undefined);
  return batch.ops.map((op) => {
    const mem = store.table(op?.table);
    if (op.op === 'put') {
      const row = Object.freeze(valid(mem, op.value));
      const key = mem.def.key.length === 1 ? row[mem.def.key[0]!] : mem.def.key.map((k) => row[k]);
      if (checkKeys && mustEncode(mem, op.key) !== mustEncode(mem, key)) {
        throw new StoreValidationError(op.table, undefined, op.key, 'bad_key', `the op's key disagrees with its row's key ${JSON.stringify(key)}`);
      }
      return { table: op.table, op: 'put', key, value: row };
    }
    if (op.op !== 'delete') throw new StoreValidationError(op.table, undefined, op, 'bad_batch', 'op must be put or delete');
    mustEncode(mem, op.key);
    if (op.value === undefined) return { table: op.table, op: 'delete', key: op.key };
    const row = valid(mem, op.value);
    const rowKey = mem.def.key.length === 1 ? row[mem.def.key[0]!] : mem.def.key.map((k) => row[k]);
    // a bag delete with a value removes that object: it must be one under the op's key
    if (checkKeys && mustEncode(mem, op.key) !== mustEncode(mem, rowKey)) {
      throw new StoreValidationError(op.table, undefined, op.key, 'bad_key', `the op's key disagrees with its row's key ${JSON.stringify(rowKey)}`);
    }
    return { table: op.table, op: 'delete', key: op.key, value: row };
  });
}

/** `Store.snapshot`. @internal */
export function snapshot(store: Store, tables?: readonly string[]): StoreSnapshot {
  const s = store.state;
  const names = tables ?? [...s.tables.keys()];
  return {
    schemaVersion: s.schemaVersion,
    migrations: s.history.map((h) => h.version),
    applied: Object.fromEntries(s.applied),
    tables: Object.fromEntries(names.map((n) => [n, store.range(n)])),
  };
}

/** `Store.loadSnapshot`. @internal */
export async function loadSnapshot(store: Store, snap: StoreSnapshot): Promise<void> {
  const s = store.state;
  if (snap.schemaVersion > s.schemaVersion) throw new StoreNewerSchemaError(snap.schemaVersion, s.schemaVersion, s.dir);
  // deferred migrations the snapshot's node had applied: its rows are migrated, so are ours after loading
  const covered = s.deferred.map((d) => d.version).filter((v) => (Array.isArray(snap.migrations) ? snap.migrations : []).includes(v));
  const legacyOk = covered.length < s.deferred.length;
  const ops: CommitOp[] = [];
  for (const [t, rows] of Object.entries(snap.tables)) {
    ops.push(...validateBatch(store, { ops: rows.map((r) => ({ table: t, op: 'put' as const, key: null, value: r })), schemaVersion: snap.schemaVersion }, legacyOk));
  }
  const extra: KvOp[] = Object.entries(snap.applied).map(([stream, seq]) => ({ type: 'put', column: 'meta', key: metaKey(META.appliedPrefix + stream), value: encodeValue(seq) }));
  const next = covered.length > 0 ? migratedState(s, covered, s.env.clock.now()) : undefined;
  await store.commits.enqueue({ ops, extra: [...extra, ...(next?.ops ?? [])], replaceTables: Object.keys(snap.tables) });
  if (next) adoptMigrated(s, next);
  for (const [stream, seq] of Object.entries(snap.applied)) {
    s.applied.set(stream, seq);
    // a snapshot is a new, written position: an earlier failed apply of the stream no longer blocks it
    store.commits.failedApply.delete(stream);
  }
}
