/**
 * A real RocksDB store for the job runner's tests, on the virtual clock, whose writes the test
 * can refuse: `refuse(ops)` true makes that batch fail as an I/O error before anything of it is
 * written (`KvError('io')`, `durable: false`: a store outage at that moment). Every other batch,
 * and every read, is RocksDB's. The database lives in a temp directory removed by `dispose`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { KvError, type KvAdapter, type KvDb, type KvOp } from '../../src/env/kv.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestEnv, type TestEnv } from '../../src/env/env.ts';
import { JobRunner, jobTables, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { T0, effectTables } from './helpers.ts';

/** What the test decides of the next writes. */
export interface RocksControl {
  /** Refuse this batch (checked for each write of a batch of rows). */
  refuse: ((ops: readonly KvOp[]) => boolean) | undefined;
  /** Batches refused so far. */
  refused: number;
  /** Batches written or refused so far (all of them). */
  writes: number;
  /** Batches handed to RocksDB and not yet answered. */
  inflight: number;
  /** Resolves once no batch is in flight. */
  quiet(): Promise<void>;
}

/** The real adapter with each database's `write` going through `ctl` (the rest passed as it is, latency clock included). */
function refusable(inner: KvAdapter, ctl: RocksControl, waiters: Array<() => void>): KvAdapter {
  return {
    exists: (dir) => inner.exists(dir),
    ...(inner.canonical ? { canonical: (dir: string) => inner.canonical!(dir) } : {}),
    async open(dir, o) {
      const db = await inner.open(dir, o);
      const wrapped: KvDb = {
        dir: db.dir,
        marker: db.marker,
        latencyClock: db.latencyClock,
        ...(db.release ? { release: () => db.release!() } : {}),
        get: (c, k) => db.get(c, k),
        iterator: (c, r) => db.iterator(c, r),
        close: () => db.close(),
        defer: (fn) => db.defer(fn),
        write: async (ops, wo) => {
          ctl.writes++;
          if (ctl.refuse && ops.some((op) => op.column === 'rows') && ctl.refuse(ops)) {
            ctl.refused++;
            throw new KvError('io', 'EIO: write refused (test)', dir);
          }
          ctl.inflight++;
          try {
            return await db.write(ops, wo);
          } finally {
            if (--ctl.inflight === 0) for (const w of waiters.splice(0)) w();
          }
        },
      };
      return wrapped;
    },
  };
}

/** Whether a batch writes a row whose encoded key or value contains `text` (a job id, a cron entry name). */
export function writes(ops: readonly KvOp[], text: string): boolean {
  const needle = Buffer.from(text);
  return ops.some((op) => Buffer.from(op.key).includes(needle) || (op.type === 'put' && Buffer.from(op.value).includes(needle)));
}

/**
 * Advances the virtual clock by `ms` in steps of `stepMs`; after each step it lets what the
 * step set off settle — microtasks, and RocksDB's answers to the writes it started (real I/O,
 * awaited, never slept for) — so virtual time never runs ahead of a commit in flight.
 */
export async function runReal(env: TestEnv, ctl: RocksControl, ms: number, stepMs = 10): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    await env.clock.advance(Math.min(stepMs, ms - t));
    await quietly(env, ctl);
  }
}

/** Settles microtasks and the writes they start, until a round starts none and none is in flight. */
export async function quietly(env: TestEnv, ctl: RocksControl): Promise<void> {
  for (;;) {
    const before = ctl.writes;
    await env.clock.flush();
    await ctl.quiet();
    await env.clock.flush();
    if (ctl.writes === before && ctl.inflight === 0) return;
  }
}

/** Awaits `p` while moving the virtual clock (with {@link runReal}'s settling). */
export async function settleReal<T>(env: TestEnv, ctl: RocksControl, p: Promise<T>, stepMs = 100, maxMs = 600_000): Promise<T> {
  let done = false;
  const q = p.finally(() => void (done = true));
  for (let t = 0; !done && t < maxMs; t += stepMs) await runReal(env, ctl, stepMs, stepMs);
  return q;
}

/** Opens a job store on real RocksDB in a fresh temp directory. */
export async function rocksJobStore(env: TestEnv, name: string): Promise<{ store: Store; ctl: RocksControl; reopen(): Promise<Store>; dispose(): void }> {
  const root = mkdtempSync(join(tmpdir(), `ordo-jobs-${name}-`));
  const dir = join(root, 'store');
  const waiters: Array<() => void> = [];
  const ctl: RocksControl = { refuse: undefined, refused: 0, writes: 0, inflight: 0, quiet: () => (ctl.inflight === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))) };
  const kv = refusable(createRocksKv(), ctl, waiters);
  const tables = { ...jobTables(), ...effectTables };
  return {
    store: await openStore({ env, dir, kv, tables }),
    ctl,
    reopen: () => openStore({ env, dir, kv, tables, expectExisting: true }),
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** A job store on real RocksDB ({@link rocksJobStore}). */
export type RealJobStore = Awaited<ReturnType<typeof rocksJobStore>>;

/**
 * Runs `body` with a runner of `config` on a fresh real store (an Env at `T0` logging from
 * `warn`, its records kept); then stops the runner, closes the store and removes its directory.
 */
export async function onRealStore<T>(seed: number, name: string, config: JobRunnerConfig, body: (t: { env: TestEnv; s: RealJobStore; runner: JobRunner }) => Promise<T>): Promise<T> {
  const env = createTestEnv({ level: 'warn', startMs: T0, seed });
  const s = await rocksJobStore(env, name);
  const runner = await JobRunner.start({ env, store: s.store, config });
  try {
    return await body({ env, s, runner });
  } finally {
    await settleReal(env, s.ctl, runner.stop());
    await s.store.close();
    s.dispose();
  }
}
