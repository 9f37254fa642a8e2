import { assign, fromCallback, fromPromise, setup } from 'xstate';
import type { Env } from '../env/env.ts';
import { retryDelay } from '../supervisor/backoff.ts';
import { CLUSTER_RETRY, validateName, validateTiming, type NatsConfig } from './config.ts';
import { connectCluster, type ClusterConnection } from './connection.ts';
import { ClusterError, NatsUnreachableError } from './errors.ts';
import { KvMembership, membersBucket, singleNodeMembership, type Membership, type MembershipHealth } from './membership.ts';
import { newIncarnation, resolveNodeName } from './nodeIdentity.ts';
import { classifyJetStreamError, resolveReplicas, type ReplicasSetting } from './replicas.ts';

/** Configuration of the discovery child. */
export interface DiscoveryConfig {
  /** Cluster name: names the KV buckets and streams (default `ordo`). */
  cluster?: string;
  /** Stable node name; else persisted in `dataDir`. */
  nodeName?: string;
  dataDir?: string;
  /** NATS settings; no servers → single-node mode. */
  nats?: NatsConfig;
  heartbeatMs?: number;
  ttlMs?: number;
  /** Published with this node's entry. */
  meta?: Record<string, string>;
  /**
   * The "cluster formed" signal DNSCluster lacked: stay in `forming` (not ready) until at least
   * this many members (this node included) are up. Default 1 (ready at once).
   */
  minMembers?: number;
  /**
   * Give up waiting for `minMembers` after this long and become ready anyway (logged as
   * `formation_timeout`). Unset: wait — the supervisor's `startTimeoutMs` decides.
   */
  formTimeoutMs?: number;
  /**
   * Copies of every stream, KV bucket and object store Ordo creates (members, leases, schema
   * records, replication streams, snapshots). Default `'auto'`: 3 when the connected NATS
   * cluster advertises at least 3 servers, 1 on a single server. Applied at creation and
   * reconciled for existing ones (an explicit count also shrinks; `'auto'` never does); a
   * count the cluster cannot hold fails with `ORDO_JETSTREAM_REPLICAS`. See docs/cluster.md.
   */
  replicas?: ReplicasSetting;
}

/** Input of the discovery machine. */
export interface DiscoveryInput {
  env: Env;
  config: DiscoveryConfig;
}

/** What a running discovery child provides: the membership and the checked connection. */
export interface ClusterService extends Membership {
  /** The NATS connection; `undefined` in single-node mode. */
  readonly connection: ClusterConnection | undefined;
  readonly cluster: string;
  readonly incarnation: string;
  /** The replica count every stream/bucket of this cluster gets (resolved from {@link DiscoveryConfig.replicas}); absent = 1. */
  readonly replicas?: number;
  /** Whether that count was configured (reconciling may shrink) or `'auto'` (never shrinks); absent = auto. */
  readonly replicasExplicit?: boolean;
}

interface Ctx {
  env: Env;
  config: DiscoveryConfig;
  attempt: number;
  service: ClusterService | undefined;
  membership: KvMembership | undefined;
  /** The last error (why degraded, or why it failed). */
  error: ClusterError | undefined;
  health: MembershipHealth | { status: 'starting' | 'degraded' | 'failed'; reason?: { code: string; message: string } };
}

/** Errors retrying cannot fix: refused at boot, not a crash loop. */
const PERMANENT = new Set(['ORDO_NATS_AUTH', 'ORDO_NATS_TLS', 'ORDO_NATS_NO_JETSTREAM', 'ORDO_NATS_FEATURE', 'ORDO_NATS_NO_CONNECTOR', 'ORDO_CLUSTER_CONFIG', 'ORDO_JETSTREAM_REPLICAS']);

const toClusterError = (e: unknown): ClusterError =>
  e instanceof ClusterError ? e : new NatsUnreachableError(e instanceof Error ? e.message : String(e), { cause: e });

