// Bad input: every failure is a typed outcome, and neither the test runner nor the
// supervisor goes down with it. (Vitest fails the run on any unhandled error or rejection,
// so a passing file also shows nothing escaped.)
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import {
  BadArgumentError,
  InvalidChildSpecError,
  InvalidSupervisorFlagsError,
  NoProcError,
  countChildren,
  startChild, startDynamicChild,
  startSupervisor,
  validateChildSpec,
  validateFlags,
  whichChildren,
  type Pid,
  type StartResult,
} from '../../src/index.ts';
import { crash, fixture, pidOf, startSup, w, watch } from '../support/otp.ts';
import { rejectsLater, worker } from '../support/machines.ts';

describe('invalid specs: each bad field → a typed error carrying field and value', () => {
  const base = { id: 'c', start: { machine: worker } };
  const cases: [string, Record<string, unknown>, unknown][] = [
    ['id', { id: '' }, ''],
    ['id', { id: 7 }, 7],
    ['start', { start: { machine: 'not a machine' } }, { machine: 'not a machine' }],
    ['start', { start: 42 }, 42],
    ['restart', { restart: 'sometimes' }, 'sometimes'],
    ['significant', { significant: 1 }, 1],
    ['type', { type: 'manager' }, 'manager'],
    ['shutdownMs', { shutdownMs: -1 }, -1],
    ['shutdownMs', { shutdownMs: 'soon' }, 'soon'],
    ['shutdownMs', { shutdownMs: NaN }, NaN],
    ['startTimeoutMs', { startTimeoutMs: -5 }, -5],
    ['provides', { provides: '' }, ''],
    ['provides', { provides: { select: 1 } }, { select: 1 }],
    ['requires', { requires: 'db' }, 'db'],
    ['requires', { requires: [''] }, ['']],
    ['backoff', { backoff: { initialMs: 100, maxMs: 10 } }, { initialMs: 100, maxMs: 10 }],
    ['backoff', { backoff: { initialMs: 1, maxMs: 10, factor: 0.5 } }, { initialMs: 1, maxMs: 10, factor: 0.5 }],
    ['backoff', { backoff: { initialMs: 1, maxMs: 10, jitter: 2 } }, { initialMs: 1, maxMs: 10, jitter: 2 }],
    ['backoff', { backoff: { initialMs: 1, maxMs: 10, resetAfterMs: 0 } }, { initialMs: 1, maxMs: 10, resetAfterMs: 0 }],
  ];
  for (const [field, override, value] of cases) {
    it(`${field} = ${JSON.stringify(value)}`, async () => {
      const v = validateChildSpec({ ...base, ...override });
      expect(v.ok).toBe(false);
      const e = (v as unknown as { error: InvalidChildSpecError }).error;
      expect(e).toBeInstanceOf(InvalidChildSpecError);
      expect(e.code).toBe('ORDO_INVALID_CHILD_SPEC');
      expect(e.field).toBe(field);
      expect(e.value).toEqual(value);
      // the same through a running supervisor: returned, not thrown; the supervisor stays up
      const f = fixture();
      const sup = await startSup(f.kernel, { children: [] });
      const r = await startChild(f.kernel, sup, { ...base, ...override });
      expect(r).toMatchObject({ ok: false, error: 'invalid_spec', cause: { code: 'ORDO_INVALID_CHILD_SPEC', field } });
      expect(f.kernel.isAlive(sup)).toBe(true);
    });
  }

  it('bad flags: maxChildren and backoff carry the value', () => {
    for (const [flags, flag] of [
      [{ maxChildren: -1 }, 'maxChildren'],
      [{ maxChildren: 1.5 }, 'maxChildren'],
      [{ backoff: { initialMs: -1, maxMs: 1 } }, 'backoff'],
      [{ backoff: 'fast' }, 'backoff'],
    ] as const) {
      const v = validateFlags(flags);
      expect(v.ok).toBe(false);
      expect((v as unknown as { error: InvalidSupervisorFlagsError }).error).toMatchObject({ code: 'ORDO_INVALID_SUPERVISOR_FLAGS', flag, value: (flags as Record<string, unknown>)[flag] });
    }
    expect(validateFlags(null)).toMatchObject({ ok: false, error: { code: 'ORDO_INVALID_SUPERVISOR_FLAGS', flag: 'flags', value: null } });
  });
});

