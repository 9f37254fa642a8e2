import { describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import type { Pid } from '../../src/index.ts';
import { crash, exitWith, fixture } from '../support/otp.ts';
import { trapper, worker } from '../support/machines.ts';

async function spawnOk(f: ReturnType<typeof fixture>, m: AnyStateMachine = worker, opts: Parameters<ReturnType<typeof fixture>['kernel']['spawn']>[1] = {}): Promise<Pid> {
  const r = await f.kernel.spawn(m, opts);
  if (r.status !== 'ok') throw new Error('spawn');
  return r.pid;
}
const trappedOf = async (f: ReturnType<typeof fixture>, pid: Pid) => {
  const r = await f.kernel.call<unknown[]>(pid, { type: 'trapped' });
  if (!r.ok) throw new Error('trapped');
  return r.value;
};

describe('links and trapping exits', () => {
  it('an abnormal exit propagates through a link to a process that does not trap exits (same reason)', async () => {
    const f = fixture();
    const a = await spawnOk(f);
    const b = await spawnOk(f, worker, { link: a });
    expect(f.kernel.processInfo(a)?.links).toEqual([b]);
    crash(f.kernel, b);
    expect(f.kernel.isAlive(a)).toBe(false);
    expect((f.exitOf(a) as Error).message).toBe('died');
  });

  it('a normal exit does not kill a linked process', async () => {
    const f = fixture();
    const a = await spawnOk(f);
    const b = await spawnOk(f, worker, { link: a });
    exitWith(f.kernel, b, 'normal');
    expect(f.kernel.isAlive(a)).toBe(true);
    expect(f.kernel.processInfo(a)?.links).toEqual([]);
  });

  it('a {shutdown, _} exit is not normal for a link: it kills a non-trapping process', async () => {
    const f = fixture();
    const a = await spawnOk(f);
    const b = await spawnOk(f, worker, { link: a });
    exitWith(f.kernel, b, { shutdown: 'x' });
    expect(f.exitOf(a)).toEqual({ shutdown: 'x' });
  });

  it('a trapping process receives ordo.exit events (normal ones too) and survives', async () => {
    const f = fixture();
    const t = await spawnOk(f, trapper, { trapExit: true });
    const b = await spawnOk(f, worker, { link: t });
    const c = await spawnOk(f, worker, { link: t });
    crash(f.kernel, b);
    exitWith(f.kernel, c, 'normal');
    await f.settle();
    expect(f.kernel.isAlive(t)).toBe(true);
    const got = (await trappedOf(f, t)) as { from: Pid; reason: unknown }[];
    expect(got.map((x) => x.from)).toEqual([b, c]);
    expect((got[0]!.reason as Error).message).toBe('died');
    expect(got[1]!.reason).toBe('normal');
  });

  it("'kill' cannot be trapped; linked processes see 'killed'", async () => {
    const f = fixture();
    const t = await spawnOk(f, trapper, { trapExit: true });
    const watcher = await spawnOk(f, trapper, { trapExit: true, link: t });
    f.kernel.exit(t, 'kill');
    expect(f.exitOf(t)).toBe('killed');
    await f.settle();
    expect(await trappedOf(f, watcher)).toEqual([{ from: t, reason: 'killed' }]);
  });

  it("a linked process that ended with reason 'kill' sends an ordinary signal: trappable, and 'kill' (not 'killed') to non-trappers", async () => {
    const f = fixture();
    const t = await spawnOk(f, trapper, { trapExit: true });
    const plainOne = await spawnOk(f);
    const b = await spawnOk(f, worker, { link: t });
    f.kernel.link(b, plainOne);
    exitWith(f.kernel, b, 'kill');
    await f.settle();
    expect(f.kernel.isAlive(t)).toBe(true);
    expect(await trappedOf(f, t)).toEqual([{ from: b, reason: 'kill' }]);
    expect(f.exitOf(plainOne)).toBe('kill');
  });

  it('unlink stops propagation', async () => {
    const f = fixture();
    const a = await spawnOk(f);
    const b = await spawnOk(f, worker, { link: a });
    f.kernel.unlink(a, b);
    crash(f.kernel, b);
    expect(f.kernel.isAlive(a)).toBe(true);
  });

  it('linking to a dead process sends noproc at once: trapped as a message, otherwise fatal', async () => {
    const f = fixture();
    const dead = await spawnOk(f);
    f.kernel.exit(dead, 'kill');
    const t = await spawnOk(f, trapper, { trapExit: true });
    f.kernel.link(t, dead);
    await f.settle();
    expect(await trappedOf(f, t)).toEqual([{ from: dead, reason: 'noproc' }]);
    const plainOne = await spawnOk(f);
    f.kernel.link(plainOne, dead);
    expect(f.exitOf(plainOne)).toBe('noproc');
  });
});
