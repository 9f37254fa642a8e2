// Conformance §4.4 — restart types (cases 28–32), one_for_one Sup(2, 3600 s) unless stated.
import { describe, expect, it } from 'vitest';
import { countChildren, restartChild, startDynamicChild, startChild, terminateChild, whichChildren, type Kernel, type Pid, type RestartType, type Strategy } from '../../../src/index.ts';
import { crash, exitWith, expectAlive, fixture, pidOf, rows, startSup, w } from '../../support/otp.ts';

const HOUR = 3_600_000;

async function one(restart: RestartType, strategy: Strategy = 'one_for_one') {
  const f = fixture();
  const spec = w('child1', { restart, shutdownMs: 1000 });
  const sup = await startSup(f.kernel, { strategy, maxRestarts: 2, periodMs: HOUR, children: [spec] });
  const p = await pidOf(f.kernel, sup, 'child1');
  return { f, sup, spec, p };
}

const counts = (kernel: Kernel, sup: Pid) => countChildren(kernel, sup);

describe('§4.4 restart types', () => {
  it('28 permanent_normal: a permanent child stopping normally is restarted', async () => {
    const { f, sup, p } = await one('permanent');
    exitWith(f.kernel, p, 'normal');
    await f.settle();
    const p2 = await pidOf(f.kernel, sup, 'child1');
    expect(p2).not.toBe(p);
    expect(await counts(f.kernel, sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
    expect(f.reports('child_terminated')).toMatchObject([{ child: 'child1', reason: 'normal' }]);
  });

  it('28 transient_normal: not restarted, spec kept', async () => {
    const { f, sup, p } = await one('transient');
    exitWith(f.kernel, p, 'normal');
    await f.settle();
    expect(await rows(f.kernel, sup)).toEqual([['child1', undefined]]);
    expect(await counts(f.kernel, sup)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 1 });
    expect(f.reports('child_terminated')).toEqual([]);
  });

  it('28 temporary_normal: removed', async () => {
    const { f, sup, p } = await one('temporary');
    exitWith(f.kernel, p, 'normal');
    await f.settle();
    expect(await whichChildren(f.kernel, sup)).toEqual([]);
    expect(await counts(f.kernel, sup)).toEqual({ specs: 0, active: 0, supervisors: 0, workers: 0 });
  });

  it('29 permanent_shutdown: restarted after shutdown and after {shutdown, some_info}', async () => {
    const { f, sup, p } = await one('permanent');
    exitWith(f.kernel, p, 'shutdown');
    await f.settle();
    const p2 = await pidOf(f.kernel, sup, 'child1');
    expect(p2).not.toBe(p);
    exitWith(f.kernel, p2, { shutdown: 'some_info' });
    await f.settle();
    const p3 = await pidOf(f.kernel, sup, 'child1');
    expect(p3).not.toBe(p2);
    expectAlive(f.kernel, sup);
  });

  it('29 transient_shutdown: not restarted, restartChild works, {shutdown, _} not restarted either', async () => {
    const { f, sup, p } = await one('transient');
    exitWith(f.kernel, p, 'shutdown');
    await f.settle();
    expect(await rows(f.kernel, sup)).toEqual([['child1', undefined]]);
    const r = await restartChild(f.kernel, sup, 'child1');
    expect(r).toMatchObject({ ok: true });
    exitWith(f.kernel, (r as { pid: Pid }).pid, { shutdown: 'some_info' });
    await f.settle();
    expect(await rows(f.kernel, sup)).toEqual([['child1', undefined]]);
    expect(await counts(f.kernel, sup)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 1 });
  });

  it('29 temporary_shutdown: removed; the id is free again', async () => {
    const { f, sup, p, spec } = await one('temporary');
    exitWith(f.kernel, p, 'shutdown');
    await f.settle();
    expect(await whichChildren(f.kernel, sup)).toEqual([]);
    const r = await startChild(f.kernel, sup, spec);
    expect(r).toMatchObject({ ok: true });
    exitWith(f.kernel, (r as { pid: Pid }).pid, { shutdown: 'some_info' });
    await f.settle();
    expect(await whichChildren(f.kernel, sup)).toEqual([]);
  });

  for (const restart of ['permanent', 'transient'] as const) {
    it(`30 ${restart}_abnormal: a crash restarts it`, async () => {
      const { f, sup, p } = await one(restart);
      crash(f.kernel, p);
      await f.settle();
      expect(await pidOf(f.kernel, sup, 'child1')).not.toBe(p);
      expect(await counts(f.kernel, sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
      expect(f.reports('child_terminated')).toMatchObject([{ child: 'child1', pid: String(p), reason: { error: 'Error', message: 'died' } }]);
    });
  }

  it("30 permanent_abnormal with reason 'kill': the supervisor traps it and restarts the child (only kernel.exit 'kill' is untrappable)", async () => {
    const { f, sup, p } = await one('permanent');
    exitWith(f.kernel, p, 'kill');
    await f.settle();
    expectAlive(f.kernel, sup);
    expect(await pidOf(f.kernel, sup, 'child1')).not.toBe(p);
    expect(f.reports('child_terminated')).toMatchObject([{ child: 'child1', reason: 'kill' }]);
  });

  it('30 temporary_abnormal: a crash removes it (reported)', async () => {
    const { f, sup, p } = await one('temporary');
    crash(f.kernel, p);
    await f.settle();
    expect(await whichChildren(f.kernel, sup)).toEqual([]);
    expect(await counts(f.kernel, sup)).toEqual({ specs: 0, active: 0, supervisors: 0, workers: 0 });
    expect(f.reports('child_terminated')).toHaveLength(1);
  });

  for (const restart of ['permanent', 'transient', 'temporary'] as const)
    for (const reason of ['normal', 'shutdown', 'died'] as const) {
      it(`28-30 simple_one_for_one ${restart} child exiting ${reason}: ${restart === 'permanent' || (restart === 'transient' && reason === 'died') ? 'restarted' : 'removed (nothing kept)'}`, async () => {
        const f = fixture();
        const sup = await startSup(f.kernel, { strategy: 'simple_one_for_one', maxRestarts: 2, periodMs: HOUR, children: [w('t', { restart })] });
        const p = ((await startDynamicChild(f.kernel, sup, [])) as { pid: Pid }).pid;
        exitWith(f.kernel, p, reason);
        await f.settle();
        const now = await whichChildren(f.kernel, sup);
        if (restart === 'permanent' || (restart === 'transient' && reason === 'died')) {
          expect(now).toHaveLength(1);
          expect(now[0]!.pid).not.toBe(p);
          expect(await counts(f.kernel, sup)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
        } else {
          expect(now).toEqual([]);
          expect(await counts(f.kernel, sup)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 0 });
        }
      });
    }

  describe('31 do_not_save_child_specs_for_temporary_children', () => {
    const terminations = ['kill', 'normal', 'abnormal', 'terminate_child'] as const;
    for (const strategy of ['one_for_all', 'one_for_one', 'rest_for_one'] as const)
      for (const restart of ['permanent', 'transient', 'temporary'] as const)
        for (const how of terminations) {
          it(`31 ${strategy} ${restart} ${how}`, async () => {
            const { f, sup, spec, p } = await one(restart, strategy);
            if (how === 'kill') f.kernel.exit(p, 'kill');
            else if (how === 'normal') exitWith(f.kernel, p, 'normal');
            else if (how === 'abnormal') exitWith(f.kernel, p, 'abnormal');
            else expect(await terminateChild(f.kernel, sup, 'child1')).toEqual({ ok: true });
            await f.settle();
            const again = await startChild(f.kernel, sup, spec);
            if (restart === 'temporary') {
              expect(again).toMatchObject({ ok: true });
              return;
            }
            const restarted = restart === 'permanent' ? how !== 'terminate_child' : how === 'kill' || how === 'abnormal';
            if (restarted) {
              expect(again).toMatchObject({ ok: false, error: 'already_started' });
              expect((again as { pid: Pid }).pid).not.toBe(p);
            } else {
              expect(again).toEqual({ ok: false, error: 'already_present' });
              expect(await restartChild(f.kernel, sup, 'child1')).toMatchObject({ ok: true });
            }
          });
        }
  });

  for (const strategy of ['one_for_all', 'rest_for_one'] as const) {
    it(`32 temporary_bystander (${strategy}): a temporary sibling stopped by the strategy is not restarted`, async () => {
      const f = fixture();
      const sup = await startSup(f.kernel, { strategy, maxRestarts: 2, periodMs: 300_000, children: [w('child1'), w('child2', { restart: 'temporary' })] });
      const [c1, c2] = [await pidOf(f.kernel, sup, 'child1'), await pidOf(f.kernel, sup, 'child2')];
      exitWith(f.kernel, c1, 'normal');
      await f.settle();
      expect(f.exitOf(c2)).toBe('shutdown');
      await f.env.clock.advance(350);
      expectAlive(f.kernel, sup);
      const now = await rows(f.kernel, sup);
      expect(now.map(([id]) => id)).toEqual(['child1']);
      expect(now[0]![1]).not.toBe(c1);
    });
  }
});
