import { assign, fromCallback, fromPromise, setup } from 'xstate';
import type { Env } from '../env/env.ts';
import type { Store } from '../store/index.ts';
import type { ClusterService, Leadership } from '../cluster/index.ts';
import type { ChildSpec } from '../supervisor/index.ts';
import { JobRunner, type JobsHealth } from './runner.ts';
import { validateRunnerConfig, type JobRunnerConfig } from './config.ts';
import { JobsConfigError } from './errors.ts';

/** Input of {@link jobRunnerMachine}. */
export interface JobRunnerMachineInput {
  readonly env: Env;
  readonly store: Store;
  readonly config: JobRunnerConfig;
  readonly cluster?: ClusterService;
  readonly leadership?: Leadership;
}

interface Ctx {
  readonly input: JobRunnerMachineInput;
  /** The runner once booted, for the reaper (a mutable cell: the reaper's input is read at start). */
  readonly cell: { runner: JobRunner | undefined };
  service: JobRunner | undefined;
  health: JobsHealth | undefined;
  reason: unknown;
}

/**
 * The job-runner child (xstate v5, docs/child-protocol.md): `starting` → `running` (tag
 * `ready`; `context.service` is the {@link JobRunner}) with substates `healthy` and `degraded`
 * (tags `ready`, `degraded`) following the runner's health — a store or notifier outage is a
 * substate, never a crash of this child. `ordo.stop` → `stopping` (plugins stop, queues drain
 * within the config's `shutdownMs`, then aborted: jobs whose perform stopped return to available, one that
 * ignores its signal stays executing for the lifeline) → final. A bad
 * configuration (the store lacks the job tables, `peer: 'election'` without leadership) ends
 * it in `failed` with the typed error as its reason. Stopped while it boots, the runner the boot
 * makes never claims; killed (the actor stopped without `ordo.stop`: a brutal kill, a shutdown
 * timeout, a kill of the tree above), its runner is killed with it ({@link JobRunner.kill}) —
 * never left claiming under the runner id its next incarnation takes; killed while `stopping`,
 * the drain under way is cut short (its performs aborted now, their jobs returned within the
 * abort's grace). The next incarnation's runner waits for that stop before it claims.
 */
export const jobRunnerMachine = setup({
  types: {
    input: {} as JobRunnerMachineInput,
    context: {} as Ctx,
    events: {} as { type: 'ordo.stop'; reason?: unknown } | { type: 'jobs.health'; health: JobsHealth },
    output: {} as { reason?: unknown },
  },
  actors: {
    // stopped while it boots (the machine stopped or left `starting`): the runner it makes never claims
    boot: fromPromise<JobRunner, JobRunnerMachineInput>(({ input, signal }) => JobRunner.start(input, signal)),
    // for the machine's whole life: when it stops without the runner stopped (killed), the runner is
    reaper: fromCallback<{ type: 'jobs.none' }, { cell: Ctx['cell'] }>(({ input }) => () => input.cell.runner?.kill()),
    watch: fromCallback<{ type: 'jobs.health'; health: JobsHealth }, { runner: JobRunner }>(({ input, sendBack }) => {
      sendBack({ type: 'jobs.health', health: input.runner.health() });
      return input.runner.onHealth((health) => sendBack({ type: 'jobs.health', health }));
    }),
    shutdown: fromPromise<number, { runner: JobRunner | undefined }>(async ({ input }) => (input.runner ? input.runner.stop() : 0)),
  },
  guards: {
    degraded: ({ event }) => event.type === 'jobs.health' && event.health.status === 'degraded',
    healthy: ({ event }) => event.type === 'jobs.health' && event.health.status === 'ok',
  },
}).createMachine({
  id: 'ordo.jobs',
  context: ({ input }) => ({ input, cell: { runner: undefined }, service: undefined, health: undefined, reason: undefined }),
  invoke: { src: 'reaper', input: ({ context }) => ({ cell: context.cell }) },
  initial: 'starting',
  states: {
    starting: {
      invoke: {
        src: 'boot',
        input: ({ context }) => context.input,
        onDone: { target: 'running', actions: [({ context, event }) => void (context.cell.runner = event.output), assign({ service: ({ event }) => event.output })] },
        onError: { target: 'failed', actions: assign({ reason: ({ event }) => event.error }) },
      },
      // leaving `starting` stops the boot (its signal aborts): the runner it resolves with never claims
      on: { 'ordo.stop': 'stopped' },
    },
    running: {
      tags: ['ready'],
      invoke: { src: 'watch', input: ({ context }) => ({ runner: context.service! }) },
      initial: 'healthy',
      on: {
        'ordo.stop': 'stopping',
        'jobs.health': { actions: assign({ health: ({ event }) => event.health }) },
      },
      states: {
        healthy: { on: { 'jobs.health': { guard: 'degraded', target: 'degraded', actions: assign({ health: ({ event }) => event.health }) } } },
        degraded: { tags: ['degraded'], on: { 'jobs.health': { guard: 'healthy', target: 'healthy', actions: assign({ health: ({ event }) => event.health }) } } },
      },
    },
    stopping: {
      invoke: {
        src: 'shutdown',
        input: ({ context }) => ({ runner: context.service }),
        onDone: 'stopped',
        onError: { target: 'stopped', actions: ({ context, event }) => context.input.env.logger.error({ report: 'jobs_stop_failed', err: event.error }, 'job runner stop failed') },
      },
    },
    failed: { type: 'final' },
    stopped: { type: 'final' },
  },
  output: ({ context }) => (context.reason !== undefined ? { reason: context.reason } : { reason: 'shutdown' }),
});

