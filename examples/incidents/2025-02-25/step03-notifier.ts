/**
 * Step 3 — Oban's default notifier uses PostgreSQL `LISTEN/NOTIFY`; the app had moved to
 * PgBouncer in transaction mode, which does not support it. Nothing failed for two days: the
 * notifier's connection predated the pooler. The next restart — a deploy — surfaced it:
 * `Oban could not start because: no notifier running for instance Oban`.
 *
 * The as-deployed scenario is the restart-everything chaos run that surfaces such a latent bug
 * before a deploy does: the notifier is killed once, long after the pooler came in.
 */
import { fromPromise, setup } from 'xstate';
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { Oracle } from '../../../src/chaos/oracles.ts';
import type { MachineStart, SupervisorInit } from '../../../src/supervisor/index.ts';
import type { Env } from '../../../src/env/index.ts';
import { storeInitializerMachine } from '../../../src/store/initializerMachine.ts';
import { defineWorker, jobRunnerChild, jobTables } from '../../../src/jobs/index.ts';
import { appStaysUp, type IncidentStep } from './kit.ts';

/** PgBouncer (transaction mode) sits in front of the database from this time on. */
const POOLER_AT_MS = 60_000;
/** The restart-everything run (or the deploy): the notifier is restarted here. */
const RESTART_AT_MS = 120_000;

interface ListenInput {
  readonly env: Env;
  readonly probe: ScenarioContext['probe'];
}

/** As deployed: Oban.Notifiers.Postgres — `LISTEN` on a connection, refused through the pooler. */
const postgresNotifierMachine = setup({
  types: { input: {} as ListenInput, context: {} as { input: ListenInput } },
  actors: {
    listen: fromPromise<void, ListenInput>(async ({ input }) => {
      await new Promise<void>((r) => input.env.clock.setTimeout(() => r(), 5));
      const pooled = input.env.clock.now() >= POOLER_AT_MS;
      input.probe('notifier.listen', { ok: !pooled });
      if (pooled) throw new Error('no notifier running for instance Oban: LISTEN is not supported by PgBouncer in transaction mode');
    }),
  },
}).createMachine({
  context: ({ input }) => ({ input }),
  initial: 'listening',
  states: {
    listening: { invoke: { src: 'listen', input: ({ context }) => context.input, onDone: 'up', onError: 'failed' } },
    up: { tags: ['ready'], on: { 'ordo.stop': 'done' } },
    failed: { type: 'final', output: ({ event }) => ({ reason: { oban: String((event as { error?: unknown }).error) } }) },
    done: { type: 'final' },
  },
});

const mailer = defineWorker<{ to: string }>({ name: 'mailer', queue: 'mail', perform: async () => undefined });

function tree(ctx: ScenarioContext, ordo: boolean): SupervisorInit {
  if (!ordo) {
    return {
      strategy: 'one_for_one',
      maxRestarts: 3,
      periodMs: 5000,
      children: [{ id: 'oban_notifier', start: { machine: postgresNotifierMachine, name: 'oban_notifier', input: { env: ctx.env, probe: ctx.probe } } }],
    };
  }
  // Ordo's runner: the notifier is NATS in cluster mode, in-process otherwise, with a polling
  // fallback — never a database feature, so a pooler in front of the database changes nothing.
  const jobs = jobRunnerChild({ config: { workers: [mailer], queues: { mail: 2 }, peer: 'solo' } });
  return {
    strategy: 'rest_for_one',
    maxRestarts: 3,
    periodMs: 5000,
    children: [
      { id: 'store', provides: 'store', start: { machine: storeInitializerMachine, name: 'store', input: { env: ctx.env, dir: '/data/store', tables: jobTables() } } },
      // registered as `oban_notifier`, so the restart-everything run's kill reaches it
      { ...jobs, start: { ...(jobs.start as MachineStart), name: 'oban_notifier' } },
    ],
  };
}

/** After the restart, the notifier is running again. */
const notifierBack: Oracle = {
  name: 'notifierBack',
  description: 'the notifier runs again after the restart',
  check(view) {
    const kill = view.trace.findIndex((e) => e.kind === 'fault' && e['subject'] === 'oban_notifier');
    const back = kill >= 0 && view.trace.slice(kill).find((e) => e.kind === 'ready' && e['name'] === 'oban_notifier');
    return back ? { ok: true } : { ok: false, t: RESTART_AT_MS, message: 'the notifier did not come back after the restart' };
  },
};

const invariants = [
  { kind: 'always', oracle: 'appStaysUp' },
  { kind: 'eventually', oracle: 'notifierBack' },
] as const;
const timeline = [{ at: RESTART_AT_MS, action: 'kill', child: 'oban_notifier' }] as const;

export const asDeployed: Scenario = { name: 'step03-notifier/as-deployed', description: 'LISTEN/NOTIFY notifier, a pooler since 60 s, one restart at 120 s', tree: (ctx) => tree(ctx, false), horizonMs: 180_000, healAtMs: 180_000, faults: { timeline }, invariants, expect: 'fail' };
export const withOrdo: Scenario = { name: 'step03-notifier/with-ordo', description: "Ordo's job runner: an in-process notifier with a polling fallback, the same restart", tree: (ctx) => tree(ctx, true), horizonMs: 180_000, healAtMs: 180_000, faults: { timeline }, invariants, expect: 'pass' };

export const step03: IncidentStep = {
  id: 'step03',
  step: '3',
  title: 'A notifier that works only without a connection pooler: a latent bug surfaced by a restart',
  story:
    "Deploy succeeded, then `Oban could not start because: no notifier running for instance Oban`. Oban's default notifier uses PostgreSQL LISTEN/NOTIFY; PgBouncer in transaction mode does not support it. The machines had not restarted since the pooler came in, so the running notifier kept its old connection — a latent bug that only a restart could show.",
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'appStaysUp',
  mechanism:
    "Job runner notifier (src/jobs): NATS pub/sub in cluster mode, in-process otherwise, with a polling fallback and its own health — never a database feature. And the chaos engine (src/chaos): a restart-everything run (a timeline `kill`) surfaces a bug that only a restart shows, before a deploy does — which is what the as-deployed scenario is.",
  oracles: { appStaysUp, notifierBack },
};
