import type { KvAdapter, KvDb, KvOp } from '../env/kv.ts';
import { KvError, markAfterWal } from '../env/kv.ts';
import { faults } from '../env/faults.ts';
import { createMemoryKv } from './memoryKv.ts';
import type { Simulation } from './simulation.ts';

/** Options of {@link createSimKv}. */
export interface SimKvOptions {
  /** Virtual ms an operation takes before it completes (per op kind). Default 1 ms. */
  readonly latencyMs?: (op: 'open' | 'write' | 'get' | 'close', random: () => number) => number;
  /**
   * Models the strict durable watermark: a synced write with a `mark` is durable in the WAL
   * after its write latency (`onDurable` is called, the data is on the disk), then waits for its
   * mark, made durable this many virtual ms later (marks one at a time, in order; fault point
   * `kv.marker.fail`: this mark fails, refused with `durable: true`). Default: none (a write is
   * acknowledged with its data, `onDurable` never called).
   */
  readonly markLatencyMs?: (random: () => number) => number;
}

/** What the simulated disk can tell an oracle afterwards. */
export interface SimKvState {
  /** Every acknowledged put/del per directory, in order: `column\0hex(key)` → value hex (undefined: deleted). */
  readonly acked: Map<string, Map<string, string | undefined>>;
  /** Handles open now, per directory. */
  readonly openHandles: Map<string, number>;
}

