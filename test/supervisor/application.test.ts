// The Application (conformance §2, case 58): start types, orderly stop, signals, start
// failure, stop deadline, health.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ApplicationStartError, createKernel, createTestEnv, startApplication, supervisor, whichChildren, type ChildSpec, type LifecycleEvent, type Pid, type StartType } from '../../src/index.ts';
import { crash, w } from '../support/otp.ts';
import { slowStarter } from '../support/machines.ts';

function app(startType: StartType | undefined, children: ChildSpec[], extra: { maxRestarts?: number; stopDeadlineMs?: number } = {}) {
  const env = createTestEnv();
  const kernel = createKernel(env);
  const events: LifecycleEvent[] = [];
  kernel.onLifecycle((e) => {
    if (e.type !== 'state') events.push(e);
  });
  const handle = startApplication({
    name: 'shop',
    env,
    kernel,
    startType,
    stopDeadlineMs: extra.stopDeadlineMs,
    tree: { strategy: 'one_for_one', maxRestarts: extra.maxRestarts ?? 0, periodMs: 1000, children },
  });
  const exits = () => events.filter((e) => e.type === 'exit').map((e) => e.pid);
  return { env, kernel, handle, events, exits };
}

async function childPids(a: ReturnType<typeof app>, root: Pid): Promise<Map<string, Pid>> {
  const m = new Map<string, Pid>();
  for (const r of await whichChildren(a.kernel, root)) if (r.pid && r.pid !== 'restarting') m.set(r.id!, r.pid);
  return m;
}

describe('application start types (58)', () => {
  for (const startType of ['temporary', 'transient', 'permanent'] as const) {
    it(`58 ${startType}: the root supervisor giving up (shutdown) ${startType === 'temporary' ? 'is only reported' : 'stops the runtime with code 1'}`, async () => {
      const a = app(startType, [w('db'), w('api')]);
      const root = await a.handle.ready;
      const pids = await childPids(a, root);
      a.kernel.exit(pids.get('api')!, 'kill'); // intensity 0: the first restart gives up
      const exit = await a.handle.exited;
      expect(exit).toEqual({ reason: 'shutdown', code: 1 });
      expect(a.env.io.process.exits).toEqual(startType === 'temporary' ? [] : [1]);
      expect(a.env.records.filter((r) => r['report'] === 'application_exited')).toMatchObject([{ application: 'shop', reason: 'shutdown', code: 1, startType }]);
      expect(a.handle.health().status).toBe('failed');
    });
  }

  it('58 the default start type is temporary', async () => {
    const a = app(undefined, [w('db')]);
    const root = await a.handle.ready;
    a.kernel.exit((await childPids(a, root)).get('db')!, 'kill');
    await a.handle.exited;
    expect(a.env.io.process.exits).toEqual([]);
  });

  it('58 transient: a root that ends normal does not stop the runtime', async () => {
    const a = app('transient', [w('db')]);
    const root = await a.handle.ready;
    a.kernel.exit(root, 'normal');
    expect((await a.handle.exited).reason).toBe('normal');
    expect(a.env.io.process.exits).toEqual([]);
  });

  for (const startType of ['temporary', 'transient', 'permanent'] as const) {
    it(`58 stop() of a ${startType} app: reverse start order, code 0, the runtime is not stopped`, async () => {
      const a = app(startType, [w('db'), w('cache'), w('api')]);
      const root = await a.handle.ready;
      const pids = await childPids(a, root);
      const exit = await a.handle.stop();
      expect(exit).toEqual({ reason: 'shutdown', code: 0 });
      expect(a.exits()).toEqual([pids.get('api'), pids.get('cache'), pids.get('db'), root]);
      expect(a.env.io.process.exits).toEqual([]);
      expect(a.handle.health().status).toBe('stopped');
      expect(await a.handle.stop()).toEqual(exit); // idempotent
    });
  }
});

