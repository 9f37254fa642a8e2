// Conformance §1.8 — a restart attempt that fails: the "try again" loop, the `restarting`
// state and how admin calls interleave with it (OTP-9549). No §4 number; these back cases 27,
// 37 and 39.
import { describe, expect, it } from 'vitest';
import { countChildren, deleteChild, restartChild, startDynamicChild, startChild, terminateChild, whichChild, whichChildren, type Pid, type StartContext, type StartResult } from '../../../src/index.ts';
import { crash, expectAlive, fixture, pidOf, rows, startSup, w, watch } from '../../support/otp.ts';
import { worker } from '../../support/machines.ts';

const HOUR = 3_600_000;

function flaky() {
  const state = { failing: false, attempts: 0 };
  const start = (ctx: StartContext): Promise<StartResult> | StartResult => {
    state.attempts++;
    return state.failing ? { status: 'error', error: 'still_down' } : ctx.spawn(worker);
  };
  return { state, start };
}

describe('§1.8 failed restart attempts', () => {
  it('while a retry is pending: which shows restarting, not active; start/restart/delete refuse; terminate → undefined and the retry is dropped', async () => {
    const f = fixture();
    const { state, start } = flaky();
    const spec = { id: 'child1', start };
    const sup = await startSup(f.kernel, { maxRestarts: 100, periodMs: HOUR, children: [spec, w('child2')] });
    const p = await pidOf(f.kernel, sup, 'child1');
    state.failing = true;
    crash(f.kernel, p);
    // These calls queue behind the EXIT; the first retry queues behind them.
    const calls = Promise.all([
      whichChildren(f.kernel, sup),
      countChildren(f.kernel, sup),
      startChild(f.kernel, sup, spec),
      restartChild(f.kernel, sup, 'child1'),
      deleteChild(f.kernel, sup, 'child1'),
      whichChild(f.kernel, sup, 'child1'),
      terminateChild(f.kernel, sup, 'child1'),
      whichChildren(f.kernel, sup),
    ]);
    await f.settle();
    const [which, counts, started, restarted, deleted, one, terminated, after] = await calls;
    expect(which.map((c) => [c.id, c.pid])).toEqual([
      ['child2', expect.anything()],
      ['child1', 'restarting'],
    ]);
    expect(counts).toEqual({ specs: 2, active: 1, supervisors: 0, workers: 2 });
    expect(started).toEqual({ ok: false, error: 'already_present' });
    expect(restarted).toEqual({ ok: false, error: 'restarting' });
    expect(deleted).toEqual({ ok: false, error: 'restarting' });
    expect(one).toEqual({ ok: true, child: { id: 'child1', pid: 'restarting', type: 'worker' } });
    expect(terminated).toEqual({ ok: true });
    expect(after.find((c) => c.id === 'child1')!.pid).toBeUndefined();
    const attempts = state.attempts;
    await f.env.clock.advance(1000);
    expect(state.attempts).toBe(attempts); // no retry after terminate_child
    expect(f.reports('start_error')).toHaveLength(1);
    expectAlive(f.kernel, sup);
  });

  it('each retry counts toward intensity: a child whose start keeps failing exhausts it', async () => {
    const f = fixture();
    const { state, start } = flaky();
    const sup = await startSup(f.kernel, { maxRestarts: 3, periodMs: HOUR, children: [{ id: 'child1', start }] });
    const mon = watch(f.kernel, sup);
    state.failing = true;
    crash(f.kernel, await pidOf(f.kernel, sup, 'child1'));
    await f.settle();
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
    expect(state.attempts).toBe(1 + 3); // the initial start, then 3 restart attempts; the 4th is refused
    expect(f.reports('start_error')).toHaveLength(3);
    expect(f.reports('reached_max_restart_intensity')).toHaveLength(1);
  });

  it('a retry that succeeds brings the child back and restores counts', async () => {
    const f = fixture();
    const { state, start } = flaky();
    const sup = await startSup(f.kernel, { maxRestarts: 1000, periodMs: HOUR, children: [{ id: 'child1', start, backoff: { initialMs: 100, maxMs: 100 } }] });
    state.failing = true;
    crash(f.kernel, await pidOf(f.kernel, sup, 'child1'));
    await f.env.clock.advance(250); // attempts at t=100 and t=200 fail
    expect(await rows(f.kernel, sup)).toEqual([['child1', 'restarting']]);
    state.failing = false;
    await f.env.clock.advance(100);
    expectAlive(f.kernel, await pidOf(f.kernel, sup, 'child1'));
    expect(await countChildren(f.kernel, sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
  });

  for (const strategy of ['one_for_all', 'rest_for_one'] as const) {
    it(`${strategy}: children restarted before the failing one stay running, later ones undefined; the retry ${strategy === 'one_for_all' ? 're-runs the whole group' : 'starts from the failed child'}`, async () => {
      const f = fixture();
      const { state, start } = flaky();
      // b's retries wait 1 s (its own backoff), so the in-between state can be observed.
      const sup = await startSup(f.kernel, { strategy, maxRestarts: 100, periodMs: HOUR, children: [w('a'), { id: 'b', start, backoff: { initialMs: 1000, maxMs: 1000 } }, w('c')] });
      const a0 = await pidOf(f.kernel, sup, 'a');
      state.failing = true;
      crash(f.kernel, a0);
      await f.settle();
      const a1 = await pidOf(f.kernel, sup, 'a');
      expect(a1).not.toBe(a0);
      expect((await rows(f.kernel, sup)).slice(0, 2)).toEqual([
        ['c', undefined],
        ['b', 'restarting'],
      ]);
      expect(await countChildren(f.kernel, sup)).toEqual({ specs: 3, active: 1, supervisors: 0, workers: 3 });
      state.failing = false;
      await f.env.clock.advance(1000);
      const a2 = await pidOf(f.kernel, sup, 'a');
      if (strategy === 'one_for_all') {
        expect(a2).not.toBe(a1);
        expect(f.exitOf(a1)).toBe('shutdown');
      } else expect(a2).toBe(a1);
      expectAlive(f.kernel, await pidOf(f.kernel, sup, 'b'), await pidOf(f.kernel, sup, 'c'));
    });
  }

  it('simple_one_for_one: terminateChild by the old pid of a restarting instance removes it and stops its retries', async () => {
    const f = fixture();
    const { state, start } = flaky();
    const sup = await startSup(f.kernel, { strategy: 'simple_one_for_one', maxRestarts: 1000, periodMs: HOUR, children: [{ id: 't', start, backoff: { initialMs: 100, maxMs: 100 } }] });
    const old = ((await startDynamicChild(f.kernel, sup, [])) as { pid: Pid }).pid;
    state.failing = true;
    crash(f.kernel, old);
    await f.env.clock.advance(150);
    expect(await rows(f.kernel, sup)).toEqual([[undefined, 'restarting']]);
    expect(await terminateChild(f.kernel, sup, old)).toEqual({ ok: true });
    expect(await whichChildren(f.kernel, sup)).toEqual([]);
    expect(await countChildren(f.kernel, sup)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 0 });
    const attempts = state.attempts;
    await f.env.clock.advance(1000);
    expect(state.attempts).toBe(attempts);
  });
});
