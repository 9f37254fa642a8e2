import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { child, createKernel, createTestEnv, startApplication, startSupervisor, supervisor, terminateChild, type ChildSpec, type Pid, type StartResult } from '../../src/index.ts';
import { worker } from '../support/machines.ts';

// Readiness is told by the supervisors' change notices (no lifecycle listener): every change of
// a record's phase must reach the application, also the ones after a start attempt that ends
// in `ignore`, a cancelled retry, and the changes of a nested supervisor built by hand.

/** Crashes on its first start; on the next one ready (`then: 'up'`) or ends in `ignore` (`then: 'ignore'`). */
const flaky = setup({ types: { input: {} as { tries: { n: number }; then: 'up' | 'ignore' }, context: {} as { first: boolean; then: 'up' | 'ignore' } } }).createMachine({
  context: ({ input }) => ({ first: input.tries.n++ === 0, then: input.then }),
  initial: 'decide',
  states: {
    decide: { always: [{ guard: ({ context }) => context.first, target: 'crash' }, { guard: ({ context }) => context.then === 'ignore', target: 'skip' }, { target: 'up' }] },
    crash: {
      entry: () => {
        throw new Error('boom');
      },
    },
    skip: { type: 'final' },
    up: { tags: ['ready'], on: { 'ordo.stop': 'down' } },
    down: { type: 'final' },
  },
  output: ({ context }) => (context.then === 'ignore' ? { ignore: true } : undefined),
});

/** Always crashes on start. */
const broken = setup({}).createMachine({
  initial: 'crash',
  states: {
    crash: {
      entry: () => {
        throw new Error('boom');
      },
    },
  },
});

const retry = { initialMs: 1000, maxMs: 1000, factor: 1 };

function watch(ready: Promise<Pid>): { readonly value: boolean } {
  const seen = { value: false };
  ready.then(
    () => (seen.value = true),
    () => undefined,
  );
  return seen;
}

describe('readiness after a start attempt that changes no running child', () => {
  it('a waiting child whose retry ends in ignore: ready (it is stopped, as OTP keeps an ignored child)', async () => {
    const env = createTestEnv();
    const tries = { n: 0 };
    const app = startApplication({
      name: 'x',
      env,
      handleSignals: false,
      tree: { children: [child({ id: 'w', start: { machine: worker } }), child({ id: 'flaky', startRetry: retry, start: { machine: flaky, input: { tries, then: 'ignore' } } })] },
    });
    const ready = watch(app.ready);
    await env.clock.advance(500);
    expect(ready.value).toBe(false);
    expect(app.health()).toMatchObject({ status: 'degraded', reason: { child: 'flaky', phase: 'waiting' } });
    await env.clock.advance(1000);
    await env.clock.flush();
    expect(tries.n).toBe(2);
    expect(app.health().status).toBe('ready');
    expect(ready.value).toBe(true);
    await app.stop();
  });

  it('a waiting child terminated (its retry cancelled): ready', async () => {
    const env = createTestEnv();
    let root: Pid | undefined;
    const waiting: ChildSpec = {
      id: 'broken',
      startRetry: retry,
      start: (ctx) => ((root = ctx.parent), ctx.spawn(broken)),
    };
    const app = startApplication({ name: 'x', env, handleSignals: false, tree: { children: [child({ id: 'w', start: { machine: worker } }), waiting] } });
    const ready = watch(app.ready);
    await env.clock.advance(500);
    expect(ready.value).toBe(false);
    expect(app.health()).toMatchObject({ status: 'degraded', reason: { child: 'broken', phase: 'waiting' } });
    expect(await terminateChild(app.kernel, root!, 'broken')).toEqual({ ok: true });
    await env.clock.flush();
    expect(app.health().status).toBe('ready');
    expect(ready.value).toBe(true);
    await app.stop();
  });

  it('a delayed restart (backoff) that ends in ignore, the last child not started: ready', async () => {
    const env = createTestEnv();
    const tries = { n: 0 };
    let starts = 0;
    let first: Pid | undefined;
    const once: ChildSpec = {
      id: 'once',
      backoff: { initialMs: 2000, maxMs: 2000, factor: 1 },
      start: async (ctx): Promise<StartResult> => {
        if (starts++ > 0) return { status: 'ignore' };
        const r = await ctx.spawn(worker);
        if (r.status === 'ok') first = r.pid;
        return r;
      },
    };
    const app = startApplication({
      name: 'x',
      env,
      handleSignals: false,
      tree: { children: [child({ id: 'flaky', startRetry: retry, start: { machine: flaky, input: { tries, then: 'up' } } }), once] },
    });
    const ready = watch(app.ready);
    await env.clock.advance(100);
    app.kernel.exit(first!, 'kill'); // restarted after 2000 ms: `restarting` until then
    await env.clock.advance(1000); // flaky is up now; once is still restarting
    expect(tries.n).toBe(2);
    expect(ready.value).toBe(false);
    expect(app.health()).toMatchObject({ status: 'degraded', reason: { child: 'once', phase: 'restarting' } });
    await env.clock.advance(1100);
    await env.clock.flush();
    expect(starts).toBe(2);
    expect(app.health().status).toBe('ready');
    expect(ready.value).toBe(true);
    await app.stop();
  });
});

