/**
 * Step 5 — "App exits in 35 ms": Mnesia's tables load a few tens of milliseconds after its
 * application has started; a process that reads them at once crashes, is restarted, crashes
 * again; OTP's default intensity (3 restarts in 5 s) is used up during boot and the application
 * exits. Raising it to 50 in 10 s let this boot through — and only bought time (step 11).
 */
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { SupervisorInit } from '../../../src/supervisor/index.ts';
import { appStaysUp, depReadyBeforeUse, mnesiaStartedMachine, mnesiaTables, noCrash, stagerMachine, tablesReadyMachine, TABLES, type IncidentStep, type Repo } from './kit.ts';

/** Readers of Mnesia's tables at boot (the bet settler, Oban's peer): each reads every few ms. */
const READERS = ['bux_settler', 'oban_peer'] as const;

function tree(ctx: ScenarioContext, ordo: boolean, limits: { maxRestarts: number; periodMs: number }): SupervisorInit {
  const tables = mnesiaTables(ctx, 20, 80);
  const draw = ctx.random('readers');
  return {
    strategy: 'one_for_one',
    ...limits,
    children: [
      ordo
        ? { id: 'mnesia', provides: 'mnesia', start: { machine: tablesReadyMachine, name: 'mnesia', input: { loadedAtMs: tables.loadedAtMs, env: ctx.env } } }
        : { id: 'mnesia', start: { machine: mnesiaStartedMachine, name: 'mnesia' } },
      ...READERS.map((id) => {
        const everyMs = 14 + Math.floor(draw() * 8);
        const base = { id, dep: 'mnesia tables', probe: ctx.probe, everyMs, lookup: (): Repo | undefined => (tables.loaded() ? TABLES : undefined) };
        return ordo
          ? { id, requires: ['mnesia'], start: { machine: stagerMachine, name: id, input: ({ deps }: { deps: Readonly<Record<string, unknown>> }) => ({ ...base, repo: deps['mnesia'] as Repo }) } }
          : { id, start: { machine: stagerMachine, name: id, input: { ...base, repo: undefined } } };
      }),
    ],
  };
}

const invariants = [
  { kind: 'always', oracle: 'appStaysUp' },
  { kind: 'always', oracle: 'noCrash' },
  { kind: 'always', oracle: 'depReadyBeforeUse' },
] as const;

export const asDeployed: Scenario = {
  name: 'step05-restart-intensity/as-deployed',
  description: 'OTP defaults (3 restarts in 5 s), readers that do not wait for the tables',
  tree: (ctx) => tree(ctx, false, { maxRestarts: 3, periodMs: 5000 }),
  horizonMs: 500,
  invariants,
  expect: 'fail',
};

/** The fix that was deployed: 50 restarts in 10 s. It lets this boot through; step 11 shows what it cost. */
export const raisedLimit: Scenario = {
  ...asDeployed,
  name: 'step05-restart-intensity/raised-limit',
  description: 'the deployed fix: 50 restarts in 10 s, readers still do not wait',
  tree: (ctx) => tree(ctx, false, { maxRestarts: 50, periodMs: 10_000 }),
  invariants: [{ kind: 'always', oracle: 'appStaysUp' }],
  expect: 'pass',
};

export const withOrdo: Scenario = {
  name: 'step05-restart-intensity/with-ordo',
  description: 'Mnesia ready only when its tables are loaded; readers require it',
  tree: (ctx) => tree(ctx, true, { maxRestarts: 3, periodMs: 5000 }),
  horizonMs: 500,
  invariants,
  expect: 'pass',
};

export const step05: IncidentStep = {
  id: 'step05',
  step: '5',
  title: 'Restart intensity 3-in-5 s exhausted at boot: the app exits in ~35 ms',
  story:
    "Both machines started, the endpoint came up, then `Application blockster_v2 exited: shutdown` within 35 ms: processes that read Mnesia's tables crashed while the tables were still loading, and OTP's default intensity (3 restarts in 5 s) was gone before the tables were. The fix raised it to 50 in 10 s.",
  asDeployed,
  withOrdo,
  seed: 6,
  violates: 'appStaysUp',
  mechanism:
    "Readiness and dependencies (src/supervisor): the Mnesia child is ready only once its tables are loaded, and the readers `require` it, so they start after it — nothing crashes and intensity is left for broken code. Raising the limit (raisedLimit) let this boot through but kept the crash loop: it only bought time while each start was slow (see step 11).",
  oracles: { appStaysUp, noCrash, depReadyBeforeUse },
};
