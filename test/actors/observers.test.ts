// Observers (lifecycle listeners, monitor callbacks) are user code: a throw is logged and
// isolated — supervision goes on, and nothing escapes to the test runner.
import { describe, expect, it } from 'vitest';
import { StartExitError } from '../../src/index.ts';
import { crash, fixture, pidOf, startSup, w } from '../support/otp.ts';
import { trapper, worker } from '../support/machines.ts';

describe('observers that throw', () => {
  it('a throwing lifecycle listener does not stop an exit from reaching the supervisor', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 5, children: [w('a')] });
    const a = await pidOf(f.kernel, sup, 'a');
    f.kernel.onLifecycle(() => {
      throw new Error('listener boom');
    });
    expect(() => crash(f.kernel, a)).not.toThrow();
    await f.settle();
    const a2 = await pidOf(f.kernel, sup, 'a');
    expect(a2).not.toBe(a);
    expect(f.kernel.isAlive(a2)).toBe(true);
    expect(f.env.records.filter((r) => r['msg'] === 'lifecycle listener threw')[0]).toMatchObject({ err: { message: 'listener boom' } });
  });

  it('a throwing monitor callback does not skip the other monitors or the links', async () => {
    const f = fixture();
    const t = await f.kernel.spawn(trapper, { trapExit: true });
    if (t.status !== 'ok') throw new Error('trapper');
    const r = await f.kernel.spawn(worker, { link: t.pid });
    if (r.status !== 'ok') throw new Error('spawn');
    const seen: unknown[] = [];
    f.kernel.monitor(r.pid, () => {
      throw new Error('monitor boom');
    });
    f.kernel.monitor(r.pid, (reason) => seen.push(reason));
    f.kernel.monitor('nobody', () => {
      throw new Error('noproc boom');
    });
    f.kernel.send(r.pid, { type: 'exit', reason: 'bye' });
    await f.settle();
    expect(seen).toEqual(['bye']);
    expect(await f.kernel.call(t.pid, { type: 'trapped' })).toEqual({ ok: true, value: [{ from: r.pid, reason: 'bye' }] });
    expect(f.env.records.filter((x) => x['msg'] === 'monitor callback threw')).toHaveLength(2);
  });

  it('a service selector that throws is a failed start: StartExitError, no exit signal to the linked spawner', async () => {
    const f = fixture();
    const t = await f.kernel.spawn(trapper, { trapExit: true });
    if (t.status !== 'ok') throw new Error('trapper');
    const boom = new Error('select boom');
    const r = await f.kernel.spawn(worker, {
      link: t.pid,
      selectService: () => {
        throw boom;
      },
    });
    expect(r.status).toBe('error');
    expect((r as { error: StartExitError }).error).toMatchObject({ code: 'ORDO_START_EXIT', reason: boom });
    await f.settle();
    expect(await f.kernel.call(t.pid, { type: 'trapped' })).toEqual({ ok: true, value: [] });
    expect(f.events.filter((e) => e.type === 'ready')).toHaveLength(1); // only the trapper
  });
});
