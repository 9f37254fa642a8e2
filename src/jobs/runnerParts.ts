/**
 * How a runner is put together from its input (split out of runner.ts): the checks of what the
 * configuration needs (the job tables, a NATS connection, the election's leadership), the runner
 * id (`node/incarnation`), the membership, the notifier, and the leader-only plugins.
 *
 * @internal Used by the runner.
 */
import type { Env } from '../env/env.ts';
import type { HttpServerHandle } from '../env/index.ts';
import { serveAdminSocket } from './admin.ts';
import type { Store } from '../store/index.ts';
import type { ClusterService, Leadership, Membership } from '../cluster/index.ts';
import type { NormalConfig } from './config.ts';
import { cronPlugin, type ParsedCron } from './cronPlugin.ts';
import { JobsConfigError } from './errors.ts';
import { runnerWithLeftovers } from './leftovers.ts';
import { createLocalNotifier, createNatsNotifier, type Notifier } from './notifier.ts';
import { lifelinePlugin, prunerPlugin, stagerPlugin, type Plugin, type PluginHooks, type TimedPlugin } from './plugins.ts';
import { JOB_TABLES } from './tables.ts';
import type { Job } from './types.ts';

/** A runner's parts, fixed at construction. */
export interface RunnerParts {
  /** The runner id, `node/incarnation`. */
  readonly node: string;
  /** The election's leadership, when `peer` is `election`. */
  readonly leadership: Leadership | undefined;
  /** Leader from the start (`peer: 'solo'`). */
  readonly solo: boolean;
  readonly peerNone: boolean;
  readonly membership: Membership;
  readonly notifier: Notifier;
  readonly conn: ClusterService['connection'];
  readonly clusterName: string | undefined;
}

/** Checks what `cfg` needs of the input and builds the runner's fixed parts (throws `ORDO_JOBS_CONFIG`). */
export function runnerParts(env: Env, store: Store, cfg: NormalConfig, cluster: ClusterService | undefined, leadership: Leadership | undefined): RunnerParts {
  for (const t of Object.values(JOB_TABLES)) if (!store.tableDef(t)) throw new JobsConfigError('store', t, 'the store lacks the job tables: add jobTables() to its tables');
  const conn = cluster?.connection;
  if (cfg.notifier === 'nats' && !conn) throw new JobsConfigError('notifier', 'nats', 'needs a cluster with a NATS connection');
  const peer = cfg.peer === 'auto' ? (leadership ? 'election' : 'solo') : cfg.peer;
  if (peer === 'election' && !leadership) throw new JobsConfigError('peer', 'election', 'needs the election child’s leadership service');
  if (peer === 'solo' && conn) throw new JobsConfigError('peer', 'solo', 'a clustered node cannot assume it is always leader: use election');
  const name = cluster?.self ?? 'local';
  // single node: a restart in this process keeps the runner id while a perform a drain left still runs (see leftovers.ts)
  const kept = cluster ? undefined : runnerWithLeftovers(store, name)?.slice(name.length + 1);
  const incarnation = cluster?.incarnation ?? kept ?? Math.floor(env.random.next() * 2 ** 32).toString(36);
  return {
    node: `${name}/${incarnation}`,
    leadership: peer === 'election' ? leadership : undefined,
    solo: peer === 'solo',
    peerNone: peer === 'none',
    membership: cluster ?? { self: name, members: () => [{ name, incarnation, heartbeatAt: 0, startedAt: 0 }], on: () => () => undefined, health: () => ({ status: 'ok', mode: 'single', node: name, members: [name] }) },
    notifier: conn && cfg.notifier !== 'local' ? createNatsNotifier(env, conn, cluster!.cluster) : createLocalNotifier(env),
    conn,
    clusterName: cluster?.cluster,
  };
}

/** What the plugins report to their runner, and how the cron plugin makes its jobs. */
export interface PluginHost extends PluginHooks {
  fired(name: string, slot: number): void;
  cronJob(c: ParsedCron, slot: number): Job;
  isLeader(): boolean;
}

/** The leader-only plugins of a runner: the stager first (the runner arms it), the lifeline, the pruner and cron when configured. */
export function buildPlugins(env: Env, store: Store, cfg: NormalConfig, membership: Membership, node: string, clustered: boolean, host: PluginHost): Plugin[] {
  const plugins: Plugin[] = [stagerPlugin(env, store, cfg.stager.intervalMs, cfg.stager.limit, host)];
  const graceMs = cfg.lifeline.graceMs ?? (clustered ? 5000 : 0);
  plugins.push(lifelinePlugin(env, store, membership, node, { intervalMs: cfg.lifeline.intervalMs, graceMs, rescueAfterMs: cfg.lifeline.rescueAfterMs }, host));
  if (cfg.pruner) plugins.push(prunerPlugin(env, store, cfg.pruner.intervalMs, cfg.pruner.maxAgeMs, cfg.pruner.limit, host));
  if (cfg.crons.length > 0) plugins.push(cronPlugin(env, store, cfg.crons, (c, slot) => host.cronJob(c, slot), () => host.isLeader(), host));
  return plugins;
}

/**
 * Serves the local control channel at `path` for `runner` (what `serveAdminSocket` takes). A
 * failure to listen is returned (the runner is degraded with it, never a crash) and logged.
 */
export async function listenAdmin(env: Env, path: string, runner: Parameters<typeof serveAdminSocket>[2]): Promise<{ server: HttpServerHandle } | { error: string }> {
  try {
    if (new TextEncoder().encode(path).length > 107) throw new JobsConfigError('adminSocket', path, 'a unix socket path is at most 107 bytes: use a shorter data directory');
    return { server: await serveAdminSocket(env, path, runner) };
  } catch (err) {
    env.logger.error({ report: 'jobs_admin_socket_failed', path, err }, 'the job runner cannot serve its admin socket; ordo jobs will not reach this node locally');
    return { error: `admin socket ${path}: ${(err as Error)?.message ?? String(err)}` };
  }
}

/** A runner's leader-only plugins, run while its node leads (the stager first). */
export class PluginSet {
  /** Started and not stopped since. */
  running = false;
  private readonly list: readonly Plugin[];

  constructor(list: readonly Plugin[]) {
    this.list = list;
  }

  /** The stager (armed by the runner when a job becomes scheduled or retryable). */
  get stager(): TimedPlugin {
    return this.list[0] as TimedPlugin;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const p of this.list) p.start();
  }

  /** Stops each (timers cleared) and waits for the operations in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.list.map((p) => p.stop()));
  }
}