describe('signals, start failure, stop deadline', () => {
  it('SIGTERM stops the tree in reverse order, then exits the process with code 0', async () => {
    const a = app('permanent', [w('db'), w('api', { stopDelayMs: 200 })]);
    const root = await a.handle.ready;
    const pids = await childPids(a, root);
    a.env.io.process.raise('SIGTERM');
    await a.env.clock.advance(199);
    expect(a.kernel.isAlive(pids.get('api')!)).toBe(true);
    await a.env.clock.advance(1);
    await a.env.clock.flush();
    expect(a.exits()).toEqual([pids.get('api'), pids.get('db'), root]);
    expect(a.env.io.process.exits).toEqual([0]);
  });

  it('repeated signals during a stop exit the process once', async () => {
    const a = app('permanent', [w('db', { stopDelayMs: 100 })]);
    await a.handle.ready;
    a.env.io.process.raise('SIGTERM');
    a.env.io.process.raise('SIGTERM');
    a.env.io.process.raise('SIGINT');
    await a.env.clock.advance(100);
    await a.env.clock.flush();
    expect(a.env.io.process.exits).toEqual([0]);
  });

  it('SIGINT does the same', async () => {
    const a = app('temporary', [w('db')]);
    await a.handle.ready;
    a.env.io.process.raise('SIGINT');
    await a.env.clock.flush();
    expect(await a.handle.exited).toEqual({ reason: 'shutdown', code: 0 });
    expect(a.env.io.process.exits).toEqual([0]);
  });

  it('a child that fails to start rejects ready with ApplicationStartError naming it; started children are rolled back', async () => {
    for (const startType of ['temporary', 'transient', 'permanent'] as const) {
      const a = app(startType, [w('db'), { id: 'cache', start: () => ({ status: 'error', error: 'no_disk' }) }, w('api')]);
      const err = await a.handle.ready.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ApplicationStartError);
      expect(err).toMatchObject({ code: 'ORDO_APPLICATION_START', app: 'shop', childId: 'cache', reason: 'no_disk' });
      expect((await a.handle.exited).code).toBe(1);
      expect(a.kernel.processCount).toBe(0);
      expect(a.env.io.process.exits).toEqual(startType === 'temporary' ? [] : [1]);
      expect(a.env.records.filter((r) => r['report'] === 'start_error' && r['application'] === 'shop')).toMatchObject([{ child: 'cache', reason: 'no_disk' }]);
    }
  });

  it('a root whose init returns ignore rejects ready with ApplicationStartError (no child named)', async () => {
    const env = createTestEnv();
    const handle = startApplication({ name: 'shop', env, tree: () => 'ignore' });
    const err = await handle.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'ORDO_APPLICATION_START', app: 'shop', childId: undefined, reason: 'ignore' });
    expect((await handle.exited).code).toBe(1);
  });

  it('a stop that misses its deadline kills the tree: code 1, shutdown_error reported', async () => {
    const a = app('temporary', [w('db'), w('stuck', { shutdownMs: 'infinity', stopDelayMs: Infinity })]);
    const root = await a.handle.ready;
    const pids = await childPids(a, root);
    let result: unknown;
    void a.handle.stop({ deadlineMs: 1000 }).then((e) => (result = e));
    await a.env.clock.advance(999);
    expect(result).toBeUndefined();
    expect(a.handle.health().status).toBe('stopping');
    await a.env.clock.advance(1);
    await a.env.clock.flush();
    expect(result).toEqual({ reason: 'killed', code: 1 });
    expect(a.kernel.isAlive(pids.get('stuck')!)).toBe(false);
    expect(a.kernel.isAlive(pids.get('db')!)).toBe(false);
    expect(a.env.records.filter((r) => r['report'] === 'shutdown_error' && r['application'] === 'shop')).toMatchObject([{ reason: 'stop_deadline_exceeded', deadlineMs: 1000 }]);
  });

  it('a missed deadline kills the whole tree, also below a sub-supervisor stuck waiting on its child', async () => {
    const a = app('temporary', [w('db'), supervisor('sub', { children: [w('stuck', { shutdownMs: 'infinity', stopDelayMs: Infinity })] })]);
    const root = await a.handle.ready;
    const sub = (await childPids(a, root)).get('sub')!;
    const stuck = (await whichChildren(a.kernel, sub))[0]!.pid as Pid;
    const exit = a.handle.stop({ deadlineMs: 1000 });
    await a.env.clock.advance(1000);
    expect(await exit).toEqual({ reason: 'killed', code: 1 });
    await a.env.clock.flush();
    expect(a.kernel.isAlive(stuck)).toBe(false);
    expect(a.kernel.isAlive(sub)).toBe(false);
    expect(a.kernel.processCount).toBe(0);
  });

  it('SIGTERM during a slow start cuts the start short, stops what started in reverse order and exits 0 (no wait for the deadline)', async () => {
    const slow: ChildSpec = { id: 'slow', startTimeoutMs: 120_000, start: { machine: slowStarter, input: { delayMs: 60_000 } } };
    const a = app('permanent', [w('db'), slow, w('api')], { stopDeadlineMs: 30_000 });
    let ready: unknown;
    a.handle.ready.then(() => (ready = 'ready'), (e: unknown) => (ready = e));
    await a.env.clock.advance(1000);
    // health shows the boot in progress: every child, started or not
    expect(a.handle.health().children.map((c) => [c.id, c.phase])).toEqual([['db', 'running'], ['slow', 'starting'], ['api', 'pending']]);
    expect(a.handle.health()).toMatchObject({ status: 'starting', reason: { child: 'slow', phase: 'starting', forMs: 1000 } });
    const pids = a.events.filter((e) => e.type === 'exit').length;
    a.env.io.process.raise('SIGTERM');
    await a.env.clock.flush();
    expect(a.env.clock.now()).toBe(1000); // at once, not after a deadline
    expect(a.env.io.process.exits).toEqual([0]);
    expect(ready).toBeInstanceOf(ApplicationStartError);
    expect(a.kernel.processCount).toBe(0);
    // the starting child first, then db: reverse start order; api never started
    const exited = a.exits().slice(pids);
    expect(exited.map((p) => p.id)).toEqual([3, 2, 1]);
    expect(a.env.records.filter((r) => r['report'] === 'shutdown_error')).toEqual([]);
  });

  it('SIGTERM with a missed deadline exits the process with code 1', async () => {
    const a = app('temporary', [w('stuck', { shutdownMs: 'infinity', stopDelayMs: Infinity })], { stopDeadlineMs: 500 });
    await a.handle.ready;
    a.env.io.process.raise('SIGTERM');
    await a.env.clock.advance(500);
    await a.env.clock.flush();
    expect(a.env.io.process.exits).toEqual([1]);
  });
});

