// Conformance §4.8 — gen_server cases mapped onto the kernel (54–56) and the application
// start types (58, in test/supervisor/application.test.ts).
// 57 continue is omitted: `{continue, C}` is gen_server callback plumbing; an xstate machine's
// eventless (`always`) transitions and entry actions already run before any external event,
// which is xstate's guarantee, not Ordo's.
import { describe, expect, it } from 'vitest';
import { CalleeExitError, NoProcError, StartExitError, StartTimeoutError, type Pid } from '../../../src/index.ts';
import { fixture, watch } from '../../support/otp.ts';
import { failsToStart, ignores, slowStarter, stopper, throwsOnStart, trapper, worker } from '../../support/machines.ts';

async function trapperPid(f: ReturnType<typeof fixture>): Promise<Pid> {
  const r = await f.kernel.spawn(trapper, { trapExit: true });
  if (r.status !== 'ok') throw new Error('trapper');
  return r.pid;
}
async function trapped(f: ReturnType<typeof fixture>, pid: Pid): Promise<{ from: unknown; reason: unknown }[]> {
  const r = await f.kernel.call<{ from: unknown; reason: unknown }[]>(pid, { type: 'trapped' });
  if (!r.ok) throw new Error('trapped');
  return r.value;
}

describe('§4.8 gen_server cases on the kernel', () => {
  it('54 start: ignore, error, stop, start timeout, already_started, linked exit, call after death → noproc', async () => {
    const f = fixture();
    const { kernel } = f;
    const caller = await trapperPid(f);
    expect(await kernel.spawn(ignores, { link: caller })).toEqual({ status: 'ignore' });
    const err = await kernel.spawn(failsToStart, { link: caller, input: { reason: 'foobar' } });
    expect(err.status).toBe('error');
    expect((err as { error: StartExitError }).error).toMatchObject({ code: 'ORDO_START_EXIT', reason: 'foobar' });
    const stopped = await kernel.spawn(failsToStart, { link: caller, input: { reason: 'stopped' } });
    expect((stopped as { error: StartExitError }).error).toBeInstanceOf(StartExitError);
    const slow = kernel.spawn(slowStarter, { link: caller, input: { delayMs: 1000 }, startTimeoutMs: 100 });
    await f.env.clock.advance(100);
    const timedOut = await slow;
    expect(timedOut.status).toBe('error');
    expect((timedOut as { error: StartTimeoutError }).error).toMatchObject({ code: 'ORDO_START_TIMEOUT', timeoutMs: 100 });
    await f.settle();
    // OTP ≥ 26: a start that returns ignore/error leaves no EXIT for the linked caller.
    expect(await trapped(f, caller)).toEqual([]);
    const first = await kernel.spawn(worker, { name: 'my_server' });
    if (first.status !== 'ok') throw new Error('first');
    expect(await kernel.spawn(worker, { name: 'my_server' })).toEqual({ status: 'already_started', pid: first.pid });
    const linked = await kernel.spawn(worker, { link: caller });
    if (linked.status !== 'ok') throw new Error('linked');
    kernel.send(linked.pid, { type: 'exit', reason: 'stopped' });
    await f.settle();
    expect(await trapped(f, caller)).toEqual([{ from: linked.pid, reason: 'stopped' }]);
    const r = await kernel.call(linked.pid, { type: 'ping' }, { timeoutMs: 10 });
    expect(r.ok).toBe(false);
    expect((r as { error: NoProcError }).error).toBeInstanceOf(NoProcError);
    expect(kernel.isAlive(caller)).toBe(true);
  });

  it('54 start failure with a non-trapping linked caller: the caller survives', async () => {
    const f = fixture();
    const parent = await f.kernel.spawn(worker);
    if (parent.status !== 'ok') throw new Error('parent');
    await f.kernel.spawn(failsToStart, { link: parent.pid, input: { reason: 'bailout' } });
    await f.kernel.spawn(throwsOnStart, { link: parent.pid });
    await f.settle();
    expect(f.kernel.isAlive(parent.pid)).toBe(true);
  });

  it('55 loop_start_fail: repeated start failures return typed errors and leak no EXIT, DOWN or process', async () => {
    const f = fixture();
    const caller = await trapperPid(f);
    const base = f.kernel.processCount;
    for (let i = 0; i < 5; i++) {
      const bailout = await f.kernel.spawn(failsToStart, { link: caller, input: { reason: 'bailout' } });
      expect((bailout as { error: StartExitError }).error).toMatchObject({ code: 'ORDO_START_EXIT', reason: 'bailout' });
      const thrown = await f.kernel.spawn(throwsOnStart, { link: caller });
      expect(thrown.status).toBe('error');
      const e = (thrown as { error: StartExitError }).error;
      expect(e).toBeInstanceOf(StartExitError);
      expect((e.reason as Error).message).toBe('init boom');
      expect(f.kernel.processCount).toBe(base);
    }
    await f.settle();
    expect(await trapped(f, caller)).toEqual([]);
  });

  it('56 crash: stop without reply → caller gets the exit reason; {shutdown,_}/shutdown are not crash reports; a callback crash is', async () => {
    const f = fixture();
    const { kernel } = f;
    const caller = await trapperPid(f);
    const spawnStopper = async () => {
      const r = await kernel.spawn(stopper, { link: caller });
      if (r.status !== 'ok') throw new Error('stopper');
      return r.pid;
    };
    const s1 = await spawnStopper();
    const r1 = await kernel.call(s1, { type: 'stopMe', reason: { shutdown: 'reason' } });
    expect(r1.ok).toBe(false);
    expect((r1 as { error: CalleeExitError }).error).toBeInstanceOf(CalleeExitError);
    expect((r1 as { error: CalleeExitError }).error).toMatchObject({ code: 'ORDO_CALLEE_EXIT', reason: { shutdown: 'reason' } });
    await f.settle();
    expect(await trapped(f, caller)).toEqual([{ from: s1, reason: { shutdown: 'reason' } }]);
    const s2 = await spawnStopper();
    const r2 = await kernel.call(s2, { type: 'stopMe', reason: 'shutdown' });
    expect((r2 as { error: CalleeExitError }).error).toMatchObject({ reason: 'shutdown' });
    expect(f.reports('crash_report')).toEqual([]);
    const s3 = await spawnStopper();
    const r3 = await kernel.call(s3, { type: 'crashMe' });
    expect((r3 as { error: CalleeExitError }).error).toBeInstanceOf(CalleeExitError);
    expect(((r3 as { error: CalleeExitError }).error.reason as Error).message).toBe('crashed');
    expect(f.reports('crash_report')).toMatchObject([{ report: 'crash_report', pid: String(s3), reason: { error: 'Error', message: 'crashed' } }]);
    expect(kernel.isAlive(caller)).toBe(true);
  });

  it('56 the caller is a process: a monitor sees the callee DOWN with the same reason', async () => {
    const f = fixture();
    const r = await f.kernel.spawn(stopper);
    if (r.status !== 'ok') throw new Error('stopper');
    const mon = watch(f.kernel, r.pid);
    await f.kernel.call(r.pid, { type: 'stopMe', reason: { shutdown: 'reason' } });
    expect(mon).toEqual({ down: true, reason: { shutdown: 'reason' } });
  });
});
