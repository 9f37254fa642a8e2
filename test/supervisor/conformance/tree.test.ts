// Supervision trees: nested supervisors (conformance §1.7 `tree`, §1.11, §5.14), and what
// the start path adds beyond OTP (services through the tree, start timeouts).
import { describe, expect, it } from 'vitest';
import { FailedToStartChildError, StartTimeoutError, restartChild, startDynamicChild, startChild, startSupervisor, stopProcess, supervisor, terminateChild, whichChildren, type Pid, type StartContext } from '../../../src/index.ts';
import { crash, expectAlive, expectDead, fixture, pidOf, rows, startSup, w, watch } from '../../support/otp.ts';
import { slowStarter, worker } from '../../support/machines.ts';

const HOUR = 3_600_000;

describe('supervision trees', () => {
  it('(§1.7 tree) a terminate_child-ed transient sub-supervisor runs again after a one_for_all restart', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { strategy: 'one_for_all', maxRestarts: 5, periodMs: HOUR, children: [supervisor('sub', { children: [w('leaf')] }, { restart: 'transient' }), w('w')] });
    expect(await terminateChild(f.kernel, sup, 'sub')).toEqual({ ok: true });
    expect((await rows(f.kernel, sup)).find(([id]) => id === 'sub')![1]).toBeUndefined();
    crash(f.kernel, await pidOf(f.kernel, sup, 'w'));
    await f.settle();
    const sub = await pidOf(f.kernel, sup, 'sub');
    expectAlive(f.kernel, sub, await pidOf(f.kernel, sub, 'leaf'));
  });

  it('(§1.11) children added with startChild are lost when their supervisor is restarted', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 5, periodMs: HOUR, children: [supervisor('sub', { children: [w('leaf')] })] });
    const sub = await pidOf(f.kernel, sup, 'sub');
    await startChild(f.kernel, sub, w('added'));
    expect((await rows(f.kernel, sub)).map(([id]) => id)).toEqual(['added', 'leaf']);
    f.kernel.exit(sub, 'kill');
    await f.settle();
    const sub2 = await pidOf(f.kernel, sup, 'sub');
    expect(sub2).not.toBe(sub);
    expect((await rows(f.kernel, sub2)).map(([id]) => id)).toEqual(['leaf']);
  });

  for (const restart of ['permanent', 'transient'] as const) {
    it(`(§5.14) a ${restart} sub-supervisor that gives up (shutdown) is ${restart === 'permanent' ? 'restarted' : 'not restarted'} by its parent`, async () => {
      const f = fixture();
      const sup = await startSup(f.kernel, { maxRestarts: 5, periodMs: HOUR, children: [supervisor('sub', { maxRestarts: 0, children: [w('leaf')] }, { restart })] });
      const sub = await pidOf(f.kernel, sup, 'sub');
      crash(f.kernel, await pidOf(f.kernel, sub, 'leaf'));
      await f.settle();
      expect(f.exitOf(sub)).toBe('shutdown');
      const [[, now]] = (await rows(f.kernel, sup)) as [[string, Pid | undefined]];
      if (restart === 'permanent') {
        expect(now).not.toBe(sub);
        expectAlive(f.kernel, now!);
      } else expect(now).toBeUndefined();
      expectAlive(f.kernel, sup);
    });
  }

  it('stopping the root stops the whole tree depth-first in reverse start order', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [w('a'), supervisor('sub', { children: [w('x'), w('y')] }), w('b')] });
    const sub = await pidOf(f.kernel, sup, 'sub');
    const order = [await pidOf(f.kernel, sup, 'b'), await pidOf(f.kernel, sub, 'y'), await pidOf(f.kernel, sub, 'x'), sub, await pidOf(f.kernel, sup, 'a'), sup];
    const n = f.exits().length;
    expect(await stopProcess(f.kernel, sup)).toBe('shutdown');
    expect(f.exits().slice(n)).toEqual(order);
    for (const p of order) expect(f.exitOf(p)).toBe('shutdown');
  });

  it('killing a supervisor takes its children down through the links', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [w('a'), supervisor('sub', { children: [w('x')] })] });
    const sub = await pidOf(f.kernel, sup, 'sub');
    const [a, x] = [await pidOf(f.kernel, sup, 'a'), await pidOf(f.kernel, sub, 'x')];
    f.kernel.exit(sup, 'kill');
    await f.settle();
    expectDead(f.kernel, sup, sub, a, x);
    expect(f.kernel.processCount).toBe(0);
  });

  it('services: a child receives what an earlier, ready provider offers, also from a parent supervisor', async () => {
    const f = fixture();
    const seen: unknown[] = [];
    const consumer = (ctx: StartContext) => {
      seen.push(ctx.deps);
      return ctx.spawn(worker);
    };
    await startSup(f.kernel, {
      children: [
        { id: 'db', start: { machine: worker, input: { service: 'db-handle' } }, provides: 'db' },
        { id: 'api', start: consumer, requires: ['db'] },
        supervisor('jobs', { children: [{ id: 'runner', start: consumer, requires: ['db'] }] }),
      ],
    });
    expect(seen).toEqual([{ db: 'db-handle' }, { db: 'db-handle' }]);
  });

  it('a start input function is evaluated at every (re)start, with the current deps (child protocol)', async () => {
    const f = fixture();
    const seen: unknown[] = [];
    const sup = await startSup(f.kernel, {
      strategy: 'rest_for_one',
      maxRestarts: 5,
      children: [
        { id: 'db', start: { machine: worker, input: () => ({ service: `db-${seen.length}` }) }, provides: 'db' },
        { id: 'api', requires: ['db'], start: { machine: worker, input: ({ deps }: StartContext) => (seen.push(deps['db']), undefined) } },
      ],
    });
    crash(f.kernel, await pidOf(f.kernel, sup, 'db'));
    await f.settle();
    expect(seen).toEqual(['db-0', 'db-1']);
  });

  it('a child that is not ready within startTimeoutMs fails the start: rollback, and the slow process is gone', async () => {
    const f = fixture();
    const p = startSupervisor(f.kernel, { children: [w('a'), { id: 'slow', start: { machine: slowStarter, input: { delayMs: 10_000 } }, startTimeoutMs: 100 }] });
    await f.env.clock.advance(100);
    const r = await p;
    expect(r.status).toBe('error');
    const e = (r as { error: FailedToStartChildError }).error;
    expect(e).toMatchObject({ code: 'ORDO_FAILED_TO_START_CHILD', childId: 'slow' });
    expect(e.reason).toBeInstanceOf(StartTimeoutError);
    expect(f.kernel.processCount).toBe(0);
  });

  it('a child that crashes while later siblings are still starting is restarted once init is done', async () => {
    const f = fixture();
    const p = startSupervisor(f.kernel, { maxRestarts: 5, children: [w('a'), { id: 'slow', start: { machine: slowStarter, input: { delayMs: 1000 } } }] });
    await f.settle();
    const a = f.readies()[0]!;
    crash(f.kernel, a);
    await f.env.clock.advance(1000);
    const r = await p;
    if (r.status !== 'ok') throw new Error('start');
    await f.settle();
    const a2 = await pidOf(f.kernel, r.pid, 'a');
    expect(a2).not.toBe(a);
    expectAlive(f.kernel, a2, r.pid);
  });

  it('manual restartChild / terminateChild never count toward intensity (§1.12); maxChildren caps a dynamic supervisor', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 0, periodMs: HOUR, children: [w('a')] });
    const mon = watch(f.kernel, sup);
    for (let i = 0; i < 5; i++) {
      await terminateChild(f.kernel, sup, 'a');
      expect(await restartChild(f.kernel, sup, 'a')).toMatchObject({ ok: true });
    }
    expect(mon.down).toBe(false);
    const dyn = await startSup(f.kernel, { strategy: 'simple_one_for_one', maxChildren: 2, children: [w('t')] });
    expect(await startDynamicChild(f.kernel, dyn, 1)).toMatchObject({ ok: true });
    expect(await startDynamicChild(f.kernel, dyn, 2)).toMatchObject({ ok: true });
    expect(await startDynamicChild(f.kernel, dyn, 3)).toEqual({ ok: false, error: 'max_children' });
    expect(await whichChildren(f.kernel, dyn)).toHaveLength(2);
  });
});
