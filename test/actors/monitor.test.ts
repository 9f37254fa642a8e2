import { describe, expect, it } from 'vitest';
import type { Pid } from '../../src/index.ts';
import { crash, exitWith, fixture } from '../support/otp.ts';
import { worker } from '../support/machines.ts';

async function spawnOk(f: ReturnType<typeof fixture>, name?: string): Promise<Pid> {
  const r = await f.kernel.spawn(worker, { name });
  if (r.status !== 'ok') throw new Error('spawn');
  return r.pid;
}

describe('monitors', () => {
  it('DOWN carries the exit reason: crash, normal, {shutdown,_}, killed', async () => {
    const f = fixture();
    const seen: unknown[] = [];
    const [a, b, c, d] = [await spawnOk(f), await spawnOk(f), await spawnOk(f), await spawnOk(f)];
    for (const p of [a, b, c, d]) f.kernel.monitor(p, (r) => seen.push(r));
    crash(f.kernel, a);
    exitWith(f.kernel, b, 'normal');
    exitWith(f.kernel, c, { shutdown: 'bye' });
    f.kernel.exit(d, 'kill');
    expect((seen[0] as Error).message).toBe('died');
    expect(seen.slice(1)).toEqual(['normal', { shutdown: 'bye' }, 'killed']);
  });

  it('monitoring a dead pid or an unknown name gives DOWN noproc, asynchronously', async () => {
    const f = fixture();
    const a = await spawnOk(f);
    f.kernel.exit(a, 'kill');
    const seen: unknown[] = [];
    f.kernel.monitor(a, (r) => seen.push(r));
    f.kernel.monitor('nobody', (r) => seen.push(r));
    expect(seen).toEqual([]);
    await f.settle();
    expect(seen).toEqual(['noproc', 'noproc']);
  });

  it('a monitor fires once; demonitor cancels it; a monitor by name follows the process', async () => {
    const f = fixture();
    const a = await spawnOk(f, 'named');
    const seen: unknown[] = [];
    f.kernel.monitor('named', (r) => seen.push(['byName', r]));
    const ref = f.kernel.monitor(a, (r) => seen.push(['cancelled', r]));
    f.kernel.demonitor(ref);
    exitWith(f.kernel, a, 'bye');
    f.kernel.exit(a, 'kill');
    await f.settle();
    expect(seen).toEqual([['byName', 'bye']]);
  });

  it('monitors do not link: the monitoring side never dies of it', async () => {
    const f = fixture();
    const a = await spawnOk(f);
    const b = await spawnOk(f);
    f.kernel.monitor(b, () => undefined);
    crash(f.kernel, b);
    expect(f.kernel.isAlive(a)).toBe(true);
  });
});
