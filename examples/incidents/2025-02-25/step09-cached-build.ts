/**
 * Step 9 — the first deploy of commit `5b3725d` used the remote builder's layer cache: every
 * build step `CACHED`, the image held the old code, both machines passed their health checks,
 * and the fixes were not running. Nothing at boot said which code was running.
 */
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { Oracle } from '../../../src/chaos/oracles.ts';
import type { SupervisorInit } from '../../../src/supervisor/index.ts';
import { healthProbe, lazyRepoMachine, type IncidentStep } from './kit.ts';

/** What the deploy built. */
export const BUILT = '5b3725d';
/** What the cached image runs: the release before the fixes. */
const CACHED = 'e785ba5';

function tree(ctx: ScenarioContext): SupervisorInit {
  const db = { hostname: 'db', connect: async () => undefined, query: async () => 1, reachable: () => true };
  return {
    strategy: 'one_for_one',
    maxRestarts: 50,
    periodMs: 10_000,
    children: [{ id: 'repo', start: { machine: lazyRepoMachine, name: 'repo', input: { db, probe: ctx.probe } } }, healthProbe(ctx, 1000)],
  };
}

/**
 * The deploy's health check can tell whether the built code runs: `/health/ready` carries the
 * version, and a version other than the one built is caught (the check fails the deploy).
 */
const runsWhatWasBuilt: Oracle = {
  name: 'runsWhatWasBuilt',
  description: 'the deploy can tell which code the machines run',
  check(view) {
    const first = view.trace.find((e) => e.kind === 'health.ready' && e['code'] === 200);
    if (!first) return { ok: false, t: view.scenario.horizonMs, message: 'the health check never passed' };
    const v = first['version'];
    if (v === null || v === undefined) return { ok: false, t: first.t, message: `the health check passed with no code version: the deploy cannot tell that the cached image runs ${CACHED}, not ${BUILT}` };
    return { ok: true };
  },
};

const invariants = [{ kind: 'always', oracle: 'runsWhatWasBuilt' }] as const;
export const asDeployed: Scenario = { name: 'step09-cached-build/as-deployed', description: 'the cached image boots the old code; boot says nothing of its version', tree, horizonMs: 3000, invariants, expect: 'fail' };
export const withOrdo: Scenario = { name: 'step09-cached-build/with-ordo', description: 'the application reports its code version at boot and on /health/ready', tree, version: CACHED, horizonMs: 3000, invariants, expect: 'pass' };

export const step09: IncidentStep = {
  id: 'step09',
  step: '9',
  title: 'A cached build ships the old code',
  story:
    'The first deploy of commit `5b3725d` used the remote builder\'s layer cache: every build step showed `CACHED`, the image held the old code, and both machines passed their health checks running it. It took a `--no-cache` redeploy — and a round of confusion — to get the fixes running.',
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'runsWhatWasBuilt',
  mechanism:
    "Application version (src/supervisor `startApplication({ version })`, src/health): the tree reports the code it runs at boot (`application_started` carries `version`) and on `/health/ready` and `/tree`, so a deploy compares it with what it built — here `e785ba5` where `5b3725d` was built — and fails instead of passing its health checks.",
  oracles: { runsWhatWasBuilt },
};
