/**
 * The reference boot tree: what a real service boots with. A rest_for_one root, so a crash
 * restarts the child and everything after it, and each child starts only once what it
 * requires is ready:
 *
 *   cluster (discovery) → leader → store (initializer) → replication → cache loaders (bux) → [jobs] → health
 *
 * On the embedded default (no NATS URL) discovery runs in single-node mode and replication
 * writes locally. Every child that reaches outside the process waits instead of crash-looping
 * (`startRetry`): NATS down at boot → `cluster` waiting, the rest parked, `/health/ready`
 * answering 503 with the reason, ready as soon as nats-server is reachable.
 *
 * The job runner (examples/boot/jobs.ts: a sample worker on a cron schedule) sits between the
 * caches and the health endpoint; `options.jobs` replaces it.
 */
import type { ChildSpec, StartRetrySpec, SupervisorSpec } from 'ordo';
import { ApplicationTag, child, service } from 'ordo';
import { discoveryMachine, electionMachine, replicationMachine, type ClusterService, type Leadership, type ReplicationService } from 'ordo/cluster';
import { storeInitializerMachine, type Store, type TableDef } from 'ordo/store';
import { cacheLoaderMachine, storeTableSource, type Cache, type CacheStats } from 'ordo/cache';
import { healthEndpointMachine, type CacheLike, type HealthSource } from 'ordo/health';
import { JobsBoard, bootJobTables, bootJobs } from './jobs.ts';

/** The services of the reference tree, as typed tags. */
export const ClusterTag = service<ClusterService>('cluster');
export const LeaderTag = service<Leadership>('leader');
export const StoreTag = service<Store>('store');
export const ReplicationTag = service<ReplicationService>('replication');
export interface BuxEntry {
  readonly user_id: number;
  readonly bux_balance: number;
}
export const BuxCacheTag = service<Cache<number, BuxEntry>>('bux');

/** The seed's table (`000_…`): BUX points per user, indexed by balance, replicated in cluster mode. */
export const bootTables: Record<string, TableDef> = {
  user_bux_points: {
    type: 'ordered_set',
    key: 'user_id',
    attributes: {
      user_id: { type: 'integer' },
      bux_balance: { type: 'integer', default: 0 },
      updated_at: { type: 'number', default: 0 },
    },
    indexes: ['bux_balance'],
    replicated: true,
  },
};

export interface BootOptions {
  /** Data directory (store under `<dataDir>/store`, the node name file). */
  dataDir: string;
  /** NATS servers; none → single-node mode. */
  nats?: string[];
  /** Stable node name (else generated once and kept in `dataDir`). */
  nodeName?: string;
  /** Copies of every stream and bucket (default `'auto'`: R3 on a 3+ server NATS cluster, else R1). */
  replicas?: number | 'auto';
  /** Health endpoint port (0: any free one). */
  httpPort: number;
  /** Health endpoint host (default 0.0.0.0). */
  httpHost?: string;
  /** The job runner's child specs: they go between the caches and the health endpoint. */
  jobs?: readonly ChildSpec[];
  /** Extra health and metrics sources (the job runner's counts). */
  healthSources?: readonly HealthSource[];
  /** Start retry of the children that reach outside the process. */
  startRetry?: StartRetrySpec;
}

/** Store errors no retry can fix: a refused or newer schema, a corrupt or missing directory. */
const PERMANENT_STORE = new Set(['ORDO_STORE_SCHEMA_REFUSED', 'ORDO_STORE_NEWER_SCHEMA', 'ORDO_STORE_CORRUPT', 'ORDO_STORE_MISSING_DIR', 'ORDO_STORE_VALIDATION', 'ORDO_STORE_MIGRATION']);
/** Cluster errors no retry can fix (bad credentials, no JetStream, a bad config). */
const PERMANENT_CLUSTER = new Set(['ORDO_NATS_AUTH', 'ORDO_NATS_TLS', 'ORDO_NATS_NO_JETSTREAM', 'ORDO_NATS_FEATURE', 'ORDO_NATS_NO_CONNECTOR', 'ORDO_CLUSTER_CONFIG']);
const codeIn = (codes: Set<string>) => (r: unknown) => typeof r === 'object' && r !== null && codes.has((r as { code?: string }).code ?? '');

/** Cache figures for the health endpoint, following each restart of the cache (the endpoint does not depend on it). */
class CacheBoard {
  private readonly current = new Map<string, Cache<unknown, unknown>>();
  track<C extends Cache<any, any>>(name: string): (snapshot: { context: { service: C } }) => C {
    return (snapshot) => {
      this.current.set(name, snapshot.context.service);
      return snapshot.context.service;
    };
  }
  like(name: string): CacheLike {
    return {
      stats: (): CacheStats =>
        this.current.get(name)?.stats() ?? { name, status: 'loading', size: 0, hits: 0, misses: 0, hitRate: 0, loads: 0, invalidations: 0, loadedAt: undefined, ageMs: undefined, stale: false, lastError: undefined },
    };
  }
}

/**
 * The reference tree for `options`.
 *
 * @example
 * const app = startApplication({ name: 'ordo', env: createRealEnv(), startType: 'permanent', tree: bootTree({ dataDir: './data', httpPort: 8080 }) });
 */