/** The simulated KV adapter plus what the runner's oracles read afterwards. */
export interface SimKv extends KvAdapter {
  readonly state: SimKvState;
  /** The disk's content of `dir` (bypassing locks): `column\0hex(key)` → value hex. */
  snapshot(dir: string): Promise<Map<string, string>>;
  /**
   * The owner of `db` died (a crash, a kill): its lock goes at once, as the OS releases a dead
   * process's file lock. Unsynced state is not modelled: every acknowledged write is synced.
   */
  abandon(db: KvDb | undefined): void;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * The store's key-value engine in simulation: {@link createMemoryKv} (same contract as RocksDB)
 * with every completion scheduled on the simulation's timeline — an I/O completion is a
 * labelled decision point — and these fault points:
 * `kv.open.fail` (EIO at open), `kv.open.locked` (LOCK still held by a zombie),
 * `kv.open.slow` (slow recovery: delay), `kv.write.eio`, `kv.write.enospc` (the batch is not
 * applied), `kv.marker.fail` (with `markLatencyMs`), `kv.get.corrupt` (the value read has a flipped byte), `kv.close.slow` (delay).
 * Subjects are directories. Opens, closes and acknowledged writes go to the trace.
 *
 * @example
 * import { Simulation, createSimKv } from 'ordo/chaos';
 *
 * const sim = new Simulation({ seed: 1 });
 * const kv = createSimKv(sim);
 * const env = sim.createEnv({ kv }); // the store's RocksDB, simulated: completions ordered by the seed
 * console.log(env.io.kv === kv); // true
 */
export function createSimKv(sim: Simulation, options: SimKvOptions = {}): SimKv {
  const mem = createMemoryKv({ deferHops: 4 });
  const state: SimKvState = { acked: new Map(), openHandles: new Map() };
  const rnd = sim.streams.stream('kv.latency');
  const latency = (op: 'open' | 'write' | 'get' | 'close'): number => (options.latencyMs ? Math.max(0, options.latencyMs(op, rnd.next)) : 1);
  let handles = 0;
  const abandoners = new WeakMap<KvDb, () => void>();
  /** Runs `work` as the I/O completion scheduled `ms` from now (a decision point) and settles with it. */
  const complete = <T>(label: string, ms: number, work: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      sim.schedule(ms, 'io', label, () => void work().then(resolve, reject), -3);
    });
  return {
    state,
    async snapshot(dir) {
      const out = new Map<string, string>();
      const level = mem.disk.dbs.get(dir)?.level;
      if (!level) return out;
      for (const [k, v] of await level.iterator().all()) {
        const sep = k.indexOf(0);
        out.set(`${k.subarray(0, sep).toString('utf8')}\u0000${k.subarray(sep + 1).toString('hex')}`, v.toString('hex'));
      }
      return out;
    },
    abandon(db) {
      if (db) abandoners.get(db)?.();
    },
    exists: (dir) => mem.exists(dir),
    open(dir, o) {
      const others = state.openHandles.get(dir) ?? 0;
      sim.record('kv.open', { dir, othersOpen: others });
      const slow = faults.delayMs('kv.open.slow', dir);
      return complete(`io:kv.open:${dir}`, latency('open') + slow, async (): Promise<KvDb> => {
        if (faults.point('kv.open.fail', dir)) throw new KvError('io', `${dir}: EIO at open (simulated)`, dir);
        if (faults.point('kv.open.locked', dir)) throw new KvError('locked', `${dir}/LOCK: held by another process (simulated)`, dir);
        const db = await mem.open(dir, o);
        const id = ++handles;
        state.openHandles.set(dir, (state.openHandles.get(dir) ?? 0) + 1);
        sim.record('kv.opened', { dir, handle: id });
        let closed = false;
        // the marks in flight, one after another (the real marker file has one write in flight)
        let marking: Promise<void> = Promise.resolve();
        const mark = (): Promise<void> => {
          const markMs = Math.max(0, options.markLatencyMs!(rnd.next));
          const m = marking.then(() =>
            complete(`io:kv.mark:${dir}`, markMs, async () => {
              if (faults.point('kv.marker.fail', dir)) throw new KvError('io', `${dir}: EIO on the marker (simulated): the batch is durable, its mark is not`, dir, { durable: true });
              sim.record('kv.marked', { dir, handle: id });
            }),
          );
          marking = m.catch(() => undefined);
          return m;
        };
        const handle: KvDb = {
          dir,
          write(ops: readonly KvOp[], wo) {
            const wal = complete(`io:kv.write:${dir}`, latency('write'), async () => {
              if (faults.point('kv.write.eio', dir)) throw new KvError('io', `${dir}: EIO on write (simulated)`, dir);
              if (faults.point('kv.write.enospc', dir)) throw new KvError('io', `${dir}: ENOSPC on write (simulated)`, dir);
              await db.write(ops, wo);
              let acked = state.acked.get(dir);
              if (!acked) state.acked.set(dir, (acked = new Map()));
              for (const op of ops) acked.set(`${op.column}\u0000${hex(op.key)}`, op.type === 'put' ? hex(op.value) : undefined);
              sim.record('kv.ack', { dir, handle: id, ops: ops.length, sync: wo.sync });
            });
            if (options.markLatencyMs === undefined || !wo.sync || wo.mark === undefined) return wal;
            return wal.then(() => markAfterWal(wo, dir, mark));
          },
          get(column, key) {
            return complete(`io:kv.get:${dir}`, latency('get'), async () => {
              const v = await db.get(column, key);
              if (v && v.length > 0 && faults.point('kv.get.corrupt', dir)) {
                const bad = Buffer.from(v);
                bad[0] = bad[0]! ^ 0xff;
                return bad;
              }
              return v;
            });
          },
          iterator: (column, range) => db.iterator(column, range),
          close() {
            if (closed) return Promise.resolve();
            closed = true;
            const slowClose = faults.delayMs('kv.close.slow', dir);
            return complete(`io:kv.close:${dir}`, latency('close') + slowClose, async () => {
              await db.close();
              state.openHandles.set(dir, (state.openHandles.get(dir) ?? 1) - 1);
              sim.record('kv.closed', { dir, handle: id });
            });
          },
          defer: (fn) => db.defer(fn),
        };
        abandoners.set(handle, () => {
          if (closed) return;
          closed = true;
          void db.close();
          state.openHandles.set(dir, (state.openHandles.get(dir) ?? 1) - 1);
          sim.record('kv.closed', { dir, handle: id, abandoned: true });
        });
        return handle;
      });
    },
  };
}
