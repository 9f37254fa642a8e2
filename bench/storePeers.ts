/**
 * The store against what a user would otherwise pick for durable local tables (issue 13):
 * `better-sqlite3` (12.x, WAL mode) and `lmdb`, the same work through each one's public API, in
 * one process, sides rotating round by round, at stated equal durability:
 *
 * | Ordo table durability | SQLite (WAL)          | lmdb                 | what a crash keeps |
 * |---|---|---|---|
 * | `sync`                | `synchronous = FULL`  | default (synced)     | every acknowledged commit, also on power loss |
 * | `async`               | `synchronous = NORMAL`| `noSync: true`       | every acknowledged commit on a process crash; the last moments may go on power loss |
 *
 * Work: 100,000 users (the seed's `user_bux_points`: id, wallet, balance, updated_at, an index
 * on the balance); point reads of random users; the top 100 by balance (an index range);
 * read-modify-write transactions from 64 concurrent writers; bulk loads of 1000-row batches.
 * SQLite and lmdb are used the way their users use them: SQLite's `db.transaction(fn)()` per
 * transaction (synchronous; it cannot group commits across callers by itself), lmdb's
 * asynchronous `db.transaction(fn)` (which batches concurrent transactions into one commit, as
 * Ordo's group commit does). Mnesia's published figures (seed `000_…`) are a reference row.
 *
 * Run: `npm run bench -- storePeers` or `node --import tsx bench/storePeers.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import Database from 'better-sqlite3';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { createRealEnv } from '../src/env/index.ts';
import { openStore } from '../src/store/openStore.ts';
import type { Store } from '../src/store/store.ts';
import type { TableDef } from '../src/store/types.ts';
import { type BenchResult, isMain, load1, median, now, printResults } from './lib.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const N = 100_000;
const READS = 500_000;
const RANGES = 20_000;
const WRITERS = 64;
const TX = 3200;
const BULK_BATCHES = 50;
const BULK = 1000;

type Durability = 'sync' | 'async';
interface User {
  user_id: string;
  user_smart_wallet: string;
  bux_balance: number;
  updated_at: number;
}
const userId = (i: number): string => `user-${String(i).padStart(7, '0')}`;
const user = (i: number): User => ({ user_id: userId(i), user_smart_wallet: `0x${(i * 2654435761).toString(16).padStart(12, '0')}`, bux_balance: (i * 7919) % 100_000, updated_at: 1_700_000_000_000 + i });
const usersDef = (durability: Durability): TableDef => ({
  type: 'ordered_set',
  key: 'user_id',
  attributes: { user_id: { type: 'string' }, user_smart_wallet: { type: 'string', default: '' }, bux_balance: { type: 'integer', default: 0 }, updated_at: { type: 'integer', default: 0 } },
  indexes: ['bux_balance'],
  durability,
});
// every row once per N reads, in a scattered order (7919 is prime to N): a store whose point
// reads cache hot keys then holds them all, as large a map as the baseline's
const readKeys: string[] = JSON.parse(JSON.stringify(Array.from({ length: N }, (_, i) => userId((i * 7919) % N))));

/** One side: the same five operations, each returning operations per second. */
interface Side {
  name: string;
  /** The figures this side is measured on (default: all). */
  ops?: readonly Op[];
  pointReads(): number;
  topByBalance(): number;
  txWrites(): Promise<number>;
  bulkLoad(round: number): Promise<number>;
  close(): Promise<void> | void;
}

async function ordoSide(dir: string, durability: Durability): Promise<Side> {
  const env = createRealEnv({ logger: pino({ level: 'silent' }) });
  const store: Store = await openStore({ env, dir, tables: { users: usersDef(durability), bulk: { ...usersDef(durability), indexes: [] } } });
  for (let i = 0; i < N; i += 10_000) await store.dirtyPutMany('users', Array.from({ length: 10_000 }, (_, j) => user(i + j) as unknown as Record<string, unknown>));
  let bulkId = 0;
  return {
    name: 'Ordo',
    pointReads() {
      let hits = 0;
      const t0 = now();
      for (let i = 0; i < READS; i++) if (store.get('users', readKeys[i % N]!)) hits++;
      const ops = READS / ((now() - t0) / 1000);
      if (hits !== READS) throw new Error('ordo: point read missed');
      return ops;
    },
    topByBalance() {
      const t0 = now();
      for (let i = 0; i < RANGES; i++) if (store.indexRange('users', 'bux_balance', undefined, undefined, { reverse: true, limit: 100 }).length !== 100) throw new Error('ordo: short range');
      return RANGES / ((now() - t0) / 1000);
    },
    async txWrites() {
      let next = 0;
      const t0 = now();
      await Promise.all(
        Array.from({ length: WRITERS }, async () => {
          while (next < TX) {
            const k = userId((next++ * 104_729) % N);
            await store.transaction((tx) => {
              const u = tx.get('users', k) as unknown as User;
              tx.put('users', { ...u, bux_balance: u.bux_balance + 1 } as unknown as Record<string, unknown>);
            });
          }
        }),
      );
      return TX / ((now() - t0) / 1000);
    },
    async bulkLoad() {
      const t0 = now();
      for (let b = 0; b < BULK_BATCHES; b++) await store.dirtyPutMany('bulk', Array.from({ length: BULK }, () => user(bulkId++) as unknown as Record<string, unknown>));
      return (BULK_BATCHES * BULK) / ((now() - t0) / 1000);
    },
    close: () => store.close(),
  };
}