export function bootTree(options: BootOptions): SupervisorSpec {
  const retry: StartRetrySpec = options.startRetry ?? { initialMs: 500, maxMs: 10_000, factor: 2, jitter: 0.1 };
  const clustered = (options.nats?.length ?? 0) > 0;
  const board = new CacheBoard();
  const jobsBoard = new JobsBoard();
  // replicated as user_bux_points is (single-node mode writes them locally): the schema is the same either way
  const tables = { ...bootTables, ...bootJobTables(true) };
  return {
    strategy: 'rest_for_one',
    maxRestarts: 5,
    periodMs: 10_000,
    children: [
      child({
        id: 'cluster',
        // each attempt gets 10 s to connect (discovery retries inside too); then the supervisor backs off and tries again
        startTimeoutMs: 10_000,
        startRetry: { ...retry, isPermanent: codeIn(PERMANENT_CLUSTER) },
        start: {
          machine: discoveryMachine,
          input: ({ env }) => ({
            env,
            config: { dataDir: options.dataDir, ...(options.nodeName ? { nodeName: options.nodeName } : {}), ...(clustered ? { nats: { servers: options.nats! } } : {}), ...(options.replicas !== undefined ? { replicas: options.replicas } : {}) },
          }),
        },
        provides: ClusterTag,
      }),
      child({ id: 'leader', requires: { cluster: ClusterTag }, startRetry: retry, start: { machine: electionMachine, input: ({ env, deps }) => ({ env, cluster: deps.cluster }) }, provides: LeaderTag }),
      child({
        id: 'store',
        requires: { cluster: ClusterTag },
        shutdownMs: 10_000,
        startTimeoutMs: 60_000,
        // a LOCK still held by a previous process is worth waiting for; a refused schema is not
        startRetry: { ...retry, isPermanent: codeIn(PERMANENT_STORE) },
        start: { machine: storeInitializerMachine, input: ({ env }) => ({ env, dir: `${options.dataDir}/store`, tables, deferReplicatedMigrations: clustered }) },
        provides: StoreTag,
      }),
      child({
        id: 'replication',
        requires: { cluster: ClusterTag, leader: LeaderTag, store: StoreTag },
        startRetry: retry,
        startTimeoutMs: 30_000,
        start: { machine: replicationMachine, input: ({ env, deps }) => ({ env, cluster: deps.cluster, leadership: deps.leader, store: deps.store, config: { store: 'ordo', tables: Object.keys(tables).filter((t) => tables[t]!.replicated) } }) },
        provides: ReplicationTag,
      }),
      // the cache loaders, one child each, at the root: later children (the job runner) can require them
      child({
        id: 'bux',
        // loads once replication has caught up, so a follower never serves a half-applied table
        requires: { store: StoreTag, replication: ReplicationTag },
        start: {
          machine: cacheLoaderMachine,
          input: ({ env, deps }) => ({ env, name: 'bux', source: deps.store, spec: storeTableSource<number, BuxEntry>('user_bux_points', { map: (r) => ({ user_id: r['user_id'] as number, bux_balance: r['bux_balance'] as number }) }) }),
        },
        provides: { service: BuxCacheTag, select: board.track('bux') },
      }),
      ...(options.jobs ?? bootJobs(jobsBoard, clustered, options.dataDir)),
      child({
        id: 'health',
        requires: { app: ApplicationTag },
        startRetry: retry, // a port still taken by the previous process frees up
        start: {
          machine: healthEndpointMachine,
          input: ({ env, deps }) => ({ env, app: deps.app, port: options.httpPort, ...(options.httpHost ? { host: options.httpHost } : {}), caches: [board.like('bux')], sources: [...(options.jobs ? [] : [jobsBoard.source()]), ...(options.healthSources ?? [])] }),
        },
      }),
    ],
  };
}

/**
 * Boot options from the process environment: `ORDO_DATA_DIR` (default `./data`),
 * `ORDO_NATS_URL` (comma-separated; unset: single node), `ORDO_NODE_NAME`, `ORDO_HTTP_PORT`
 * (default 8080).
 *
 * @example
 * bootTree(optionsFromEnv(process.env));
 */
export function optionsFromEnv(vars: Readonly<Record<string, string | undefined>>, overrides: Partial<BootOptions> = {}): BootOptions {
  const port = vars['ORDO_HTTP_PORT'] !== undefined && vars['ORDO_HTTP_PORT'] !== '' ? Number(vars['ORDO_HTTP_PORT']) : 8080;
  return {
    dataDir: vars['ORDO_DATA_DIR'] || './data',
    ...(vars['ORDO_NATS_URL'] ? { nats: vars['ORDO_NATS_URL'].split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    ...(vars['ORDO_NODE_NAME'] ? { nodeName: vars['ORDO_NODE_NAME'] } : {}),
    ...(vars['ORDO_REPLICAS'] ? { replicas: vars['ORDO_REPLICAS'] === 'auto' ? ('auto' as const) : Number(vars['ORDO_REPLICAS']) } : {}),
    httpPort: port,
    ...overrides,
  };
}

/** What `ordo start --tree` loads: the tree from the CLI's options. */
export function tree(cli: { env: Readonly<Record<string, string | undefined>>; dataDir?: string; nats?: string[]; nodeName?: string; replicas?: number | 'auto'; httpPort?: number }): SupervisorSpec {
  return bootTree(
    optionsFromEnv(cli.env, {
      ...(cli.dataDir !== undefined ? { dataDir: cli.dataDir } : {}),
      ...(cli.nats !== undefined ? { nats: cli.nats } : {}),
      ...(cli.nodeName !== undefined ? { nodeName: cli.nodeName } : {}),
      ...(cli.replicas !== undefined ? { replicas: cli.replicas } : {}),
      ...(cli.httpPort !== undefined ? { httpPort: cli.httpPort } : {}),
    }),
  );
}
