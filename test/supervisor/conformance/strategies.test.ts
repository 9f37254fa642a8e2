// Conformance §4.5 — strategies and restart intensity (cases 33–43).
// Cases 36, 38, 40 are not in §4 (their numbers are unused there).
import { describe, expect, it } from 'vitest';
import { countChildren, deleteChild, startChild, startDynamicChild, stopProcess, terminateChild, whichChildren, type Pid, type StartContext, type StartResult } from '../../../src/index.ts';
import { crash, expectAlive, expectDead, fixture, pidOf, rows, startSup, w, watch } from '../../support/otp.ts';
import { worker } from '../../support/machines.ts';

const HOUR = 3_600_000;

describe('§4.5 strategies and restart intensity', () => {
  it('33 multiple_restarts: intensity 1 / 1 s, crashes 2.1 s apart never exhaust the sliding window', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 1, periodMs: 1000, children: [w('child1', { shutdownMs: 'brutal' })] });
    const mon = watch(f.kernel, sup);
    for (let i = 0; i < 4; i++) {
      crash(f.kernel, await pidOf(f.kernel, sup, 'child1'));
      await f.settle();
      expect(mon.down, `crash ${i}`).toBe(false);
      await f.env.clock.advance(2100);
    }
    expect(f.reports('child_terminated')).toHaveLength(4);
    expect(await terminateChild(f.kernel, sup, 'child1')).toEqual({ ok: true });
    expect(await deleteChild(f.kernel, sup, 'child1')).toEqual({ ok: true });
  });

  it('34 one_for_one: only the crashed child restarts; the 3rd restart within the period stops the supervisor and its children', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { strategy: 'one_for_one', maxRestarts: 2, periodMs: HOUR, children: [w('child1'), w('child2')] });
    const mon = watch(f.kernel, sup);
    const [a1, b1] = [await pidOf(f.kernel, sup, 'child1'), await pidOf(f.kernel, sup, 'child2')];
    crash(f.kernel, a1);
    await f.settle();
    const a2 = await pidOf(f.kernel, sup, 'child1');
    expect(a2).not.toBe(a1);
    expect(await pidOf(f.kernel, sup, 'child2')).toBe(b1);
    expect(await countChildren(f.kernel, sup)).toEqual({ specs: 2, active: 2, supervisors: 0, workers: 2 });
    crash(f.kernel, b1);
    await f.settle();
    const b2 = await pidOf(f.kernel, sup, 'child2');
    expect(mon.down).toBe(false);
    crash(f.kernel, a2);
    await f.settle();
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
    expectDead(f.kernel, b2);
    expect(f.exitOf(b2)).toBe('shutdown');
    expect(f.reports('reached_max_restart_intensity')).toMatchObject([{ report: 'reached_max_restart_intensity', child: 'child1', restarts: 2 }]);
  });

  it('35 (derived) intensity 3 in 5 s: 3 crashes survive, the 4th in the window gives up; children stopped in reverse order', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 3, periodMs: 5000, children: [w('a'), w('crashy'), w('c'), w('d')] });
    const mon = watch(f.kernel, sup);
    for (let i = 0; i < 3; i++) {
      crash(f.kernel, await pidOf(f.kernel, sup, 'crashy'));
      await f.settle();
      await f.env.clock.advance(1000);
    }
    expect(mon.down).toBe(false);
    const survivors = { a: await pidOf(f.kernel, sup, 'a'), c: await pidOf(f.kernel, sup, 'c'), d: await pidOf(f.kernel, sup, 'd') };
    const crashy = await pidOf(f.kernel, sup, 'crashy');
    const n = f.exits().length;
    crash(f.kernel, crashy); // t = 3000: all four restarts within 5 s
    await f.settle();
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
    expect(f.exits().slice(n)).toEqual([crashy, survivors.d, survivors.c, survivors.a, sup]);
    expect(f.reports('reached_max_restart_intensity')).toHaveLength(1);
  });

  it('35 (derived) the window slides: the 4th crash just after the 1st left the window is survived', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 3, periodMs: 5000, children: [w('crashy')] });
    const mon = watch(f.kernel, sup);
    for (const at of [0, 1000, 2000]) {
      await f.env.clock.advance(at - f.env.clock.now());
      crash(f.kernel, await pidOf(f.kernel, sup, 'crashy'));
      await f.settle();
    }
    await f.env.clock.advance(5500 - f.env.clock.now()); // restart at t=0 is out of the window (avoid the boundary)
    crash(f.kernel, await pidOf(f.kernel, sup, 'crashy'));
    await f.settle();
    expect(mon.down).toBe(false);
    crash(f.kernel, await pidOf(f.kernel, sup, 'crashy')); // t=5500: restarts at 1000, 2000, 5500, 5500 → 4 in window
    await f.settle();
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
  });

  it('37 one_for_all: a crash restarts every child; the 3rd restart gives up', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { strategy: 'one_for_all', maxRestarts: 2, periodMs: HOUR, children: [w('child1'), w('child2')] });
    const mon = watch(f.kernel, sup);
    const [a1, b1] = [await pidOf(f.kernel, sup, 'child1'), await pidOf(f.kernel, sup, 'child2')];
    crash(f.kernel, a1);
    await f.settle();
    expect(f.exitOf(b1)).toBe('shutdown');
    const now = await rows(f.kernel, sup);
    expect(now.map(([id]) => id)).toEqual(['child2', 'child1']);
    for (const [, p] of now) expect([a1, b1]).not.toContain(p);
    expect(await countChildren(f.kernel, sup)).toEqual({ specs: 2, active: 2, supervisors: 0, workers: 2 });
    crash(f.kernel, await pidOf(f.kernel, sup, 'child2'));
    await f.settle();
    expect(mon.down).toBe(false);
    crash(f.kernel, await pidOf(f.kernel, sup, 'child1'));
    await f.settle();
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
  });

  it('37 one_for_all_escalation: a sibling that fails to restart makes every retry re-run the group until intensity is exhausted', async () => {
    const f = fixture();
    let child2Starts = 0;
    const child2 = (ctx: StartContext): Promise<StartResult> | StartResult => (child2Starts++ === 0 ? ctx.spawn(worker) : { status: 'error', error: 'child2_down' });
    const sup = await startSup(f.kernel, { strategy: 'one_for_all', maxRestarts: 4, periodMs: HOUR, children: [w('child1'), { id: 'child2', start: child2 }] });
    const mon = watch(f.kernel, sup);
    const [a1, b1] = [await pidOf(f.kernel, sup, 'child1'), await pidOf(f.kernel, sup, 'child2')];
    const readyBefore = f.readies().length;
    crash(f.kernel, a1);
    await f.settle();
    expect(f.exitOf(b1)).toBe('shutdown');
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
    // restarts 1..4 each started child1 again and failed on child2; the 5th was refused.
    expect(f.reports('start_error')).toHaveLength(4);
    expect(f.readies().length - readyBefore).toBe(4);
    expect(f.reports('reached_max_restart_intensity')).toHaveLength(1);
    expect(f.kernel.processCount).toBe(0);
  });

  it('39 rest_for_one: children after the crashed one restart; earlier ones are untouched; the 3rd restart gives up', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { strategy: 'rest_for_one', maxRestarts: 2, periodMs: HOUR, children: [w('child1'), w('child2'), w('child3')] });
    const mon = watch(f.kernel, sup);
    const [a, b, c] = [await pidOf(f.kernel, sup, 'child1'), await pidOf(f.kernel, sup, 'child2'), await pidOf(f.kernel, sup, 'child3')];
    crash(f.kernel, b);
    await f.settle();
    expect(f.exitOf(c)).toBe('shutdown');
    expect(await pidOf(f.kernel, sup, 'child1')).toBe(a);
    const [b2, c2] = [await pidOf(f.kernel, sup, 'child2'), await pidOf(f.kernel, sup, 'child3')];
    expect(b2).not.toBe(b);
    expect(c2).not.toBe(c);
    expect(await countChildren(f.kernel, sup)).toEqual({ specs: 3, active: 3, supervisors: 0, workers: 3 });
    crash(f.kernel, c2);
    await f.settle();
    expect(await pidOf(f.kernel, sup, 'child2')).toBe(b2);
    expect(mon.down).toBe(false);
    crash(f.kernel, b2);
    await f.settle();
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
    expectDead(f.kernel, a);
  });

  it('39 rest_for_one_escalation: retries restart from the failing child on; earlier restarted children are not restarted again', async () => {
    const f = fixture();
    let child2Starts = 0;
    const child2 = (ctx: StartContext): Promise<StartResult> | StartResult => (child2Starts++ === 0 ? ctx.spawn(worker) : { status: 'error', error: 'child2_down' });
    const sup = await startSup(f.kernel, { strategy: 'rest_for_one', maxRestarts: 4, periodMs: HOUR, children: [w('child1'), { id: 'child2', start: child2 }] });
    const mon = watch(f.kernel, sup);
    const [a1, b1] = [await pidOf(f.kernel, sup, 'child1'), await pidOf(f.kernel, sup, 'child2')];
    const readyBefore = f.readies().length;
    crash(f.kernel, a1);
    await f.settle();
    expect(f.exitOf(b1)).toBe('shutdown');
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
    expect(f.readies().length - readyBefore).toBe(1); // child1 restarted once only
    expect(f.reports('start_error')).toHaveLength(4);
    expect(f.kernel.processCount).toBe(0);
  });

  it('41 simple_one_for_one: a crashed instance restarts with the same args; info returned; the 3rd restart gives up', async () => {
    const f = fixture();
    const seen: unknown[] = [];
    const start = async (ctx: StartContext): Promise<StartResult> => {
      seen.push(ctx.args);
      const r = await ctx.spawn(worker);
      return r.status === 'ok' ? { ...r, info: 'extra_info' } : r;
    };
    const sup = await startSup(f.kernel, { strategy: 'simple_one_for_one', maxRestarts: 2, periodMs: HOUR, children: [{ id: 't', start }] });
    const mon = watch(f.kernel, sup);
    const r1 = await startDynamicChild(f.kernel, sup, { n: 1 });
    expect(r1).toMatchObject({ ok: true, info: 'extra_info' });
    const p1 = (r1 as { pid: Pid }).pid;
    const p2 = ((await startDynamicChild(f.kernel, sup, { n: 2 })) as { pid: Pid }).pid;
    crash(f.kernel, p1);
    await f.settle();
    expect(seen).toEqual([{ n: 1 }, { n: 2 }, { n: 1 }]);
    const now = (await whichChildren(f.kernel, sup)).map((c) => c.pid);
    expect(now).toHaveLength(2);
    expect(now).toContain(p2);
    expect(now).not.toContain(p1);
    expect(await countChildren(f.kernel, sup)).toEqual({ specs: 1, active: 2, supervisors: 0, workers: 2 });
    crash(f.kernel, p2);
    await f.settle();
    expect(mon.down).toBe(false);
    crash(f.kernel, (await whichChildren(f.kernel, sup))[0]!.pid as Pid);
    await f.settle();
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
  });

  it('41 simple_one_for_one_escalation: an instance whose restarts fail exhausts intensity; the other instance is terminated', async () => {
    const f = fixture();
    const started = new Set<unknown>();
    const start = (ctx: StartContext): Promise<StartResult> | StartResult => {
      if (ctx.args === 'bad' && started.has('bad')) return { status: 'error', error: 'bad_args' };
      started.add(ctx.args);
      return ctx.spawn(worker);
    };
    const sup = await startSup(f.kernel, { strategy: 'simple_one_for_one', maxRestarts: 4, periodMs: HOUR, children: [{ id: 't', start }] });
    const mon = watch(f.kernel, sup);
    const bad = ((await startDynamicChild(f.kernel, sup, 'bad')) as { pid: Pid }).pid;
    const good = ((await startDynamicChild(f.kernel, sup, 'good')) as { pid: Pid }).pid;
    crash(f.kernel, bad);
    await f.settle();
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
    expect(f.exitOf(good)).toBe('shutdown');
    expect(f.reports('start_error')).toHaveLength(4);
  });

  for (const restart of ['transient', 'permanent'] as const) {
    it(`42 simple_one_for_one_restart_ignore (${restart}): a restart returning ignore removes the instance`, async () => {
      const f = fixture();
      let n = 0;
      const start = (ctx: StartContext): Promise<StartResult> | StartResult => (n++ < 2 ? ctx.spawn(worker) : { status: 'ignore' });
      const sup = await startSup(f.kernel, { strategy: 'simple_one_for_one', maxRestarts: 10, periodMs: HOUR, children: [{ id: 't', restart, start }] });
      const p1 = ((await startDynamicChild(f.kernel, sup, [])) as { pid: Pid }).pid;
      f.kernel.exit(p1, 'kill');
      await f.settle();
      const [row] = await whichChildren(f.kernel, sup);
      expect(row!.pid).not.toBe(p1);
      expectAlive(f.kernel, row!.pid as Pid);
      f.kernel.exit(row!.pid as Pid, 'kill');
      await f.settle();
      expect(await whichChildren(f.kernel, sup)).toEqual([]);
      expect(await countChildren(f.kernel, sup)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 0 });
      expectAlive(f.kernel, sup);
      expect(await stopProcess(f.kernel, sup)).toBe('shutdown');
    });
  }

  it('43 simple_one_for_one_shutdown: dynamic children stop in parallel; the slow one is killed at the template shutdown time', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, {
      strategy: 'simple_one_for_one',
      children: [{ id: 't', shutdownMs: 2000, start: { machine: worker, input: ({ args }: { args: unknown }) => args } }],
    });
    const [a, b, c] = [
      ((await startDynamicChild(f.kernel, sup, { stopDelayMs: 1000 })) as { pid: Pid }).pid,
      ((await startDynamicChild(f.kernel, sup, { stopDelayMs: 1000 })) as { pid: Pid }).pid,
      ((await startDynamicChild(f.kernel, sup, { stopDelayMs: 5000 })) as { pid: Pid }).pid,
    ];
    const mon = watch(f.kernel, sup);
    f.kernel.exit(sup, 'shutdown');
    await f.env.clock.advance(1000);
    expect(f.exitOf(a)).toBe('shutdown');
    expect(f.exitOf(b)).toBe('shutdown'); // in parallel: both done at t=1000, not t=2000
    expect(mon.down).toBe(false);
    await f.env.clock.advance(999);
    expect(mon.down).toBe(false);
    await f.env.clock.advance(1);
    expect(f.exitOf(c)).toBe('killed');
    expect(mon).toEqual({ down: true, reason: 'shutdown' }); // ≥ 1 s and < 5 s
  });
});
