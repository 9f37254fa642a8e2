import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createKernel, createTestEnv, stopProcess } from '../../src/index.ts';
import { simChildMachine, type SimChildInput } from '../../src/chaos/library.ts';

/**
 * The chaos library's child without a database, on the virtual clock: ready after `startMs`
 * (at once for 0), a crash `crashAfterMs` after ready, a stop that takes `stopMs`, and nothing
 * left armed once it is gone. Model: the durations themselves.
 */
function input(env: ReturnType<typeof createTestEnv>, o: { startMs: number; stopMs: number; crashAfterMs?: number | undefined }): SimChildInput {
  return { id: 'w', env, probe: () => undefined, startMs: o.startMs, stopMs: o.stopMs, crashAfterMs: o.crashAfterMs, deps: {} };
}

describe('the library child (simChildMachine) without a database', () => {
  it('is ready after startMs, stops in stopMs, and leaves no timer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(20), fc.nat(20), async (startMs, stopMs) => {
        const env = createTestEnv();
        const kernel = createKernel(env);
        let ready = false;
        const started = kernel.spawn(simChildMachine, { input: input(env, { startMs, stopMs }), startTimeoutMs: Infinity });
        void started.then(() => (ready = true));
        if (startMs > 0) {
          await env.clock.advance(startMs - 1);
          expect(ready).toBe(false);
          await env.clock.advance(1);
        } else await env.clock.advance(0);
        const r = await started;
        expect(r.status).toBe('ok');
        if (r.status !== 'ok') return;
        expect(kernel.processInfo(r.pid)?.state).toBe('quiet');
        const t0 = env.clock.now();
        let stoppedAt = -1;
        void stopProcess(kernel, r.pid).then(() => (stoppedAt = env.clock.now()));
        await env.clock.advance(stopMs + 1);
        expect(stoppedAt - t0).toBe(stopMs);
        expect(kernel.isAlive(r.pid)).toBe(false);
        expect(env.clock.pending()).toBe(0);
      }),
      { numRuns: 30 },
    );
  });

  it('with crashAfterMs: ready in running.timed (also when starting at once), crashes that long after ready', async () => {
    for (const startMs of [0, 7]) {
      const env = createTestEnv();
      const kernel = createKernel(env);
      const r = await Promise.all([kernel.spawn(simChildMachine, { input: input(env, { startMs, stopMs: 0, crashAfterMs: 30 }), startTimeoutMs: Infinity }), env.clock.advance(startMs)]).then(([x]) => x);
      expect(r.status).toBe('ok');
      if (r.status !== 'ok') return;
      expect(kernel.processInfo(r.pid)?.state).toEqual({ running: { timed: 'idle' } });
      const exits: unknown[] = [];
      kernel.monitor(r.pid, (reason) => exits.push(reason));
      await env.clock.advance(29);
      expect(kernel.isAlive(r.pid)).toBe(true);
      await env.clock.advance(1);
      expect(kernel.isAlive(r.pid)).toBe(false);
      expect(String(exits[0])).toContain('w crashed (simulated)');
      expect(env.clock.pending()).toBe(0);
    }
  });

  it('stopped while booting: ends at once, its start delay disarmed', async () => {
    const env = createTestEnv();
    const kernel = createKernel(env);
    const started = kernel.spawn(simChildMachine, { input: input(env, { startMs: 50, stopMs: 5 }), name: 'w', startTimeoutMs: Infinity });
    await env.clock.advance(10);
    const pid = kernel.whereis('w')!;
    expect(kernel.processInfo(pid)?.state).toBe('booting');
    kernel.exit(pid, 'shutdown');
    await env.clock.advance(0);
    expect((await started).status).toBe('error'); // ended before it was ready: a failed start
    expect(kernel.isAlive(pid)).toBe(false);
    expect(env.clock.pending()).toBe(0);
  });
});
