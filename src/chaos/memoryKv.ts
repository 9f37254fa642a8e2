import { MemoryLevel } from 'memory-level';
import type { KvAdapter, KvDb, KvIterator, KvOp, KvOpenOptions, KvRange } from '../env/kv.ts';
import { KvError } from '../env/kv.ts';

/**
 * One database "directory" on a simulated disk. Its `memory-level` instance is made at the
 * first read or write, not at open: most simulated runs open a database and never touch its
 * data, and an instance costs more than the rest of an open (a chaos run makes one per run).
 */
interface SimDir {
  level: MemoryLevel<Buffer, Buffer> | undefined;
}

/** One simulated disk: the surviving bytes of every database "directory" opened on it. */
interface SimDisk {
  readonly dbs: Map<string, SimDir>;
  readonly open: Set<string>;
}

const newLevel = (): MemoryLevel<Buffer, Buffer> => new MemoryLevel<Buffer, Buffer>({ keyEncoding: 'buffer', valueEncoding: 'buffer' });

/** The directory's instance, made and opened on first use. */
async function levelOf(d: SimDir): Promise<MemoryLevel<Buffer, Buffer>> {
  if (d.level) return d.level;
  const level = newLevel();
  await level.open();
  return (d.level ??= level);
}

/** Options for {@link createMemoryKv}. */
export interface MemoryKvOptions {
  /**
   * Called before every write; throw to simulate a disk error (the batch is then not applied,
   * exactly like a failed RocksDB `Write`).
   */
  readonly beforeWrite?: (ops: readonly KvOp[]) => void;
  /** Microtask hops `defer` waits (the simulated "turn"). */
  readonly deferHops?: number;
}

const SEP = 0x00;

function prefixed(column: string, key: Uint8Array): Buffer {
  const c = Buffer.from(column, 'utf8');
  const out = Buffer.allocUnsafe(c.length + 1 + key.length);
  c.copy(out, 0);
  out[c.length] = SEP;
  out.set(key, c.length + 1);
  return out;
}

/**
 * A simulated key-value engine on `memory-level`, with RocksDB's contract: atomic multi-column
 * batches, memcmp key order, a per-directory lock, "directories" that survive close/reopen
 * within the process, and an injectable write fault. Used by the chaos engine and by tests
 * that need a disk that fails on demand.
 *
 * @example
 * import { createMemoryKv } from 'ordo/chaos';
 *
 * const kv = createMemoryKv({ beforeWrite: () => { throw new Error('EIO'); } }); // every write fails
 * const db = await kv.open('/data/store', { columns: ['rows'], createIfMissing: true });
 * const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
 * await db.write([{ type: 'put', column: 'rows', key: bytes('k'), value: bytes('v') }], { sync: true }).catch((e: unknown) => console.log(String(e))); // Error: EIO
 * await db.close();
 */
export function createMemoryKv(options: MemoryKvOptions = {}): KvAdapter & { readonly disk: SimDisk } {
  const disk: SimDisk = { dbs: new Map(), open: new Set() };
  const hops = options.deferHops ?? 16;
  return {
    disk,
    async exists(dir: string): Promise<boolean> {
      return disk.dbs.has(dir);
    },
    async open(dir: string, o: KvOpenOptions): Promise<KvDb> {
      let d = disk.dbs.get(dir);
      if (!d) {
        if (!o.createIfMissing) throw new KvError('missing', `${dir}: does not exist (createIfMissing is false)`, dir);
        disk.dbs.set(dir, (d = { level: undefined }));
      }
      if (disk.open.has(dir)) throw new KvError('locked', `${dir}/LOCK: held by another handle`, dir);
      disk.open.add(dir);
      const at = d;
      let closed = false;
      const check = (): void => {
        if (closed) throw new KvError('closed', 'database is closed', dir);
      };
      return {
        dir,
        async write(ops: readonly KvOp[]) {
          check();
          try {
            options.beforeWrite?.(ops);
          } catch (err) {
            throw new KvError('io', (err as Error).message, dir, { cause: err });
          }
          const db = at.level ?? (await levelOf(at)); // no extra await once it exists
          await db.batch(
            ops.map((op) =>
              op.type === 'put'
                ? { type: 'put' as const, key: prefixed(op.column, op.key), value: Buffer.from(op.value) }
                : { type: 'del' as const, key: prefixed(op.column, op.key) },
            ),
          );
        },
        async get(column, key) {
          check();
          const db = at.level ?? (await levelOf(at));
          return db.get(prefixed(column, key));
        },
        iterator(column: string, range: KvRange = {}): KvIterator {
          check();
          const lower = range.gte ? { gte: prefixed(column, range.gte) } : range.gt ? { gt: prefixed(column, range.gt) } : { gte: prefixed(column, Buffer.alloc(0)) };
          const end = Buffer.from(prefixed(column, Buffer.alloc(0)));
          end[end.length - 1] = SEP + 1;
          const upper = range.lte ? { lte: prefixed(column, range.lte) } : range.lt ? { lt: prefixed(column, range.lt) } : { lt: end };
          // synchronous: a fresh instance opens itself (abstract-level defers operations until it has)
          const db = (at.level ??= newLevel());
          const it = db.iterator({ ...lower, ...upper, reverse: range.reverse ?? false, limit: range.limit ?? -1 });
          const strip = Buffer.byteLength(column, 'utf8') + 1;
          return {
            async next(n) {
              const rows = await it.nextv(n, {});
              return rows.map(([k, v]) => [k.subarray(strip), v] as [Buffer, Buffer]);
            },
            close: () => it.close(),
          };
        },
        async close() {
          if (closed) return;
          closed = true;
          disk.open.delete(dir);
        },
        defer(fn) {
          let p: Promise<void> = Promise.resolve();
          for (let i = 0; i < hops; i++) p = p.then(() => undefined);
          void p.then(fn);
        },
      };
    },
  };
}
