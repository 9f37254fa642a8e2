import { assign, fromPromise, setup } from 'xstate';
import type { Env } from '../env/env.ts';
import { retryDelay } from '../supervisor/backoff.ts';
import { CLUSTER_RETRY, validateName } from './config.ts';
import type { ClusterService } from './discovery.ts';
import { ClusterConfigError, ReplMigrationError } from './errors.ts';
import type { Leadership } from './leaderElection.ts';
import { Replicator, replNames, type ReplicationHealth, type ReplicatorOptions } from './replicator.ts';
import type { ReplicatedStore } from './replicatedStore.ts';
import { coordinateMigration } from './schemaGate.ts';

/** Configuration of a replication child: the replicator's options that are not derived from the cluster. */
export type ReplicationConfig = Pick<ReplicatorOptions, 'store' | 'tables' | 'maxMsgs' | 'maxAgeMs' | 'commitTimeoutMs' | 'publishTimeoutMs' | 'settleTimeoutMs' | 'conflictDetection' | 'conflictScope' | 'fairness'> & {
  /**
   * How long a node waits for the leader to run the store's deferred replicated migrations,
   * and then for its own store to apply the migration batch (default 60 s). On timeout the
   * child retries from `opening` (tag `degraded`).
   */
  migrationTimeoutMs?: number;
};

/**
 * Input of the replication machine: the discovery service and the store it replicates.
 * `leadership` (the election child's service; `requires: ['cluster', 'leader']`) is needed
 * when the store has deferred replicated migrations and a NATS connection: they run once, on
 * the leader.
 */
export interface ReplicationInput {
  env: Env;
  cluster: ClusterService;
  store: ReplicatedStore;
  config: ReplicationConfig;
  leadership?: Leadership;
}

/**
 * What the replication child provides.
 *
 * @example
 * // no-run: a fragment; `replication` is the replication child's service
 * import type { ReplicationService } from 'ordo/cluster';
 *
 * declare const replication: ReplicationService;
 * replication.health().status; // 'ok' | 'degraded' | 'halted' …
 */
export interface ReplicationService {
  readonly stream: string;
  health(): ReplicationHealth;
  /** Last stream sequence applied locally. */
  appliedSeq(): number;
  /**
   * The replica set: the live members. It follows membership, so a dead node never blocks a
   * write or a schema change — the stream does not wait for consumers.
   */
  replicas(): string[];
}

/** Error codes that end the child (with the error as its reason) instead of a retry in place. */
const FATAL = new Set(['ORDO_CLUSTER_CONFIG', 'ORDO_NATS_FEATURE', 'ORDO_REPL_NEWER_SCHEMA', 'ORDO_REPL_APPLY']);

interface Ctx {
  input: ReplicationInput;
  replicator: Replicator | undefined;
  service: ReplicationService | undefined;
  attempt: number;
  lastError: { code: string; message: string } | undefined;
  /** A configuration error (retrying cannot fix it): the child ends with it as its reason. */
  fatal: unknown;
}

/**
 * The replication child (xstate v5, docs/child-protocol.md). Needs discovery (for the NATS
 * connection and membership) and the store. `opening` → `migrating` → `running` (tag `ready`).
 * Ready once caught up with the stream and, when the store deferred replicated migrations
 * (`deferReplicatedMigrations`), once they ran: on the leader, which commits them as one batch
 * through replication, while the others wait (`migrating`, not ready) until their own store
 * has applied that batch — so dependents never read pre-migration rows. In single-node mode it
 * runs deferred migrations locally and the store writes locally. A start or migration failure
 * (NATS down, no peer to give a needed snapshot, migration timeout) is retried with back-off in
 * `retrying` (tag `degraded`), not a crash loop. A configuration error (deferred migrations but
 * no `leadership`), data newer than this code (`ORDO_REPL_NEWER_SCHEMA`) or a store that could
 * not write a valid message (`ORDO_REPL_APPLY`) ends the child in `failed` with the typed error
 * as its exit reason — at start (a start failure, never `ready`) or while running (an abnormal
 * exit): the supervisor restarts it, and it re-applies from the store's recorded position. `ordo.stop` unplugs from the store and
 * stops applying; it also abandons a wait for the leader's migration at once.
 *
 * @example
 * // no-run: needs the discovery child's service and an open store (docs/cluster.md runs the whole tree)
 * import { createTestEnv } from 'ordo';
 * import { replicationMachine, type ClusterService } from 'ordo/cluster';
 * import type { Store } from 'ordo/store';
 * import { createActor } from 'xstate';
 *
 * declare const cluster: ClusterService;
 * declare const store: Store;
 * const env = createTestEnv();
 * createActor(replicationMachine, { input: { env, cluster, store, config: { store: 'main', tables: ['users'] } }, clock: env.clock }).start();
 */
