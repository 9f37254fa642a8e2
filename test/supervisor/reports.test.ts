// SASL-style reports: one report path, fixed keys (report, supervisor, child, pid, reason,
// restarts), one pino record per event.
import { describe, expect, it } from 'vitest';
import { startChild, startSupervisor, supervisor, terminateChild, type StartContext, type StartResult } from '../../src/index.ts';
import { crash, exitWith, fixture, pidOf, startSup, w, watch } from '../support/otp.ts';
import { worker } from '../support/machines.ts';

const INFO = 30;
const ERROR = 50;

describe('reports', () => {
  it('progress: one per started child, with supervisor, child and pid (info)', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [w('a'), w('b')] }, { name: 'root' });
    const [a, b] = [await pidOf(f.kernel, sup, 'a'), await pidOf(f.kernel, sup, 'b')];
    expect(f.reports('progress')).toEqual([
      { level: INFO, report: 'progress', supervisor: 'root', child: 'a', pid: String(a), msg: 'progress' },
      { level: INFO, report: 'progress', supervisor: 'root', child: 'b', pid: String(b), msg: 'progress' },
    ]);
  });

  it('crash_report then child_terminated (with restarts so far) then progress of the new pid', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 5, children: [w('a')] }, { name: 'root' });
    const p1 = await pidOf(f.kernel, sup, 'a');
    crash(f.kernel, p1);
    await f.settle();
    const p2 = await pidOf(f.kernel, sup, 'a');
    exitWith(f.kernel, p2, 'died');
    await f.settle();
    const after = f.env.records.slice(1).map((r) => r['report']);
    expect(after).toEqual(['crash_report', 'child_terminated', 'progress', 'crash_report', 'child_terminated', 'progress']);
    expect(f.reports('crash_report')[0]).toEqual({ level: ERROR, report: 'crash_report', pid: String(p1), reason: { error: 'Error', message: 'died' }, state: 'running', msg: 'crash_report' });
    expect(f.reports('child_terminated')).toEqual([
      { level: ERROR, report: 'child_terminated', supervisor: 'root', child: 'a', pid: String(p1), reason: { error: 'Error', message: 'died' }, restarts: 0, msg: 'child_terminated' },
      { level: ERROR, report: 'child_terminated', supervisor: 'root', child: 'a', pid: String(p2), reason: 'died', restarts: 1, msg: 'child_terminated' },
    ]);
  });

  it('normal-class exits of non-permanent children are not reported; of permanent ones they are (§1.5)', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 5, children: [w('perm'), w('trans', { restart: 'transient' }), w('temp', { restart: 'temporary' })] });
    for (const id of ['perm', 'trans', 'temp']) exitWith(f.kernel, await pidOf(f.kernel, sup, id), 'shutdown');
    await f.settle();
    expect(f.reports('child_terminated').map((r) => r['child'])).toEqual(['perm']);
    expect(f.reports('crash_report')).toEqual([]);
  });

  it('start_error at init and on a failed restart (with restarts); none for a failed startChild (OTP returns it)', async () => {
    const f = fixture();
    const init = await startSupervisor(f.kernel, { children: [w('a'), { id: 'b', start: () => ({ status: 'error', error: 'no_disk' }) }] }, { name: 'first' });
    expect(init.status).toBe('error');
    expect(f.reports('start_error')).toEqual([{ level: ERROR, report: 'start_error', supervisor: 'first', child: 'b', reason: 'no_disk', msg: 'start_error' }]);
    let fail = false;
    const start = (ctx: StartContext): Promise<StartResult> | StartResult => (fail ? { status: 'error', error: 'again' } : ctx.spawn(worker));
    const sup = await startSup(f.kernel, { maxRestarts: 1, children: [{ id: 'c', start }] }, { name: 'second' });
    await startChild(f.kernel, sup, { id: 'x', start: () => ({ status: 'error', error: 'not_reported' }) });
    fail = true;
    crash(f.kernel, await pidOf(f.kernel, sup, 'c'));
    await f.settle();
    expect(f.reports('start_error').slice(1)).toEqual([{ level: ERROR, report: 'start_error', supervisor: 'second', child: 'c', reason: 'again', restarts: 0, msg: 'start_error' }]);
  });

  it('shutdown_error: the kill after a shutdown timeout, and an unexpected stop reason', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [w('slow', { shutdownMs: 100, stopDelayMs: 1000 })] }, { name: 'root' });
    const p = await pidOf(f.kernel, sup, 'slow');
    const t = terminateChild(f.kernel, sup, 'slow');
    await f.env.clock.advance(100);
    await t;
    expect(f.reports('shutdown_error')).toEqual([{ level: ERROR, report: 'shutdown_error', supervisor: 'root', child: 'slow', pid: String(p), reason: 'killed', shutdownMs: 100, msg: 'shutdown_error' }]);
  });

  it('reached_max_restart_intensity: supervisor, child, last reason, restarts and the limits', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 2, periodMs: 1000, children: [w('a')] }, { name: 'root' });
    const mon = watch(f.kernel, sup);
    for (let i = 0; i < 3; i++) {
      exitWith(f.kernel, await pidOf(f.kernel, sup, 'a'), `boom${i}`);
      await f.settle();
    }
    expect(mon.down).toBe(true);
    expect(f.reports('reached_max_restart_intensity')).toEqual([
      { level: ERROR, report: 'reached_max_restart_intensity', supervisor: 'root', child: 'a', reason: 'boom2', restarts: 2, maxRestarts: 2, periodMs: 1000, msg: 'reached_max_restart_intensity' },
    ]);
  });

  it('the supervisor key is the name, else the pid; a nested supervisor reports under its id', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { children: [supervisor('inner', { children: [w('leaf')] })] });
    const progress = f.reports('progress');
    expect(progress.map((r) => [r['supervisor'], r['child']])).toEqual([
      ['inner', 'leaf'],
      [String(sup), 'inner'],
    ]);
  });

  it('every report carries only JSON-safe values (reasons formatted)', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { maxRestarts: 5, children: [w('a')] });
    exitWith(f.kernel, await pidOf(f.kernel, sup, 'a'), { nested: new Error('inner'), n: 10n });
    await f.settle();
    expect(f.reports('child_terminated')[0]!['reason']).toEqual({ nested: { error: 'Error', message: 'inner' }, n: '10' });
  });
});
