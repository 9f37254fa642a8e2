import type { Clock } from './clock.ts';
import { createRealClock } from './clock.ts';
import type { Random } from './random.ts';
import { createRealRandom, createSeededRandom } from './random.ts';
import type { IdSource } from './ids.ts';
import { createIdSource } from './ids.ts';
import type { Logger, LogRecord } from './logger.ts';
import { createMemoryLogger, createRealLogger } from './logger.ts';
import type { FsAdapter } from './fs.ts';
import { createRealFs } from './fs.ts';
import type { ProcessAdapter } from './process.ts';
import { createRealProcess, createTestProcess } from './process.ts';
import type { VirtualClock } from './virtualClock.ts';
import type { KvAdapter } from './kv.ts';
import { createRocksKv } from './rocksdb.ts';
import { createVirtualClock } from './virtualClock.ts';
import type { NatsConnector } from './nats.ts';
import { createRealNatsConnector } from './nats.ts';
import { createRealResolver } from './resolver.ts';
import type { HttpAdapter } from './http.ts';
import { createRealHttp } from './http.ts';
import type { DeliveryScheduler } from './scheduler.ts';
import type { Resolver } from './resolver.ts';

/**
 * Everything an Ordo component may use to touch the outside world. Nothing in `src/` outside
 * `src/env/` reads the wall clock, timers, `Math.random`, the network or the disk directly:
 * it asks its `Env`. The chaos engine swaps each part for a simulated one.
 *
 * `io` holds the I/O adapters; subsystems add theirs (the store's key-value opener, the
 * cluster's NATS connector) as optional fields so a simulated Env can provide its own.
 */
export interface Env {
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly ids: IdSource;
  readonly io: IoAdapters;
  /**
   * Present only in simulation: orders cross-process deliveries (see {@link DeliveryScheduler}).
   * Production Envs have none and the kernel delivers at once.
   */
  readonly scheduler?: DeliveryScheduler;
}

/** I/O adapters handed out by an Env. Subsystems extend this with declaration merging. */
export interface IoAdapters {
  readonly fs: FsAdapter;
  readonly process: ProcessAdapter;
  /** Opens NATS connections (the cluster layer). Optional so simulated Envs may omit it. */
  readonly nats?: NatsConnector;
  /** The table store's key-value engine (RocksDB for real; `memory-level` in simulation). */
  readonly kv?: KvAdapter;
  /** Name resolution (the OS resolver for real; a table with faults in simulation). */
  readonly resolver?: Resolver;
  /** HTTP servers and requests (the health endpoint, `ordo health`). */
  readonly http?: HttpAdapter;
}

export interface RealEnvOptions {
  logger?: Logger | undefined;
  /** Pretty-print logs (pino-pretty) instead of JSON lines. */
  pretty?: boolean | undefined;
  level?: string | undefined;
  /** Where logs go (default stdout). */
  logTo?: 'stdout' | 'stderr' | undefined;
  seed?: number | undefined;
  io?: Partial<IoAdapters> | undefined;
}

/**
 * The production Env: real monotonic clock and timers, OS-seeded PRNG, pino to stdout,
 * real file system and process.
 *
 * @example
 * import { createRealEnv } from 'ordo';
 *
 * const env = createRealEnv({ pretty: true }); // human-readable logs; JSON lines without `pretty`
 * env.logger.info({ seed: env.random.seed }, 'booting');
 */
export function createRealEnv(options: RealEnvOptions = {}): Env {
  const random = options.seed !== undefined ? createSeededRandom(options.seed) : createRealRandom();
  return {
    clock: createRealClock(),
    random,
    logger: options.logger ?? createRealLogger({ ...(options.pretty !== undefined ? { pretty: options.pretty } : {}), level: options.level ?? 'info', ...(options.logTo ? { to: options.logTo } : {}) }),
    ids: createIdSource(),
    io: { fs: createRealFs(), process: createRealProcess(), kv: createRocksKv(), nats: createRealNatsConnector(), http: createRealHttp(), resolver: createRealResolver(), ...options.io },
  };
}

/** A deterministic Env for tests: virtual clock, seeded PRNG, in-memory log records. */
export interface TestEnv extends Env {
  readonly clock: VirtualClock;
  /** Every log record emitted through `logger`, parsed, in order. */
  readonly records: LogRecord[];
  readonly io: IoAdapters & { readonly process: ReturnType<typeof createTestProcess> };
}

/**
 * Builds a {@link TestEnv}. The file system is the real one (tests use temp dirs) unless
 * `io.fs` is given; the chaos engine passes its simulated adapters here.
 *
 * @example
 * import { createTestEnv } from 'ordo';
 *
 * const env = createTestEnv({ seed: 7 });
 * await env.clock.advance(1000);
 * console.log(env.clock.now()); // 1000, at once
 */
export function createTestEnv(options: { seed?: number; startMs?: number; level?: string; io?: Partial<IoAdapters> } = {}): TestEnv {
  const { logger, records } = createMemoryLogger(options.level ?? 'trace');
  return {
    clock: createVirtualClock(options.startMs ?? 0),
    random: createSeededRandom(options.seed ?? 1),
    logger,
    records,
    ids: createIdSource(),
    // The real NATS connector: cluster tests run against a real nats-server.
    io: { fs: createRealFs(), kv: createRocksKv(), nats: createRealNatsConnector(), http: createRealHttp(), ...options.io, process: createTestProcess() },
  };
}
