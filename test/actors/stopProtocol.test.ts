import { describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { startChild, terminateChild, type Pid } from '../../src/index.ts';
import { fixture, startSup, w } from '../support/otp.ts';
import { plain, worker } from '../support/machines.ts';

async function spawnOk(f: ReturnType<typeof fixture>, m: AnyStateMachine = worker, input?: unknown): Promise<Pid> {
  const r = await f.kernel.spawn(m, { input });
  if (r.status !== 'ok') throw new Error('spawn');
  return r.pid;
}

describe('the ordo.stop protocol', () => {
  it('an exit signal reaches a machine as ordo.stop; it exits with the signal reason when it reaches a final state', async () => {
    const f = fixture();
    const p = await spawnOk(f);
    f.kernel.exit(p, 'shutdown');
    expect(f.exitOf(p)).toBe('shutdown');
    const q = await spawnOk(f);
    f.kernel.exit(q, { shutdown: 'maintenance' });
    expect(f.exitOf(q)).toEqual({ shutdown: 'maintenance' });
  });

  it('graceful: a machine that needs time to clean up exits when it is done, on the virtual clock', async () => {
    const f = fixture();
    const p = await spawnOk(f, worker, { stopDelayMs: 300 });
    f.kernel.exit(p, 'shutdown');
    await f.env.clock.advance(299);
    expect(f.kernel.processInfo(p)?.state).toBe('stopping');
    await f.env.clock.advance(1);
    expect(f.exitOf(p)).toBe('shutdown');
  });

  it('a machine with no ordo.stop transition is stopped at once with the reason', async () => {
    const f = fixture();
    const p = await spawnOk(f, plain);
    f.kernel.exit(p, 'shutdown');
    expect(f.exitOf(p)).toBe('shutdown');
  });

  it("'kill' stops at once, even mid-cleanup; the reason is 'killed'", async () => {
    const f = fixture();
    const p = await spawnOk(f, worker, { stopDelayMs: Infinity });
    f.kernel.exit(p, 'shutdown');
    await f.env.clock.advance(10_000);
    expect(f.kernel.isAlive(p)).toBe(true);
    f.kernel.exit(p, 'kill');
    expect(f.exitOf(p)).toBe('killed');
  });

  it("an exit signal 'normal' from another process is ignored (erlang:exit/2)", async () => {
    const f = fixture();
    const p = await spawnOk(f);
    const other = await spawnOk(f);
    f.kernel.exit(p, 'normal', other);
    f.kernel.exit(p, 'normal');
    expect(f.kernel.isAlive(p)).toBe(true);
  });

  it('forced: under a supervisor, a child that does not stop within shutdownMs is killed and reported as shutdown_error', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [] });
    const r = await startChild(f.kernel, sup, w('slow', { shutdownMs: 500, stopDelayMs: 10_000 }));
    const pid = (r as { pid: Pid }).pid;
    const done = terminateChild(f.kernel, sup, 'slow');
    await f.env.clock.advance(499);
    expect(f.kernel.isAlive(pid)).toBe(true);
    await f.env.clock.advance(1);
    expect(await done).toEqual({ ok: true });
    expect(f.exitOf(pid)).toBe('killed');
    expect(f.reports('shutdown_error')).toMatchObject([{ report: 'shutdown_error', child: 'slow', pid: String(pid), reason: 'killed', shutdownMs: 500 }]);
    expect(f.reports('crash_report')).toEqual([]);
  });
});