/**
 * SQLite in WAL mode. `coalesced`: the 64 writers' read-modify-writes that are waiting are run
 * in one transaction and acknowledged together once it commits (one fsync for all, at FULL) —
 * the same batching as the store's group commit, coalesced by hand; otherwise each call is its
 * own transaction and fsync, as better-sqlite3 code is usually written (context).
 */
function sqliteSide(dir: string, durability: Durability, coalesced = false): Side {
  const db = new Database(join(dir, 'db.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'sync' ? 'FULL' : 'NORMAL'}`);
  for (const t of ['users', 'bulk']) {
    db.exec(`CREATE TABLE ${t} (user_id TEXT PRIMARY KEY, user_smart_wallet TEXT NOT NULL, bux_balance INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID`);
  }
  db.exec('CREATE INDEX users_bux ON users (bux_balance)');
  const insert = (t: string) => db.prepare(`INSERT OR REPLACE INTO ${t} (user_id, user_smart_wallet, bux_balance, updated_at) VALUES (@user_id, @user_smart_wallet, @bux_balance, @updated_at)`);
  const insUsers = insert('users');
  const insBulk = insert('bulk');
  const load = db.transaction((rows: User[], ins: Database.Statement) => {
    for (const r of rows) ins.run(r);
  });
  for (let i = 0; i < N; i += 10_000) load(Array.from({ length: 10_000 }, (_, j) => user(i + j)), insUsers);
  const get = db.prepare('SELECT * FROM users WHERE user_id = ?');
  const top = db.prepare('SELECT * FROM users ORDER BY bux_balance DESC LIMIT 100');
  const bumpOne = (k: string): void => {
    const u = get.get(k) as User;
    insUsers.run({ ...u, bux_balance: u.bux_balance + 1 });
  };
  const bump = db.transaction(bumpOne);
  const bumpAll = db.transaction((ks: readonly string[]) => {
    for (const k of ks) bumpOne(k);
  });
  // coalesced: the calls waiting now, in one transaction at the next turn (as a group commit)
  let waiting: Array<{ k: string; done: () => void }> = [];
  const flush = (): void => {
    const w = waiting;
    waiting = [];
    bumpAll(w.map((x) => x.k));
    for (const x of w) x.done();
  };
  const bumpCoalesced = (k: string): Promise<void> =>
    new Promise((done) => {
      if (waiting.push({ k, done }) === 1) setImmediate(flush);
    });
  let bulkId = 0;
  return {
    name: `SQLite WAL ${durability === 'sync' ? 'FULL' : 'NORMAL'}${coalesced ? ', commits coalesced by hand' : ''}`,
    ...(coalesced ? { ops: ['txWrites'] as const } : {}),
    pointReads() {
      let hits = 0;
      const n = READS / 10; // SQLite reads are ~10× slower: fewer, same per-op figure
      const t0 = now();
      for (let i = 0; i < n; i++) if (get.get(readKeys[i % N]!)) hits++;
      const ops = n / ((now() - t0) / 1000);
      if (hits !== n) throw new Error('sqlite: point read missed');
      return ops;
    },
    topByBalance() {
      const n = RANGES / 10;
      const t0 = now();
      for (let i = 0; i < n; i++) if (top.all().length !== 100) throw new Error('sqlite: short range');
      return n / ((now() - t0) / 1000);
    },
    async txWrites() {
      // 64 concurrent callers; each transaction runs synchronously when its turn comes (or,
      // coalesced, waits for the one that carries every call waiting at the next turn)
      let next = 0;
      const t0 = now();
      await Promise.all(
        Array.from({ length: WRITERS }, async () => {
          while (next < TX) {
            const k = userId((next++ * 104_729) % N);
            if (coalesced) await bumpCoalesced(k);
            else {
              bump(k);
              await Promise.resolve();
            }
          }
        }),
      );
      return TX / ((now() - t0) / 1000);
    },
    async bulkLoad() {
      const t0 = now();
      for (let b = 0; b < BULK_BATCHES; b++) load(Array.from({ length: BULK }, () => user(bulkId++)), insBulk);
      return (BULK_BATCHES * BULK) / ((now() - t0) / 1000);
    },
    close: () => void db.close(),
  };
}

async function lmdbSide(dir: string, durability: Durability): Promise<Side> {
  // synced: overlappingSync off — with it (lmdb's default on Linux) a transaction's promise
  // resolves at commit and the flush to disk follows, so an acknowledged write is not yet durable
  const root: RootDatabase = openLmdb({ path: join(dir, 'lmdb'), noSync: durability === 'async', overlappingSync: false, compression: false });
  const users = root.openDB<User, string>('users', {});
  // lmdb has no secondary indexes: the user keeps one, [balance, id] → null, in the same txn
  const byBalance = root.openDB<null, [number, string]>('users_bux', {});
  const bulk = root.openDB<User, string>('bulk', {});
  for (let i = 0; i < N; i += 10_000) {
    await root.transaction(() => {
      for (let j = i; j < i + 10_000; j++) {
        const u = user(j);
        void users.put(u.user_id, u);
        void byBalance.put([u.bux_balance, u.user_id], null);
      }
    });
  }
  let bulkId = 0;
  return {
    name: `lmdb ${durability === 'sync' ? 'synced' : 'noSync'}`,
    pointReads() {
      let hits = 0;
      const t0 = now();
      for (let i = 0; i < READS; i++) if (users.get(readKeys[i % N]!)) hits++;
      const ops = READS / ((now() - t0) / 1000);
      if (hits !== READS) throw new Error('lmdb: point read missed');
      return ops;
    },
    topByBalance() {
      const t0 = now();
      for (let i = 0; i < RANGES; i++) {
        let n = 0;
        for (const { key } of byBalance.getRange({ reverse: true, limit: 100 })) if (users.get(key[1])) n++;
        if (n !== 100) throw new Error('lmdb: short range');
      }
      return RANGES / ((now() - t0) / 1000);
    },
    async txWrites() {
      let next = 0;
      const t0 = now();
      await Promise.all(
        Array.from({ length: WRITERS }, async () => {
          while (next < TX) {
            const k = userId((next++ * 104_729) % N);
            await root.transaction(() => {
              const u = users.get(k)!;
              void byBalance.remove([u.bux_balance, k]);
              void users.put(k, { ...u, bux_balance: u.bux_balance + 1 });
              void byBalance.put([u.bux_balance + 1, k], null);
            });
          }
        }),
      );
      return TX / ((now() - t0) / 1000);
    },
    async bulkLoad() {
      const t0 = now();
      for (let b = 0; b < BULK_BATCHES; b++) {
        await root.transaction(() => {
          for (let j = 0; j < BULK; j++) {
            const u = user(bulkId++);
            void bulk.put(u.user_id, u);
          }
        });
      }
      return (BULK_BATCHES * BULK) / ((now() - t0) / 1000);
    },
    close: () => root.close(),
  };
}

/** A plain `Map` of the same frozen rows: the floor for a RAM read. */
function mapReads(): number {
  const m = new Map<string, User>();
  // flat strings and frozen rows, as the store holds them (a template-literal key is a cons
  // string, slower to compare: that would flatter the store)
  for (let i = 0; i < N; i++) {
    const u = Object.freeze(JSON.parse(JSON.stringify(user(i))) as User);
    m.set(u.user_id, u);
  }
  let hits = 0;
  const t0 = now();
  for (let i = 0; i < READS; i++) if (m.get(readKeys[i % N]!)) hits++;
  const ops = READS / ((now() - t0) / 1000);
  if (hits !== READS) throw new Error('map missed');
  return ops;
}

type Op = 'pointReads' | 'topByBalance' | 'txWrites' | 'bulkLoad';
const OPS: Op[] = ['pointReads', 'topByBalance', 'txWrites', 'bulkLoad'];

async function measure(durability: Durability): Promise<{ sides: string[]; runs: Map<string, Map<Op, number[]>>; map: number[]; loads: number[] }> {
  const root = mkdtempSync(join(tmpdir(), 'ordo-bench-peers-'));
  try {
    const sides: Side[] = [];
    sides.push(await ordoSide(join(root, 'ordo'), durability));
    sides.push(sqliteSide(mkdtempSync(join(root, 'sqlite-')), durability));
    sides.push(sqliteSide(mkdtempSync(join(root, 'sqlite-coalesced-')), durability, true));
    sides.push(await lmdbSide(mkdtempSync(join(root, 'lmdb-')), durability));
    const runs = new Map(sides.map((s) => [s.name, new Map<Op, number[]>(OPS.map((o) => [o, []]))]));
    const map: number[] = [];
    const loads: number[] = [];
    // warm-up round (JIT), not recorded (stated as `warmups: 1` on every figure)
    const does = (s: Side, op: Op): boolean => s.ops === undefined || s.ops.includes(op);
    for (const s of sides) {
      if (does(s, 'pointReads')) s.pointReads();
      if (does(s, 'topByBalance')) s.topByBalance();
      await s.txWrites();
    }
    for (let round = 0; round < RUNS; round++) {
      for (const op of OPS) {
        for (let k = 0; k < sides.length; k++) {
          const s = sides[(round + k) % sides.length]!;
          if (!does(s, op)) continue;
          const v = op === 'pointReads' ? s.pointReads() : op === 'topByBalance' ? s.topByBalance() : op === 'txWrites' ? await s.txWrites() : await s.bulkLoad(round);
          runs.get(s.name)!.get(op)!.push(v);
        }
        if (op === 'pointReads') map.push(mapReads());
      }
      loads.push(load1());
    }
    for (const s of sides) await s.close();
    return { sides: sides.map((s) => s.name), runs, map, loads };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const LABEL: Record<Op, string> = {
  pointReads: 'point read (one user by key)',
  topByBalance: 'index range: top 100 users by balance',
  txWrites: `read-modify-write transactions, ${WRITERS} concurrent writers`,
  bulkLoad: `bulk load, ${BULK}-row batches`,
};

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const durability of ['sync', 'async'] as const) {
    const { sides, runs, map, loads } = await measure(durability);
    const loadavg = median(loads);
    const command = 'node --import tsx bench/storePeers.ts';
    const ordo = runs.get('Ordo')!;
    for (const op of OPS) {
      if (durability === 'async' && (op === 'pointReads' || op === 'topByBalance')) continue; // reads do not depend on durability
      const mine = ordo.get(op)!;
      for (const peer of sides.filter((s) => s !== 'Ordo')) {
        const theirs = runs.get(peer)!.get(op)!;
        if (theirs.length === 0) continue; // a side measured on some figures only
        // the target's baseline: SQLite at equal durability AND the same batching (coalesced by hand)
        const target = op === 'txWrites' && durability === 'sync' && peer.startsWith('SQLite') && peer.includes('coalesced');
        const ratios = mine.map((v, i) => v / theirs[i]!);
        const ratio = median(ratios);
        const isWrite = op === 'txWrites' || op === 'bulkLoad';
        out.push({
          name: `${LABEL[op]}${isWrite ? ` (${durability})` : ''}: Ordo vs ${peer}`,
          value: median(mine),
          unit: 'ops/s',
          baseline: { name: peer, value: median(theirs) },
          ratio,
          target: target ? 'ahead of SQLite at equal durability and batching (> 1×)' : 'report',
          met: target ? ratio > 1 : true,
          runs: ratios,
          warmups: op === 'bulkLoad' ? 0 : 1,
          loadavg,
          headline: durability === 'sync' || op === 'txWrites',
          command,
        });
      }
      if (op === 'pointReads') {
        const ratios = mine.map((v, i) => v / map[i]!);
        out.push({ name: `${LABEL[op]}: Ordo vs a plain Map of frozen rows`, value: median(mine), unit: 'ops/s', baseline: { name: 'Map.get', value: median(map) }, ratio: median(ratios), target: '≥ 0.5× Map', met: median(ratios) >= 0.5, runs: ratios, warmups: 1, loadavg, command });
      }
    }
  }
  // Mnesia (seed 000_…, its own published per-operation figures; not measured here)
  out.push({ name: 'reference, not measured: Mnesia per-operation figures from seed 000_3672b0fb21e0eb8d — dirty_read ~1 µs, transaction read ~10 µs, dirty_write ~10 µs, transaction write ~100 µs (waits for replication), index lookup ~10 µs', value: 0, unit: 'ref' });
  return out;
}

if (isMain(import.meta.url)) {
  printResults('Store vs peers', await run());
}
