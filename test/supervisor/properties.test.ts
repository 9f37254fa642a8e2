// Property tests: random crash/stop sequences against pure models of restart intensity
// (OTP's add_restart) and of each strategy's restart set (conformance §1.5–1.7).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addRestart } from '../../src/supervisor/restartIntensity.ts';
import { countChildren, deleteChild, restartChild, startDynamicChild, startChild, stopProcess, terminateChild, whichChildren, type Pid, type RestartType } from '../../src/index.ts';
import { exitWith, fixture, startSup, w, watch } from '../support/otp.ts';
import { worker } from '../support/machines.ts';

// ---- model: intensity ------------------------------------------------------------------------

/**
 * OTP's add_restart on a millisecond clock: the restart at `now` joins the history; those
 * older than the period drop out (Ordo's documented boundary: a restart at t stops counting at
 * t + periodMs exactly); more than `maxRestarts` left → give up.
 */
function modelAddRestart(history: number[], now: number, maxRestarts: number, periodMs: number): { ok: boolean; history: number[] } {
  const inWindow = [now, ...history.filter((t) => t > now - periodMs)];
  return { ok: inWindow.length <= maxRestarts, history: inWindow };
}

// ---- model: strategies -----------------------------------------------------------------------

interface ModelChild {
  id: string;
  restart: RestartType;
  running: boolean;
}
type Reason = 'normal' | 'shutdown' | 'boom';

/** What a crash of `id` with `reason` does: exits in order, starts in order, the children after. */
function modelCrash(strategy: 'one_for_one' | 'one_for_all' | 'rest_for_one', children: ModelChild[], id: string, reason: Reason): { exits: string[]; starts: string[]; after: ModelChild[] } {
  const idx = children.findIndex((c) => c.id === id);
  const failed = children[idx]!;
  const abnormal = reason === 'boom';
  const restart = failed.restart === 'permanent' || (failed.restart === 'transient' && abnormal);
  if (!restart) {
    const after = failed.restart === 'temporary' ? children.filter((c) => c.id !== id) : children.map((c) => (c.id === id ? { ...c, running: false } : c));
    return { exits: [id], starts: [], after };
  }
  if (strategy === 'one_for_one') return { exits: [id], starts: [id], after: children.map((c) => ({ ...c })) };
  const affected = strategy === 'one_for_all' ? children : children.slice(idx);
  const others = affected.filter((c) => c.id !== id);
  const stopped = others.filter((c) => c.running).map((c) => c.id).reverse();
  const removed = new Set(others.filter((c) => c.restart === 'temporary').map((c) => c.id));
  const after = children.filter((c) => !removed.has(c.id)).map((c) => (affected.includes(c) ? { ...c, running: true } : { ...c }));
  const starts = affected.filter((c) => !removed.has(c.id)).map((c) => c.id);
  return { exits: [id, ...stopped], starts, after };
}

// ---- properties ------------------------------------------------------------------------------

