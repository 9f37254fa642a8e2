/**
 * Step 6 — HubLogoCache fires `:load_initial` 100 ms after it starts; the Ecto repo may not be
 * registered by then (`ets.lookup_element(Ecto.Repo.Registry, …)` → ArgumentError). The fix
 * that was tried: a 2000 ms delay and a rescue-and-retry.
 */
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { SupervisorInit } from '../../../src/supervisor/index.ts';
import { cacheLoaderMachine } from '../../../src/cache/index.ts';
import { appStaysUp, depReadyBeforeUse, lazyRepoMachine, noCrash, stagerMachine, tablesReadyMachine, type IncidentStep, type Repo } from './kit.ts';

/** The repo registers in Ecto's registry 30–250 ms after boot (its pool's supervisor comes up). */
function registration(ctx: ScenarioContext): { readonly atMs: number; registered(): boolean } {
  const atMs = 30 + Math.floor(ctx.random('repo')() * 220);
  return { atMs, registered: () => ctx.env.clock.now() >= atMs };
}

function tree(ctx: ScenarioContext, ordo: boolean): SupervisorInit {
  const reg = registration(ctx);
  const logos = new Map([['hub-1', 'logo-1.png'], ['hub-2', 'logo-2.png']]);
  const repo: Repo = { query: () => Promise.resolve(logos.size) };
  if (!ordo) {
    return {
      strategy: 'one_for_one',
      maxRestarts: 50,
      periodMs: 10_000,
      children: [
        { id: 'repo', start: { machine: lazyRepoMachine, name: 'repo', input: { db: { hostname: 'db', connect: async () => undefined, query: () => repo.query(), reachable: () => true }, probe: ctx.probe } } },
        // `Process.send_after(self(), :load_initial, 100)`: the first load 100 ms after start
        { id: 'hub_logo_cache', start: { machine: stagerMachine, name: 'hub_logo_cache', input: { id: 'hub_logo_cache', dep: 'repo', repo: undefined, lookup: () => (reg.registered() ? repo : undefined), probe: ctx.probe, everyMs: 100 } } },
      ],
    };
  }
  return {
    strategy: 'rest_for_one',
    maxRestarts: 3,
    periodMs: 5000,
    children: [
      { id: 'repo', provides: 'repo', start: { machine: tablesReadyMachine, name: 'repo', input: { loadedAtMs: reg.atMs, env: ctx.env, service: repo } } },
      {
        id: 'hub_logo_cache',
        requires: ['repo'],
        start: {
          machine: cacheLoaderMachine,
          name: 'hub_logo_cache',
          input: ({ deps }: { deps: Readonly<Record<string, unknown>> }) => ({
            env: ctx.env,
            name: 'hub_logos',
            source: deps['repo'] as Repo,
            spec: {
              load: async (source: Repo) => {
                ctx.probe('dep.use', { child: 'hub_logo_cache', dep: 'repo', ready: reg.registered() });
                await source.query();
                return [...logos];
              },
            },
          }),
        },
      },
    ],
  };
}

const invariants = [
  { kind: 'always', oracle: 'depReadyBeforeUse' },
  { kind: 'always', oracle: 'noCrash' },
  { kind: 'always', oracle: 'appStaysUp' },
] as const;

export const asDeployed: Scenario = {
  name: 'step06-cache-fixed-delay/as-deployed',
  description: 'the cache reads the repo 100 ms after it starts, registered or not',
  tree: (ctx) => tree(ctx, false),
  horizonMs: 3000,
  invariants,
  expect: 'fail',
};

export const withOrdo: Scenario = {
  name: 'step06-cache-fixed-delay/with-ordo',
  description: "Ordo's cache loader requires the repo: it loads once the repo is ready, never on a timer",
  tree: (ctx) => tree(ctx, true),
  horizonMs: 3000,
  invariants,
  expect: 'pass',
};

export const step06: IncidentStep = {
  id: 'step06',
  step: '6',
  title: 'A cache loader on a fixed 100 ms delay reads before the repo is registered',
  story:
    'GenServer BlocksterV2.HubLogoCache terminating — (ArgumentError) ets.lookup_element(Ecto.Repo.Registry, …): the cache fires `:load_initial` after a fixed 100 ms, but the repo may not be registered yet. The fix tried was a longer delay (2000 ms) and a rescue-and-retry: a guess at a timing instead of a dependency.',
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'depReadyBeforeUse',
  mechanism:
    'Cache loader (src/cache) + dependencies (src/supervisor): the cache `requires` the repo and receives it in its input only once the repo is ready; its first load runs then — no delay to guess. A failed load retries inside the cache machine with backoff (degraded, never a crash of its supervisor); rest_for_one restarts the cache after a repo restart.',
  oracles: { appStaysUp, noCrash, depReadyBeforeUse },
};
