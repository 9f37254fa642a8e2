// Conformance §4.2 — supervisor stop / shutdown (cases 16–21). Case 19 is not in §4.
import { describe, expect, it } from 'vitest';
import { startChild, startDynamicChild, stopProcess, terminateChild, whichChildren, type Pid, type RestartType } from '../../../src/index.ts';
import { crash, expectAlive, expectDead, fixture, pidOf, startSup, w, watch } from '../../support/otp.ts';
import { stopsWith, worker } from '../../support/machines.ts';

const HOUR = 3_600_000;

describe('§4.2 supervisor stop / shutdown', () => {
  it('16 sup_stop_infinity: infinity shutdown (supervisor- and worker-typed children) → both exit shutdown', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, {
      strategy: 'one_for_one',
      maxRestarts: 2,
      periodMs: HOUR,
      children: [w('child1', { shutdownMs: 'infinity', type: 'supervisor' }), w('child2', { shutdownMs: 'infinity' })],
    });
    const [c1, c2] = [await pidOf(f.kernel, sup, 'child1'), await pidOf(f.kernel, sup, 'child2')];
    expect(await stopProcess(f.kernel, sup)).toBe('shutdown');
    expect(f.exitOf(c1)).toBe('shutdown');
    expect(f.exitOf(c2)).toBe('shutdown');
    expect(f.reports('shutdown_error')).toEqual([]);
  });

  it('16 sup_stop_brutal_kill: child1 (1000 ms) exits shutdown, child2 (brutal) exits killed', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 2, periodMs: HOUR, children: [w('child1', { shutdownMs: 1000 }), w('child2', { shutdownMs: 'brutal' })] });
    const [c1, c2] = [await pidOf(f.kernel, sup, 'child1'), await pidOf(f.kernel, sup, 'child2')];
    expect(await stopProcess(f.kernel, sup)).toBe('shutdown');
    expect(f.exitOf(c1)).toBe('shutdown');
    expect(f.exitOf(c2)).toBe('killed');
    expect(f.reports('shutdown_error')).toEqual([]); // killed is the expected reason for brutal
  });

  it('17 sup_stop_timeout: a busy child is killed after its shutdown time; the kill is a shutdown_error; supervisor exits shutdown', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, {
      maxRestarts: 2,
      periodMs: HOUR,
      children: [w('child1', { shutdownMs: 1000 }), w('child2', { shutdownMs: 1000, stopDelayMs: 200_000 })],
    });
    const [c1, c2] = [await pidOf(f.kernel, sup, 'child1'), await pidOf(f.kernel, sup, 'child2')];
    const mon = watch(f.kernel, sup);
    f.kernel.exit(sup, 'shutdown');
    await f.env.clock.advance(999);
    expectAlive(f.kernel, c1, c2); // child2 is stopped first (reverse order) and is still busy
    await f.env.clock.advance(1);
    expect(f.exitOf(c2)).toBe('killed');
    expect(f.exitOf(c1)).toBe('shutdown');
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
    expect(f.reports('shutdown_error')).toMatchObject([{ report: 'shutdown_error', child: 'child2', pid: String(c2), reason: 'killed' }]);
  });

  it('17 (§1.10) a supervisor killed while it waits for a child to stop takes that child with it (the link is kept until DOWN)', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [w('a'), w('stuck', { shutdownMs: 'infinity', stopDelayMs: Infinity })] });
    const [a, stuck] = [await pidOf(f.kernel, sup, 'a'), await pidOf(f.kernel, sup, 'stuck')];
    f.kernel.exit(sup, 'shutdown'); // stops 'stuck' first and waits forever
    await f.env.clock.advance(10_000);
    expectAlive(f.kernel, stuck, a);
    f.kernel.exit(sup, 'kill');
    expect(f.exitOf(sup)).toBe('killed');
    expect(f.exitOf(stuck)).toBe('killed');
    expect(f.exitOf(a)).toBe('killed');
    expect(f.kernel.processCount).toBe(0);
  });

  it('17 (§1.10) children that stop at once leave no kill timer behind (terminateChild, restart, supervisor stop)', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { strategy: 'one_for_all', maxRestarts: 5, children: [w('a', { shutdownMs: 1000 }), w('b', { shutdownMs: 1000 })] });
    await terminateChild(f.kernel, sup, 'a');
    expect(f.env.clock.pending()).toBe(0);
    crash(f.kernel, await pidOf(f.kernel, sup, 'b')); // one_for_all: a and b are (re)started
    await f.settle();
    expect(f.env.clock.pending()).toBe(0);
    expect(await stopProcess(f.kernel, sup)).toBe('shutdown');
    expect(f.env.clock.pending()).toBe(0);
  });

  it('18 sup_stop_timeout_dynamic: a dynamic child that ignores the stop is killed at the common shutdown time', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { strategy: 'simple_one_for_one', children: [{ id: 't', restart: 'temporary', shutdownMs: 1000, start: { machine: worker, input: ({ args }: { args: unknown }) => args } }] });
    const quick = ((await startDynamicChild(f.kernel, sup, { stopDelayMs: 0 })) as { pid: Pid }).pid;
    const busy = ((await startDynamicChild(f.kernel, sup, { stopDelayMs: 200_000 })) as { pid: Pid }).pid;
    const quick2 = ((await startDynamicChild(f.kernel, sup, { stopDelayMs: 0 })) as { pid: Pid }).pid;
    const mon = watch(f.kernel, sup);
    f.kernel.exit(sup, 'shutdown');
    await f.env.clock.advance(999);
    expect(mon.down).toBe(false);
    expect(f.exitOf(quick)).toBe('shutdown');
    expect(f.exitOf(quick2)).toBe('shutdown');
    expectAlive(f.kernel, busy);
    await f.env.clock.advance(1);
    expect(f.exitOf(busy)).toBe('killed');
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
  });

  it('18 sup_stop_brutal_kill_dynamic: 10 brutal dynamic children all exit killed; supervisor exits shutdown', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { strategy: 'simple_one_for_one', children: [w('t', { restart: 'temporary', shutdownMs: 'brutal' })] });
    const pids: Pid[] = [];
    for (let i = 0; i < 10; i++) pids.push(((await startDynamicChild(f.kernel, sup, i)) as { pid: Pid }).pid);
    expect(await stopProcess(f.kernel, sup)).toBe('shutdown');
    for (const p of pids) expect(f.exitOf(p)).toBe('killed');
  });

  it('20 sup_stop_non_shutdown_exit_dynamic: children answering the stop with any reason; supervisor exits shutdown, errors only logged', async () => {
    for (const restart of ['temporary', 'transient', 'permanent'] as RestartType[]) {
      const f = fixture();
      const sup = await startSup(f.kernel, {
        strategy: 'simple_one_for_one',
        children: [{ id: 't', restart, shutdownMs: 1000, start: { machine: stopsWith, input: ({ args }: { args: unknown }) => ({ reason: args }) } }],
      });
      const reasons: unknown[] = ['normal', 'shutdown', { shutdown: 'test' }, 'other'];
      const pids: Pid[] = [];
      for (const reason of reasons) pids.push(((await startDynamicChild(f.kernel, sup, reason)) as { pid: Pid }).pid);
      expect(await stopProcess(f.kernel, sup)).toBe('shutdown');
      pids.forEach((p, i) => expect(f.exitOf(p), `${restart} ${JSON.stringify(reasons[i])}`).toEqual(reasons[i]));
      const logged = f.reports('shutdown_error').map((r) => r['reason']);
      // OTP's expected set: 'shutdown'; for non-permanent children also 'normal' and { shutdown: _ }.
      expect(logged, restart).toEqual(restart === 'permanent' ? expect.arrayContaining(['normal', { shutdown: 'test' }, 'other']) : ['other']);
      expect(logged).toHaveLength(restart === 'permanent' ? 3 : 1);
    }
  });

  it('20 (§1.10) what counts as an expected stop reason is the kernel\'s classification: { shutdown, extra } is unexpected', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, {
      strategy: 'simple_one_for_one',
      children: [{ id: 't', restart: 'transient', start: { machine: stopsWith, input: ({ args }: { args: unknown }) => ({ reason: args }) } }],
    });
    await startDynamicChild(f.kernel, sup, { shutdown: 'x' });
    await startDynamicChild(f.kernel, sup, { shutdown: 'x', extra: 1 });
    expect(await stopProcess(f.kernel, sup)).toBe('shutdown');
    expect(f.reports('shutdown_error').map((r) => r['reason'])).toEqual([{ shutdown: 'x', extra: 1 }]);
  });

  it('21 order_of_children: rest_for_one restart and final stop follow start order exactly', async () => {
    const f = fixture();
    const ids = ['ch7', 'ch3', 'ch10', 'ch2', 'ch5'];
    const sup = await startSup(f.kernel, { strategy: 'rest_for_one', maxRestarts: 2, periodMs: HOUR, children: ids.map((id) => w(id)) });
    const before = new Map<string, Pid>();
    for (const id of ids) before.set(id, await pidOf(f.kernel, sup, id));
    expect(f.readies()).toEqual(ids.map((id) => before.get(id)));
    const nReady = f.readies().length;
    const nExit = f.exits().length;
    crash(f.kernel, before.get('ch10')!);
    await f.settle();
    // ch10 exited by itself, then the supervisor stopped ch5 and ch2 — in that order.
    expect(f.exits().slice(nExit)).toEqual([before.get('ch10'), before.get('ch5'), before.get('ch2')]);
    const after = new Map<string, Pid>();
    for (const id of ids) after.set(id, await pidOf(f.kernel, sup, id));
    expect(f.readies().slice(nReady)).toEqual([after.get('ch10'), after.get('ch2'), after.get('ch5')]);
    for (const id of ['ch10', 'ch2', 'ch5']) expect(after.get(id)).not.toBe(before.get(id));
    for (const id of ['ch7', 'ch3']) expect(after.get(id)).toBe(before.get(id));
    const nExit2 = f.exits().length;
    expect(await stopProcess(f.kernel, sup)).toBe('shutdown');
    expect(f.exits().slice(nExit2)).toEqual([...['ch5', 'ch2', 'ch10', 'ch3', 'ch7'].map((id) => after.get(id)), sup]);
    expectDead(f.kernel, ...after.values());
    expect(await whichChildren(f.kernel, sup).catch((e: Error) => e.name)).toBe('NoProcError');
  });
});