async function boot(input: DiscoveryInput): Promise<{ service: ClusterService; membership: KvMembership | undefined }> {
  const { env, config } = input;
  const cluster = validateName('cluster', config.cluster ?? 'ordo');
  const node = await resolveNodeName(env, { ...(config.nodeName !== undefined ? { nodeName: config.nodeName } : {}), ...(config.dataDir !== undefined ? { dataDir: config.dataDir } : {}) });
  const incarnation = newIncarnation(env);
  const timing = validateTiming({ ...(config.heartbeatMs !== undefined ? { heartbeatMs: config.heartbeatMs } : {}), ...(config.ttlMs !== undefined ? { ttlMs: config.ttlMs } : {}) });
  if (!config.nats?.servers?.length) {
    env.logger.info({ report: 'discovery_single_node', node, mode: 'single' }, 'no NATS servers configured: single-node mode');
    const m = singleNodeMembership(node, incarnation, env.clock.now());
    return { service: Object.assign(Object.create(null) as object, m, { self: node, connection: undefined, cluster, incarnation, replicas: 1, replicasExplicit: false }) as ClusterService, membership: undefined };
  }
  if (config.replicas !== undefined) resolveReplicas(undefined, config.replicas); // a bad value is a config error before connecting
  const conn = await connectCluster(env, config.nats, node);
  const replicasExplicit = config.replicas !== undefined && config.replicas !== 'auto';
  const replicas = resolveReplicas({ ...(conn.transport.info.cluster !== undefined ? { cluster: conn.transport.info.cluster } : {}), ...(conn.transport.info.connectUrls ? { connect_urls: conn.transport.info.connectUrls } : {}) }, config.replicas);
  env.logger.info({ report: 'discovery_replicas', node, replicas, setting: config.replicas ?? 'auto', servers: conn.transport.info.connectUrls?.length ?? 1 }, `streams and buckets get ${replicas} replica(s)`);
  const membership = new KvMembership(env, conn, { cluster, node, incarnation, timing, replicas, replicasExplicit, ...(config.meta ? { meta: config.meta } : {}) });
  try {
    await membership.start();
  } catch (e) {
    await membership.stop();
    const connected = conn.state() === 'connected';
    await conn.close();
    // Connected but the members bucket (or the meta group) has no leader: JetStream is
    // unavailable, not NATS unreachable — boot retries, health `degraded` names it.
    throw e instanceof ClusterError ? e : classifyJetStreamError(e, connected, `could not register in the members bucket ${membersBucket(cluster)}`, { node });
  }
  const service: ClusterService = {
    self: node,
    cluster,
    incarnation,
    connection: conn,
    replicas,
    replicasExplicit,
    members: () => membership.members(),
    on: (ev, l) => membership.on(ev, l),
    health: () => membership.health(),
  };
  return { service, membership };
}

/**
 * The discovery child (an xstate v5 machine, see docs/child-protocol.md).
 *
 * - No NATS servers configured → `single` (ready at once, this node alone).
 * - Else `connecting` → register in the members KV bucket, heartbeat, watch → `running`
 *   (tag `ready`, `context.service` = the {@link ClusterService}).
 * - NATS unreachable at boot → `retrying` with jittered back-off (tag `degraded`; health says
 *   why) — not a crash loop. Bad credentials, no JetStream, a missing server feature or a bad
 *   config → final state with output `{ reason }` (a start failure, not retried here).
 * - An outage while running → substate `degraded` (still `ready`), back to `healthy` on reconnect.
 * - `ordo.stop` → deletes its entry, drains the connection, reaches a final state.
 *
 * @example
 * import { createTestEnv } from 'ordo';
 * import { discoveryMachine } from 'ordo/cluster';
 * import { createActor } from 'xstate';
 *
 * const env = createTestEnv();
 * const servers: string[] = []; // none: single-node mode; `['nats://127.0.0.1:4222']` joins a cluster
 * const actor = createActor(discoveryMachine, { input: { env, config: { nodeName: 'a', nats: { servers } } }, clock: env.clock });
 * actor.start();
 * await new Promise<void>((ok) => actor.subscribe((s) => s.hasTag('ready') && ok()));
 * console.log(actor.getSnapshot().context.service?.members().map((m) => m.name)); // ['a']
 * actor.send({ type: 'ordo.stop' });
 */
