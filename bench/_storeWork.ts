/**
 * The work of `bench/store.ts`: each function measures one side of one figure once and removes
 * its temp directory. The store and its fair baseline do the same work on the same rows:
 * - point reads: `store.get` vs `Map.get` on a `Map` of the same frozen rows (the RAM floor);
 * - synced transactions from 64 writers (group commit) vs raw `batch()` of 64 puts with
 *   `sync: true` — the same coalescing, by hand;
 * - unsynced 1000-row batches (`dirtyPutMany`, `async` table) vs raw 1000-put batches;
 * - open + load of N rows vs a raw scan that parses, freezes and puts every row in a `Map`.
 */
import { closeSync, fdatasync, fdatasyncSync, mkdtempSync, openSync, rmSync, write, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { RocksLevel } from '@nxtedition/rocksdb';
import type { Env } from '../src/env/index.ts';
import type { Store } from '../src/store/store.ts';
import type { KvAdapter } from '../src/env/kv.ts';
import type { TableDef } from '../src/store/types.ts';
import { now, oneRowTxWriters } from './lib.ts';
import { impl } from './_impl.ts';

const { createRealEnv, openStore } = await impl();

export const quietEnv = (): Env => createRealEnv({ logger: pino({ level: 'silent' }) });

/** A temp dir under the OS temp dir, and its removal. */
export function tmp(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-bench-store-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

export const users = (indexes: string[]): TableDef => ({
  type: 'ordered_set',
  key: 'user_id',
  attributes: { user_id: { type: 'string' }, user_smart_wallet: { type: 'string', default: '' }, bux_balance: { type: 'integer', default: 0 }, updated_at: { type: 'integer', default: 0 } },
  indexes,
  durability: 'async',
});
const plain = (durability: 'sync' | 'async'): TableDef => ({ key: 'id', attributes: { id: { type: 'integer' }, payload: { type: 'string' } }, durability });
export const row = (i: number): { user_id: string; user_smart_wallet: string; bux_balance: number; updated_at: number } => ({
  user_id: `user-${String(i).padStart(7, '0')}`,
  user_smart_wallet: `0x${(i * 2654435761).toString(16).padStart(12, '0')}`,
  bux_balance: (i * 7919) % 100_000,
  updated_at: 1_700_000_000_000 + i,
});

export interface RawDb {
  open(o: object): Promise<void>;
  close(): Promise<void>;
  get(k: Buffer): Promise<Buffer>;
  batch(): { put(k: Buffer, v: Buffer): void; write(o: { sync: boolean }): Promise<void> };
  iterator(o: object): { nextv(n: number): Promise<Array<[Buffer, Buffer]>>; close(): Promise<void> };
}

/** Raw RocksDB with buffer encodings, through the package's public API (the baseline). */
export async function rawDb(dir: string): Promise<{ db: RawDb; close: () => Promise<void> }> {
  const db = new RocksLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' }) as unknown as RawDb;
  await db.open({ createIfMissing: true });
  return { db, close: () => db.close() };
}

// ---- point and index reads (one store, one Map, one raw db, reused by every run) ----

export const READ_ROWS = 100_000;
// flat strings (as a request's key would be), the same ones for every side: every row once, in a
// scattered order (7919 is prime to READ_ROWS). All of them, not a hot few: `store.get` caches
// the keys it finds (MemTable.byKey), and a cache of 4,096 hot keys against a baseline Map of
// 100k rows would measure a small map against a large one (CPU caches), not the store's cost.
export const readKeys: string[] = JSON.parse(JSON.stringify(Array.from({ length: READ_ROWS }, (_, i) => `user-${String((i * 7919) % READ_ROWS).padStart(7, '0')}`)));
const readVals = readKeys.map((_, i) => (i * 7919 * 7919) % 100_000);
const N_KEYS = READ_ROWS;

/** The read fixture: a store of READ_ROWS users (1 index), a Map of the same frozen rows, raw RocksDB with the same rows as JSON. */
export async function readFixture(): Promise<{ store: Store; map: Map<string, object>; raw: RawDb; close: () => Promise<void> }> {
  const t = tmp();
  const store = await openStore({ env: quietEnv(), dir: t.dir + '/s', tables: { users: users(['bux_balance']) } });
  for (let i = 0; i < READ_ROWS; i += 10_000) await store.dirtyPutMany('users', Array.from({ length: 10_000 }, (_, j) => row(i + j)));
  // the baseline holds the very rows the store holds (frozen), under their own key strings
  const map = new Map<string, object>();
  for (const r of store.range('users')) map.set(r['user_id'] as string, r);
  const { db, close } = await rawDb(t.dir + '/raw');
  for (let i = 0; i < READ_ROWS; i += 10_000) {
    const b = db.batch();
    for (let j = i; j < i + 10_000; j++) {
      const r = row(j);
      b.put(Buffer.from(`r/${r.user_id}`), Buffer.from(JSON.stringify(r)));
      b.put(Buffer.from(`i/${String(r.bux_balance).padStart(6, '0')}/${r.user_id}`), Buffer.from([1]));
    }
    await b.write({ sync: false });
  }
  return { store, map, raw: db, close: async () => (await store.close(), await close(), t.done()) };
}

const SLICE = 100_000;
const SLICES = 20;
function getSlice(store: Store): number {
  let hits = 0;
  const t0 = now();
  for (let i = 0; i < SLICE; i++) if (store.get('users', readKeys[i % N_KEYS]!)) hits++;
  const ms = now() - t0;
  if (hits !== SLICE) throw new Error('point read missed');
  return ms;
}
function mapSlice(map: Map<string, object>): number {
  let hits = 0;
  const t0 = now();
  for (let i = 0; i < SLICE; i++) if (map.get(readKeys[i % N_KEYS]!)) hits++;
  const ms = now() - t0;
  if (hits !== SLICE) throw new Error('map read missed');
  return ms;
}
/**
 * `store.get` and `Map.get` (ops/s each), measured in 20 slices of 100k reads per side
 * alternating slice by slice (the order flipping every slice), so both see the same machine
 * state at a fine grain: on a shared machine a whole-run alternation still lets a neighbour's
 * burst fall on one side.
 */
export function getsVsMap(store: Store, map: Map<string, object>): { store: number; map: number } {
  let s = 0;
  let m = 0;
  for (let i = 0; i < SLICES; i++) {
    if (i % 2 === 0) {
      s += getSlice(store);
      m += mapSlice(map);
    } else {
      m += mapSlice(map);
      s += getSlice(store);
    }
  }
  return { store: (SLICE * SLICES) / (s / 1000), map: (SLICE * SLICES) / (m / 1000) };
}
/** `store.get` alone (ops/s). */
export function storeGets(store: Store): number {
  let ms = 0;
  for (let i = 0; i < SLICES; i++) ms += getSlice(store);
  return (SLICE * SLICES) / (ms / 1000);
}

/** Context only (the old "90.7×" headline): an async `db.get` + `JSON.parse` per read. */
export async function rawGets(db: RawDb): Promise<number> {
  const n = 20_000;
  const t0 = now();
  for (let i = 0; i < n; i++) JSON.parse((await db.get(Buffer.from(`r/${readKeys[i % N_KEYS]!}`))).toString());
  return n / ((now() - t0) / 1000);
}
export function storeIndexReads(store: Store): number {
  const n = 200_000;
  const t0 = now();
  for (let i = 0; i < n; i++) store.indexRead('users', 'bux_balance', readVals[i % N_KEYS]!);
  return n / ((now() - t0) / 1000);
}
/** An index the raw way: a second keyspace `balance/key` scanned by prefix, then a get per hit. */
export async function rawIndexReads(db: RawDb): Promise<number> {
  const n = 10_000;
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const p = `i/${String(readVals[i % N_KEYS]!).padStart(6, '0')}/`;
    const it = db.iterator({ gte: Buffer.from(p), lt: Buffer.from(p + '\xff') });
    const hits = await it.nextv(1000);
    await it.close();
    for (const [k] of hits) JSON.parse((await db.get(Buffer.from(`r/${k.toString().slice(p.length)}`))).toString());
  }
  return n / ((now() - t0) / 1000);
}

// ---- transactional writes from 64 writers ----

export const TX = 6400;
const WRITERS = 64;

/** 64 concurrent writers of one-row transactions; rows/s and the event-loop delay p99 (ms) meanwhile. */
export async function storeTx(durability: 'sync' | 'async', kv?: KvAdapter): Promise<{ ops: number; p99: number }> {
  const t = tmp();
  const store = await openStore({ env: quietEnv(), dir: t.dir + '/s', tables: { t: plain(durability) }, ...(kv ? { kv } : {}) });
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = now();
  await oneRowTxWriters(store, TX, WRITERS);
  const ops = TX / ((now() - t0) / 1000);
  h.disable();
  await store.close();
  t.done();
  return { ops, p99: h.percentile(99) / 1e6 };
}

/** The fair baseline: the same rows as raw `batch()`es of 64 puts (the group commit's coalescing, by hand). */
export async function rawTxBatches(sync: boolean): Promise<{ ops: number; p99: number }> {
  const t = tmp();
  const { db, close } = await rawDb(t.dir + '/raw');
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = now();
  for (let i = 0; i < TX; i += WRITERS) {
    const b = db.batch();
    for (let id = i; id < i + WRITERS; id++) b.put(Buffer.from(`t/${id}`), Buffer.from(JSON.stringify({ id, payload: `payload-${id}` })));
    await b.write({ sync });
    // the loop turns between batches, as it does between the store's flushes
    await new Promise<void>((r) => setImmediate(r));
  }
  const ops = TX / ((now() - t0) / 1000);
  h.disable();
  await close();
  t.done();
  return { ops, p99: h.percentile(99) / 1e6 };
}

/**
 * The strict watermark's floor (context, not a baseline): {@link rawTxBatches}' synced batches,
 * each followed in series by what the strict watermark adds before an acknowledgement — a
 * 64-byte slot written in place into a marker file and fdatasynced, through libuv's pool as the
 * store does. Two fdatasyncs in series and no other work: no store can acknowledge strict
 * synced commits faster on this disk with this coalescing.
 */
export async function rawTxBatchesWithMarker(): Promise<number> {
  const t = tmp();
  const { db, close } = await rawDb(t.dir + '/raw');
  const fd = openSync(t.dir + '/marker', 'w+');
  const slot = Buffer.alloc(64, 1);
  writeSync(fd, Buffer.alloc(128), 0, 128, 0);
  fdatasyncSync(fd);
  const mark = (epoch: number): Promise<void> =>
    new Promise((resolve, reject) => write(fd, slot, 0, slot.length, (epoch % 2) * 64, (err) => (err ? reject(err) : fdatasync(fd, (e) => (e ? reject(e) : resolve())))));
  const t0 = now();
  for (let i = 0; i < TX; i += WRITERS) {
    const b = db.batch();
    for (let id = i; id < i + WRITERS; id++) b.put(Buffer.from(`t/${id}`), Buffer.from(JSON.stringify({ id, payload: `payload-${id}` })));
    await b.write({ sync: true });
    await mark(i / WRITERS);
    await new Promise<void>((r) => setImmediate(r));
  }
  const ops = TX / ((now() - t0) / 1000);
  closeSync(fd);
  await close();
  t.done();
  return ops;
}

/** Context only (the old "7.9×" headline): sequential `sync: true` one-put batches. */
export async function rawSequentialSync(): Promise<number> {
  const t = tmp();
  const { db, close } = await rawDb(t.dir + '/raw');
  const n = 300;
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const b = db.batch();
    b.put(Buffer.from(`k${i}`), Buffer.from(JSON.stringify({ id: i, payload: `payload-${i}` })));
    await b.write({ sync: true });
  }
  const ops = n / ((now() - t0) / 1000);
  await close();
  t.done();
  return ops;
}

