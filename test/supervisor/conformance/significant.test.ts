// Conformance §4.6 (case 46) and §4.7 — robustness, significant children / autoShutdown
// (cases 48–53). Cases 44, 45, 47 and 52 are not in §4 (their numbers are unused there).
import { describe, expect, it } from 'vitest';
import { restartChild, startSupervisor, supervisor, terminateChild, whichChildren, BadCombinationError, type AutoShutdown, type ChildSpec, type Pid, type RestartType } from '../../../src/index.ts';
import { crash, exitWith, expectAlive, expectDead, fixture, pidOf, rows, startSup, w, watch } from '../../support/otp.ts';
import { worker } from '../../support/machines.ts';

const HOUR = 3_600_000;
type How = 'terminate_child' | 'kill' | 'crash' | 'normal';
const HOWS: How[] = ['terminate_child', 'kill', 'crash', 'normal'];

async function end(f: ReturnType<typeof fixture>, sup: Pid, id: string, how: How): Promise<void> {
  const p = await pidOf(f.kernel, sup, id);
  if (how === 'terminate_child') expect(await terminateChild(f.kernel, sup, id)).toEqual({ ok: true });
  else if (how === 'kill') f.kernel.exit(p, 'kill');
  else if (how === 'crash') crash(f.kernel, p);
  else exitWith(f.kernel, p, 'normal');
  await f.settle();
}

describe('§4.6 robustness', () => {
  it('46 child_unlink: terminating a child that unlinked itself does not hang the supervisor (monitor + kill fallback)', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 2, periodMs: HOUR, children: [w('naughty', { shutdownMs: 1000, stopDelayMs: Infinity })] });
    const p = await pidOf(f.kernel, sup, 'naughty');
    f.kernel.unlink(p, sup);
    let done = false;
    void terminateChild(f.kernel, sup, 'naughty').then(() => (done = true));
    let answered = false;
    void whichChildren(f.kernel, sup).then(() => (answered = true)); // queued behind the terminate
    await f.env.clock.advance(999);
    expect(done).toBe(false);
    await f.env.clock.advance(1);
    expect(done).toBe(true);
    expect(answered).toBe(true);
    expect(f.exitOf(p)).toBe('killed');
    expect(await rows(f.kernel, sup)).toEqual([['naughty', undefined]]);
  });
});