/** Options of {@link jobRunnerChild}. */
export interface JobRunnerChildOptions {
  /** Child id (default `jobs`). */
  readonly id?: string;
  readonly config: JobRunnerConfig;
  /**
   * Service names to take from earlier children: `store` (required, default `store`),
   * `cluster` and `leader` (cluster mode), and `after` — others to wait for (the replication
   * child, caches) without using them.
   */
  readonly deps?: { readonly store?: string; readonly cluster?: string; readonly leader?: string; readonly after?: readonly string[] };
  /** Name this child provides its {@link JobRunner} under (default `jobs`). */
  readonly provides?: string;
  /** Reads the runner from the ready snapshot (`JobsBoard.track` to follow it for health). */
  readonly select?: (snapshot: unknown) => unknown;
}

/**
 * A child spec for the runner, with its configuration validated **now** — when the tree is
 * declared, before anything boots: an unknown notifier or peer module, a bad cron line or zone,
 * a worker without its queue are typed errors naming them (seed step 4).
 *
 * @example
 * import { defineWorker, jobRunnerChild } from 'ordo/jobs';
 * import type { ChildSpec } from 'ordo';
 *
 * const mailer = defineWorker<{ to: string }>({ name: 'mailer', queue: 'mail', perform: (args) => (console.log('mail to', args.to), { ok: true }) });
 * const children: ChildSpec[] = [
 *   // … discovery ('cluster'), election ('leader'), the store ('store'), replication …
 *   jobRunnerChild({ config: { workers: [mailer], queues: { mail: 10 }, crontab: [{ expression: '@daily', worker: mailer, args: { to: 'ops@example.com' } }] },
 *                    deps: { store: 'store', cluster: 'cluster', leader: 'leader', after: ['replication'] } }),
 * ];
 * console.log(children.map((c) => c.id)); // ['jobs']
 */
export function jobRunnerChild(o: JobRunnerChildOptions): ChildSpec {
  const cfg = validateRunnerConfig(o.config);
  const d = o.deps ?? {};
  for (const [k, v] of Object.entries(d)) if (k !== 'after' && typeof v !== 'string') throw new JobsConfigError(`deps.${k}`, v, 'must be a service name');
  const storeKey = d.store ?? 'store';
  const requires = [storeKey, ...(d.cluster ? [d.cluster] : []), ...(d.leader ? [d.leader] : []), ...(d.after ?? [])];
  return {
    id: o.id ?? 'jobs',
    requires,
    shutdownMs: cfg.shutdownMs + 5000,
    provides: { name: o.provides ?? 'jobs', ...(o.select ? { select: o.select } : {}) },
    start: {
      machine: jobRunnerMachine,
      input: ({ env, deps }: { env: Env; deps: Readonly<Record<string, unknown>> }): JobRunnerMachineInput => ({
        env,
        store: deps[storeKey] as Store,
        config: o.config,
        ...(d.cluster ? { cluster: deps[d.cluster] as ClusterService } : {}),
        ...(d.leader ? { leadership: deps[d.leader] as Leadership } : {}),
      }),
    },
  };
}