// ---- unsynced 1000-row batches ----

const BATCHES = 300;
const SIZE = 1000;
/** Rows written by one run of {@link storeBatches} or {@link rawBatches}. */
export const BATCH_ROWS = BATCHES * SIZE;

export async function storeBatches(kv?: KvAdapter): Promise<number> {
  const t = tmp();
  const store = await openStore({ env: quietEnv(), dir: t.dir + '/s', tables: { t: plain('async') }, ...(kv ? { kv } : {}) });
  const t0 = now();
  for (let b = 0; b < BATCHES; b++) await store.dirtyPutMany('t', Array.from({ length: SIZE }, (_, j) => ({ id: b * SIZE + j, payload: `payload-${b * SIZE + j}` })));
  const ops = (BATCHES * SIZE) / ((now() - t0) / 1000);
  await store.close();
  t.done();
  return ops;
}

/** Raw 1000-put batches; with `map`, also the RAM `Map` of frozen rows an app would keep to read at RAM speed (context). */
export async function rawBatches(map: boolean): Promise<number> {
  const t = tmp();
  const { db, close } = await rawDb(t.dir + '/raw');
  const ram = new Map<number, object>();
  const t0 = now();
  for (let b = 0; b < BATCHES; b++) {
    const batch = db.batch();
    const rows = Array.from({ length: SIZE }, (_, j) => ({ id: b * SIZE + j, payload: `payload-${b * SIZE + j}` }));
    for (const r of rows) {
      batch.put(Buffer.from(`t/${r.id}`), Buffer.from(JSON.stringify(r)));
      if (map) ram.set(r.id, Object.freeze(r));
    }
    await batch.write({ sync: false });
  }
  const ops = (BATCHES * SIZE) / ((now() - t0) / 1000);
  await close();
  t.done();
  return ops;
}