describe('failures inside children and start functions', () => {
  it('an action that throws: the child exits with the Error, a crash report is logged, the supervisor restarts it and stays up', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [w('c')] });
    const p = await pidOf(f.kernel, sup, 'c');
    crash(f.kernel, p);
    await f.settle();
    expect(f.exitOf(p)).toBeInstanceOf(Error);
    expect(f.reports('crash_report')).toMatchObject([{ pid: String(p), reason: { error: 'Error', message: 'died' } }]);
    expect(await pidOf(f.kernel, sup, 'c')).not.toBe(p);
  });

  it('an invoked promise that rejects with no onError: the child exits with the rejection, is restarted', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [{ id: 'r', start: { machine: rejectsLater } }] });
    const p = await pidOf(f.kernel, sup, 'r');
    f.kernel.send(p, { type: 'go' });
    await f.settle();
    const reason = f.exitOf(p);
    expect(reason).toBeInstanceOf(Error);
    expect((reason as Error).message).toBe('promise rejected');
    expect(f.reports('child_terminated')).toMatchObject([{ child: 'r', reason: { message: 'promise rejected' } }]);
    expect(f.kernel.isAlive(await pidOf(f.kernel, sup, 'r'))).toBe(true);
  });

  it('a start function that throws, rejects, or returns garbage → start_failed with the reason; the supervisor stays up', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [] });
    const boom = new Error('start threw');
    const starts: [string, () => unknown, unknown][] = [
      ['throws', () => {
        throw boom;
      }, boom],
      ['rejects', () => Promise.reject(boom), boom],
      ['garbage', () => 42, { badReturn: 42 }],
      ['undefined', () => undefined, { badReturn: undefined }],
      ['not a pid', () => ({ status: 'ok', pid: 'me' }), { badReturn: { status: 'ok', pid: 'me' } }],
    ];
    for (const [id, start, reason] of starts) {
      const r = await startChild(f.kernel, sup, { id, start: start as () => StartResult });
      expect(r, id).toEqual({ ok: false, error: 'start_failed', reason });
    }
    expect(await whichChildren(f.kernel, sup)).toEqual([]);
    expect(f.kernel.isAlive(sup)).toBe(true);
  });

  it('a machine that throws while starting → start_failed (StartExitError); at init the supervisor fails cleanly', async () => {
    const f = fixture();
    const bad = setup({
      actions: {
        boom: () => {
          throw new Error('entry boom');
        },
      },
    }).createMachine({ initial: 'a', states: { a: { entry: 'boom', tags: ['ready'] } } });
    const sup = await startSup(f.kernel, { children: [] });
    const r = await startChild(f.kernel, sup, { id: 'bad', start: { machine: bad } });
    expect(r).toMatchObject({ ok: false, error: 'start_failed', reason: { code: 'ORDO_START_EXIT' } });
    expect(f.kernel.isAlive(sup)).toBe(true);
    const init = await startSupervisor(f.kernel, { children: [{ id: 'bad', start: { machine: bad } }] });
    expect(init).toMatchObject({ status: 'error', error: { code: 'ORDO_FAILED_TO_START_CHILD', childId: 'bad' } });
  });

  it('a missing dependency is a typed start error naming child and dependency', async () => {
    const f = fixture();
    const r = await startSupervisor(f.kernel, { children: [w('user', { requires: ['db'] })] });
    expect(r).toMatchObject({ status: 'error', error: { code: 'ORDO_FAILED_TO_START_CHILD', childId: 'user', reason: { code: 'ORDO_MISSING_DEPENDENCY', childId: 'user', dependency: 'db' } } });
  });

  it('admin calls to a dead supervisor throw NoProcError; a dead pid given as a child target is harmless', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [] });
    const mon = watch(f.kernel, sup);
    f.kernel.exit(sup, 'shutdown');
    await f.settle();
    expect(mon.down).toBe(true);
    for (const call of [() => whichChildren(f.kernel, sup), () => countChildren(f.kernel, sup), () => startChild(f.kernel, sup, w('x'))]) {
      await expect(call()).rejects.toMatchObject({ code: 'ORDO_NOPROC', target: sup });
      await expect(call()).rejects.toBeInstanceOf(NoProcError);
    }
    const dyn = await startSup(f.kernel, { strategy: 'simple_one_for_one', children: [w('t')] });
    const dead = ((await startDynamicChild(f.kernel, dyn, [])) as { pid: Pid }).pid;
    f.kernel.exit(dead, 'kill');
    await f.settle();
    expect(f.kernel.isAlive(dyn)).toBe(true);
  });
});

describe('bad kernel arguments → BadArgumentError carrying the value, nothing spawned', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['name', { name: '' }],
    ['name', { name: 42 }],
    ['startTimeoutMs', { startTimeoutMs: 0 }],
    ['startTimeoutMs', { startTimeoutMs: -5 }],
    ['startTimeoutMs', { startTimeoutMs: NaN }],
    ['startTimeoutMs', { startTimeoutMs: '100' }],
    ['link', { link: 'not-a-pid' }],
  ];
  for (const [argument, options] of cases) {
    it(`spawn ${argument} = ${String(Object.values(options)[0])}`, async () => {
      const f = fixture();
      const r = await f.kernel.spawn(worker, options as never);
      expect(r.status).toBe('error');
      expect((r as { error: unknown }).error).toBeInstanceOf(BadArgumentError);
      expect((r as { error: BadArgumentError }).error).toMatchObject({ code: 'ORDO_BAD_ARGUMENT', argument, value: Object.values(options)[0] });
      expect(f.kernel.processCount).toBe(0);
    });
  }

  it('call timeoutMs that is negative or not a number → BadArgumentError; the callee is untouched', async () => {
    const f = fixture();
    const p = await f.kernel.spawn(worker);
    if (p.status !== 'ok') throw new Error('spawn');
    for (const timeoutMs of [-1, NaN, '10']) {
      const r = await f.kernel.call(p.pid, { type: 'ping' }, { timeoutMs: timeoutMs as number });
      expect((r as { error: BadArgumentError }).error).toMatchObject({ code: 'ORDO_BAD_ARGUMENT', argument: 'timeoutMs', value: timeoutMs });
    }
    expect(await f.kernel.call(p.pid, { type: 'ping' }, { timeoutMs: 0 })).toEqual({ ok: true, value: 'pong' });
    expect(f.kernel.isAlive(p.pid)).toBe(true);
  });

  it('a child spec whose machine name is invalid fails to start with the typed error; the supervisor stays up', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [] });
    const r = await startChild(f.kernel, sup, { id: 'c', start: { machine: worker, name: '' } });
    expect(r).toMatchObject({ ok: false, error: 'start_failed', reason: { code: 'ORDO_BAD_ARGUMENT', argument: 'name', value: '' } });
    expect(f.kernel.isAlive(sup)).toBe(true);
  });
});