describe('properties', () => {
  it('addRestart matches the model for any sequence of restart times', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 40 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 5000 }), (gaps, maxRestarts, periodMs) => {
        let now = 0;
        let impl: number[] = [];
        let model: number[] = [];
        for (const gap of gaps) {
          now += gap;
          const a = addRestart(impl, now, { maxRestarts, periodMs });
          const m = modelAddRestart(model, now, maxRestarts, periodMs);
          expect(a.ok).toBe(m.ok);
          expect(a.restarts).toEqual(m.history);
          impl = a.restarts;
          model = m.history;
          if (!m.ok) return;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a supervisor gives up exactly when the intensity model says so, and only then', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 1500 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 100, max: 3000 }),
        async (gaps, maxRestarts, periodMs) => {
          const f = fixture();
          const sup = await startSup(f.kernel, { maxRestarts, periodMs, children: [w('a'), w('b')] });
          const mon = watch(f.kernel, sup);
          let history: number[] = [];
          for (const [i, gap] of gaps.entries()) {
            await f.env.clock.advance(gap);
            const rows = await whichChildren(f.kernel, sup);
            const pid = rows[i % 2]!.pid as Pid;
            exitWith(f.kernel, pid, i % 3 === 0 ? 'normal' : 'boom'); // permanent: normal counts too
            await f.settle();
            const m = modelAddRestart(history, f.env.clock.now(), maxRestarts, periodMs);
            history = m.history;
            expect(mon.down).toBe(!m.ok);
            if (!m.ok) {
              expect(mon.reason).toBe('shutdown');
              expect(f.kernel.processCount).toBe(0);
              expect(f.reports('reached_max_restart_intensity')).toHaveLength(1);
              return;
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('each strategy stops and starts exactly the model restart set, in order', async () => {
    const restartArb = fc.constantFrom<RestartType>('permanent', 'transient', 'temporary');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('one_for_one' as const, 'one_for_all' as const, 'rest_for_one' as const),
        fc.array(restartArb, { minLength: 1, maxLength: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom<Reason>('normal', 'shutdown', 'boom')), { minLength: 1, maxLength: 8 }),
        async (strategy, restarts, crashes) => {
          const f = fixture();
          let model: ModelChild[] = restarts.map((restart, i) => ({ id: `c${i}`, restart, running: true }));
          const sup = await startSup(f.kernel, { strategy, maxRestarts: 1000, periodMs: 1000, children: model.map((c) => w(c.id, { restart: c.restart })) });
          for (const [pick, reason] of crashes) {
            const running = model.filter((c) => c.running);
            if (running.length === 0) break;
            const target = running[pick % running.length]!;
            const before = await whichChildren(f.kernel, sup);
            const idOf = new Map<Pid, string>();
            for (const r of before) if (r.pid && r.pid !== 'restarting') idOf.set(r.pid, r.id!);
            const pid = before.find((r) => r.id === target.id)!.pid as Pid;
            const nExit = f.exits().length;
            const nReady = f.readies().length;
            exitWith(f.kernel, pid, reason);
            await f.settle();
            const expected = modelCrash(strategy, model, target.id, reason);
            const after = await whichChildren(f.kernel, sup);
            for (const r of after) if (r.pid && r.pid !== 'restarting') idOf.set(r.pid, r.id!);
            expect(f.exits().slice(nExit).map((p) => idOf.get(p))).toEqual(expected.exits);
            expect(f.readies().slice(nReady).map((p) => idOf.get(p))).toEqual(expected.starts);
            expect(after.map((r) => [r.id, r.pid !== undefined && r.pid !== 'restarting'])).toEqual([...expected.after].reverse().map((c) => [c.id, c.running]));
            for (const r of after) if (!expected.starts.includes(r.id!) && r.pid) expect(before.find((b) => b.id === r.id)!.pid).toBe(r.pid);
            model = expected.after;
          }
          expect(f.kernel.isAlive(sup)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('properties: simple_one_for_one', () => {
  it('a crash restarts exactly the crashed instance, or removes it when it is not restarted (OTP keeps no spec for dynamic children)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<RestartType>('permanent', 'transient', 'temporary'),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom<Reason>('normal', 'shutdown', 'boom')), { minLength: 1, maxLength: 8 }),
        async (restart, n, crashes) => {
          const f = fixture();
          const sup = await startSup(f.kernel, {
            strategy: 'simple_one_for_one',
            maxRestarts: 1000,
            periodMs: 1000,
            children: [{ id: 't', restart, start: { machine: worker, input: ({ args: a }: { args: unknown }) => ({ service: a }) } }],
          });
          for (let i = 0; i < n; i++) await startDynamicChild(f.kernel, sup, `arg${i}`);
          for (const [pick, reason] of crashes) {
            const before = (await whichChildren(f.kernel, sup)).map((r) => r.pid as Pid);
            if (before.length === 0) break;
            const victim = before[pick % before.length]!;
            exitWith(f.kernel, victim, reason);
            await f.settle();
            const after = (await whichChildren(f.kernel, sup)).map((r) => r.pid as Pid);
            const restarted = restart === 'permanent' || (restart === 'transient' && reason === 'boom');
            const others = before.filter((p) => p !== victim);
            expect(after.filter((p) => others.includes(p)).sort()).toEqual([...others].sort());
            const fresh = after.filter((p) => !before.includes(p));
            expect(fresh).toHaveLength(restarted ? 1 : 0);
            expect(after).toHaveLength(restarted ? before.length : before.length - 1);
            if (restarted) expect(f.kernel.isAlive(fresh[0]!)).toBe(true);
            expect(await countChildren(f.kernel, sup)).toEqual({ specs: 1, active: after.length, supervisors: 0, workers: after.length });
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('properties: no leaks', () => {
  type Op = { kind: 'crash' | 'normal' | 'kill' | 'terminate' | 'restart' | 'delete' | 'start'; pick: number };
  const opArb = fc.record({ kind: fc.constantFrom<Op['kind']>('crash', 'normal', 'kill', 'terminate', 'restart', 'delete', 'start'), pick: fc.nat() });

  it('after any sequence of crashes and admin calls, live processes are exactly the supervisor and the running children; a stop leaves none', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('one_for_one' as const, 'one_for_all' as const, 'rest_for_one' as const),
        fc.array(fc.constantFrom<RestartType>('permanent', 'transient', 'temporary'), { minLength: 1, maxLength: 4 }),
        fc.array(opArb, { minLength: 1, maxLength: 12 }),
        async (strategy, restarts, ops) => {
          const f = fixture();
          const sup = await startSup(f.kernel, { strategy, maxRestarts: 1000, periodMs: 1000, children: restarts.map((restart, i) => w(`c${i}`, { restart, shutdownMs: 100 })) });
          let fresh = 0;
          for (const op of ops) {
            const rows = await whichChildren(f.kernel, sup);
            const row = rows.length ? rows[op.pick % rows.length] : undefined;
            const pid = row && row.pid && row.pid !== 'restarting' ? row.pid : undefined;
            if (op.kind === 'start') await startChild(f.kernel, sup, w(`n${fresh++}`, { restart: restarts[op.pick % restarts.length] }));
            else if (!row) continue;
            else if (op.kind === 'terminate') await terminateChild(f.kernel, sup, row.id!);
            else if (op.kind === 'restart') await restartChild(f.kernel, sup, row.id!);
            else if (op.kind === 'delete') await deleteChild(f.kernel, sup, row.id!);
            else if (pid && op.kind === 'kill') f.kernel.exit(pid, 'kill');
            else if (pid) exitWith(f.kernel, pid, op.kind === 'crash' ? 'boom' : 'normal');
            await f.settle();
            const now = await whichChildren(f.kernel, sup);
            const running = now.filter((r) => r.pid && r.pid !== 'restarting').map((r) => r.pid as Pid);
            for (const p of running) expect(f.kernel.isAlive(p)).toBe(true);
            expect(f.kernel.processCount).toBe(1 + running.length);
            expect(new Set(now.map((r) => r.id)).size).toBe(now.length);
          }
          expect(await stopProcess(f.kernel, sup)).toBe('shutdown');
          expect(f.kernel.processCount).toBe(0);
          expect(f.env.clock.pending()).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });
});
