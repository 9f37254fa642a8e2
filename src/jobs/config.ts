import { JobsConfigError, JobsUnknownModuleError } from './errors.ts';
import { parseCronEntries, type CronEntry, type ParsedCron } from './cronPlugin.ts';
import type { WorkerDef } from './types.ts';
import { checkName } from './worker.ts';

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
 * Validates a runner configuration and fills in the defaults. Throws {@link JobsConfigError} or
 * {@link JobsUnknownModuleError} naming the bad field and value.
 */
export function validateRunnerConfig(c: JobRunnerConfig): NormalConfig {
  if (!c || typeof c !== 'object') throw new JobsConfigError('config', c, 'must be an object');
  for (const k of Object.keys(c)) if (!KNOWN_KEYS.includes(k)) throw new JobsConfigError(k, (c as unknown as Record<string, unknown>)[k], `unknown option (known: ${KNOWN_KEYS.join(', ')})`);
  const notifier = c.notifier ?? 'auto';
  if (!NOTIFIERS.includes(notifier)) throw new JobsUnknownModuleError('notifier', notifier, NOTIFIERS);
  const peer = c.peer ?? 'auto';
  if (!PEERS.includes(peer)) throw new JobsUnknownModuleError('peer', peer, PEERS);
  const queues = new Map<string, { limit: number; paused: boolean; globalLimit: number | undefined }>();
  for (const [name, q] of Object.entries(c.queues ?? {})) {
    checkName(`queues.${name}`, name);
    const limit = typeof q === 'number' ? q : q?.limit;
    if (!Number.isInteger(limit) || (limit as number) < 1) throw new JobsConfigError(`queues.${name}.limit`, limit, 'must be a positive integer');
    if (typeof q === 'object' && q) {
      for (const k of Object.keys(q)) if (!['limit', 'paused', 'globalLimit'].includes(k)) throw new JobsConfigError(`queues.${name}.${k}`, (q as unknown as Record<string, unknown>)[k], 'unknown queue option (known: limit, paused, globalLimit)');
    }
    const globalLimit = typeof q === 'object' ? q?.globalLimit : undefined;
    if (globalLimit !== undefined && (!Number.isInteger(globalLimit) || globalLimit < 1)) throw new JobsConfigError(`queues.${name}.globalLimit`, globalLimit, 'must be a positive integer');
    queues.set(name, { limit: limit as number, paused: typeof q === 'object' && !!q.paused, globalLimit });
  }
  const workers = new Map<string, WorkerDef<never>>();
  if (!Array.isArray(c.workers)) throw new JobsConfigError('workers', c.workers, 'must be an array of defineWorker() results');
  for (const w of c.workers) {
    if (!w || typeof w.perform !== 'function' || typeof w.name !== 'string') throw new JobsConfigError('workers', w, 'not a worker (use defineWorker)');
    if (workers.has(w.name)) throw new JobsConfigError('workers', w.name, 'duplicate worker name');
    if (!queues.has(w.queue)) throw new JobsConfigError(`worker ${w.name}.queue`, w.queue, `no such queue (configured: ${[...queues.keys()].join(', ') || 'none'})`);
    workers.set(w.name, w);
  }
  const crons = parseCronEntries(c.crontab ?? []);
  const cronNames = new Set<string>();
  for (const cr of crons) {
    if (cronNames.has(cr.name)) throw new JobsConfigError('crontab', cr.name, 'duplicate cron entry name');
    cronNames.add(cr.name);
    if (workers.get(cr.entry.worker.name) !== cr.entry.worker) throw new JobsConfigError(`crontab ${cr.name}.worker`, cr.entry.worker?.name, 'not one of the runner’s workers');
    const q = cr.entry.options?.queue;
    if (q !== undefined && !queues.has(q)) throw new JobsConfigError(`crontab ${cr.name}.options.queue`, q, 'no such queue');
  }
  const p = c.pruner;
  const l = c.lifeline ?? {};
  const sock = c.adminSocket;
  if (sock !== undefined && (typeof sock !== 'string' || sock.length === 0)) throw new JobsConfigError('adminSocket', sock, 'must be a unix socket path');
  if (c.eagerClaim !== undefined && typeof c.eagerClaim !== 'boolean') throw new JobsConfigError('eagerClaim', c.eagerClaim, 'must be a boolean');
  return {
    workers,
    queues,
    crons,
    notifier,
    peer,
    shutdownMs: positive('shutdownMs', c.shutdownMs, 5000),
    pollMs: positive('pollMs', c.pollMs, 1000),
    stager: { intervalMs: positive('stager.intervalMs', c.stager?.intervalMs, 1000), limit: positive('stager.limit', c.stager?.limit, 5000) },
    pruner: p === false ? undefined : { maxAgeMs: positive('pruner.maxAgeMs', p?.maxAgeMs, 60_000), intervalMs: positive('pruner.intervalMs', p?.intervalMs, 30_000), limit: positive('pruner.limit', p?.limit, 10_000) },
    lifeline: {
      intervalMs: positive('lifeline.intervalMs', l.intervalMs, 10_000),
      graceMs: l.graceMs === undefined ? undefined : l.graceMs === 0 ? 0 : positive('lifeline.graceMs', l.graceMs, 0),
      rescueAfterMs: l.rescueAfterMs === false ? undefined : positive('lifeline.rescueAfterMs', l.rescueAfterMs, 3_600_000),
    },
    adminSocket: sock,
    eagerClaim: c.eagerClaim ?? true,
  };
}
