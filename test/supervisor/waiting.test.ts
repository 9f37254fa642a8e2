// A boot that waits instead of crash-looping (issue 9, the seed's steps 11–16): a database
// unreachable at boot, its dependents parked, the app degraded naming it, ready once it returns.
// All on the virtual clock.
import { describe, expect, it } from 'vitest';
import { fromPromise, setup } from 'xstate';
import { child, createKernel, createTestEnv, service, startApplication, startSupervisor, supervisor, whichChildren, type ApplicationHealth, type LifecycleEvent, type Pid, type StartRetrySpec } from '../../src/index.ts';
import { worker } from '../support/machines.ts';

/** The database the seed's Repo could not reach: the test says when it is up. */
class FakeDb {
  up = false;
  permanent = false;
  connects = 0;
  queries = 0;
  async connect(): Promise<{ query(): number }> {
    this.connects++;
    if (this.permanent) throw Object.assign(new Error('password authentication failed'), { code: 'DB_AUTH', permanent: true });
    if (!this.up) throw Object.assign(new Error('nxdomain: pgbouncer.flympg.net'), { code: 'DB_UNREACHABLE' });
    return { query: () => ++this.queries };
  }
}
interface Repo {
  query(): number;
}
const RepoTag = service<Repo>('repo');

/** The seed's Repo: connects once per start attempt; ready with the connection as its service. */
const repoMachine = setup({
  types: { input: {} as { db: FakeDb }, context: {} as { db: FakeDb; service: Repo | undefined } },
  actors: { connect: fromPromise<Repo, FakeDb>(({ input }) => input.connect()) },
}).createMachine({
  context: ({ input }) => ({ db: input.db, service: undefined }),
  initial: 'connecting',
  states: {
    connecting: { invoke: { src: 'connect', input: ({ context }) => context.db, onDone: { target: 'up', actions: ({ context, event }) => (context.service = event.output) } } },
    up: { tags: ['ready'], on: { 'ordo.stop': 'down' } },
    down: { type: 'final' },
  },
});

/** A dependent (Oban's stager, the HubLogoCache): reads the repo as soon as it starts. */
const dependent = setup({ types: { input: {} as { repo: Repo }, context: {} as { reads: number } } }).createMachine({
  context: ({ input }) => ({ reads: input.repo.query() }),
  initial: 'up',
  states: { up: { tags: ['ready'], on: { 'ordo.stop': 'down' } }, down: { type: 'final' } },
});

const retry: StartRetrySpec = { initialMs: 1000, maxMs: 30_000, factor: 2 };

function seedTree(db: FakeDb) {
  return {
    strategy: 'rest_for_one' as const,
    maxRestarts: 3, // the seed's default: 3 in 5 s
    periodMs: 5000,
    children: [
      child({ id: 'repo', startRetry: retry, start: { machine: repoMachine, input: { db } }, provides: RepoTag }),
      child({ id: 'stager', requires: { repo: RepoTag }, start: { machine: dependent, input: ({ deps }) => ({ repo: deps.repo }) } }),
      child({ id: 'hubLogoCache', requires: { repo: RepoTag }, start: { machine: dependent, input: ({ deps }) => ({ repo: deps.repo }) } }),
      child({ id: 'endpoint', start: { machine: worker } }),
    ],
  };
}

function boot(db: FakeDb) {
  const env = createTestEnv();
  const kernel = createKernel(env);
  const trace: LifecycleEvent[] = [];
  kernel.onLifecycle((e) => (e.type !== 'state' ? trace.push(e) : undefined));
  const app = startApplication({ name: 'blockster', env, kernel, startType: 'permanent', tree: seedTree(db) });
  let readyAt: number | undefined;
  app.ready.then(() => (readyAt = env.clock.now()), () => undefined);
  return { env, kernel, app, trace, readyAt: () => readyAt };
}

const phases = (h: ApplicationHealth) => Object.fromEntries(h.children.map((c) => [c.id, c.phase]));