export const replicationMachine = setup({
  types: {
    input: {} as ReplicationInput,
    context: {} as Ctx,
    events: {} as { type: 'ordo.stop'; reason?: unknown },
    output: {} as { reason?: unknown },
  },
  actors: {
    open: fromPromise<{ replicator: Replicator | undefined; service: ReplicationService }, ReplicationInput>(async ({ input }) => {
      const { env, cluster, store, config } = input;
      validateName('store', config.store);
      const stream = replNames(cluster.cluster, config.store).stream;
      const replicas = (): string[] => cluster.members().map((m) => m.name);
      if (!cluster.connection) {
        const applied = (): number => store.lastAppliedSeq(stream);
        return {
          replicator: undefined,
          service: { stream, appliedSeq: applied, replicas, health: () => ({ status: 'ok', stream, applied: applied(), malformed: 0, conflicts: 0 }) },
        };
      }
      const { migrationTimeoutMs: _ignored, ...replConfig } = config;
      const opts: ReplicatorOptions = { cluster: cluster.cluster, node: cluster.self, incarnation: cluster.incarnation, replicas: cluster.replicas ?? 1, replicasExplicit: cluster.replicasExplicit ?? false, members: replicas, ...replConfig };
      const replicator = new Replicator(env, cluster.connection, store, opts);
      try {
        await replicator.start();
      } catch (e) {
        await replicator.stop();
        throw e;
      }
      return { replicator, service: { stream, appliedSeq: () => replicator.appliedSeq(), replicas, health: () => replicator.health() } };
    }),
    migrate: fromPromise<void, { input: ReplicationInput; replicator: Replicator | undefined }>(async ({ input: { input, replicator }, signal }) => {
      await runDeferredMigrations(input, replicator, signal);
    }),
    close: fromPromise<void, { replicator: Replicator | undefined }>(async ({ input }) => {
      await input.replicator?.stop();
    }),
    // Settles only when the replicator stops applying for good (newer schema, a store that could not write).
    watchFailure: fromPromise<unknown, { replicator: Replicator | undefined }>(({ input }) => input.replicator?.failed ?? new Promise<never>(() => undefined)),
  },
  actions: {
    logStartFailed: ({ event, context }) => {
      const err = (event as { error?: unknown }).error;
      context.input.env.logger.warn({ report: 'replication_start_failed', code: (err as { code?: unknown })?.code, err }, 'replication could not start; retrying');
    },
    startFailed: assign(({ event, context }) => {
      const e = (event as { error?: unknown }).error as { code?: string; message?: string };
      const lastError = { code: typeof e?.code === 'string' ? e.code : 'ORDO_REPL_UNAVAILABLE', message: String(e?.message ?? e) };
      return { attempt: context.attempt + 1, lastError };
    }),
    // the error that ends the child: an invoke's `error`, or the failure the watcher resolved with
    logFatal: ({ event, context }) => {
      const err = (event as { error?: unknown }).error ?? (event as { output?: unknown }).output;
      context.input.env.logger.error({ report: 'replication_failed', code: (err as { code?: unknown })?.code, err }, 'replication cannot go on: ending the child with the reason (its supervisor decides)');
    },
    fatal: assign(({ event }) => {
      const err = (event as { error?: unknown }).error ?? (event as { output?: unknown }).output;
      const e = err as { code: string; message: string };
      return { fatal: err, lastError: { code: e.code, message: e.message } };
    }),
  },
  guards: {
    // Retrying in place cannot fix these: a configuration error, data newer than this code, a
    // store that could not write a valid message (the child ends; a restart re-applies from
    // the store's recorded position).
    fatal: ({ event }) => FATAL.has((event as { error?: { code?: unknown } }).error?.code as string),
  },
  delays: {
    retryDelay: ({ context }) => retryDelay(CLUSTER_RETRY.steady, context.attempt, context.input.env.random),
  },
}).createMachine({
  id: 'ordo.replication',
  context: ({ input }) => ({ input, replicator: undefined, service: undefined, attempt: 0, lastError: undefined, fatal: undefined }),
  initial: 'opening',
  states: {
    opening: {
      invoke: {
        src: 'open',
        input: ({ context }) => context.input,
        onDone: { target: 'migrating', actions: assign(({ event }) => ({ replicator: event.output.replicator, service: event.output.service, lastError: undefined })) },
        onError: [
          { guard: 'fatal', target: 'failed', actions: ['logFatal', 'fatal'] },
          { target: 'retrying', actions: ['logStartFailed', 'startFailed'] },
        ],
      },
      on: { 'ordo.stop': 'stopped' },
    },
    // Caught up; runs (leader) or waits for (others) the store's deferred replicated migrations.
    // Passes straight through when there are none. Not ready meanwhile.
    migrating: {
      tags: ['migrating'],
      invoke: {
        src: 'migrate',
        input: ({ context }) => ({ input: context.input, replicator: context.replicator }),
        onDone: 'running',
        onError: [
          { guard: 'fatal', target: 'failing', actions: ['logFatal', 'fatal'] },
          { target: 'abandoning', actions: ['logStartFailed', 'startFailed'] },
        ],
      },
      on: { 'ordo.stop': 'stopping' },
    },
    // A configuration error: stop the started replicator, then end with the error as the reason.
    failing: {
      invoke: { src: 'close', input: ({ context }) => ({ replicator: context.replicator }), onDone: 'failed', onError: 'failed' },
    },
    failed: { type: 'final' },
    // A failed migration: stop the started replicator before retrying from `opening`.
    abandoning: {
      tags: ['degraded'],
      invoke: {
        src: 'close',
        input: ({ context }) => ({ replicator: context.replicator }),
        onDone: { target: 'retrying', actions: assign({ replicator: undefined, service: undefined }) },
        onError: { target: 'retrying', actions: assign({ replicator: undefined, service: undefined }) },
      },
      on: { 'ordo.stop': 'stopping' },
    },
    retrying: { tags: ['degraded'], after: { retryDelay: 'opening' }, on: { 'ordo.stop': 'stopped' } },
    running: {
      tags: ['ready'],
      invoke: { src: 'watchFailure', input: ({ context }) => ({ replicator: context.replicator }), onDone: { target: 'failing', actions: ['logFatal', 'fatal'] } },
      on: { 'ordo.stop': 'stopping' },
    },
    stopping: { invoke: { src: 'close', input: ({ context }) => ({ replicator: context.replicator }), onDone: 'stopped', onError: 'stopped' } },
    stopped: { type: 'final' },
  },
  output: ({ context }) => ({ reason: context.fatal ?? 'shutdown' }),
});

