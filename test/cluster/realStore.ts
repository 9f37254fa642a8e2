/**
 * Real stores for the replicator tests: a RocksDB `Store` in a temp dir, with the tables the
 * tests replicate, plus what the tests observe (per-seq apply counts, a content hash). The
 * observation wraps `applyReplicated` and calls the real one; nothing is simulated.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { openStore, type Store } from '../../src/store/index.ts';
import type { CommitOp, Migration, Row, TableDef } from '../../src/store/types.ts';
import type { KvAdapter, KvOp } from '../../src/env/kv.ts';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import type { Env } from '../../src/env/env.ts';

/** The replicated tables of these tests. */
export const TABLES = ['users', 'orders'];

/** users/orders replicated (string key `id`, a json `v`), `secrets` local to each node. */
export const TABLE_DEFS: Record<string, TableDef> = {
  users: { key: 'id', attributes: { id: { type: 'string' }, v: { type: 'json', nullable: true } }, replicated: true },
  orders: { key: 'id', attributes: { id: { type: 'string' }, v: { type: 'json', nullable: true } }, replicated: true },
  secrets: { key: 'id', attributes: { id: { type: 'string' }, v: { type: 'json', nullable: true } } },
};

/** A real Store and what the tests watch of it. */
export interface TestStore {
  readonly store: Store;
  readonly dir: string;
  /** How many times each stream seq was applied (must stay ≤ 1). */
  readonly applyCount: Map<number, number>;
  /** Reopens the same directory (after `close`), keeping the counts; `schemaVersion` as newer code would. */
  reopen(extra?: { kv?: KvAdapter; schemaVersion?: number }): Promise<TestStore>;
  close(): Promise<void>;
}

function watch(store: Store, applyCount: Map<number, number>): void {
  const real = store.applyReplicated.bind(store);
  store.applyReplicated = async (batch, pos) => {
    const r = await real(batch, pos);
    if (r === 'applied') applyCount.set(pos.seq, (applyCount.get(pos.seq) ?? 0) + 1);
    return r;
  };
}

/** Opens a real RocksDB store in a fresh temp dir (or `opts.dir`). `schemaVersion` n adds no-op migrations 1..n. */
export async function openTestStore(env: Env, opts: { dir?: string; schemaVersion?: number; kv?: KvAdapter; migrations?: Migration[]; applyCount?: Map<number, number> } = {}): Promise<TestStore> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ordo-repl-test-'));
  const migrations: Migration[] = opts.migrations ?? Array.from({ length: opts.schemaVersion ?? 0 }, (_, i) => ({ version: i + 1, description: `v${i + 1}`, up: () => undefined }));
  const store = await openStore({ env, dir, tables: TABLE_DEFS, migrations, ...(opts.kv ? { kv: opts.kv } : {}) });
  const applyCount = opts.applyCount ?? new Map<number, number>();
  watch(store, applyCount);
  const t: TestStore = {
    store,
    dir,
    applyCount,
    reopen: (extra = {}) => openTestStore(env, { ...opts, dir, applyCount, ...extra }),
    close: () => store.close(),
  };
  return t;
}

/** Removes a test store's directory (after closing it). */
export function removeStoreDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** One op putting `{ id, v }` into `table`. */
export const put = (table: string, id: string, v: unknown = 0): CommitOp => ({ table, op: 'put', key: id, value: { id, v } as Row });

/** A content hash of the replicated tables, order-independent of how rows were written. */
export function contentHash(store: Store): string {
  const h = createHash('sha256');
  const snap = store.snapshot(TABLES);
  for (const t of TABLES) h.update(`#${t}\n${JSON.stringify(snap.tables[t])}\n`);
  return h.digest('hex');
}

/**
 * The real RocksDB adapter with a switch: while `failing` is set, every `write` rejects as a
 * dying disk would (`EIO`) and nothing is written; `hold()` parks the next write until released.
 */
export interface FlakyKv {
  readonly kv: KvAdapter;
  failing: boolean;
  /** Writes attempted while failing. */
  readonly failed: number;
  /** The next write waits until the returned function is called (with `fail` it then rejects). */
  hold(): (outcome: 'write' | 'fail') => void;
  /** Resolves when a held write has been issued. */
  held(): Promise<void>;
}

export function flakyKv(): FlakyKv {
  const real = createRocksKv();
  let failed = 0;
  let gate: { issued: () => void; issuedP: Promise<void>; release: Promise<'write' | 'fail'> } | undefined;
  let onIssued: Promise<void> = Promise.resolve();
  const f: FlakyKv = {
    failing: false,
    get failed() {
      return failed;
    },
    hold() {
      let release!: (o: 'write' | 'fail') => void;
      let issued!: () => void;
      const issuedP = new Promise<void>((r) => (issued = r));
      onIssued = issuedP;
      gate = { issued, issuedP, release: new Promise((r) => (release = r)) };
      return release;
    },
    held: () => onIssued,
    kv: {
      exists: (d) => real.exists(d),
      async open(d, o) {
        const db = await real.open(d, o);
        const write = async (ops: readonly KvOp[], w: { readonly sync: boolean }): Promise<void> => {
          const g = gate;
          gate = undefined;
          if (g) {
            g.issued();
            if ((await g.release) === 'fail') throw new Error('EIO: i/o error (held write failed)');
          }
          if (f.failing) {
            failed++;
            throw new Error('EIO: i/o error');
          }
          return db.write(ops, w);
        };
        return new Proxy(db, {
          get: (target, k) => {
            if (k === 'write') return write;
            const v: unknown = Reflect.get(target, k, target);
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
      },
    },
  };
  return f;
}
