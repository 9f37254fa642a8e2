/**
 * Steps 11–16 — the database cannot be reached: its hostname does not resolve from the machine
 * (NXDOMAIN). Ecto's repo "starts" anyway (lazy connections); every Oban process that touches it
 * crashes on each attempt; 50 restarts in 10 s are used up in seconds; the application exits;
 * the machine restarts it, and the cycle repeats for hours.
 */
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { SupervisorInit } from '../../../src/supervisor/index.ts';
import {
  appStaysUp,
  database,
  degradedNamingRepo,
  depReadyBeforeUse,
  healthProbe,
  lazyRepoMachine,
  noCrash,
  readyAfterReturn,
  readyRepoMachine,
  stagerMachine,
  type IncidentStep,
  type Repo,
} from './kit.ts';

/** The database is unreachable for the first 10 minutes, then DNS resolves it again. */
export const DB_RETURNS_AT_MS = 10 * 60_000;
/** The repo's start retry: 0.5 s doubling to 30 s, ±10 %. */
export const REPO_RETRY = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.1 } as const;
/** Oban's processes that query the database on a timer (stager, pruner, producers, peer). */
const OBAN = ['oban_stager', 'oban_pruner', 'oban_producer_default', 'oban_producer_mailer', 'oban_peer', 'oban_lifeline'] as const;

function tree(ctx: ScenarioContext, ordo: boolean): SupervisorInit {
  const db = database(ctx, DB_RETURNS_AT_MS);
  const lazy: Repo = { query: () => db.query() };
  const draw = ctx.random('oban');
  const oban = OBAN.map((id) => {
    const everyMs = 800 + Math.floor(draw() * 400);
    const base = { id, dep: 'repo', probe: ctx.probe, everyMs, lookup: (): Repo | undefined => (ctx.kernel.whereis('repo') ? lazy : undefined) };
    return ordo
      ? { id, requires: ['repo'], start: { machine: stagerMachine, name: id, input: ({ deps }: { deps: Readonly<Record<string, unknown>> }) => ({ ...base, repo: deps['repo'] as Repo }) } }
      : { id, start: { machine: stagerMachine, name: id, input: { ...base, repo: undefined } } };
  });
  return {
    strategy: 'one_for_one',
    maxRestarts: 50,
    periodMs: 10_000,
    children: [
      ordo
        ? { id: 'repo', provides: 'repo', startRetry: REPO_RETRY, start: { machine: readyRepoMachine, name: 'repo', input: { db, probe: ctx.probe } } }
        : { id: 'repo', provides: 'repo', start: { machine: lazyRepoMachine, name: 'repo', input: { db, probe: ctx.probe } } },
      ...oban,
      healthProbe(ctx, 5000),
    ],
  };
}

const invariants = [
  { kind: 'always', oracle: 'appStaysUp' },
  { kind: 'always', oracle: 'noCrash' },
  { kind: 'always', oracle: 'depReadyBeforeUse' },
  { kind: 'always', oracle: 'degradedNamingRepo' },
  { kind: 'eventually', oracle: 'readyAfterReturn' },
] as const;

const horizonMs = DB_RETURNS_AT_MS + 60_000;

export const asDeployed: Scenario = {
  name: 'step11-database-unreachable/as-deployed',
  description: 'lazy repo, Oban processes crash on every database error, 50 restarts in 10 s',
  tree: (ctx) => tree(ctx, false),
  horizonMs,
  healAtMs: horizonMs,
  invariants,
  expect: 'fail',
};

export const withOrdo: Scenario = {
  name: 'step11-database-unreachable/with-ordo',
  description: 'repo ready only when connected (start retried with backoff), Oban parked until it is',
  tree: (ctx) => tree(ctx, true),
  horizonMs,
  healAtMs: horizonMs,
  invariants,
  expect: 'pass',
};

/** One backoff step after the database returns, plus a connect. */
const READY_WITHIN_MS = REPO_RETRY.maxMs * (1 + REPO_RETRY.jitter) + 100;

export const step11: IncidentStep = {
  id: 'step11',
  step: '11–16',
  title: 'The database unreachable (DNS NXDOMAIN): every dependent crash-loops until the root gives up, the machine restarts forever',
  story:
    "The PgBouncer hostname stopped resolving from inside the machine (nxdomain). Ecto's repo started anyway — its connections are lazy — and Oban's stager crashed on every database error, with the other Oban processes after it: 50+ crashes in 10 seconds, the supervisor gave up, `Application blockster_v2 exited: shutdown`, the machine restarted, and the cycle repeated for hours while DATABASE_URL, IPv6 addresses and ECTO_IPV6 were tried.",
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'appStaysUp',
  mechanism:
    "Waiting boot (src/supervisor `startRetry`, parking): the repo counts as started only once it has connected; its start is retried with backoff (0.5 s → 30 s) without touching restart intensity; Oban's processes `require` the repo and stay parked — not started, not crashed. The application stays up, `degraded`, and `/health/ready` (src/health) answers 503 naming the repo the whole time; within one backoff step of DNS resolving again the repo connects and everything starts.",
  oracles: { appStaysUp, noCrash, depReadyBeforeUse, degradedNamingRepo: degradedNamingRepo(DB_RETURNS_AT_MS), readyAfterReturn: readyAfterReturn(DB_RETURNS_AT_MS, READY_WITHIN_MS) },
};
