// Conformance §4.3 — child administration API (cases 22–27).
import { describe, expect, it } from 'vitest';
import {
  NoProcError,
  countChildren,
  deleteChild,
  restartChild, startDynamicChild,
  startChild,
  terminateChild,
  whichChild,
  whichChildren,
  type Pid,
  type StartContext,
} from '../../../src/index.ts';
import { crash, expectAlive, expectDead, fixture, pidOf, rows, startSup, w } from '../../support/otp.ts';
import { worker } from '../../support/machines.ts';

const HOUR = 3_600_000;

describe('§4.3 child administration API', () => {
  it('22 child_adm: the full static admin sequence', async () => {
    const f = fixture();
    const { kernel } = f;
    const spec = w('child1', { shutdownMs: 1000 });
    const sup = await startSup(kernel, { strategy: 'one_for_one', maxRestarts: 2, periodMs: HOUR, children: [spec] });
    const p = await pidOf(kernel, sup, 'child1');
    expect(await whichChildren(kernel, sup)).toEqual([{ id: 'child1', pid: p, type: 'worker' }]);
    expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
    expect(await startChild(kernel, sup, spec)).toEqual({ ok: false, error: 'already_started', pid: p });
    expect(await terminateChild(kernel, sup, 'hej')).toEqual({ ok: false, error: 'not_found' });
    // API call on a non-existent supervisor: the caller gets NoProcError (OTP: exits {noproc, _}).
    await expect(whichChildren(kernel, 'no_such_sup')).rejects.toBeInstanceOf(NoProcError);
    expect(await terminateChild(kernel, sup, 'child1')).toEqual({ ok: true });
    expect(f.exitOf(p)).toBe('shutdown');
    expect(await whichChildren(kernel, sup)).toEqual([{ id: 'child1', pid: undefined, type: 'worker' }]);
    expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 1 });
    expect(await terminateChild(kernel, sup, 'child1')).toEqual({ ok: true });
    expect(await startChild(kernel, sup, spec)).toEqual({ ok: false, error: 'already_present' });
    const r2 = await restartChild(kernel, sup, 'child1');
    expect(r2).toMatchObject({ ok: true });
    const p2 = (r2 as { pid: Pid }).pid;
    expectAlive(kernel, p2);
    expect(await restartChild(kernel, sup, 'child1')).toEqual({ ok: false, error: 'running' });
    expect(await restartChild(kernel, sup, 'child2')).toEqual({ ok: false, error: 'not_found' });
    expect(await deleteChild(kernel, sup, 'child1')).toEqual({ ok: false, error: 'running' });
    expect(await deleteChild(kernel, sup, 'hej')).toEqual({ ok: false, error: 'not_found' });
    expect(await terminateChild(kernel, sup, 'child1')).toEqual({ ok: true });
    expect(await deleteChild(kernel, sup, 'child1')).toEqual({ ok: true });
    expect(await restartChild(kernel, sup, 'child1')).toEqual({ ok: false, error: 'not_found' });
    expect(await whichChildren(kernel, sup)).toEqual([]);
    expect(await countChildren(kernel, sup)).toEqual({ specs: 0, active: 0, supervisors: 0, workers: 0 });
    const r3 = await startChild(kernel, sup, spec);
    const p3 = (r3 as { pid: Pid }).pid;
    expect(await terminateChild(kernel, sup, p3)).toEqual({ ok: false, error: 'not_found' });
    expectAlive(kernel, p3, sup);
    // none of this counted as a restart
    expect(f.reports('child_terminated')).toEqual([]);
  });

  it('22 (§1.12) an admin call queued behind the supervisor giving up fails with its exit reason (CalleeExitError)', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 0, children: [w('a')] });
    crash(f.kernel, await pidOf(f.kernel, sup, 'a'));
    const call = whichChildren(f.kernel, sup); // queued behind the EXIT that ends the supervisor
    const rejected = expect(call).rejects.toMatchObject({ code: 'ORDO_CALLEE_EXIT', reason: 'shutdown' }); // handled from the start
    await f.settle();
    await rejected;
  });

  it('23 child_adm_simple: the dynamic admin sequence', async () => {
    const f = fixture();
    const { kernel } = f;
    const sup = await startSup(kernel, { strategy: 'simple_one_for_one', maxRestarts: 2, periodMs: HOUR, children: [w('child', { shutdownMs: 1000 })] });
    expect(await whichChildren(kernel, sup)).toEqual([]);
    expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 0 });
    const p1 = ((await startDynamicChild(kernel, sup, [])) as { pid: Pid }).pid;
    const p2 = ((await startDynamicChild(kernel, sup, [])) as { pid: Pid }).pid;
    expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: 2, supervisors: 0, workers: 2 });
    expect(await terminateChild(kernel, sup, 'child')).toEqual({ ok: false, error: 'simple_one_for_one' });
    expect(await terminateChild(kernel, sup, p1)).toEqual({ ok: true });
    expectDead(kernel, p1);
    expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
    expect(await terminateChild(kernel, sup, p1)).toEqual({ ok: true });
    const unrelated = await kernel.spawn(worker);
    if (unrelated.status !== 'ok') throw new Error('spawn');
    expect(await terminateChild(kernel, sup, unrelated.pid)).toEqual({ ok: false, error: 'not_found' });
    expectAlive(kernel, unrelated.pid, p2);
    expect(await restartChild(kernel, sup, 'child')).toEqual({ ok: false, error: 'simple_one_for_one' });
    expect(await deleteChild(kernel, sup, 'child')).toEqual({ ok: false, error: 'simple_one_for_one' });
  });

  it('24 extra_return: info from the start function is returned by startChild and restartChild; automatic restart ignores it', async () => {
    const f = fixture();
    const { kernel } = f;
    const start = async (ctx: StartContext) => {
      const r = await ctx.spawn(worker);
      return r.status === 'ok' ? { status: 'ok' as const, pid: r.pid, info: 'extra_return' } : r;
    };
    const sup = await startSup(kernel, { maxRestarts: 2, periodMs: HOUR, children: [] });
    const r1 = await startChild(kernel, sup, { id: 'child1', start });
    expect(r1).toMatchObject({ ok: true, info: 'extra_return' });
    expect(await terminateChild(kernel, sup, 'child1')).toEqual({ ok: true });
    const r2 = await restartChild(kernel, sup, 'child1');
    expect(r2).toMatchObject({ ok: true, info: 'extra_return' });
    expect(await restartChild(kernel, sup, 'child1')).toEqual({ ok: false, error: 'running' });
    expect(await restartChild(kernel, sup, 'nope')).toEqual({ ok: false, error: 'not_found' });
    const p2 = (r2 as { pid: Pid }).pid;
    crash(kernel, p2);
    await f.settle();
    const p3 = await pidOf(kernel, sup, 'child1');
    expect(p3).not.toBe(p2);
    const simple = await startSup(kernel, { strategy: 'simple_one_for_one', children: [{ id: 't', start }] });
    expect(await startDynamicChild(kernel, simple, [])).toMatchObject({ ok: true, info: 'extra_return' });
  });

  it('25 which_child: static by id (running, undefined, deleted); dynamic by pid', async () => {
    const f = fixture();
    const { kernel } = f;
    const sup = await startSup(kernel, { children: [] });
    expect(await whichChild(kernel, sup, 'childx')).toEqual({ ok: false, error: 'not_found' });
    const p1 = ((await startChild(kernel, sup, w('child1'))) as { pid: Pid }).pid;
    const p2 = ((await startChild(kernel, sup, w('child2'))) as { pid: Pid }).pid;
    expect(await rows(kernel, sup)).toEqual([
      ['child2', p2],
      ['child1', p1],
    ]);
    expect(await whichChild(kernel, sup, 'child1')).toEqual({ ok: true, child: { id: 'child1', pid: p1, type: 'worker' } });
    await terminateChild(kernel, sup, 'child1');
    expect(await whichChild(kernel, sup, 'child1')).toEqual({ ok: true, child: { id: 'child1', pid: undefined, type: 'worker' } });
    await deleteChild(kernel, sup, 'child1');
    expect(await whichChild(kernel, sup, 'child1')).toEqual({ ok: false, error: 'not_found' });

    const simple = await startSup(kernel, { strategy: 'simple_one_for_one', children: [w('t')] });
    const d1 = ((await startDynamicChild(kernel, simple, [])) as { pid: Pid }).pid;
    expect(await whichChild(kernel, simple, d1)).toEqual({ ok: true, child: { id: undefined, pid: d1, type: 'worker' } });
    expect(await whichChild(kernel, simple, 't')).toEqual({ ok: false, error: 'simple_one_for_one' });
    await terminateChild(kernel, simple, d1);
    expect(await whichChild(kernel, simple, d1)).toEqual({ ok: false, error: 'not_found' });
  });

  it('26 count_children / count_children_supervisor: 1000 then 2000 temporary dynamic children, then all killed', async () => {
    for (const type of ['worker', 'supervisor'] as const) {
      const f = fixture();
      const { kernel } = f;
      const sup = await startSup(kernel, { strategy: 'simple_one_for_one', children: [w('t', { restart: 'temporary', type })] });
      const pids: Pid[] = [];
      for (let i = 0; i < 1000; i++) pids.push(((await startDynamicChild(kernel, sup, i)) as { pid: Pid }).pid);
      expect(await whichChildren(kernel, sup)).toHaveLength(1000);
      const sv = type === 'supervisor';
      expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: 1000, supervisors: sv ? 1000 : 0, workers: sv ? 0 : 1000 });
      if (sv) continue;
      for (let i = 0; i < 1000; i++) pids.push(((await startDynamicChild(kernel, sup, i)) as { pid: Pid }).pid);
      expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: 2000, supervisors: 0, workers: 2000 });
      for (const p of pids) kernel.exit(p, 'kill');
      await f.settle();
      expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 0 });
    }
  });

  it('27 count_restarting_children: restarting dynamic children are workers but not active', async () => {
    const f = fixture();
    const { kernel } = f;
    let failing = false;
    // Retries are spaced by a 2 s backoff (OTP's test makes the start fn slow instead).
    const start = (ctx: StartContext) => (failing ? { status: 'error' as const, error: 'down' } : ctx.spawn(worker));
    const sup = await startSup(kernel, {
      strategy: 'simple_one_for_one',
      maxRestarts: 20,
      periodMs: 10_000,
      children: [{ id: 't', start, backoff: { initialMs: 2000, maxMs: 2000 } }],
    });
    const [p1, p2] = [((await startDynamicChild(kernel, sup, 1)) as { pid: Pid }).pid, ((await startDynamicChild(kernel, sup, 2)) as { pid: Pid }).pid];
    await startDynamicChild(kernel, sup, 3);
    failing = true;
    crash(kernel, p1);
    crash(kernel, p2);
    await f.settle();
    expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 3 });
    expect((await whichChildren(kernel, sup)).filter((c) => c.pid === 'restarting')).toHaveLength(2);
    await f.env.clock.advance(2000); // a failed retry each
    expect(f.reports('start_error').length).toBeGreaterThanOrEqual(2);
    expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 3 });
    failing = false;
    await f.env.clock.advance(2000);
    expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: 3, supervisors: 0, workers: 3 });
    const now = (await whichChildren(kernel, sup)).map((c) => c.pid as Pid);
    const expected = [2, 1, 0];
    for (const [i, p] of now.entries()) {
      expect(await terminateChild(kernel, sup, p)).toEqual({ ok: true });
      expect(await countChildren(kernel, sup)).toEqual({ specs: 1, active: expected[i], supervisors: 0, workers: expected[i] });
    }
    expectAlive(kernel, sup);
  });
});
