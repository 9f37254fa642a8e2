import type { KvOp } from '../env/kv.ts';
import type { CommitOp, Row } from './types.ts';
import type { KnownEntries, MemTable } from './memTable.ts';
import { DiskKeys, INDEX_MARK, logKey } from './layout.ts';
import { encodeJson, encodeValue, encodeValues } from './valueCodec.ts';
import { logEntryJson, logRecordJson } from './logRecord.ts';
import { digestKey, rowHash, rowHashOf, sealOps, storedCrc } from './integrity.ts';
import { CRC_SEGMENT_FROM, CrcCache } from './crcCache.ts';
import { crc32 } from './crc.ts';
import type { TableDigest } from './integrity.ts';

/** A commit waiting for the next group flush. @internal */
export interface Pending {
  readonly ops: readonly CommitOp[];
  /** Encoded key of each op (computed once at enqueue). */
  readonly encKeys: readonly string[];
  readonly extra?: readonly KvOp[] | undefined;
  readonly applied?: { stream: string; seq: number } | undefined;
  /** Replace these tables' contents entirely (snapshot load). */
  readonly replaceTables?: readonly string[] | undefined;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** One row change a flush will apply to RAM once the write succeeded. @internal */
export interface Change {
  readonly mem: MemTable;
  readonly rowKey: string;
  readonly row: Row | null;
  readonly old: Row | undefined;
  /**
   * The index entries of `old` and of `row`, encoded once for the disk's index keys and used
   * again for RAM's indexes (`MemTable.putOver`); `undefined` for a table without indexes or a
   * RAM table (the apply encodes them).
   */
  idx: Entries | undefined;
}

/** {@link Change.idx}: filled by the batch as it encodes them. */
interface Entries extends KnownEntries {
  oldIdx: Array<string | undefined> | undefined;
  newIdx: Array<string | undefined> | undefined;
}

/** What a group flush writes and, after the write, applies. @internal */
export interface BuiltBatch {
  readonly kvOps: KvOp[];
  readonly changes: Change[][];
  readonly sync: boolean;
  readonly seq: number;
  /** The touched disc tables' digests after this batch (adopted once the write succeeded). */
  readonly digests: ReadonlyMap<MemTable, TableDigest>;
  /** Change-log records this batch deletes (the oldest of `logSeqs`) and the one it adds (0: none). */
  readonly logPruned: number;
  readonly logAdded: number;
  /** How many of `kvOps` (the first ones) went to {@link BatchContext.sink} (the rest did not). */
  readonly streamed: number;
}

/** Context of {@link buildWriteBatch}. @internal */
export interface BatchContext {
  table(name: string): MemTable;
  readonly commitSeq: number;
  readonly schemaVersion: number;
  readonly changeLogLimit: number;
  /** Keys (last commit sequence) of the change-log records on disk, oldest first. */
  readonly logSeqs: readonly number[];
  /**
   * A table's digest before this batch when it is not `mem.digest` (a batch built behind one
   * still in flight, not applied yet: that one's digest); `undefined` — `mem.digest`.
   */
  readonly digestOf?: ((mem: MemTable) => TableDigest | undefined) | undefined;
  /**
   * Receives the ops in pieces as they are complete (`ops[from, to)`, in order, each op once;
   * those after {@link BuiltBatch.streamed} are left to the caller): the rows' values are encoded
   * every {@link STREAM_ROWS} row puts instead of all at the end, so a writer on another thread
   * puts one piece into its batch while the next is built.
   */
  readonly sink?: ((ops: readonly KvOp[], from: number, to: number) => void) | undefined;
}

/** Row puts per piece handed to {@link BatchContext.sink}. @internal */
export const STREAM_ROWS = 256;

/** The CRCs of rows this process encoded for a write (see {@link CrcCache}). */
const crcs = new CrcCache();

/**
 * Turns the commits of one group flush into a single list of RocksDB ops — rows, index entries
 * (old ones deleted, new ones put), one change-log record for the batch (keyed by its last
 * commit sequence, listing each commit's sequence and keys), the commit sequence —
 * and the row changes to apply to RAM after the write. Commits are resolved in order against
 * the committed state plus the earlier commits of the same flush (an overlay), so two commits
 * to one key in one flush leave exactly the last row and its index entries. Pure with respect
 * to the tables: nothing in RAM changes here. @internal
 */
export function buildWriteBatch(batch: readonly Pending[], ctx: BatchContext): BuiltBatch {
  const touched = new Map<MemTable, Touched>();
  // the table of the previous row change and its state (a batch's rows are mostly one table's):
  // no Map lookup per row
  let lastMem: MemTable | undefined;
  let lastTouched: Touched | undefined;
  let lastDigest: TableDigest | undefined;
  const touchedOf = (mem: MemTable): Touched => {
    if (mem === lastMem) return lastTouched!;
    let t = touched.get(mem);
    if (!t) touched.set(mem, (t = { o: new Map(), run: [], max: undefined }));
    lastMem = mem;
    lastTouched = t;
    lastDigest = digests.get(mem);
    return t;
  };
  const current = (mem: MemTable, rk: string): Row | undefined => {
    const o = touched.get(mem)?.o;
    if (o?.has(rk)) return o.get(rk) ?? undefined;
    return mem.rows.get(rk);
  };
  const rowKeysOf = (mem: MemTable, encKey: string): string[] => {
    const base = new Set(mem.rowKeysOf(encKey));
    for (const [rk, row] of touched.get(mem)?.o ?? []) {
      if (mem.encKeyOf(rk) !== encKey) continue;
      if (row) base.add(rk);
      else base.delete(rk);
    }
    return [...base];
  };
  const kvOps: KvOp[] = [];
  const changes: Change[][] = [];
  const digests = new Map<MemTable, TableDigest>();
  // rows are encoded together once the batch is resolved (encodeValues): the row puts wait in
  // kvOps for their value, the digests for the rows' hashes (a sum, so order does not matter)
  const puts: Array<{ type: 'put'; column: string; key: Uint8Array; value: Uint8Array }> = [];
  const putRows: Row[] = [];
  // the digest of each row put, as runs (a batch's puts are mostly one table's): the puts from
  // `putDigestFrom[r]` on, up to the next run's first, go to `putDigests[r]`
  const putDigests: TableDigest[] = [];
  const putDigestFrom: number[] = [];
  /** The run of {@link putDigests} the next {@link fill} starts in. */
  let fillRun = 0;
  const oldRows: Row[] = [];
  const oldKeys: Uint8Array[] = [];
  const oldDigests: TableDigest[] = [];
  const diskKeys = new DiskKeys();
  const sink = ctx.sink;
  /** Row puts whose values are encoded (and their ops sent to the sink, with every op before them). */
  let encoded = 0;
  let sentOps = 0;
  /** The stored CRC of each row put (by index in `puts`), for {@link crcs} (a flush of many rows leaves them as one segment). */
  const putCrcs: number[] = [];
  const fill = (): void => {
    const values = encodeValues(putRows, encoded);
    let r = fillRun;
    let dg = putDigests[r]!;
    let next = r + 1 < putDigestFrom.length ? putDigestFrom[r + 1]! : puts.length;
    for (let i = encoded; i < puts.length; i++) {
      while (i >= next) {
        dg = putDigests[++r]!;
        next = r + 1 < putDigestFrom.length ? putDigestFrom[r + 1]! : puts.length;
      }
      const put = puts[i]!;
      const v = values[i - encoded]!;
      put.value = v;
      const c = storedCrc(v);
      dg.sum = (dg.sum + rowHashOf(crc32(put.key), c)) >>> 0;
      putCrcs.push(c);
    }
    fillRun = r;
    encoded = puts.length;
  };
  let sync = false;
  let seq = ctx.commitSeq;
  const logged: string[] = [];
  // one closure for the whole batch (not one per commit): `cs` is the current commit's changes
  let cs: Change[] = [];
  const record = (mem: MemTable, rowKey: string, row: Row | null): void => {
    const t = touchedOf(mem);
    let prior: Row | null | undefined;
    let old: Row | undefined;
    // an append (after the table's last key and every key this batch touched) is in neither:
    // no lookup in the (large) row map, and it joins the batch's run instead of the map
    const append = row !== null && (t.max === undefined || rowKey > t.max) && mem.order.isAfterLast(rowKey) && mem.def.type !== 'bag';
    if (!append) {
      prior = priorOf(t, rowKey);
      old = prior !== undefined ? (prior ?? undefined) : mem.order.isAfterLast(rowKey) ? undefined : mem.rows.get(rowKey);
      if (!row && !old && (mem.corrupt.size === 0 || !mem.corrupt.has(rowKey))) return;
    }
    // a corrupt row still on disk (first touch in this batch): its stored bytes leave the digest
    const corruptHash = !old && mem.corruptHash.size > 0 && prior === undefined ? mem.corruptHash.get(rowKey) : undefined;
    // one object per row change: the change applied after the write is also the run's entry
    const change: Change = { mem, rowKey, row, old, idx: undefined };
    if (append) t.run.push(change);
    else t.o.set(rowKey, row);
    if (t.max === undefined || rowKey > t.max) t.max = rowKey;
    cs.push(change);
    if (mem.def.storage !== 'disc') return;
    if (mem.def.durability === 'sync') sync = true;
    const id = mem.def.id;
    const indexes = mem.def.indexes;
    const idx: Entries | undefined = indexes.length > 0 ? (change.idx = { old, idxAttrs: indexes, oldIdx: undefined, newIdx: undefined }) : undefined;
    if (mem.corruptIndex.size > 0) for (const [a, e] of mem.corruptIndex.get(rowKey) ?? []) kvOps.push({ type: 'del', column: 'idx', key: diskKeys.index(id, a, e) });
    if (old && idx !== undefined) {
      // each entry encoded once: for the disk's key here, for RAM's index at the apply
      const entries: Array<string | undefined> = new Array(indexes.length);
      for (let i = 0; i < indexes.length; i++) {
        const a = indexes[i]!;
        const e = (entries[i] = mem.indexEntry(a, old, rowKey));
        if (e !== undefined) kvOps.push({ type: 'del', column: 'idx', key: diskKeys.index(id, a, e) });
      }
      idx.oldIdx = entries;
    }
    // the table digest follows the rows (integrity.ts): out with the old, in with the new
    const diskKey = diskKeys.row(id, rowKey);
    let dg = lastDigest;
    if (dg === undefined) digests.set(mem, (dg = lastDigest = { ...(ctx.digestOf?.(mem) ?? mem.digest) }));
    if (old) {
      dg.count--;
      // a row this process wrote leaves by the CRC its write computed; others are encoded
      const c = crcs.take(old);
      if (c !== undefined) dg.sum = (dg.sum - rowHashOf(crc32(diskKey), c)) >>> 0;
      else {
        oldRows.push(old);
        oldKeys.push(diskKey);
        oldDigests.push(dg);
      }
    } else if (corruptHash !== undefined) {
      dg.count--;
      dg.sum = (dg.sum - corruptHash) >>> 0;
    }
    if (row) {
      dg.count++;
      const put = { type: 'put' as const, column: 'rows', key: diskKey, value: NO_VALUE };
      kvOps.push(put);
      if (putDigests.length === 0 || putDigests[putDigests.length - 1] !== dg) {
        putDigestFrom.push(puts.length);
        putDigests.push(dg);
      }
      puts.push(put);
      putRows.push(row);
      if (idx !== undefined) {
        const entries: Array<string | undefined> = new Array(indexes.length);
        for (let i = 0; i < indexes.length; i++) {
          const a = indexes[i]!;
          const e = (entries[i] = mem.indexEntry(a, row, rowKey));
          if (e !== undefined) kvOps.push({ type: 'put', column: 'idx', key: diskKeys.index(id, a, e), value: INDEX_MARK });
        }
        idx.newIdx = entries;
      }
    } else {
      kvOps.push({ type: 'del', column: 'rows', key: diskKey });
    }
  };
  for (const p of batch) {
    cs = [];
    if (p.replaceTables !== undefined) for (const t of p.replaceTables) {
      const mem = ctx.table(t);
      for (const rk of mem.order.scan()) record(mem, rk, null);
    }
    let durable = false;
    for (let i = 0; i < p.ops.length; i++) {
      const op = p.ops[i]!;
      const mem = ctx.table(op.table);
      durable ||= mem.def.storage === 'disc';
      const encKey = p.encKeys[i]!;
      if (op.op === 'put') {
        const row = op.value!;
        const rk = mem.def.type === 'bag' ? mem.rowKeyOf(row) : encKey;
        if (mem.def.type !== 'bag') record(mem, rk, row);
        else if (!current(mem, rk)) record(mem, rk, row);
      } else if (op.value && mem.def.type === 'bag') {
        record(mem, mem.rowKeyOf(op.value), null);
      } else if (mem.def.type !== 'bag') {
        record(mem, encKey, null);
      } else {
        for (const rk of rowKeysOf(mem, encKey)) record(mem, rk, null);
      }
      if (sink !== undefined && puts.length - encoded >= STREAM_ROWS) {
        fill();
        sink(kvOps, sentOps, kvOps.length);
        sentOps = kvOps.length;
      }
    }
    changes.push(cs);
    if (durable || (p.extra?.length ?? 0) > 0) {
      seq++;
      // the change log records which keys each commit touched (the rows hold the values)
      logged.push(logEntryJson(seq, p.ops, isDisc));
    }
    if (p.extra && p.extra.length > 0) {
      kvOps.push(...p.extra);
      // A replicated apply's position follows its tables' durability: lost together with the
      // rows it belongs to (one WriteBatch), they are re-applied from the stream.
      if (!p.applied) sync = true;
    }
  }
  // the rows' values, all at once (or those left after the pieces); each row's hash joins its table's digest
  fill();
  if (puts.length <= CRC_SEGMENT_FROM) {
    for (let i = 0; i < putRows.length; i++) if (Object.isFrozen(putRows[i])) crcs.remember(putRows[i]!, putCrcs[i]!);
  } else crcs.rememberMany(putRows, putCrcs);
  // the last rows go now: the worker puts them while the change-log record is built
  if (sink !== undefined && kvOps.length > sentOps) {
    sink(kvOps, sentOps, kvOps.length);
    sentOps = kvOps.length;
  }
  // the rows replaced or deleted leave the digests with the hash of their stored bytes
  const olds = encodeValues(oldRows);
  for (let i = 0; i < olds.length; i++) {
    const dg = oldDigests[i]!;
    dg.sum = (dg.sum - rowHash(oldKeys[i]!, olds[i]!)) >>> 0;
  }
  // one change-log record per batch (not per commit: a record is a JSON encode, a CRC and a
  // RocksDB put); records whose last commit is more than `changeLogLimit` commits old go
  let logPruned = 0;
  if (logged.length > 0) {
    kvOps.push({ type: 'put', column: 'log', key: logKey(seq), value: encodeJson(logRecordJson(logged, ctx.schemaVersion)) });
    while (logPruned < ctx.logSeqs.length && ctx.logSeqs[logPruned]! <= seq - ctx.changeLogLimit) kvOps.push({ type: 'del', column: 'log', key: logKey(ctx.logSeqs[logPruned++]!) });
  }
  for (const [mem, dg] of digests) kvOps.push({ type: 'put', column: 'meta', key: digestKey(mem.def.id), value: encodeValue(dg) });
  // the commit sequence, sealed in every column family (see integrity.ts)
  if (seq !== ctx.commitSeq) kvOps.push(...sealOps(seq));
  return { kvOps, changes, sync, seq, digests, logPruned, logAdded: logged.length > 0 ? seq : 0, streamed: sentOps };

  function isDisc(table: string): boolean {
    return ctx.table(table).def.storage === 'disc';
  }
}

/** Placeholder value of a row put until the batch's rows are encoded. */
const NO_VALUE = new Uint8Array(0);

/**
 * What one batch did to one table so far. Rows put or deleted by row key (`null`: deleted) in
 * `o`; appends — keys after the table's last one and after every key the batch touched before,
 * the shape of a bulk load — in `run`/`runRows` instead (ascending by construction), so a
 * 1000-row append costs no map of 1000 entries.
 */
interface Touched {
  readonly o: Map<string, Row | null>;
  /** The appends' changes, in ascending row key order. */
  readonly run: Change[];
  /** The greatest row key touched in this batch. */
  max: string | undefined;
}

/** What the batch left under `rk` so far: a row, `null` (deleted), or `undefined` (not touched). */
function priorOf(t: Touched, rk: string): Row | null | undefined {
  const p = t.o.get(rk);
  if (p !== undefined) return p;
  const run = t.run;
  if (run.length === 0 || rk < run[0]!.rowKey || rk > run[run.length - 1]!.rowKey) return undefined;
  let lo = 0;
  let hi = run.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (run[mid]!.rowKey < rk) lo = mid + 1;
    else hi = mid;
  }
  return run[lo]!.rowKey === rk ? run[lo]!.row : undefined;
}
