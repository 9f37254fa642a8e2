/**
 * Step 4 — `peer: Oban.Peers.PG` does not exist in open-source Oban (Pro only). The release was
 * built and deployed; the app crashed at boot with `expected :peer to be one of [:falsy,
 * {:behaviour, Oban.Peer}]`, after the other children had started.
 */
import { setup } from 'xstate';
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { Oracle } from '../../../src/chaos/oracles.ts';
import type { SupervisorInit } from '../../../src/supervisor/index.ts';
import { storeInitializerMachine } from '../../../src/store/initializerMachine.ts';
import { defineWorker, jobRunnerChild, jobTables, type JobRunnerConfig } from '../../../src/jobs/index.ts';
import { OrdoError } from '../../../src/errors.ts';
import { appStaysUp, lazyRepoMachine, type IncidentStep } from './kit.ts';

const mailer = defineWorker<{ to: string }>({ name: 'mailer', queue: 'mail', perform: async () => undefined });
/** The configuration of the bad release: a peer module that does not exist in the installed version. */
const badConfig = { workers: [mailer], queues: { mail: 2 }, peer: 'Oban.Peers.PG' } as unknown as JobRunnerConfig;
/** The release before it. */
const goodConfig: JobRunnerConfig = { workers: [mailer], queues: { mail: 2 }, peer: 'solo', notifier: 'local' };

/** As deployed: Oban checks its options in its own init — at boot, after the repo has started. */
const obanMachine = setup({ types: { input: {} as { peer: string } } }).createMachine({
  initial: 'init',
  states: {
    init: { always: 'failed' },
    failed: { type: 'final', output: { reason: { oban: 'expected :peer to be one of [:falsy, {:behaviour, Oban.Peer}], got: Oban.Peers.PG' } } },
  },
});

function tree(ctx: ScenarioContext, ordo: boolean): SupervisorInit {
  if (!ordo) {
    const db = { hostname: 'db', connect: async () => undefined, query: async () => 1, reachable: () => true };
    return {
      strategy: 'one_for_one',
      maxRestarts: 3,
      periodMs: 5000,
      children: [
        { id: 'repo', start: { machine: lazyRepoMachine, name: 'repo', input: { db, probe: ctx.probe } } },
        { id: 'oban', start: { machine: obanMachine, name: 'oban', input: { peer: 'Oban.Peers.PG' } } },
      ],
    };
  }
  // The Ordo way: the job runner's spec is built — and its configuration validated — before
  // anything boots. The bad release is refused here; the running release keeps serving.
  let config = badConfig;
  try {
    jobRunnerChild({ config: badConfig });
  } catch (e) {
    ctx.probe('spec.refused', { code: e instanceof OrdoError ? e.code : 'unknown', message: e instanceof Error ? e.message : String(e) });
    config = goodConfig;
  }
  return {
    strategy: 'rest_for_one',
    maxRestarts: 3,
    periodMs: 5000,
    children: [
      { id: 'store', provides: 'store', start: { machine: storeInitializerMachine, name: 'store', input: { env: ctx.env, dir: '/data/store', tables: jobTables() } } },
      { ...jobRunnerChild({ config }), restart: 'permanent' },
    ],
  };
}

/** A configuration naming a module that does not exist is refused before any process starts, naming it. */
const refusedBeforeBoot: Oracle = {
  name: 'refusedBeforeBoot',
  description: 'an unknown peer module is refused before boot, named',
  check(view) {
    const refused = view.trace.find((e) => e.kind === 'spec.refused');
    const firstSpawn = view.trace.find((e) => e.kind === 'spawn');
    const bootFailure = view.trace.find((e) => e.kind === 'report' && e['report'] === 'start_error');
    if (refused && (!firstSpawn || view.trace.indexOf(refused) < view.trace.indexOf(firstSpawn)) && String(refused['message']).includes('Oban.Peers.PG')) return { ok: true };
    return { ok: false, t: bootFailure?.t ?? firstSpawn?.t ?? 0, message: bootFailure ? `the bad peer module was found only at boot: ${JSON.stringify(bootFailure['reason'])}` : 'the bad peer module was not refused' };
  },
};

const invariants = [
  { kind: 'always', oracle: 'refusedBeforeBoot' },
  { kind: 'always', oracle: 'appStaysUp' },
] as const;

export const asDeployed: Scenario = { name: 'step04-peer-module/as-deployed', description: 'Oban validates its peer module in its own init, at boot', tree: (ctx) => tree(ctx, false), horizonMs: 2000, invariants, expect: 'fail' };
export const withOrdo: Scenario = { name: 'step04-peer-module/with-ordo', description: "the job runner's configuration is validated when its spec is built, before boot", tree: (ctx) => tree(ctx, true), horizonMs: 2000, invariants, expect: 'pass' };

export const step04: IncidentStep = {
  id: 'step04',
  step: '4',
  title: 'A peer module that does not exist in the installed version',
  story:
    "To fix the peers crash, the config was changed to `peer: Oban.Peers.PG` — which exists only in Oban Pro. The release built and deployed; the app then crashed at boot with `expected :peer to be one of [:falsy, {:behaviour, Oban.Peer}]`, and another deploy round was needed.",
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'refusedBeforeBoot',
  mechanism:
    "Spec-time validation (src/jobs `jobRunnerChild`): the runner's configuration is checked when its child spec is built — an unknown peer or notifier module is a `JobsUnknownModuleError` (`ORDO_JOBS_UNKNOWN_MODULE`) naming the value and the modules that exist, before any process starts; the running release keeps serving.",
  oracles: { refusedBeforeBoot, appStaysUp },
};