describe('readiness through a nested supervisor built with startSupervisor (not the supervisor() helper)', () => {
  /** A supervisor-type child spec that starts its supervisor by hand. */
  const handRolled = (id: string, children: ChildSpec[]): ChildSpec => ({
    id,
    type: 'supervisor',
    start: (ctx) => startSupervisor(ctx.kernel, { children }, { link: ctx.parent }),
  });

  for (const depth of [1, 2]) {
    it(`ready once the waiting grandchild has started (${depth} hand-rolled level${depth > 1 ? 's' : ''}), with no lifecycle listener`, async () => {
      const env = createTestEnv();
      const kernel = createKernel(env);
      const tries = { n: 0 };
      let nested: ChildSpec = handRolled('nested', [child({ id: 'flaky', startRetry: retry, start: { machine: flaky, input: { tries, then: 'up' } } })]);
      for (let i = 1; i < depth; i++) nested = handRolled(`outer${i}`, [nested]);
      const app = startApplication({ name: 'x', env, kernel, handleSignals: false, tree: { children: [child({ id: 'w', start: { machine: worker } }), nested] } });
      const ready = watch(app.ready);
      await env.clock.advance(500);
      expect(ready.value).toBe(false);
      expect(app.health().status).toBe('degraded');
      await env.clock.advance(1000);
      await env.clock.flush();
      expect(tries.n).toBe(2);
      expect(app.health().status).toBe('ready');
      expect(ready.value).toBe(true);
      // told by the supervisors, not by lifecycle events
      expect(kernel._observed).toBe(false);
      await app.stop();
    });
  }

  for (const build of ['mixed', 'helper'] as const) {
    it(build === 'helper' ? 'control: the supervisor() helper alone' : 'a hand-rolled supervisor under a supervisor() one', async () => {
      const env = createTestEnv();
      const kernel = createKernel(env);
      const tries = { n: 0 };
      const leaf = [child({ id: 'flaky', startRetry: retry, start: { machine: flaky, input: { tries, then: 'up' } } })];
      const nested = build === 'helper' ? supervisor('nested', { children: leaf }) : supervisor('mid', { children: [handRolled('nested', leaf)] });
      const app = startApplication({ name: 'x', env, kernel, handleSignals: false, tree: { children: [child({ id: 'w', start: { machine: worker } }), nested] } });
      const ready = watch(app.ready);
      await env.clock.advance(500);
      expect(ready.value).toBe(false);
      await env.clock.advance(1000);
      await env.clock.flush();
      expect(ready.value).toBe(true);
      expect(kernel._observed).toBe(false);
      await app.stop();
    });
  }
});
