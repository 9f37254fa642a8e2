// Conformance §4.1 — supervisor start / init (cases 1–15).
import { describe, expect, it } from 'vitest';
import {
  BadCombinationError,
  DuplicateChildError,
  FailedToStartChildError,
  InvalidChildSpecError,
  InvalidSupervisorFlagsError,
  countChildren,
  getChildSpec,
  restartChild, startDynamicChild,
  startChild,
  startSupervisor,
  stopProcess,
  terminateChild,
  whichChildren,
  type ChildSpec,
  type StartContext,
  type StartResult,
} from '../../../src/index.ts';
import { fixture, rows, startSup, w, watch, expectAlive, expectDead } from '../../support/otp.ts';
import { ignores, worker, trapper } from '../../support/machines.ts';

const sup = (strategy: 'one_for_one' | 'simple_one_for_one', children: ChildSpec[]) => ({ strategy, maxRestarts: 2, periodMs: 3_600_000, children });

describe('§4.1 supervisor start / init', () => {
  it('1 sup_start_normal: starts with no children, exits shutdown when told to', async () => {
    const f = fixture();
    const r = await startSupervisor(f.kernel, sup('one_for_one', []));
    expect(r.status).toBe('ok');
    const pid = (r as { pid: import('../../../src/index.ts').Pid }).pid;
    const mon = watch(f.kernel, pid);
    f.kernel.exit(pid, 'shutdown');
    await f.settle();
    expect(mon).toEqual({ down: true, reason: 'shutdown' });
  });

  it('2 sup_start_ignore_init: init returning ignore → ignore, no process, no exit signal to a linked caller', async () => {
    const f = fixture();
    const parent = await f.kernel.spawn(trapper, { trapExit: true });
    if (parent.status !== 'ok') throw new Error('trapper');
    const before = f.kernel.processCount;
    const r = await startSupervisor(f.kernel, () => 'ignore', { link: parent.pid });
    await f.settle();
    expect(r).toEqual({ status: 'ignore' });
    expect(f.kernel.processCount).toBe(before);
    const trapped = await f.kernel.call(parent.pid, { type: 'trapped' });
    expect(trapped).toEqual({ ok: true, value: [] });
  });

  it('3 sup_start_error_return: init returning a bad value → error badReturn, no process', async () => {
    const f = fixture();
    const r = await startSupervisor(f.kernel, (() => 'invalid') as never);
    expect(r).toEqual({ status: 'error', error: { badReturn: 'invalid' } });
    expect(f.kernel.processCount).toBe(0);
  });

  it('4 sup_start_fail: init throwing → error carrying the thrown value, no process', async () => {
    const f = fixture();
    const boom = new Error('fail');
    const r = await startSupervisor(f.kernel, () => {
      throw boom;
    });
    expect(r).toEqual({ status: 'error', error: boom });
    expect(f.kernel.processCount).toBe(0);
  });

  it('5 sup_flags: each bad flag → InvalidSupervisorFlagsError naming flag and value; unknown keys ignored', async () => {
    const f = fixture();
    const bad: [Record<string, unknown>, string, unknown][] = [
      [{ strategy: 'none_for_one' }, 'strategy', 'none_for_one'],
      [{ maxRestarts: Infinity }, 'maxRestarts', Infinity],
      [{ maxRestarts: -1 }, 'maxRestarts', -1],
      [{ periodMs: 0 }, 'periodMs', 0],
      [{ periodMs: Infinity }, 'periodMs', Infinity],
      [{ autoShutdown: 'sometimes' }, 'autoShutdown', 'sometimes'],
    ];
    for (const [flags, flag, value] of bad) {
      const r = await startSupervisor(f.kernel, { ...flags, children: [] } as never);
      expect(r.status, flag).toBe('error');
      const e = (r as { error: InvalidSupervisorFlagsError }).error;
      expect(e).toBeInstanceOf(InvalidSupervisorFlagsError);
      expect(e.code).toBe('ORDO_INVALID_SUPERVISOR_FLAGS');
      expect(e.flag).toBe(flag);
      expect(e.value).toBe(value);
    }
    // OTP's `{invalid_type, X}` for a non-map, non-3-tuple: here an init returning a non-object.
    const notObject = await startSupervisor(f.kernel, (() => ['one_for_one', 1]) as never);
    expect(notObject.status).toBe('error');
    const ok = await startSupervisor(f.kernel, { strategy: 'one_for_one', sillyFlag: true, children: [] } as never);
    expect(ok.status).toBe('ok');
  });

  it('6 sup_start_map: getChildSpec returns fully defaulted specs (worker 5000, supervisor infinity); unknown → not_found', async () => {
    const f = fixture();
    const pid = await startSup(f.kernel, sup('one_for_one', [w('child1'), w('child2', { shutdownMs: 'brutal' }), w('child3', { type: 'supervisor' })]));
    const c1 = await getChildSpec(f.kernel, pid, 'child1');
    expect(c1).toMatchObject({ ok: true, spec: { id: 'child1', restart: 'permanent', shutdownMs: 5000, type: 'worker', significant: false } });
    expect(await getChildSpec(f.kernel, pid, 'child2')).toMatchObject({ ok: true, spec: { shutdownMs: 'brutal', type: 'worker' } });
    expect(await getChildSpec(f.kernel, pid, 'child3')).toMatchObject({ ok: true, spec: { shutdownMs: 'infinity', type: 'supervisor' } });
    expect(await getChildSpec(f.kernel, pid, 'nope')).toEqual({ ok: false, error: 'not_found' });
    // modules ([M]) is Erlang's code-loading hint: Ordo has no modules field.
  });

  it('6 sup_start_map_simple: dynamic getChildSpec by child pid returns the template incl. significant; unknown pid → not_found', async () => {
    const f = fixture();
    const pid = await startSup(f.kernel, sup('simple_one_for_one', [w('tmpl')]));
    const r = await startDynamicChild(f.kernel, pid, undefined);
    if (!r.ok || !r.pid) throw new Error('start');
    expect(await getChildSpec(f.kernel, pid, r.pid)).toMatchObject({ ok: true, spec: { id: 'tmpl', significant: false, restart: 'permanent', shutdownMs: 5000 } });
    expect(await getChildSpec(f.kernel, pid, pid)).toEqual({ ok: false, error: 'not_found' });
  });

  it('7 sup_start_map_faulty_specs: missing id / missing start / non-object → typed error at init; unknown key → starts', async () => {
    const f = fixture();
    const missingId = await startSupervisor(f.kernel, sup('one_for_one', [{ start: { machine: worker } } as never]));
    expect(missingId.status).toBe('error');
    expect((missingId as { error: InvalidChildSpecError }).error).toMatchObject({ code: 'ORDO_INVALID_CHILD_SPEC', field: 'id', value: undefined });
    const missingStart = await startSupervisor(f.kernel, sup('one_for_one', [{ id: 'c' } as never]));
    expect((missingStart as { error: InvalidChildSpecError }).error).toMatchObject({ code: 'ORDO_INVALID_CHILD_SPEC', field: 'start', childId: 'c' });
    const atom = await startSupervisor(f.kernel, sup('one_for_one', ['child4' as never]));
    expect((atom as { error: InvalidChildSpecError }).error).toMatchObject({ code: 'ORDO_INVALID_CHILD_SPEC', field: 'spec', value: 'child4' });
    expect(f.kernel.processCount).toBe(0);
    const extra = await startSupervisor(f.kernel, sup('one_for_one', [{ ...w('c'), silly: 1 } as never]));
    expect(extra.status).toBe('ok');
  });

  it('8 child_specs: every bad field → typed error with field and value; duplicates; bad combinations; simple needs one spec', async () => {
    const f = fixture();
    const pid = await startSup(f.kernel, sup('one_for_one', []));
    const cases: [Record<string, unknown>, string, unknown][] = [
      [{ start: 'mfa' }, 'start', 'mfa'],
      [{ restart: 'prmanent' }, 'restart', 'prmanent'],
      [{ shutdownMs: -10 }, 'shutdownMs', -10],
      [{ type: 'wrker' }, 'type', 'wrker'],
      [{ significant: 'maybe' }, 'significant', 'maybe'],
      [{ startTimeoutMs: 0 }, 'startTimeoutMs', 0],
    ];
    for (const [override, field, value] of cases) {
      const r = await startChild(f.kernel, pid, { ...w('child'), ...override });
      expect(r.ok, field).toBe(false);
      const cause = (r as { cause: InvalidChildSpecError }).cause;
      expect((r as { error: string }).error).toBe('invalid_spec');
      expect(cause).toBeInstanceOf(InvalidChildSpecError);
      expect(cause).toMatchObject({ code: 'ORDO_INVALID_CHILD_SPEC', field, value, childId: 'child' });
    }
    const perm = await startChild(f.kernel, pid, { ...w('child'), significant: true, restart: 'permanent' });
    expect((perm as { cause: BadCombinationError }).cause).toMatchObject({ code: 'ORDO_BAD_COMBINATION', combination: { restart: 'permanent', significant: true } });
    const never = await startChild(f.kernel, pid, { ...w('child'), significant: true, restart: 'transient' });
    expect((never as { cause: BadCombinationError }).cause).toMatchObject({ code: 'ORDO_BAD_COMBINATION', combination: { autoShutdown: 'never', significant: true } });
    const atInit = await startSupervisor(f.kernel, sup('one_for_one', [{ ...w('c'), significant: true, restart: 'transient' }]));
    expect((atInit as { error: BadCombinationError }).error).toBeInstanceOf(BadCombinationError);
    const dup = await startSupervisor(f.kernel, sup('one_for_one', [w('child'), w('child')]));
    expect((dup as { error: DuplicateChildError }).error).toMatchObject({ code: 'ORDO_DUPLICATE_CHILD', childId: 'child' });
    for (const children of [[], [w('a'), w('b')]]) {
      const simple = await startSupervisor(f.kernel, sup('simple_one_for_one', children));
      expect(simple.status).toBe('error');
      expect((simple as { error: InvalidChildSpecError }).error).toMatchObject({ code: 'ORDO_INVALID_CHILD_SPEC', value: children });
    }
    // Every combination of valid restart × shutdown × type is accepted (modules: no Ordo equivalent).
    let n = 0;
    for (const restart of ['permanent', 'transient', 'temporary'] as const)
      for (const shutdownMs of [0, 1000, 'infinity', 'brutal'] as const)
        for (const type of ['worker', 'supervisor'] as const) {
          const r = await startChild(f.kernel, pid, { ...w(`ok${n++}`), restart, shutdownMs, type });
          expect(r.ok, `${restart}/${shutdownMs}/${type}`).toBe(true);
        }
    expect(f.kernel.isAlive(pid)).toBe(true);
  });

  it('9 (derived) rollback on init failure: A, B started; C fails; B then A terminated with shutdown; error names C', async () => {
    const f = fixture();
    const failC = (): StartResult => ({ status: 'error', error: 'R' });
    const r = await startSupervisor(f.kernel, sup('one_for_one', [w('a'), w('b'), { id: 'c', start: failC }, w('d')]));
    expect(r.status).toBe('error');
    const e = (r as { error: FailedToStartChildError }).error;
    expect(e).toBeInstanceOf(FailedToStartChildError);
    expect(e).toMatchObject({ code: 'ORDO_FAILED_TO_START_CHILD', childId: 'c', reason: 'R' });
    const [a, b] = f.readies();
    expect(f.readies()).toHaveLength(2); // d never started
    expect(f.exits().slice(0, 2)).toEqual([b, a]);
    expect(f.exitOf(a!)).toBe('shutdown');
    expect(f.exitOf(b!)).toBe('shutdown');
    expect(f.kernel.processCount).toBe(0); // the supervisor is gone too
    expect(f.reports('start_error')).toMatchObject([{ report: 'start_error', child: 'c', reason: 'R' }]);
  });

  it('9 (derived) a linked caller of a supervisor whose init failed gets no exit signal (OTP ≥ 26)', async () => {
    const f = fixture();
    const parent = await f.kernel.spawn(trapper, { trapExit: true });
    if (parent.status !== 'ok') throw new Error('trapper');
    const r = await startSupervisor(f.kernel, sup('one_for_one', [w('a'), { id: 'c', start: () => ({ status: 'error', error: 'R' }) }]), { link: parent.pid });
    expect(r.status).toBe('error');
    await f.settle();
    expect(await f.kernel.call(parent.pid, { type: 'trapped' })).toEqual({ ok: true, value: [] });
    expect(f.kernel.processCount).toBe(1);
  });

  it('9 (derived) a supervisor started linked to a dead process resolves with a start error (noproc); it does not hang', async () => {
    const f = fixture();
    const parent = await f.kernel.spawn(worker);
    if (parent.status !== 'ok') throw new Error('spawn');
    f.kernel.exit(parent.pid, 'kill');
    let r: StartResult | undefined;
    void startSupervisor(f.kernel, sup('one_for_one', [w('a')]), { link: parent.pid }).then((x) => (r = x));
    await f.env.clock.runUntilIdle();
    expect(r).toMatchObject({ status: 'error', error: { code: 'ORDO_START_EXIT', reason: 'noproc' } });
    expect(f.kernel.processCount).toBe(0);
  });

  it('10 sup_start_ignore_child: ignored permanent child is kept with pid undefined, in reverse start order', async () => {
    const f = fixture();
    const pid = await startSup(f.kernel, sup('one_for_one', []));
    expect(await startChild(f.kernel, pid, { id: 'child1', start: { machine: ignores } })).toEqual({ ok: true, pid: undefined });
    const r2 = await startChild(f.kernel, pid, w('child2'));
    if (!r2.ok) throw new Error('child2');
    expect(await rows(f.kernel, pid)).toEqual([
      ['child2', r2.pid],
      ['child1', undefined],
    ]);
    expect(await countChildren(f.kernel, pid)).toEqual({ specs: 2, active: 1, supervisors: 0, workers: 2 });
  });

  it('11 sup_start_ignore_temporary_child: an ignored temporary child is not stored (init list and startChild)', async () => {
    const f = fixture();
    const a = await startSup(f.kernel, sup('one_for_one', [{ id: 'child1', restart: 'temporary', start: { machine: ignores } }, w('child2', { restart: 'temporary' })]));
    expect((await rows(f.kernel, a)).map(([id]) => id)).toEqual(['child2']);
    expect(await countChildren(f.kernel, a)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
    const b = await startSup(f.kernel, sup('one_for_one', []));
    expect(await startChild(f.kernel, b, { id: 'child1', restart: 'temporary', start: { machine: ignores } })).toEqual({ ok: true, pid: undefined });
    await startChild(f.kernel, b, w('child2', { restart: 'temporary' }));
    expect((await rows(f.kernel, b)).map(([id]) => id)).toEqual(['child2']);
    expect(await countChildren(f.kernel, b)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
  });

  it('12 sup_start_ignore_child_start_child_simple: dynamic ignore → {ok, undefined}, nothing stored; stops cleanly', async () => {
    for (const restart of ['temporary', 'permanent'] as const) {
      const f = fixture();
      let n = 0;
      const start = (ctx: StartContext) => (n++ === 0 ? ctx.spawn(ignores) : ctx.spawn(worker));
      const pid = await startSup(f.kernel, sup('simple_one_for_one', [{ id: 't', restart, start }]));
      expect(await startDynamicChild(f.kernel, pid, [])).toEqual({ ok: true, pid: undefined });
      const r = await startDynamicChild(f.kernel, pid, []);
      if (!r.ok || !r.pid) throw new Error('start');
      expect(await rows(f.kernel, pid)).toEqual([[undefined, r.pid]]);
      expect(await countChildren(f.kernel, pid)).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
      expect(await stopProcess(f.kernel, pid)).toBe('shutdown');
      expect(f.exitOf(r.pid)).toBe('shutdown');
    }
  });

  it('13 sup_start_child_returns_error: static and simple start failures carry the reason; nothing stored', async () => {
    const f = fixture();
    const pid = await startSup(f.kernel, sup('one_for_one', []));
    expect(await startChild(f.kernel, pid, { id: 'c', start: () => ({ status: 'error', error: 'reason' }) })).toEqual({ ok: false, error: 'start_failed', reason: 'reason' });
    // A start function returning something that is not a StartResult is an error carrying it.
    expect(await startChild(f.kernel, pid, { id: 'c', start: (() => 'error_reason') as never })).toEqual({ ok: false, error: 'start_failed', reason: { badReturn: 'error_reason' } });
    expect(await whichChildren(f.kernel, pid)).toEqual([]);
    const simple = await startSup(f.kernel, sup('simple_one_for_one', [{ id: 't', start: () => ({ status: 'error', error: 'reason' }) }]));
    expect(await startDynamicChild(f.kernel, simple, [])).toEqual({ ok: false, error: 'start_failed', reason: 'reason' });
    expect(await whichChildren(f.kernel, simple)).toEqual([]);
    expect(await countChildren(f.kernel, simple)).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 0 });
    expectAlive(f.kernel, pid, simple);
  });

  it('14 sup_start_restart_child_returns_error: restartChild of a child whose start now fails → error, stays undefined', async () => {
    const f = fixture();
    let n = 0;
    const start = (ctx: StartContext) => (n++ === 0 ? ctx.spawn(worker) : ({ status: 'error', error: 'later' } as const));
    const pid = await startSup(f.kernel, sup('one_for_one', [{ id: 'child1', start }]));
    expect(await terminateChild(f.kernel, pid, 'child1')).toEqual({ ok: true });
    expect(await restartChild(f.kernel, pid, 'child1')).toEqual({ ok: false, error: 'start_failed', reason: 'later' });
    expect(await rows(f.kernel, pid)).toEqual([['child1', undefined]]);
    expectAlive(f.kernel, pid);
  });

  it('15 already_started_outside_supervisor: a child name held by another process → already_started with that pid', async () => {
    const f = fixture();
    const other = await f.kernel.spawn(worker, { name: 'taken' });
    if (other.status !== 'ok') throw new Error('other');
    const pid = await startSup(f.kernel, sup('one_for_one', []));
    const r = await startChild(f.kernel, pid, { id: 'c', start: { machine: worker, name: 'taken' } });
    expect(r).toEqual({ ok: false, error: 'already_started', pid: other.pid });
    expect(await whichChildren(f.kernel, pid)).toEqual([]);
    expectAlive(f.kernel, other.pid, pid);
    expectDead(f.kernel); // no stray process was left behind
    expect(f.kernel.processCount).toBe(2);
  });
});
