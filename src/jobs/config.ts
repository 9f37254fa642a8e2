import { OrdoError } from '../errors.ts';
import { JobsConfigError, JobsUnknownModuleError } from './errors.ts';
import { parseCronEntries, type CronEntry, type ParsedCron } from './cronPlugin.ts';
import type { WorkerDef } from './types.ts';
import { checkName } from './worker.ts';
import { buildJob } from './buildJob.ts';

/** Notifier modules that exist. `auto`: NATS when the cluster has a connection, else local. */
export const NOTIFIERS = ['auto', 'nats', 'local'] as const;
/** Peer (leadership) modules that exist: `election` (the election child's service), `solo` (always leader: single node), `none` (never runs plugins). */
export const PEERS = ['auto', 'election', 'solo', 'none'] as const;

/** One queue: its per-node concurrency limit, whether it starts paused, and an optional cluster-wide limit. */
export interface QueueConfig {
  readonly limit: number;
  readonly paused?: boolean;
  /**
   * At most this many jobs of the queue executing across the whole cluster (Oban Pro's
   * `global_limit`); a node still runs at most `limit`. The slots are kept in the store and
   * taken in the claiming transaction, so the limit holds across leader changes; the leader's
   * lifeline gives back a dead node's slots with its jobs. Give every node the same value.
   */
  readonly globalLimit?: number;
}

/**
 * The runner's static configuration — everything checked when the child spec is built, before
 * boot: an unknown notifier or peer module, a bad cron expression or time zone, a worker whose
 * queue is not configured, duplicate names — each a typed error naming it.
 */
export interface JobRunnerConfig {
  // Workers of any args type: each keeps its own through defineWorker.
  readonly workers: readonly WorkerDef<never>[];
  /** Queue name → per-node concurrency limit (or `{ limit, paused }`). */
  readonly queues: Readonly<Record<string, number | QueueConfig>>;
  /** Entries; build each with `cronEntry()` to have its args checked against its worker. */
  readonly crontab?: readonly CronEntry<unknown>[];
  readonly notifier?: (typeof NOTIFIERS)[number];
  readonly peer?: (typeof PEERS)[number];
  /** Queues drain this long on stop; then unfinished jobs return to available (default 5000). */
  readonly shutdownMs?: number;
  /** Producers poll this often as the fallback for lost notifications (default 1000). */
  readonly pollMs?: number;
  readonly stager?: { readonly intervalMs?: number; readonly limit?: number };
  /** `false` keeps finished jobs forever. Default: prune after 60 s (Oban's `max_age`). */
  readonly pruner?: false | { readonly maxAgeMs?: number; readonly intervalMs?: number; readonly limit?: number };
  readonly lifeline?: { readonly intervalMs?: number; readonly graceMs?: number; readonly rescueAfterMs?: number | false };
  /**
   * Serve `ordo jobs` on this unix socket (usually `adminSocketPath(dataDir)`): the local
   * control channel, no NATS needed. A path over 107 bytes (the kernel's limit) or one another
   * live process serves makes the runner degraded with the reason, not a failed boot.
   */
  readonly adminSocket?: string;
  /**
   * Eager claim (default `true`): an `enqueue` into a queue of this node that is running, has a
   * free slot, no `globalLimit`, and no available job ahead of the new one in lane order stores
   * the job already claimed by this node (`executing`, attempt 1) in the insert's own commit, and
   * starts its perform once that commit is durable — one commit from enqueue to start instead of
   * an insert and then a claim. `false`: every enqueued job is inserted `available` and claimed by
   * the queue's next claim.
   */
  readonly eagerClaim?: boolean;
}

/** Every default applied. */
export interface NormalConfig {
  readonly workers: ReadonlyMap<string, WorkerDef<never>>;
  readonly queues: ReadonlyMap<string, { limit: number; paused: boolean; globalLimit: number | undefined }>;
  readonly crons: readonly ParsedCron[];
  readonly notifier: (typeof NOTIFIERS)[number];
  readonly peer: (typeof PEERS)[number];
  readonly shutdownMs: number;
  readonly pollMs: number;
  readonly stager: { intervalMs: number; limit: number };
  readonly pruner: { maxAgeMs: number; intervalMs: number; limit: number } | undefined;
  readonly lifeline: { intervalMs: number; graceMs: number | undefined; rescueAfterMs: number | undefined };
  readonly adminSocket: string | undefined;
  readonly eagerClaim: boolean;
}

