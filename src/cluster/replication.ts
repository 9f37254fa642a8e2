import { assign, fromPromise, setup } from 'xstate';
import type { Env } from '../env/env.ts';
import { retryDelayMs, validateName } from './config.ts';
import type { ClusterService } from './discovery.ts';
import { Replicator, replNames, type ReplicationHealth, type ReplicatorOptions } from './replicator.ts';
import type { ReplicatedStore } from './replicatedStore.ts';

/** Configuration of a replication child: the replicator's options that are not derived from the cluster. */
export type ReplicationConfig = Pick<ReplicatorOptions, 'store' | 'tables' | 'maxMsgs' | 'maxAgeMs' | 'commitTimeoutMs' | 'publishTimeoutMs' | 'conflictDetection' | 'conflictScope'>;

/** Input of the replication machine: the discovery service and the store it replicates. */
export interface ReplicationInput {
  env: Env;
  cluster: ClusterService;
  store: ReplicatedStore;
  config: ReplicationConfig;
}

/**
 * What the replication child provides.
 *
 * @example
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

interface Ctx {
  input: ReplicationInput;
  replicator: Replicator | undefined;
  service: ReplicationService | undefined;
  attempt: number;
  lastError: { code: string; message: string } | undefined;
}

/**
 * The replication child (xstate v5, docs/child-protocol.md). Needs discovery (for the NATS
 * connection and membership) and the store. Ready once caught up with the stream. In
 * single-node mode it is ready at once and the store writes locally. A start failure (NATS
 * down, no peer to give a needed snapshot) is retried with back-off in `retrying` (tag
 * `degraded`), not a crash loop. `ordo.stop` unplugs from the store and stops applying.
 *
 * @example
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
      const opts: ReplicatorOptions = { cluster: cluster.cluster, node: cluster.self, incarnation: cluster.incarnation, ...config };
      const replicator = new Replicator(env, cluster.connection, store, opts);
      try {
        await replicator.start();
      } catch (e) {
        await replicator.stop();
        throw e;
      }
      return { replicator, service: { stream, appliedSeq: () => replicator.appliedSeq(), replicas, health: () => replicator.health() } };
    }),
    close: fromPromise<void, { replicator: Replicator | undefined }>(async ({ input }) => {
      await input.replicator?.stop();
    }),
  },
  delays: {
    retryDelay: ({ context }) => retryDelayMs(context.attempt),
  },
}).createMachine({
  id: 'ordo.replication',
  context: ({ input }) => ({ input, replicator: undefined, service: undefined, attempt: 0, lastError: undefined }),
  initial: 'opening',
  states: {
    opening: {
      invoke: {
        src: 'open',
        input: ({ context }) => context.input,
        onDone: { target: 'running', actions: assign(({ event }) => ({ replicator: event.output.replicator, service: event.output.service, lastError: undefined })) },
        onError: {
          target: 'retrying',
          actions: assign(({ event, context }) => {
            const e = event.error as { code?: string; message?: string };
            const lastError = { code: typeof e?.code === 'string' ? e.code : 'ORDO_REPL_UNAVAILABLE', message: String(e?.message ?? e) };
            context.input.env.logger.warn({ report: 'replication', event: 'start_failed', ...lastError }, 'replication could not start; retrying');
            return { attempt: context.attempt + 1, lastError };
          }),
        },
      },
      on: { 'ordo.stop': 'stopped' },
    },
    retrying: { tags: ['degraded'], after: { retryDelay: 'opening' }, on: { 'ordo.stop': 'stopped' } },
    running: { tags: ['ready'], on: { 'ordo.stop': 'stopping' } },
    stopping: { invoke: { src: 'close', input: ({ context }) => ({ replicator: context.replicator }), onDone: 'stopped', onError: 'stopped' } },
    stopped: { type: 'final' },
  },
  output: () => ({ reason: 'shutdown' }),
});