// ---- open + load ----

/** A store and a raw db holding the same `rows` users (written once, reopened by every run). */
export async function loadFixture(rows: number, indexes: string[]): Promise<{ storeDir: string; rawDir: string; done: () => void }> {
  const t = tmp();
  const store = await openStore({ env: quietEnv(), dir: t.dir + '/s', tables: { users: users(indexes) } });
  for (let i = 0; i < rows; i += 20_000) await store.dirtyPutMany('users', Array.from({ length: Math.min(20_000, rows - i) }, (_, j) => row(i + j)));
  await store.close();
  const { db, close } = await rawDb(t.dir + '/raw');
  for (let i = 0; i < rows; i += 20_000) {
    const b = db.batch();
    for (let j = i; j < Math.min(i + 20_000, rows); j++) b.put(Buffer.from(`r/${row(j).user_id}`), Buffer.from(JSON.stringify(row(j))));
    await b.write({ sync: false });
  }
  await close();
  return { storeDir: t.dir + '/s', rawDir: t.dir + '/raw', done: t.done };
}

/** Open + load into RAM: ms, and the heap the open store holds (MB, with --expose-gc). */
export async function storeLoad(dir: string, rows: number, indexes: string[]): Promise<{ ms: number; heapMb: number }> {
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const t0 = now();
  const store = await openStore({ env: quietEnv(), dir, tables: { users: users(indexes) }, expectExisting: true });
  const ms = now() - t0;
  global.gc?.();
  const heapMb = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
  if (store.count('users') !== rows) throw new Error('load lost rows');
  await store.close();
  return { ms, heapMb };
}

/**
 * The fair baseline: raw open + full scan that parses, freezes and puts every row in a `Map` by
 * key. As {@link storeLoad}: a collection before the clock starts (the other side's garbage is
 * not charged to this one), and the clock stops once the rows are loaded, before the close.
 */
export async function rawLoad(dir: string, rows: number): Promise<number> {
  global.gc?.();
  const t0 = now();
  const { db, close } = await rawDb(dir);
  const map = new Map<string, object>();
  const it = db.iterator({});
  let pending = it.nextv(4000);
  for (;;) {
    const c = await pending;
    if (c.length === 0) break;
    pending = it.nextv(4000);
    for (const [, v] of c) {
      const r = Object.freeze(JSON.parse(v.toString()) as { user_id: string });
      map.set(r.user_id, r);
    }
  }
  const ms = now() - t0;
  await it.close();
  await close();
  if (map.size !== rows) throw new Error('raw load lost rows');
  return ms;
}