const KNOWN_KEYS = ['workers', 'queues', 'crontab', 'notifier', 'peer', 'shutdownMs', 'pollMs', 'stager', 'pruner', 'lifeline', 'adminSocket', 'eagerClaim'];

function positive(field: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new JobsConfigError(field, v, 'must be a positive number');
  return v;
}

/**
 * Field `k` of `o` as configuration: its own property only (a key set on `Object.prototype` is not
 * configuration: `undefined`), and a getter that throws is refused as `field`, its error the cause.
 */
function own(o: unknown, k: string, field: string): unknown {
  if (o === null || o === undefined) return undefined;
  return reading(field, () => (Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined));
}

/** Runs `read` (reads of user objects), a throw not already typed refused as `field`. */
function reading<T>(field: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof OrdoError) throw err;
    throw new JobsConfigError(field, undefined, `cannot be read: ${String((err as Error | undefined)?.message ?? err)}`, { cause: err });
  }
}

/**
 * Checks a plugin section (`stager`, `pruner`, `lifeline`): absent, a plain object of known
 * options only, or (where `mayBeFalse`) `false`. `stager: 5` or a misspelt option is refused
 * rather than run with the defaults.
 */
function section(o: unknown, name: string, known: readonly string[], mayBeFalse: boolean): void {
  if (o === undefined || (mayBeFalse && o === false)) return;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new JobsConfigError(name, o, `must be an object of ${known.join(', ')}${mayBeFalse ? ', or false' : ''}`);
  for (const k of reading(name, () => Object.keys(o))) if (!known.includes(k)) throw new JobsConfigError(`${name}.${k}`, own(o, k, `${name}.${k}`), `unknown ${name} option (known: ${known.join(', ')})`);
}

/**
 * Validates a runner configuration and fills in the defaults. Throws {@link JobsConfigError} or
 * {@link JobsUnknownModuleError} naming the bad field and value. Only own properties are read (a
 * key inherited from `Object.prototype` is not configuration); a field whose getter throws is a
 * {@link JobsConfigError} naming it.
 */