describe('health', () => {
  it('lists every child (nested too) with id, pid, machine state, restarts and last exit reason', async () => {
    const a = app('temporary', [w('db'), w('api'), supervisor('jobs', { children: [w('runner')] })], { maxRestarts: 5 });
    const root = await a.handle.ready;
    const before = a.handle.health();
    expect(before).toMatchObject({ app: 'shop', status: 'ready', pid: String(root) });
    const pids = await childPids(a, root);
    const up = { phase: 'running', attempts: 0, lastError: undefined, since: 0, forMs: 0 };
    expect(before.children).toEqual([
      { id: 'db', pid: String(pids.get('db')), type: 'worker', state: 'running', restarts: 0, lastExit: undefined, ...up },
      { id: 'api', pid: String(pids.get('api')), type: 'worker', state: 'running', restarts: 0, lastExit: undefined, ...up },
      {
        id: 'jobs',
        pid: String(pids.get('jobs')),
        type: 'supervisor',
        state: 'running',
        children: [{ id: 'runner', pid: expect.any(String), type: 'worker', state: 'running', restarts: 0, lastExit: undefined, ...up }],
        restarts: 0,
        lastExit: undefined,
        ...up,
        intensity: { used: 0, maxRestarts: 1, periodMs: 5000 },
      },
    ]);
    crash(a.kernel, pids.get('api')!);
    await a.env.clock.flush();
    const api = a.handle.health().children.find((c) => c.id === 'api')!;
    expect(api).toMatchObject({ restarts: 1, lastExit: { error: 'Error', message: 'died' }, state: 'running' });
    expect(api.pid).not.toBe(String(pids.get('api')));
    a.kernel.exit((await childPids(a, root)).get('db')!, 'shutdown');
    await a.env.clock.flush();
    expect(a.handle.health().children.find((c) => c.id === 'db')).toMatchObject({ restarts: 1, lastExit: 'shutdown' });
  });

  it('onChange receives the health report as children start and exit', async () => {
    const env = createTestEnv();
    const seen: string[] = [];
    const handle = startApplication({ name: 'x', env, tree: { children: [w('a')] }, onChange: (h) => seen.push(h.status) });
    await handle.ready;
    expect(seen[0]).toBe('starting'); // child a became ready while the root was starting
    const n = seen.length;
    await handle.stop();
    expect(seen.length).toBeGreaterThan(n); // a's exit (and the root's)
  });
});