describe('startRetry and parking: the seed tree with its database unreachable for 10 minutes', () => {
  it('stays up, degraded naming the repo the whole time, no dependent crashes, ready within one backoff step after the database returns', async () => {
    const db = new FakeDb();
    const t = boot(db);
    for (let s = 0; s < 600; s += 5) {
      await t.env.clock.advance(5000);
      const h = t.app.health();
      expect(h.status, `t=${s + 5}s`).toBe('degraded');
      expect(h.reason).toMatchObject({ child: 'repo', phase: 'waiting', error: { message: 'nxdomain: pgbouncer.flympg.net' } });
      expect(phases(h)).toEqual({ repo: 'waiting', stager: 'parked', hubLogoCache: 'parked', endpoint: 'running' });
    }
    const h = t.app.health();
    expect(h.reason!.attempts).toBe(db.connects);
    expect(db.connects).toBeGreaterThan(20); // it kept trying…
    expect(h.children.find((c) => c.id === 'stager')).toMatchObject({ phase: 'parked', waitingFor: 'repo', attempts: 0, since: 0 });
    expect(t.readyAt()).toBeUndefined();
    db.up = true;
    const back = t.env.clock.now();
    await t.env.clock.advance(retry.maxMs);
    expect(t.readyAt()).toBeDefined();
    expect(t.readyAt()! - back).toBeLessThanOrEqual(retry.maxMs); // one backoff step at most
    expect(t.app.health()).toMatchObject({ status: 'ready' });
    expect(t.app.health().reason).toBeUndefined();
    expect(phases(t.app.health())).toEqual({ repo: 'running', stager: 'running', hubLogoCache: 'running', endpoint: 'running' });
    // …without a single crash, restart or intensity charge: nothing but failed start attempts of the repo
    expect(t.env.records.filter((r) => ['child_terminated', 'reached_max_restart_intensity'].includes(r['report'] as string))).toEqual([]);
    const crashes = t.env.records.filter((r) => r['report'] === 'crash_report');
    expect(crashes).toHaveLength(db.connects - 1); // only the repo's failed attempts (the kernel's crash report of a failed init)
    expect(crashes.every((r) => (r['reason'] as { message?: string }).message === 'nxdomain: pgbouncer.flympg.net')).toBe(true);
    expect(t.env.records.filter((r) => r['report'] === 'start_retry')).toHaveLength(db.connects - 1);
    expect(t.env.io.process.exits).toEqual([]);
    // the dependents started only after the repo was ready (trace order), and read it then
    const readyPids = t.trace.filter((e) => e.type === 'ready').map((e) => e.pid);
    const root = await t.app.ready;
    const ids = new Map((await whichChildren(t.kernel, root)).map((c) => [String(c.pid), c.id]));
    const order = readyPids.map((p) => ids.get(String(p))).filter((x) => x !== undefined);
    expect(order).toEqual(['endpoint', 'repo', 'stager', 'hubLogoCache']);
    expect(db.queries).toBe(2);
  });

  it('a permanent error (refused credentials) fails fast, named, after one attempt', async () => {
    const db = new FakeDb();
    db.permanent = true;
    const t = boot(db);
    const err = await t.app.ready.then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'ORDO_APPLICATION_START', childId: 'repo' });
    expect(db.connects).toBe(1);
    await t.env.clock.flush();
    expect(t.app.health()).toMatchObject({ status: 'failed', reason: { child: 'repo' } });
    expect(t.env.io.process.exits).toEqual([1]);
  });

  it('maxAttempts gives up after that many attempts, as an ordinary start failure', async () => {
    const db = new FakeDb();
    const env = createTestEnv();
    const app = startApplication({ name: 'x', env, tree: { children: [child({ id: 'repo', startRetry: { ...retry, maxAttempts: 3 }, start: { machine: repoMachine, input: { db } } })] } });
    const err = app.ready.then(() => undefined, (e: unknown) => e);
    await env.clock.advance(60_000);
    expect(await err).toMatchObject({ code: 'ORDO_APPLICATION_START', childId: 'repo' });
    expect(db.connects).toBe(3);
  });

  it('SIGTERM while the repo waits stops what started in reverse order and exits 0 at once', async () => {
    const db = new FakeDb();
    const t = boot(db);
    await t.env.clock.advance(65_000);
    const before = t.kernel.processCount;
    expect(before).toBe(2); // root + endpoint
    t.env.io.process.raise('SIGTERM');
    await t.env.clock.flush();
    expect(t.env.io.process.exits).toEqual([0]);
    expect(t.kernel.processCount).toBe(0);
    expect(t.app.health().status).toBe('stopped');
    const connects = db.connects;
    await t.env.clock.advance(120_000);
    expect(db.connects).toBe(connects); // no retry after the stop
  });

  it('after boot: a crashed repo that cannot reconnect waits (uncharged) and its rest_for_one dependents are parked until it is back', async () => {
    const db = new FakeDb();
    db.up = true;
    const t = boot(db);
    const root = await t.app.ready;
    db.up = false;
    const repo = (await whichChildren(t.kernel, root)).find((c) => c.id === 'repo')!.pid as Pid;
    t.kernel.exit(repo, 'connection_lost');
    await t.env.clock.advance(10 * 60_000);
    expect(t.app.health()).toMatchObject({ status: 'degraded', reason: { child: 'repo', phase: 'waiting' } });
    expect(phases(t.app.health())).toEqual({ repo: 'waiting', stager: 'parked', hubLogoCache: 'parked', endpoint: 'running' }); // restarted with the rest, not parked: it needs no repo
    expect(t.kernel.isAlive(root)).toBe(true); // one restart charged (the crash), none for the waiting
    db.up = true;
    await t.env.clock.advance(retry.maxMs);
    expect(t.app.health().status).toBe('ready');
    expect(t.env.records.filter((r) => r['report'] === 'reached_max_restart_intensity')).toEqual([]);
  });

  it('one_for_one: a dependent that crashes while its provider is waiting is parked, not crash-looped into intensity', async () => {
    const db = new FakeDb();
    db.up = true;
    const env = createTestEnv();
    const kernel = createKernel(env);
    const r = await startSupervisor(kernel, { strategy: 'one_for_one', maxRestarts: 2, periodMs: 60_000, children: seedTree(db).children.slice(0, 2) });
    if (r.status !== 'ok') throw new Error('start');
    const pids = new Map((await whichChildren(kernel, r.pid)).map((c) => [c.id, c.pid as Pid]));
    db.up = false;
    kernel.exit(pids.get('repo')!, 'connection_lost'); // restart #1: waits
    await env.clock.advance(100);
    kernel.exit(pids.get('stager')!, 'died'); // restart #2: parked on the repo
    await env.clock.advance(5 * 60_000);
    expect(kernel.isAlive(r.pid)).toBe(true);
    const kids = await whichChildren(kernel, r.pid);
    expect(kids.map((c) => [c.id, c.pid])).toEqual([['stager', undefined], ['repo', 'restarting']]);
    db.up = true;
    await env.clock.advance(retry.maxMs);
    expect((await whichChildren(kernel, r.pid)).every((c) => typeof c.pid === 'object')).toBe(true);
  });

  it('a child of a nested supervisor parks on a provider of an enclosing one, and starts when it is ready', async () => {
    const db = new FakeDb();
    const env = createTestEnv();
    const app = startApplication({
      name: 'nested',
      env,
      tree: {
        strategy: 'rest_for_one',
        children: [
          seedTree(db).children[0]!,
          supervisor('jobs', { strategy: 'one_for_one', children: [child({ id: 'stager', requires: { repo: RepoTag }, start: { machine: dependent, input: ({ deps }) => ({ repo: deps.repo }) } })] }),
        ],
      },
    });
    await env.clock.advance(60_000);
    const h = app.health();
    expect(h).toMatchObject({ status: 'degraded', reason: { child: 'repo', phase: 'waiting' } });
    expect(h.children.find((c) => c.id === 'jobs')!.children).toMatchObject([{ id: 'stager', phase: 'parked', waitingFor: 'repo' }]);
    db.up = true;
    await env.clock.advance(retry.maxMs);
    expect(app.health().status).toBe('ready');
    expect(app.health().children.find((c) => c.id === 'jobs')!.children).toMatchObject([{ id: 'stager', phase: 'running' }]);
    expect(db.queries).toBe(1);
  });

  it('a child whose start returns ignore does not keep the application from being ready', async () => {
    const env = createTestEnv();
    const app = startApplication({ name: 'x', env, tree: { children: [child({ id: 'w', start: { machine: worker } }), { id: 'expose', start: () => ({ status: 'ignore' }) }] } });
    await app.ready;
    expect(app.health()).toMatchObject({ status: 'ready' });
    expect(app.health().children.map((c) => c.phase)).toEqual(['running', 'stopped']);
  });

  it('a machine reads its own pid (self) from its input', async () => {
    const env = createTestEnv();
    const kernel = createKernel(env);
    const seen: Pid[] = [];
    const r = await startSupervisor(kernel, { children: [child({ id: 'me', start: { machine: worker, input: ({ self }) => (seen.push(self), {}) } })] });
    if (r.status !== 'ok') throw new Error('start');
    const [me] = await whichChildren(kernel, r.pid);
    expect(seen).toEqual([me!.pid]);
  });
});