/**
 * The store's deferred replicated migrations, run once cluster-wide: single-node mode runs
 * them locally; otherwise {@link coordinateMigration} lets the leader run them (after catching
 * up with the stream, so a batch a previous leader committed is seen and the run is a no-op)
 * while the others wait for the recorded version; then every node waits until its own store
 * has applied the migration batch.
 */
async function runDeferredMigrations(input: ReplicationInput, replicator: Replicator | undefined, signal: AbortSignal): Promise<void> {
  const { env, cluster, store, config } = input;
  const deferred = store.deferredMigrations();
  if (deferred.length === 0) return;
  const versions = deferred.map((d) => d.version);
  const log = env.logger.child({ component: 'replication', node: cluster.self, store: config.store });
  if (!cluster.connection || !replicator) {
    await store.runDeferredMigrations();
    log.info({ report: 'replication_migrated', versions, mode: 'single-node' }, 'deferred migrations ran locally (single-node mode)');
    return;
  }
  const leadership = input.leadership;
  if (!leadership) {
    throw new ClusterConfigError(`store ${config.store} has deferred replicated migrations (${versions.join(', ')}) but the replication child has no leadership: give it the election service (requires: ['cluster', 'leader'])`, { node: cluster.self, value: versions });
  }
  const timeoutMs = config.migrationTimeoutMs ?? 60_000;
  const toVersion = Math.max(...versions);
  log.info({ report: 'replication_migration_pending', versions, leader: leadership.isLeader() }, 'deferred replicated migrations: running on the leader, or waiting for it');
  let ran: 'ran' | 'none' | undefined;
  const outcome = await coordinateMigration({
    env,
    cluster,
    leadership,
    store: config.store,
    toVersion,
    timeoutMs,
    signal,
    migrate: async () => {
      await replicator.catchUp(timeoutMs);
      ran = await store.runDeferredMigrations();
    },
  });
  // The version is recorded only after the leader's migration batch was committed: catching up
  // with the stream now applies it here.
  await replicator.catchUp(timeoutMs);
  const left = store.deferredMigrations();
  if (left.length > 0) {
    throw new ReplMigrationError(`schema v${toVersion} of ${config.store} is recorded as migrated, but this node's store still defers ${left.map((d) => d.version).join(', ')} after catching up with the stream`, { node: cluster.self, stream: replicator.stream, value: left });
  }
  // outcome 'migrated' with ran 'none': a previous leader's batch had already done it; this leader recorded the version
  log.info({ report: 'replication_migrated', versions, outcome, ...(ran ? { ran } : {}) }, ran === 'ran' ? 'deferred migrations ran here (leader) and were replicated' : 'deferred migrations applied from the leader');
}
