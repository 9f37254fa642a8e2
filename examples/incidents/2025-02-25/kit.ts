/**
 * The parts the Feb 25 replays are built from: a simulated database that DNS cannot resolve for
 * a while, the app's children as the incident report describes them (an Ecto-like repo, Oban's
 * stager, a cache on a fixed delay, a health probe), each in the way it was deployed and the way
 * Ordo configures it, and the oracles that say what went wrong.
 *
 * Everything runs inside the chaos engine (`runScenario`): time is virtual, every draw comes
 * from a named stream of the run's seed.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { Env } from '../../../src/env/index.ts';
import type { ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { Oracle, RunView, Verdict } from '../../../src/chaos/oracles.ts';
import type { TraceEvent } from '../../../src/chaos/simulation.ts';
import { ApplicationTag, type ApplicationInfo } from '../../../src/supervisor/index.ts';
import { healthResponse } from '../../../src/health/index.ts';

// ---------------------------------------------------------------------------------------------
// The database: unreachable (DNS answers NXDOMAIN) until `reachableAtMs`, then up.

/** What DNS answered for the database's hostname. */
export class NxDomainError extends Error {
  readonly code = 'NXDOMAIN';
  readonly hostname: string;
  constructor(hostname: string) {
    super(`could not resolve ${hostname}: nxdomain`);
    this.name = 'NxDomainError';
    this.hostname = hostname;
  }
}

/** A database reached over the (simulated) network. */
export interface Database {
  readonly hostname: string;
  /** Connects: resolves after the connect latency, or rejects with NXDOMAIN while DNS fails. */
  connect(): Promise<void>;
  /** One query on an established pool: fails while the database cannot be reached. */
  query(): Promise<number>;
  /** True when a connect at `now` would succeed. */
  reachable(now: number): boolean;
}

