import { describe, expect, it } from 'vitest';
import { StartExitError, StartTimeoutError } from '../../src/index.ts';
import { fixture } from '../support/otp.ts';
import { failsToStart, slowStarter, worker } from '../support/machines.ts';

describe('spawn and readiness', () => {
  it('resolves ok with the pid once the machine is ready; processInfo describes it', async () => {
    const f = fixture();
    const r = await f.kernel.spawn(worker, { input: { service: 'svc' }, name: 'w' });
    if (r.status !== 'ok') throw new Error('spawn');
    expect(r.info).toBe('svc'); // the provided service: context.service at readiness
    expect(f.kernel.processInfo(r.pid)).toMatchObject({ pid: r.pid, name: 'w', kind: 'machine', state: 'running', ready: true, trapExit: false, links: [] });
    expect(f.events).toContainEqual({ type: 'ready', pid: r.pid });
  });

  it('waits for the ready tag on the virtual clock, not before', async () => {
    const f = fixture();
    let settled = false;
    const p = f.kernel.spawn(slowStarter, { input: { delayMs: 3000 } }).then((r) => {
      settled = true;
      return r;
    });
    await f.env.clock.advance(2999);
    expect(settled).toBe(false);
    await f.env.clock.advance(1);
    expect((await p).status).toBe('ok');
  });

  it('not ready within startTimeoutMs → StartTimeoutError; the process is killed and no crash is reported', async () => {
    const f = fixture();
    const p = f.kernel.spawn(slowStarter, { input: { delayMs: 10_000 }, startTimeoutMs: 500 });
    await f.env.clock.advance(500);
    const r = await p;
    expect(r.status).toBe('error');
    const e = (r as { error: StartTimeoutError }).error;
    expect(e).toBeInstanceOf(StartTimeoutError);
    expect(e).toMatchObject({ code: 'ORDO_START_TIMEOUT', timeoutMs: 500 });
    expect(f.kernel.isAlive(e.pid)).toBe(false);
    expect(f.exitOf(e.pid)).toBe('killed');
    expect(f.reports('crash_report')).toEqual([]);
  });

  it('the default start timeout is 5000 ms', async () => {
    const f = fixture();
    let r: unknown;
    void f.kernel.spawn(slowStarter, { input: { delayMs: Infinity } }).then((x) => (r = x));
    await f.env.clock.advance(4999);
    expect(r).toBeUndefined();
    await f.env.clock.advance(1);
    expect(r).toMatchObject({ status: 'error', error: { code: 'ORDO_START_TIMEOUT', timeoutMs: 5000 } });
  });

  it('spawning linked to a dead process resolves with a start error (noproc), it does not hang', async () => {
    const f = fixture();
    const parent = await f.kernel.spawn(worker);
    if (parent.status !== 'ok') throw new Error('spawn');
    f.kernel.exit(parent.pid, 'kill');
    const r = await f.kernel.spawn(worker, { link: parent.pid });
    expect(r.status).toBe('error');
    expect((r as { error: StartExitError }).error).toMatchObject({ code: 'ORDO_START_EXIT', reason: 'noproc' });
  });

  it('a start that ends before ready is a StartExitError naming the pid and the reason, its stack without frames', async () => {
    const f = fixture();
    const stackLimit = Error.stackTraceLimit;
    const r = await f.kernel.spawn(failsToStart, { input: { reason: { db: 'down' } } });
    if (r.status !== 'error') throw new Error('expected a failed start');
    const e = r.error as StartExitError;
    expect(e).toBeInstanceOf(StartExitError);
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ code: 'ORDO_START_EXIT', name: 'StartExitError', reason: { db: 'down' }, cause: { db: 'down' } });
    expect(e.message).toBe(`${String(e.pid)} exited before it was ready: {"db":"down"}`);
    // an exit the kernel observed, not a throw site: the message and no frames (they named only kernel internals)
    expect(e.stack).toBe(`StartExitError: ${e.message}`);
    expect(Error.stackTraceLimit).toBe(stackLimit); // restored for everyone else
    expect(new Error('x').stack).toContain('\n    at ');
  });

  it('pids are never reused', async () => {
    const f = fixture();
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await f.kernel.spawn(worker);
      if (r.status !== 'ok') throw new Error('spawn');
      expect(seen.has(String(r.pid))).toBe(false);
      seen.add(String(r.pid));
      f.kernel.exit(r.pid, 'kill');
    }
  });
});
