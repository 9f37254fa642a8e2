import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor, setup, type AnyActorRef } from 'xstate';
import { createKernel, createTestEnv } from '../../src/index.ts';
import { MachineProcess } from '../../src/actors/machineProcess.ts';
import { useEnvScheduler } from '../../src/actors/envScheduler.ts';

/**
 * A machine process's delayed events (`after`, delayed raise) run on a scheduler on the Env's
 * clock that keeps xstate 5's semantics without reading the wall clock.
 */
const timed = setup({
  types: { events: {} as { type: 'go' } | { type: 'ordo.stop' } | { type: 'ping' } },
  delays: { slow: 500 },
}).createMachine({
  initial: 'waiting',
  states: {
    waiting: { after: { 100: 'ready', slow: 'late' }, on: { go: 'ready' } },
    ready: { tags: ['ready'], after: { 1000: 'tick' }, on: { 'ordo.stop': 'done' } },
    tick: { tags: ['ready'], on: { 'ordo.stop': 'done' } },
    late: { tags: ['ready'], on: { 'ordo.stop': 'done' } },
    done: { type: 'final' },
  },
});

afterEach(() => vi.restoreAllMocks());

function valueOf(kernel: ReturnType<typeof createKernel>, pid: Parameters<ReturnType<typeof createKernel>['processInfo']>[0]): unknown {
  return kernel.processInfo(pid)?.state;
}

describe('the env scheduler of machine processes', () => {
  it('fires delayed transitions on the Env clock, cancels those of a state left, and never reads Date.now', async () => {
    const env = createTestEnv();
    const kernel = createKernel(env);
    const now = vi.spyOn(Date, 'now');
    const started = kernel.spawn(timed);
    await env.clock.advance(99);
    const proc = [...(kernel as unknown as { processes: Map<number, MachineProcess> }).processes.values()][0]!;
    const sys = (proc.ref as unknown as { system: { getSnapshot(): { _scheduledEvents: Record<string, { delay: number; startedAt: number }> } } }).system;
    const pending = Object.values(sys.getSnapshot()._scheduledEvents).map((e) => [e.delay, e.startedAt]);
    expect(pending.sort()).toEqual([[100, 0], [500, 0]]);
    await env.clock.advance(1);
    const r = await started;
    if (r.status !== 'ok') throw new Error('spawn');
    expect(valueOf(kernel, r.pid)).toBe('ready');
    // the 500 ms `slow` timer of `waiting` was cancelled on leaving it: only ready's 1000 ms is armed
    expect(Object.values(sys.getSnapshot()._scheduledEvents).map((e) => e.delay)).toEqual([1000]);
    await env.clock.advance(500);
    expect(valueOf(kernel, r.pid)).toBe('ready');
    await env.clock.advance(500);
    expect(valueOf(kernel, r.pid)).toBe('tick');
    expect(Object.keys(sys.getSnapshot()._scheduledEvents)).toEqual([]);
    expect(env.clock.pending()).toBe(0);
    expect(now).not.toHaveBeenCalled();
  });

  it('a stopped actor leaves no timer armed (cancelAll)', async () => {
    const env = createTestEnv();
    const kernel = createKernel(env);
    const started = kernel.spawn(timed, { startTimeoutMs: Infinity });
    await env.clock.advance(100);
    const r = await started;
    if (r.status !== 'ok') throw new Error('spawn');
    expect(env.clock.pending()).toBe(1);
    kernel.exit(r.pid, 'kill');
    expect(kernel.isAlive(r.pid)).toBe(false);
    expect(env.clock.pending()).toBe(0);
  });

  it('keeps xstate 5 semantics for a key scheduled twice, a cancel, and an event without id', () => {
    const env = createTestEnv();
    const received: string[] = [];
    const target = { _send: () => undefined } as unknown as AnyActorRef;
    const actor = createActor(setup({}).createMachine({}), { clock: env.clock as never });
    useEnvScheduler(actor, env.clock);
    const system = (actor as unknown as { system: { scheduler: { schedule(s: AnyActorRef, t: AnyActorRef, e: unknown, d: number, id?: string): void; cancel(s: AnyActorRef, id: string): void }; _relay(s: AnyActorRef, t: AnyActorRef, e: { type: string }): void } }).system;
    system._relay = (_s, _t, e) => void received.push(e.type);
    system.scheduler.schedule(actor, target, { type: 'a1' }, 10, 'a');
    system.scheduler.schedule(actor, target, { type: 'a2' }, 20, 'a'); // the first stays armed (xstate overwrites its entry only)
    system.scheduler.schedule(actor, target, { type: 'anon' }, 5);
    system.scheduler.schedule(actor, target, { type: 'b' }, 30, 'b');
    system.scheduler.cancel(actor, 'b');
    return env.clock.advance(100).then(() => {
      expect(received).toEqual(['anon', 'a1', 'a2']);
      expect(env.clock.pending()).toBe(0);
    });
  });
});