export function validateRunnerConfig(c: JobRunnerConfig): NormalConfig {
  if (!c || typeof c !== 'object') throw new JobsConfigError('config', c, 'must be an object');
  const get = (k: string): unknown => own(c, k, k);
  for (const k of reading('config', () => Object.keys(c))) if (!KNOWN_KEYS.includes(k)) throw new JobsConfigError(k, get(k), `unknown option (known: ${KNOWN_KEYS.join(', ')})`);
  const notifier = (get('notifier') ?? 'auto') as NormalConfig['notifier'];
  if (!NOTIFIERS.includes(notifier)) throw new JobsUnknownModuleError('notifier', notifier, NOTIFIERS);
  const peer = (get('peer') ?? 'auto') as NormalConfig['peer'];
  if (!PEERS.includes(peer)) throw new JobsUnknownModuleError('peer', peer, PEERS);
  const queues = new Map<string, { limit: number; paused: boolean; globalLimit: number | undefined }>();
  const qs = get('queues') ?? {};
  for (const name of reading('queues', () => Object.keys(qs))) {
    checkName(`queues.${name}`, name);
    const q = own(qs, name, `queues.${name}`);
    const entry = (k: string): unknown => (typeof q === 'object' ? own(q, k, `queues.${name}.${k}`) : undefined);
    const limit = typeof q === 'number' ? q : entry('limit');
    if (!Number.isInteger(limit) || (limit as number) < 1) throw new JobsConfigError(`queues.${name}.limit`, limit, 'must be a positive integer');
    if (typeof q === 'object' && q) {
      for (const k of reading(`queues.${name}`, () => Object.keys(q))) if (!['limit', 'paused', 'globalLimit'].includes(k)) throw new JobsConfigError(`queues.${name}.${k}`, entry(k), 'unknown queue option (known: limit, paused, globalLimit)');
    }
    const globalLimit = entry('globalLimit');
    if (globalLimit !== undefined && (!Number.isInteger(globalLimit) || (globalLimit as number) < 1)) throw new JobsConfigError(`queues.${name}.globalLimit`, globalLimit, 'must be a positive integer');
    queues.set(name, { limit: limit as number, paused: !!entry('paused'), globalLimit: globalLimit as number | undefined });
  }
  const workers = new Map<string, WorkerDef<never>>();
  const ws = get('workers');
  if (!Array.isArray(ws)) throw new JobsConfigError('workers', ws, 'must be an array of defineWorker() results');
  reading('workers', () => {
    for (const w of ws as WorkerDef<never>[]) {
      if (!w || typeof w.perform !== 'function' || typeof w.name !== 'string') throw new JobsConfigError('workers', w, 'not a worker (use defineWorker)');
      if (workers.has(w.name)) throw new JobsConfigError('workers', w.name, 'duplicate worker name');
      if (!queues.has(w.queue)) throw new JobsConfigError(`worker ${w.name}.queue`, w.queue, `no such queue (configured: ${[...queues.keys()].join(', ') || 'none'})`);
      workers.set(w.name, w);
    }
  });
  const crontab = (get('crontab') ?? []) as readonly CronEntry<unknown>[];
  const crons = reading('crontab', () => parseCronEntries(crontab));
  const cronNames = new Set<string>();
  reading('crontab', () => {
    for (const cr of crons) {
      if (cronNames.has(cr.name)) throw new JobsConfigError('crontab', cr.name, 'duplicate cron entry name');
      cronNames.add(cr.name);
      if (workers.get(cr.entry.worker.name) !== cr.entry.worker) throw new JobsConfigError(`crontab ${cr.name}.worker`, cr.entry.worker?.name, 'not one of the runner’s workers');
      const q = cr.entry.options?.queue;
      if (q !== undefined && !queues.has(q)) throw new JobsConfigError(`crontab ${cr.name}.options.queue`, q, 'no such queue');
      // the job it will fire, built now (no clock, no Env draw): a bad option is refused at start, not at every fire
      try {
        buildJob(cr.entry.worker as WorkerDef<never>, cr.entry.args, { ...cr.entry.options, queue: q ?? cr.entry.worker.queue, id: `cron:${cr.name}:0` }, 0, () => 0);
      } catch (err) {
        if (err instanceof JobsConfigError) throw new JobsConfigError(`crontab ${cr.name}.options.${err.field}`, err.value, err.message, { cause: err });
        throw err;
      }
    }
  });
  const p = get('pruner');
  const st = get('stager');
  const l = get('lifeline');
  section(st, 'stager', ['intervalMs', 'limit'], false);
  section(p, 'pruner', ['maxAgeMs', 'intervalMs', 'limit'], true);
  section(l, 'lifeline', ['intervalMs', 'graceMs', 'rescueAfterMs'], false);
  const sub = (o: unknown, section: string, k: string): unknown => own(o, k, `${section}.${k}`);
  const sock = get('adminSocket');
  if (sock !== undefined && (typeof sock !== 'string' || sock.length === 0)) throw new JobsConfigError('adminSocket', sock, 'must be a unix socket path');
  const eagerClaim = get('eagerClaim');
  if (eagerClaim !== undefined && typeof eagerClaim !== 'boolean') throw new JobsConfigError('eagerClaim', eagerClaim, 'must be a boolean');
  const graceMs = sub(l, 'lifeline', 'graceMs');
  const rescueAfterMs = sub(l, 'lifeline', 'rescueAfterMs');
  return {
    workers,
    queues,
    crons,
    notifier,
    peer,
    shutdownMs: positive('shutdownMs', get('shutdownMs'), 5000),
    pollMs: positive('pollMs', get('pollMs'), 1000),
    stager: { intervalMs: positive('stager.intervalMs', sub(st, 'stager', 'intervalMs'), 1000), limit: positive('stager.limit', sub(st, 'stager', 'limit'), 5000) },
    pruner: p === false ? undefined : { maxAgeMs: positive('pruner.maxAgeMs', sub(p, 'pruner', 'maxAgeMs'), 60_000), intervalMs: positive('pruner.intervalMs', sub(p, 'pruner', 'intervalMs'), 30_000), limit: positive('pruner.limit', sub(p, 'pruner', 'limit'), 10_000) },
    lifeline: {
      intervalMs: positive('lifeline.intervalMs', sub(l, 'lifeline', 'intervalMs'), 10_000),
      graceMs: graceMs === undefined ? undefined : graceMs === 0 ? 0 : positive('lifeline.graceMs', graceMs, 0),
      rescueAfterMs: rescueAfterMs === false ? undefined : positive('lifeline.rescueAfterMs', rescueAfterMs, 3_600_000),
    },
    adminSocket: sock as string | undefined,
    eagerClaim: (eagerClaim as boolean | undefined) ?? true,
  };
}