export const discoveryMachine = setup({
  types: {
    input: {} as DiscoveryInput,
    context: {} as Ctx,
    events: {} as { type: 'ordo.stop'; reason?: unknown } | { type: 'health'; health: MembershipHealth } | { type: 'formed' },
    output: {} as { reason?: unknown },
  },
  actors: {
    boot: fromPromise<{ service: ClusterService; membership: KvMembership | undefined }, DiscoveryInput>(({ input }) => boot(input)),
    watchFormation: fromCallback<{ type: 'formed' }, { service: ClusterService | undefined; minMembers: number }>(({ sendBack, input }) => {
      const svc = input.service;
      if (!svc || svc.members().length >= input.minMembers) {
        sendBack({ type: 'formed' });
        return undefined;
      }
      return svc.on('nodeup', () => {
        if (svc.members().length >= input.minMembers) sendBack({ type: 'formed' });
      });
    }),
    watchHealth: fromCallback<{ type: 'health'; health: MembershipHealth }, { membership: KvMembership | undefined }>(({ sendBack, input }) => {
      if (!input.membership) return undefined;
      return input.membership.on('health', (health) => sendBack({ type: 'health', health }));
    }),
    shutdown: fromPromise<void, { service: ClusterService | undefined; membership: KvMembership | undefined }>(async ({ input }) => {
      await input.membership?.stop();
      await input.service?.connection?.close();
    }),
  },
  delays: {
    // No timeout configured: effectively forever (the supervisor's start timeout decides).
    formTimeout: ({ context }) => context.config.formTimeoutMs ?? 2 ** 31 - 1,
    retryDelay: ({ context }) => retryDelay(CLUSTER_RETRY.jittered, context.attempt, context.env.random),
  },
  guards: {
    permanent: ({ event }) => PERMANENT.has(toClusterError((event as { error?: unknown }).error).code),
    degraded: ({ event }) => event.type === 'health' && event.health.status === 'degraded',
  },
}).createMachine({
  id: 'ordo.discovery',
  context: ({ input }) => ({ env: input.env, config: input.config, attempt: 0, service: undefined, membership: undefined, error: undefined, health: { status: 'starting' } }),
  initial: 'connecting',
  states: {
    connecting: {
      invoke: {
        src: 'boot',
        input: ({ context }) => ({ env: context.env, config: context.config }),
        onDone: {
          target: 'forming',
          actions: assign(({ event }) => ({ service: event.output.service, membership: event.output.membership, error: undefined, health: event.output.service.health() })),
        },
        onError: [
          {
            guard: 'permanent',
            target: 'failed',
            actions: assign(({ event }) => {
              const error = toClusterError(event.error);
              return { error, health: { status: 'failed' as const, reason: { code: error.code, message: error.message } } };
            }),
          },
          {
            target: 'retrying',
            actions: [
              ({ event, context }) => {
                const err = toClusterError(event.error);
                context.env.logger.warn({ report: 'discovery_connect_failed', code: err.code, attempt: context.attempt + 1, err }, err.code === 'ORDO_JETSTREAM_UNAVAILABLE' ? 'JetStream unavailable (no leader); retrying' : 'NATS not reachable; retrying');
              },
              assign(({ event, context }) => {
                const error = toClusterError(event.error);
                return { error, attempt: context.attempt + 1, health: { status: 'degraded' as const, reason: { code: error.code, message: error.message } } };
              }),
            ],
          },
        ],
      },
      on: { 'ordo.stop': 'stopped' },
    },
    retrying: {
      tags: ['degraded'],
      after: { retryDelay: 'connecting' },
      on: { 'ordo.stop': 'stopped' },
    },
    forming: {
      invoke: { src: 'watchFormation', input: ({ context }) => ({ service: context.service, minMembers: context.config.minMembers ?? 1 }) },
      after: {
        formTimeout: {
          target: 'running',
          actions: ({ context }) =>
            context.env.logger.warn(
              { report: 'discovery_formation_timeout', members: context.service?.members().map((m) => m.name), minMembers: context.config.minMembers },
              'cluster not formed in time; proceeding',
            ),
        },
      },
      on: {
        formed: {
          target: 'running',
          actions: ({ context }) => context.env.logger.info({ report: 'discovery_formed', members: context.service?.members().map((m) => m.name) }, 'cluster formed'),
        },
        'ordo.stop': 'stopping',
      },
    },
    running: {
      tags: ['ready'],
      invoke: { src: 'watchHealth', input: ({ context }) => ({ membership: context.membership }) },
      initial: 'healthy',
      on: {
        'ordo.stop': 'stopping',
        health: { actions: assign(({ event }) => ({ health: event.health })) },
      },
      states: {
        healthy: { on: { health: { guard: 'degraded', target: 'degraded', actions: assign(({ event }) => ({ health: event.health })) } } },
        degraded: {
          tags: ['degraded'],
          on: { health: [{ guard: 'degraded', actions: assign(({ event }) => ({ health: event.health })) }, { target: 'healthy', actions: assign(({ event }) => ({ health: event.health })) }] },
        },
      },
    },
    stopping: {
      invoke: {
        src: 'shutdown',
        input: ({ context }) => ({ service: context.service, membership: context.membership }),
        onDone: 'stopped',
        onError: 'stopped',
      },
    },
    failed: { type: 'final' },
    stopped: { type: 'final' },
  },
  // The root's output: a failed boot carries the typed error as an abnormal reason.
  output: ({ context }) => ({ reason: context.health.status === 'failed' ? context.error : 'shutdown' }),
});
