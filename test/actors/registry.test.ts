import { describe, expect, it } from 'vitest';
import { BadArgumentError, type Pid } from '../../src/index.ts';
import { crash, fixture } from '../support/otp.ts';
import { failsToStart, ignores, worker } from '../support/machines.ts';

async function spawnOk(f: ReturnType<typeof fixture>, name?: string): Promise<Pid> {
  const r = await f.kernel.spawn(worker, { name });
  if (r.status !== 'ok') throw new Error('spawn');
  return r.pid;
}

describe('name registry', () => {
  it('register / whereis / unregister', async () => {
    const f = fixture();
    const p = await spawnOk(f);
    expect(f.kernel.register('db', p)).toEqual({ ok: true });
    expect(f.kernel.whereis('db')).toBe(p);
    expect(f.kernel.processInfo(p)?.name).toBe('db');
    expect(f.kernel.unregister('db')).toBe(true);
    expect(f.kernel.whereis('db')).toBeUndefined();
    expect(f.kernel.unregister('db')).toBe(false);
  });

  it('a process has at most one name: registering a named process again → already_named, the old name kept', async () => {
    const f = fixture();
    const p = await spawnOk(f, 'db');
    expect(f.kernel.register('store', p)).toEqual({ ok: false, reason: 'already_named', name: 'db' });
    expect(f.kernel.whereis('db')).toBe(p);
    expect(f.kernel.whereis('store')).toBeUndefined();
  });

  it('a taken name → already_registered with the holder; spawn with a taken name → already_started with the holder', async () => {
    const f = fixture();
    const holder = await spawnOk(f, 'db');
    const other = await spawnOk(f);
    expect(f.kernel.register('db', other)).toEqual({ ok: false, reason: 'already_registered', holder });
    expect(await f.kernel.spawn(worker, { name: 'db' })).toEqual({ status: 'already_started', pid: holder });
    expect(f.kernel.whereis('db')).toBe(holder);
  });

  it('registering a dead pid → noproc', async () => {
    const f = fixture();
    const p = await spawnOk(f);
    f.kernel.exit(p, 'kill');
    expect(f.kernel.register('x', p)).toEqual({ ok: false, reason: 'noproc' });
    expect(f.kernel.whereis('x')).toBeUndefined();
  });

  it('the name is freed when the process exits, and can be taken again', async () => {
    const f = fixture();
    const p = await spawnOk(f, 'db');
    crash(f.kernel, p);
    expect(f.kernel.whereis('db')).toBeUndefined();
    const q = await spawnOk(f, 'db');
    expect(f.kernel.whereis('db')).toBe(q);
  });

  it('a name that failed to start is free again (OTP: unregistered before the caller is told)', async () => {
    const f = fixture();
    expect((await f.kernel.spawn(failsToStart, { name: 'db' })).status).toBe('error');
    expect(f.kernel.whereis('db')).toBeUndefined();
    expect((await f.kernel.spawn(ignores, { name: 'db' })).status).toBe('ignore');
    expect(f.kernel.whereis('db')).toBeUndefined();
    await spawnOk(f, 'db');
  });

  it('an invalid name throws BadArgumentError carrying the value', async () => {
    const f = fixture();
    const p = await spawnOk(f);
    for (const bad of ['', 42, undefined]) {
      let caught: unknown;
      try {
        f.kernel.register(bad as never, p);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(BadArgumentError);
      expect(caught).toMatchObject({ code: 'ORDO_BAD_ARGUMENT', argument: 'name', value: bad });
    }
    expect(f.kernel.isAlive(p)).toBe(true);
  });
});
