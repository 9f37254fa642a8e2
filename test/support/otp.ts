import { expect } from 'vitest';
import { createKernel, createTestEnv, startSupervisor, whichChildren, type ChildInfo, type ChildSpec, type Kernel, type LifecycleEvent, type Pid, type StartResult, type SupervisorInit, type TestEnv } from '../../src/index.ts';
import { worker } from './machines.ts';

/**
 * Test fixture for supervisor and kernel tests: a test env (virtual clock, seeded PRNG,
 * captured log records), a kernel, and a trace of every lifecycle event in order.
 */
export interface Fixture {
  env: TestEnv;
  kernel: Kernel;
  events: LifecycleEvent[];
  /** Lets queued mailbox work run, without moving virtual time. */
  settle(): Promise<void>;
  /** The exit reason of `pid`, as observed in the trace (undefined while alive). */
  exitOf(pid: Pid): unknown;
  /** Pids that exited, in exit order. */
  exits(): Pid[];
  /** Pids that became ready, in order. */
  readies(): Pid[];
  /** Log records whose `report` is `kind`. */
  reports(kind: string): Record<string, unknown>[];
}

export function fixture(seed = 1): Fixture {
  const env = createTestEnv({ seed });
  const kernel = createKernel(env);
  const events: LifecycleEvent[] = [];
  kernel.onLifecycle((e) => {
    if (e.type !== 'state') events.push(e);
  });
  return {
    env,
    kernel,
    events,
    settle: () => env.clock.flush(),
    exitOf: (pid) => {
      const e = events.find((x) => x.type === 'exit' && x.pid === pid);
      return e && e.type === 'exit' ? e.reason : undefined;
    },
    exits: () => events.filter((e) => e.type === 'exit').map((e) => e.pid),
    readies: () => events.filter((e) => e.type === 'ready').map((e) => e.pid),
    reports: (kind) => env.records.filter((r) => r['report'] === kind),
  };
}

/** OTP's "test process linked to the supervisor": a monitor that records the DOWN reason. */
export function watch(kernel: Kernel, pid: Pid): { readonly down: boolean; readonly reason: unknown } {
  const state = { down: false, reason: undefined as unknown };
  kernel.monitor(pid, (reason) => {
    state.down = true;
    state.reason = reason;
  });
  return state;
}

/** A worker child spec (the test worker machine), with overrides. */
export function w(id: string, extra: Partial<ChildSpec> & { stopDelayMs?: number } = {}): ChildSpec {
  const { stopDelayMs, ...rest } = extra;
  return { id, start: { machine: worker, input: stopDelayMs === undefined ? undefined : { stopDelayMs } }, ...rest };
}

/** Starts a supervisor and asserts it started. */
export async function startSup(kernel: Kernel, init: SupervisorInit, options: Parameters<typeof startSupervisor>[2] = {}): Promise<Pid> {
  const r: StartResult = await startSupervisor(kernel, init, options);
  if (r.status !== 'ok') throw new Error(`supervisor did not start: ${JSON.stringify(r)}`);
  return r.pid;
}

/** The pid of child `id` (asserting it runs). */
export async function pidOf(kernel: Kernel, sup: Pid, id: string): Promise<Pid> {
  const row = (await whichChildren(kernel, sup)).find((c) => c.id === id);
  const pid = row?.pid;
  if (!pid || pid === 'restarting') throw new Error(`child ${id} is not running: ${JSON.stringify(row)}`);
  return pid;
}

/** `whichChildren` as `[id, pid|'restarting'|undefined]` pairs, for compact assertions. */
export async function rows(kernel: Kernel, sup: Pid): Promise<[string | undefined, ChildInfo['pid']][]> {
  return (await whichChildren(kernel, sup)).map((c) => [c.id, c.pid]);
}

/** Crashes a worker (an action throws `Error('died')`). */
export function crash(kernel: Kernel, pid: Pid): void {
  kernel.send(pid, { type: 'crash' });
}

/** Makes a worker reach its final state with `reason`. */
export function exitWith(kernel: Kernel, pid: Pid, reason: unknown): void {
  kernel.send(pid, { type: 'exit', reason });
}

export function expectAlive(kernel: Kernel, ...pids: Pid[]): void {
  for (const p of pids) expect(kernel.isAlive(p), `${String(p)} alive`).toBe(true);
}
export function expectDead(kernel: Kernel, ...pids: Pid[]): void {
  for (const p of pids) expect(kernel.isAlive(p), `${String(p)} dead`).toBe(false);
}

/**
 * Awaits `p` while moving virtual time forward timer by timer, for calls that need the clock
 * (a child that takes time to stop). Throws if nothing is left to run and `p` is still pending.
 */
export async function drive<T>(f: Fixture, p: Promise<T>): Promise<T> {
  let done = false;
  let value: T | undefined;
  let error: unknown;
  let failed = false;
  p.then(
    (v) => {
      done = true;
      value = v;
    },
    (e: unknown) => {
      done = failed = true;
      error = e;
    },
  );
  await f.settle();
  while (!done) {
    const next = f.env.clock.nextAt();
    if (next === undefined) throw new Error('drive: the promise is pending and no timer is left');
    await f.env.clock.advance(next - f.env.clock.now());
  }
  if (failed) throw error;
  return value as T;
}