describe('§4.7 significant children / autoShutdown', () => {
  for (const restart of ['temporary', 'transient'] as RestartType[])
    for (const autoShutdown of ['never', 'any_significant', 'all_significant'] as AutoShutdown[])
      for (const how of HOWS) {
        it(`48 nonsignificant_${restart} (${autoShutdown}, ${how}): the supervisor stays up`, async () => {
          const f = fixture();
          const sup = await startSup(f.kernel, { autoShutdown, maxRestarts: 5, periodMs: HOUR, children: [w('child1', { restart })] });
          const before = await pidOf(f.kernel, sup, 'child1');
          await end(f, sup, 'child1', how);
          expectAlive(f.kernel, sup);
          const now = await rows(f.kernel, sup);
          if (restart === 'transient' && (how === 'kill' || how === 'crash')) {
            expect(now[0]![1]).not.toBe(before);
            expectAlive(f.kernel, now[0]![1] as Pid);
          } else if (restart === 'transient') expect(now).toEqual([['child1', undefined]]);
          else expect(now).toEqual([]);
        });
      }

  const sig = (restart: RestartType): ChildSpec[] => [w('child1', { restart, significant: true }), w('child2', { restart, significant: true }), w('child3', { restart })];

  it('49 significant_temporary (any): terminateChild does not shut down; a significant exit by itself does', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { autoShutdown: 'any_significant', maxRestarts: 5, periodMs: HOUR, children: sig('temporary') });
    await end(f, sup, 'child1', 'terminate_child');
    expectAlive(f.kernel, sup);
    for (const how of ['kill', 'crash', 'normal'] as How[]) {
      const g = fixture();
      const s = await startSup(g.kernel, { autoShutdown: 'any_significant', maxRestarts: 5, periodMs: HOUR, children: sig('temporary') });
      const [c2, c3] = [await pidOf(g.kernel, s, 'child2'), await pidOf(g.kernel, s, 'child3')];
      const mon = watch(g.kernel, s);
      await end(g, s, 'child1', how);
      expect(mon, how).toEqual({ down: true, reason: 'shutdown' });
      expectDead(g.kernel, c2, c3);
      expect(g.reports('auto_shutdown')).toMatchObject([{ child: 'child1' }]);
    }
  });

  it('49 significant_temporary (all): the last significant child stopping shuts the supervisor down', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { autoShutdown: 'all_significant', maxRestarts: 5, periodMs: HOUR, children: sig('temporary') });
    const mon = watch(f.kernel, sup);
    const c3 = await pidOf(f.kernel, sup, 'child3');
    await end(f, sup, 'child1', 'normal');
    expect(mon.down).toBe(false);
    await end(f, sup, 'child2', 'normal');
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
    expect(f.exitOf(c3)).toBe('shutdown');
  });

  it('50 significant_transient (any): terminate/kill/crash keep it up (kill/crash restart); a normal stop shuts down', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { autoShutdown: 'any_significant', maxRestarts: 5, periodMs: HOUR, children: sig('transient') });
    const mon = watch(f.kernel, sup);
    await end(f, sup, 'child1', 'terminate_child');
    expect(mon.down).toBe(false);
    expect(await restartChild(f.kernel, sup, 'child1')).toMatchObject({ ok: true });
    for (const how of ['kill', 'crash'] as How[]) {
      const before = await pidOf(f.kernel, sup, 'child1');
      await end(f, sup, 'child1', how);
      expect(mon.down, how).toBe(false);
      expect(await pidOf(f.kernel, sup, 'child1')).not.toBe(before);
    }
    const c3 = await pidOf(f.kernel, sup, 'child3');
    await end(f, sup, 'child1', 'normal');
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
    expectDead(f.kernel, c3);
  });

  it('50 significant_transient (all): the first significant normal stop does nothing; the last one shuts down', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { autoShutdown: 'all_significant', maxRestarts: 5, periodMs: HOUR, children: sig('transient') });
    const mon = watch(f.kernel, sup);
    await end(f, sup, 'child1', 'normal');
    expect(mon.down).toBe(false);
    expect(await rows(f.kernel, sup)).toContainEqual(['child1', undefined]);
    await end(f, sup, 'child2', 'normal');
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
  });

  for (const strategy of ['one_for_one', 'one_for_all', 'rest_for_one'] as const)
    for (const autoShutdown of ['any_significant', 'all_significant'] as const) {
      it(`51 significant_bystander (${strategy}, ${autoShutdown}): siblings stopped by the strategy never trigger auto shutdown`, async () => {
        const f = fixture();
        const children = [w('child1', { restart: 'transient', significant: true }), w('child2', { restart: 'transient' }), w('child3', { restart: 'transient', significant: true })];
        const sup = await startSup(f.kernel, { strategy, autoShutdown, maxRestarts: 5, periodMs: HOUR, children });
        const before = [await pidOf(f.kernel, sup, 'child1'), await pidOf(f.kernel, sup, 'child2'), await pidOf(f.kernel, sup, 'child3')];
        f.kernel.exit(before[1]!, 'kill');
        await f.settle();
        expectAlive(f.kernel, sup);
        const after = [await pidOf(f.kernel, sup, 'child1'), await pidOf(f.kernel, sup, 'child2'), await pidOf(f.kernel, sup, 'child3')];
        const changed = after.map((p, i) => p !== before[i]);
        expect(changed).toEqual(strategy === 'one_for_one' ? [false, true, false] : strategy === 'one_for_all' ? [true, true, true] : [false, true, true]);
        expect(f.reports('auto_shutdown')).toEqual([]);
      });
    }

  it('(§1.9) significant_escalation: a significant sub-supervisor that auto-shuts down takes its auto-shutdown parent with it', async () => {
    for (const significant of [true, false]) {
      const f = fixture();
      const inner = { autoShutdown: 'any_significant' as const, children: [w('leaf', { restart: 'transient', significant: true })] };
      const sup = await startSup(f.kernel, { autoShutdown: 'any_significant', maxRestarts: 5, periodMs: HOUR, children: [supervisor('sub', inner, { restart: 'transient', significant }), w('other')] });
      const mon = watch(f.kernel, sup);
      const sub = await pidOf(f.kernel, sup, 'sub');
      exitWith(f.kernel, await pidOf(f.kernel, sub, 'leaf'), 'normal');
      await f.settle();
      expect(f.exitOf(sub)).toBe('shutdown');
      if (significant) expect(mon).toEqual({ down: true, reason: 'shutdown' });
      else {
        expect(mon.down).toBe(false);
        expect(await rows(f.kernel, sup)).toContainEqual(['sub', undefined]); // transient, normal-class exit: kept, not restarted
      }
    }
  });

  it('(§1.9) all_significant: a significant child whose restart is pending still counts as active', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, {
      autoShutdown: 'all_significant',
      maxRestarts: 5,
      periodMs: HOUR,
      children: [w('sig1', { restart: 'transient', significant: true, backoff: { initialMs: 1000, maxMs: 1000 } }), w('sig2', { restart: 'transient', significant: true })],
    });
    const mon = watch(f.kernel, sup);
    crash(f.kernel, await pidOf(f.kernel, sup, 'sig1'));
    await f.settle();
    expect(await rows(f.kernel, sup)).toContainEqual(['sig1', 'restarting']);
    await end(f, sup, 'sig2', 'normal');
    expect(mon.down).toBe(false);
    await f.env.clock.advance(1000);
    await end(f, sup, 'sig1', 'normal');
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
  });

  it('(§1.5) an exit signal from a linked process that is not a child is ignored', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 0, children: [w('a')] });
    const a = await pidOf(f.kernel, sup, 'a');
    const stranger = await f.kernel.spawn(worker);
    if (stranger.status !== 'ok') throw new Error('spawn');
    f.kernel.link(sup, stranger.pid);
    crash(f.kernel, stranger.pid);
    await f.settle();
    expectAlive(f.kernel, sup, a);
    expect(f.reports('child_terminated')).toEqual([]);
  });

  it('(§1.5) unexpected messages to a supervisor are logged and ignored; it keeps supervising', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 5, children: [w('a')] }, { name: 'root' });
    for (const m of [null, undefined, 42, 'x', { tag: 1 }, { type: 'x' }]) {
      f.kernel.send(sup, m);
      f.kernel.cast(sup, m);
    }
    await f.settle();
    expectAlive(f.kernel, sup);
    const logged = f.env.records.filter((r) => r['msg'] === 'supervisor received unexpected message');
    expect(logged).toHaveLength(6);
    expect(logged[0]).toMatchObject({ supervisor: 'root', message: null });
    const a = await pidOf(f.kernel, sup, 'a');
    crash(f.kernel, a);
    await f.settle();
    expect(await pidOf(f.kernel, sup, 'a')).not.toBe(a);
  });

  it('53 significant_simple: simple_one_for_one with autoShutdown ≠ never → BadCombinationError; never → starts', async () => {
    const f = fixture();
    for (const autoShutdown of ['any_significant', 'all_significant'] as const) {
      const r = await startSupervisor(f.kernel, { strategy: 'simple_one_for_one', autoShutdown, children: [w('t')] });
      expect(r.status).toBe('error');
      expect((r as { error: BadCombinationError }).error).toBeInstanceOf(BadCombinationError);
      expect((r as { error: BadCombinationError }).error).toMatchObject({ code: 'ORDO_BAD_COMBINATION', combination: { strategy: 'simple_one_for_one', autoShutdown } });
    }
    expect((await startSupervisor(f.kernel, { strategy: 'simple_one_for_one', autoShutdown: 'never', children: [w('t')] })).status).toBe('ok');
  });
});