/** A database unreachable until `reachableAtMs` (virtual time), with a drawn connect latency. */
export function database(ctx: ScenarioContext, reachableAtMs: number, hostname = 'pgbouncer.z23750vxk45r96d1.flympg.net'): Database {
  const draw = ctx.random('db');
  const { env } = ctx;
  const wait = (ms: number): Promise<void> => new Promise((r) => env.clock.setTimeout(() => r(), ms));
  const reachable = (now: number): boolean => now >= reachableAtMs;
  return {
    hostname,
    reachable,
    async connect() {
      await wait(5 + Math.floor(draw() * 20));
      const ok = reachable(env.clock.now());
      ctx.probe('db.connect', { ok });
      if (!ok) throw new NxDomainError(hostname);
    },
    async query() {
      await wait(1 + Math.floor(draw() * 3));
      if (!reachable(env.clock.now())) throw new NxDomainError(hostname);
      return 1;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The repo: Ecto's (lazy: "started" before it can connect) and Ordo's (ready = connected).

/** The service a repo (or Mnesia's tables) provides. */
export interface Repo {
  query(): Promise<number>;
}

/** Mnesia's tables as a service: reads that succeed once loaded. */
export const TABLES: Repo = { query: () => Promise.resolve(1) };

interface RepoInput {
  readonly db: Database;
  readonly probe: ScenarioContext['probe'];
}

/**
 * As deployed: Ecto's repo starts its pool and reports started at once; connections are made
 * lazily, so a database DNS cannot resolve shows up only as failing queries in its users.
 */
export const lazyRepoMachine = setup({ types: { input: {} as RepoInput, context: {} as { service: Repo } } }).createMachine({
  context: ({ input }) => ({ service: { query: () => input.db.query() } }),
  initial: 'up',
  states: { up: { tags: ['ready'], on: { 'ordo.stop': 'done' } }, done: { type: 'final' } },
});

/**
 * The Ordo way: the repo is ready only once a connection works. A failed connect ends the start
 * attempt (its supervisor retries it with `startRetry`); dependents that `require` the repo are
 * parked meanwhile — not started, not crashed.
 */
export const readyRepoMachine = setup({
  types: { input: {} as RepoInput, context: {} as { db: Database; service: Repo | undefined } },
  actors: { connect: fromPromise<void, Database>(({ input }) => input.connect()) },
}).createMachine({
  context: ({ input }) => ({ db: input.db, service: undefined }),
  initial: 'connecting',
  states: {
    connecting: {
      invoke: {
        src: 'connect',
        input: ({ context }) => context.db,
        onDone: { target: 'up', actions: assign({ service: ({ context }) => ({ query: () => context.db.query() }) }) },
        onError: { target: 'failed' },
      },
      on: { 'ordo.stop': 'done' },
    },
    up: { tags: ['ready'], on: { 'ordo.stop': 'done' } },
    failed: { type: 'final', output: ({ event }) => ({ reason: (event as { error?: unknown }).error ?? 'connect failed' }) },
    done: { type: 'final' },
  },
});

// ---------------------------------------------------------------------------------------------
// Oban's stager: a transaction every second; as deployed it crashes on every database error.

interface StagerInput {
  readonly id: string;
  /** What it uses (trace: `dep.use` events name it). */
  readonly dep: string;
  /** The repo, when the tree hands it over (the Ordo way); else looked up at each tick. */
  readonly repo: Repo | undefined;
  readonly lookup: () => Repo | undefined;
  readonly probe: ScenarioContext['probe'];
  readonly everyMs: number;
}

/** Queries the repo every `everyMs`; a failed query (or no repo registered) is a crash. */
export const stagerMachine = setup({
  types: { input: {} as StagerInput, context: {} as { input: StagerInput } },
  actors: {
    stage: fromPromise<number, StagerInput>(async ({ input }) => {
      const repo = input.repo ?? input.lookup();
      input.probe('dep.use', { child: input.id, dep: input.dep, ready: repo !== undefined });
      if (!repo) throw new Error(`${input.dep} is not there: it was not started or it does not exist`);
      return repo.query();
    }),
  },
  delays: { every: ({ context }) => context.input.everyMs },
}).createMachine({
  context: ({ input }) => ({ input }),
  initial: 'idle',
  states: {
    idle: { tags: ['ready'], after: { every: 'staging' }, on: { 'ordo.stop': 'done' } },
    staging: {
      tags: ['ready'],
      invoke: {
        src: 'stage',
        input: ({ context }) => context.input,
        onDone: 'idle',
        onError: 'crashed',
      },
      on: { 'ordo.stop': 'done' },
    },
    crashed: { type: 'final', output: ({ event }) => ({ reason: { stager: String((event as { error?: unknown }).error) } }) },
    done: { type: 'final' },
  },
});

// ---------------------------------------------------------------------------------------------
// A health probe: what `/health/ready` answers, sampled every second into the trace.

interface ProbeInput {
  readonly app: ApplicationInfo;
  readonly probe: ScenarioContext['probe'];
  readonly everyMs: number;
}

/** What a load balancer would read from `/health/ready`, through the real route handler. */
export async function readiness(app: ApplicationInfo): Promise<{ code: number; status: string; child: string | undefined; version: string | undefined }> {
  const res = await healthResponse({ method: 'GET', url: '/health/ready' }, { app, caches: [], sources: [], registry: { contentType: 'text/plain', metrics: async () => '' } } as never);
  const body = JSON.parse(res.body) as { status: string; version?: string; reason?: { child?: string } };
  return { code: res.status, status: body.status, child: body.reason?.child, version: body.version };
}

/** Samples `/health/ready` every `everyMs` (probe event `health.ready`). */
export const healthProbeMachine = setup({
  types: { input: {} as ProbeInput, context: {} as { input: ProbeInput } },
  actors: {
    sample: fromPromise<void, ProbeInput>(async ({ input }) => {
      const r = await readiness(input.app);
      input.probe('health.ready', { code: r.code, status: r.status, child: r.child ?? null, version: r.version ?? null });
    }),
  },
  delays: { every: ({ context }) => context.input.everyMs },
}).createMachine({
  context: ({ input }) => ({ input }),
  initial: 'sampling',
  states: {
    sampling: { tags: ['ready'], invoke: { src: 'sample', input: ({ context }) => context.input, onDone: 'idle', onError: 'idle' }, on: { 'ordo.stop': 'done' } },
    idle: { tags: ['ready'], after: { every: 'sampling' }, on: { 'ordo.stop': 'done' } },
    done: { type: 'final' },
  },
});

/** The health probe's child spec (it requires the application itself). */
export function healthProbe(ctx: ScenarioContext, everyMs = 1000) {
  return {
    id: 'health',
    requires: { app: ApplicationTag },
    start: { machine: healthProbeMachine, name: 'health', input: ({ deps }: { deps: { app: ApplicationInfo } }) => ({ app: deps.app, probe: ctx.probe, everyMs }) },
  };
}

/** The Env a machine needs, from the scenario context. */
export const envOf = (ctx: ScenarioContext): Env => ctx.env;

// ---------------------------------------------------------------------------------------------
// Oracles.

const OK: Verdict = { ok: true };
const fail = (t: number, message: string): Verdict => ({ ok: false, t, message });
const reportsOf = (view: RunView, report: string): TraceEvent[] => view.trace.filter((e) => e.kind === 'report' && e['report'] === report);

/** The application never exits before the orderly stop (no root that gave up, no failed start). */
export const appStaysUp: Oracle = {
  name: 'appStaysUp',
  description: 'the application stays up until the orderly stop',
  check(view) {
    const exit = reportsOf(view, 'application_exited').find((e) => view.stopAt === undefined || e.t < view.stopAt);
    if (exit) return fail(exit.t, `the application exited at ${exit.t} ms: ${JSON.stringify(exit['reason'])}`);
    return view.stopAt === undefined ? fail(view.scenario.horizonMs, 'the application was not running at the end') : OK;
  },
};

/** No child crashed: no `child_terminated` report with an abnormal reason. */
export const noCrash: Oracle = {
  name: 'noCrash',
  description: 'no child crashed',
  check(view) {
    const crash = reportsOf(view, 'child_terminated').find((e) => view.stopAt === undefined || e.t < view.stopAt);
    return crash ? fail(crash.t, `'${String(crash['child'])}' crashed: ${JSON.stringify(crash['reason'])}`) : OK;
  },
};

/** Nothing used a dependency (the repo, Mnesia's tables) before it was ready. */
export const depReadyBeforeUse: Oracle = {
  name: 'depReadyBeforeUse',
  description: 'no child used a dependency before it was ready',
  check(view) {
    const early = view.trace.find((e) => e.kind === 'dep.use' && e['ready'] === false);
    return early ? fail(early.t, `'${String(early['child'])}' used ${String(early['dep'])} before it was ready`) : OK;
  },
};

/**
 * While the database cannot be reached, `/health/ready` answers 503 naming the repo (what a
 * Kubernetes probe reads); once it is reachable again and the tree is ready, 200.
 */
export function degradedNamingRepo(reachableAtMs: number, bootGraceMs = 50): Oracle {
  return {
    name: 'degradedNamingRepo',
    description: '/health/ready is 503 naming the repo while the database is away',
    check(view) {
      for (const e of view.trace) {
        if (e.kind !== 'health.ready' || e.t < bootGraceMs || e.t >= reachableAtMs) continue;
        if (e['code'] !== 503 || e['status'] !== 'degraded' || e['child'] !== 'repo') return fail(e.t, `/health/ready answered ${String(e['code'])} ${String(e['status'])} (child ${String(e['child'])}) while the database was away`);
      }
      const last = [...view.trace].reverse().find((e) => e.kind === 'health.ready' && (view.stopAt === undefined || e.t < view.stopAt));
      if (!last || last['code'] !== 200) return fail(last?.t ?? view.scenario.horizonMs, `/health/ready did not answer 200 after the database returned (last: ${String(last?.['code'])})`);
      return OK;
    },
  };
}

/** The repo is ready within `withinMs` of the database becoming reachable. */
export function readyAfterReturn(reachableAtMs: number, withinMs: number): Oracle {
  return {
    name: 'readyAfterReturn',
    description: `the repo is ready within ${withinMs} ms of the database returning`,
    check(view) {
      const ready = view.trace.find((e) => e.kind === 'ready' && e['name'] === 'repo');
      if (!ready) return fail(view.scenario.horizonMs, 'the repo never became ready');
      return ready.t - reachableAtMs <= withinMs ? OK : fail(ready.t, `the repo became ready ${ready.t - reachableAtMs} ms after the database returned`);
    },
  };
}

/** Counts of what a run did, for the replay table and the README. */
export function summarize(view: { trace: readonly TraceEvent[] }): { crashes: number; restarts: number; exitAt: number | undefined } {
  const crashes = view.trace.filter((e) => e.kind === 'report' && e['report'] === 'child_terminated').length;
  const restarts = view.trace.filter((e) => e.kind === 'report' && e['report'] === 'progress').length;
  const exit = view.trace.find((e) => e.kind === 'report' && e['report'] === 'application_exited');
  return { crashes, restarts, exitAt: exit?.t };
}

// ---------------------------------------------------------------------------------------------
// Mnesia as the app used it: the application starts at once, its tables load a while later.

/** When the tables are loaded, drawn per run (the incident's "Mnesia race"). */
export function mnesiaTables(ctx: ScenarioContext, minMs = 20, maxMs = 60): { readonly loadedAtMs: number; loaded(): boolean } {
  const loadedAtMs = minMs + Math.floor(ctx.random('mnesia')() * (maxMs - minMs));
  return { loadedAtMs, loaded: () => ctx.env.clock.now() >= loadedAtMs };
}

/**
 * The Ordo way: ready only once the tables are loaded (`mnesia:wait_for_tables` as readiness) —
 * or, with `service`, any dependency that is usable from `loadedAtMs` on (a repo registered).
 */
export const tablesReadyMachine = setup({
  types: { input: {} as { loadedAtMs: number; env: Env; service?: Repo }, context: {} as { loadedAtMs: number; env: Env; service: Repo } },
  delays: { load: ({ context }) => Math.max(0, context.loadedAtMs - context.env.clock.now()) },
}).createMachine({
  context: ({ input }) => ({ loadedAtMs: input.loadedAtMs, env: input.env, service: input.service ?? TABLES }),
  initial: 'loading',
  states: {
    loading: { after: { load: 'up' }, on: { 'ordo.stop': 'done' } },
    up: { tags: ['ready'], on: { 'ordo.stop': 'done' } },
    done: { type: 'final' },
  },
});

/** As deployed: Mnesia's application is started at once; its tables load later. */
export const mnesiaStartedMachine = setup({ types: { context: {} as { service: Repo } } }).createMachine({
  context: { service: TABLES },
  initial: 'up',
  states: { up: { tags: ['ready'], on: { 'ordo.stop': 'done' } }, done: { type: 'final' } },
});

export type { IncidentStep } from '../../../src/chaos/incidents.ts';

// ---------------------------------------------------------------------------------------------
// Readers of a store (Ordo's) or of Mnesia as the initializer left it.

/** A store-like thing a reader reads: Ordo's `Store`, or Mnesia's tables. */
export interface Readable {
  /** Throws when the tables are gone (Mnesia stopped, the store closed). */
  read(): unknown;
  /** True when a read now would find the tables. */
  open(): boolean;
}

interface ReaderInput {
  readonly id: string;
  readonly source: Readable;
  readonly probe: ScenarioContext['probe'];
  readonly everyMs: number;
}

/** Reads its source every `everyMs`; a read of tables that are gone throws (a crash). */
export const readerMachine = setup({
  types: { input: {} as ReaderInput, context: {} as { input: ReaderInput } },
  actions: {
    read: ({ context: { input } }) => {
      input.probe('dep.use', { child: input.id, dep: 'tables', ready: input.source.open() });
      input.source.read();
    },
  },
  delays: { every: ({ context }) => context.input.everyMs },
}).createMachine({
  context: ({ input }) => ({ input }),
  initial: 'reading',
  states: {
    reading: { tags: ['ready'], after: { every: { target: 'reading', reenter: true, actions: 'read' } }, on: { 'ordo.stop': 'done' } },
    done: { type: 'final' },
  },
});

/** No child crashed, except those named (a crash a scenario injects on purpose). */
export function noCrashExcept(ids: readonly string[]): Oracle {
  return {
    name: 'noCrash',
    description: `no child crashed (except ${ids.join(', ')}, crashed on purpose)`,
    check(view) {
      const crash = view.trace.find((e) => e.kind === 'report' && e['report'] === 'child_terminated' && !ids.includes(String(e['child'])) && (view.stopAt === undefined || e.t < view.stopAt));
      return crash ? fail(crash.t, `'${String(crash['child'])}' crashed: ${JSON.stringify(crash['reason'])}`) : OK;
    },
  };
}