describe('readiness without lifecycle observers', () => {
  it('an application with no onChange listener observes no lifecycle events, and is ready once its slow and nested children are', async () => {
    const env = createTestEnv();
    const kernel = createKernel(env);
    const slow = (id: string, delayMs: number): ChildSpec => ({ id, start: { machine: slowStarter, input: { delayMs } } });
    const handle = startApplication({ name: 'x', env, kernel, handleSignals: false, tree: { children: [slow('a', 10), supervisor('sub', { children: [slow('b', 30)] }), w('c')] } });
    let ready = false;
    void handle.ready.then(() => (ready = true));
    await env.clock.advance(20);
    expect(ready).toBe(false);
    expect(handle.health()).toMatchObject({ status: 'starting', reason: { child: 'sub', phase: 'starting' } });
    await env.clock.advance(20);
    await env.clock.flush();
    expect(ready).toBe(true);
    expect(handle.health().status).toBe('ready');
    // readiness is told by the supervisors: no machine of the application builds a lifecycle event per snapshot
    expect(kernel._observed).toBe(false);
    await handle.stop();
  });

  it('a supervisor-type child that is not an Ordo supervisor: ready once the children it describes are (lifecycle events observed from then on)', async () => {
    const env = createTestEnv();
    const kernel = createKernel(env);
    let inner: Pid | undefined;
    const foreign: ChildSpec = {
      id: 'ext',
      type: 'supervisor',
      start: (ctx) => {
        const proc = ctx.kernel.spawnNative((self) => ({
          handle: (m) => (m.kind === 'exit' && m.reason === 'shutdown' ? self.exit('shutdown') : undefined),
          describe: () => ({ children: [{ id: 'inner', pid: inner ? String(inner) : undefined, type: 'worker', state: undefined, phase: inner && ctx.kernel.processInfo(inner)?.ready ? 'running' : 'starting', restarts: 0, lastExit: undefined, attempts: 0, lastError: undefined, since: 0 }] }),
        }), { link: ctx.parent });
        if ('status' in proc) throw new Error('spawnNative');
        void ctx.kernel.spawn(slowStarter, { inputFor: (self) => ((inner = self), { delayMs: 50 }), link: proc.pid });
        return Promise.resolve({ status: 'ok', pid: proc.pid });
      },
    };
    const handle = startApplication({ name: 'x', env, kernel, handleSignals: false, tree: { children: [w('a'), foreign] } });
    let ready = false;
    void handle.ready.then(() => (ready = true));
    await env.clock.advance(40);
    expect(ready).toBe(false);
    await env.clock.advance(20);
    await env.clock.flush();
    expect(ready).toBe(true);
    const stopped = handle.stop();
    await env.clock.flush();
    expect(await stopped).toMatchObject({ code: 0 });
  });
});

describe('property', () => {
  it('after any crashes, kills, signals and stops: the process exits at most once, with 0 or 1, and nothing is left running', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('permanent' as const, 'transient' as const, 'temporary' as const),
        fc.array(fc.record({ kind: fc.constantFrom('crash', 'kill', 'advance', 'sigterm', 'stop'), pick: fc.nat() }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 0, max: 3 }),
        async (startType, ops, maxRestarts) => {
          const env = createTestEnv();
          const kernel = createKernel(env);
          const h = startApplication({ name: 'x', env, kernel, startType, stopDeadlineMs: 800, tree: { maxRestarts, periodMs: 1000, children: [w('a', { stopDelayMs: 100 }), supervisor('sub', { children: [w('b', { stopDelayMs: 500 })] }), w('c')] } });
          const root = await h.ready;
          for (const op of ops) {
            if (!kernel.isAlive(root)) break;
            const kids = kernel.processInfo(root)?.links ?? [];
            const target = kids[op.pick % Math.max(1, kids.length)];
            if (op.kind === 'advance') await env.clock.advance(op.pick % 2000);
            else if (op.kind === 'sigterm') env.io.process.raise('SIGTERM');
            else if (op.kind === 'stop') void h.stop();
            else if (target && op.kind === 'kill') kernel.exit(target, 'kill');
            else if (target) kernel.send(target, { type: 'crash' });
            await env.clock.flush();
          }
          await env.clock.runUntilIdle();
          const stopped = h.stop();
          await env.clock.runUntilIdle();
          const exit = await stopped;
          expect(kernel.processCount).toBe(0);
          expect(env.clock.pending()).toBe(0);
          expect(env.io.process.exits.length).toBeLessThanOrEqual(1);
          expect([0, 1]).toContain(exit.code);
        },
      ),
      { numRuns: 150 },
    );
  });
});
