// Two edges of the synchronous boot and teardown (c1ae52c), found by the session-13 review
// (/work/notes/s12/review-tests/signalLeak.test.ts, stopDuringNestedBoot.test.ts):
// - a root that fails in the turn of `startApplication` runs `finish()` (which removes the
//   signal handlers) before the handlers were subscribed: they stayed, and a later SIGTERM
//   exited the host for an application already ended;
// - a `stop()` while a nested supervisor child is starting tears that child down in the same
//   call, so its EXIT reached the parent before the parent's own stop, its start then settled
//   `ok` with a dead pid, and the EXIT was reported as an unexpected `child_terminated`.
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { ApplicationStartError, createKernel, createTestEnv, startApplication, supervisor, type ChildSpec } from '../../src/index.ts';
import { w } from '../support/otp.ts';

/** A child whose start fails in the turn it is spawned: its input function throws. */
const failsAtOnce = { id: 'bad', start: { machine: createMachine({ initial: 'up', states: { up: {} } }), input: () => { throw new Error('no_disk'); } } } as unknown as ChildSpec;

describe('signal handlers after a boot that fails at once', () => {
  for (const startType of ['temporary', 'permanent'] as const) {
    it(`a failed ${startType} application leaves no SIGTERM/SIGINT handler behind`, async () => {
      const env = createTestEnv();
      const kernel = createKernel(env);
      const app = startApplication({ name: 'x', env, kernel, startType, tree: { strategy: 'one_for_one', children: [w('a'), failsAtOnce] } });
      await expect(app.ready).rejects.toBeInstanceOf(ApplicationStartError);
      expect((await app.exited).code).toBe(1);
      // temporary: the end is reported only; permanent: the runtime exits once, with the code
      const exitsAtEnd = startType === 'permanent' ? [1] : [];
      expect(env.io.process.exits).toEqual(exitsAtEnd);
      env.io.process.raise('SIGTERM'); // the host's own shutdown, after this application ended
      env.io.process.raise('SIGINT');
      for (let i = 0; i < 5; i++) await Promise.resolve();
      await env.clock.flush();
      expect(env.io.process.exits).toEqual(exitsAtEnd); // no handler of the ended application exits the host
    });
  }

  it('a booted application still stops on SIGTERM and exits with its code', async () => {
    const env = createTestEnv();
    const kernel = createKernel(env);
    const app = startApplication({ name: 'x', env, kernel, tree: { strategy: 'one_for_one', children: [w('a')] } });
    await app.ready;
    env.io.process.raise('SIGTERM');
    expect(await app.exited).toEqual({ reason: 'shutdown', code: 0 });
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(env.io.process.exits).toEqual([0]);
    env.io.process.raise('SIGTERM'); // removed once the application ended
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(env.io.process.exits).toEqual([0]);
  });
});

describe('a stop while a nested supervisor child is starting', () => {
  it('stops in order without a child_terminated report', async () => {
    const env = createTestEnv();
    const kernel = createKernel(env);
    const app = startApplication({
      name: 'x', env, kernel, handleSignals: false,
      tree: { strategy: 'rest_for_one', children: [w('a'), supervisor('s', { strategy: 'one_for_one', children: [w('s1'), w('s2')] }), w('c')] },
    });
    const exit = await app.stop(); // in the turn of startApplication: 's' is still starting
    expect(exit).toEqual({ reason: 'shutdown', code: 0 });
    expect(kernel.processCount).toBe(0);
    const reports = env.records.filter((r) => r['report'] === 'child_terminated' || r['report'] === 'shutdown_error' || r['report'] === 'crash_report');
    expect(reports.map((r) => `${String(r['report'])}:${String(r['child'])}`)).toEqual([]);
    await expect(app.ready).rejects.toBeInstanceOf(ApplicationStartError); // never ready: stopped during boot
  });
});
