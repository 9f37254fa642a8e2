import type { AnyStateMachine } from 'xstate';
import type { Env } from '../env/index.ts';
import { Pid } from './pid.ts';
import { Process, ReplyTo, type ProcessInfo } from './process.ts';
import { MachineProcess, type SpawnMachineOptions } from './machineProcess.ts';
import { NativeProcess, type NativeBehaviour } from './nativeProcess.ts';
import type { StartResult } from './startResult.ts';
import { BadArgumentError, CalleeExitError, CallTimeoutError, NoProcError, type CallError } from './errors.ts';
import { classifyExit, formatReason } from './exitReason.ts';
import { report, reporting } from './report.ts';

/** The outcome of a `call`: the reply, or why there is none. Never a rejected promise. */
export type CallResult<T = unknown> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: CallError | BadArgumentError };

/** What `onLifecycle` listeners see. */
export type LifecycleEvent =
  | { readonly type: 'ready'; readonly pid: Pid }
  | { readonly type: 'state'; readonly pid: Pid; readonly value: unknown }
  | { readonly type: 'exit'; readonly pid: Pid; readonly reason: unknown };

/** A process to address: its pid or its registered name. */
export type Target = Pid | string;

/** `register`'s outcome. */
export type RegisterResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'already_registered'; readonly holder: Pid }
  | { readonly ok: false; readonly reason: 'already_named'; readonly name: string }
  | { readonly ok: false; readonly reason: 'noproc' };

/**
 * The process kernel: pids, the name registry, links, monitors, exit signals and
 * request/reply. One kernel per application (OTP: one node). All timing goes through
 * `env.clock`, so the same code runs on the virtual clock in tests and simulation.
 *
 * @example
 * import { createKernel, createTestEnv, reply, stopProcess, type ReplyTo } from 'ordo';
 * import { setup } from 'xstate';
 *
 * const counterMachine = setup({ types: { events: {} as { type: 'get'; replyTo?: ReplyTo } | { type: 'ordo.stop' } } }).createMachine({
 *   initial: 'running',
 *   states: { running: { tags: ['ready'], on: { get: { actions: ({ event }) => reply(event.replyTo, 42) }, 'ordo.stop': 'done' } }, done: { type: 'final' } },
 * });
 * const kernel = createKernel(createTestEnv());
 * const started = await kernel.spawn(counterMachine, { name: 'counter' });
 * const r = await kernel.call<number>('counter', { type: 'get' });
 * if (r.ok) console.log(r.value); // 42
 * if (started.status === 'ok') await stopProcess(kernel, started.pid);
 */
export class Kernel {
  private nextPid = 0;
  private nextRef = 0;
  private readonly processes = new Map<number, Process>();
  private readonly names = new Map<string, Process>();
  private readonly monitorTargets = new Map<number, Process>();
  private readonly lifecycle = new Set<(event: LifecycleEvent) => void>();
  /** The listeners as they were at the last change (an emit calls those, even if one unsubscribes another). */
  private listeners: ((event: LifecycleEvent) => void)[] = [];

  readonly env: Env;
  readonly node: string;
  constructor(
    env: Env,
    node: string = 'ordo',
  ) {
    this.env = env;
    this.node = node;
  }

  /** @internal */
  _newPid(): Pid {
    return new Pid(++this.nextPid, this.node);
  }

  /**
   * Spawns `machine` as a process and resolves once it is ready (tag `ready`), ignored,
   * failed, or timed out. See docs/child-protocol.md.
   */
  spawn(machine: AnyStateMachine, options: SpawnMachineOptions = {}): Promise<StartResult> {
    const r = this._spawnNow(machine, options);
    return r instanceof Promise ? r : Promise.resolve(r);
  }

  /**
   * @internal `spawn`, returning the start result itself when the start settled while it ran
   * (a machine ready, ignored or failed at once), else a promise of it (the supervisor's
   * synchronous restart path; `spawn` wraps it for everyone else).
   */
  _spawnNow(machine: AnyStateMachine, options: SpawnMachineOptions = {}): StartResult | Promise<StartResult> {
    const bad = badSpawnOption(options);
    if (bad) return { status: 'error', error: bad };
    if (options.name !== undefined) {
      const holder = this.names.get(options.name);
      if (holder) return { status: 'already_started', pid: holder.pid };
    }
    const proc = new MachineProcess(this, this._newPid(), machine, options);
    this.processes.set(proc.pid.id, proc);
    if (options.name !== undefined) this.bindName(options.name, proc);
    if (options.link) this.linkProcs(proc, options.link);
    return proc.startNow();
  }

  /**
   * @internal Spawns a native mailbox process. `make` builds its behaviour given the process
   * (so the behaviour can `exit` it and read its pid). Returns the process synchronously.
   */
  spawnNative(make: (proc: NativeProcess) => NativeBehaviour, options: { link?: Pid | undefined; name?: string | undefined } = {}): NativeProcess | { status: 'already_started'; pid: Pid } {
    if (options.name !== undefined) {
      const holder = this.names.get(options.name);
      if (holder) return { status: 'already_started', pid: holder.pid };
    }
    const proc = new NativeProcess(this, this._newPid());
    this.processes.set(proc.pid.id, proc);
    proc.behaviour = make(proc);
    if (options.name !== undefined) this.bindName(options.name, proc);
    if (options.link) this.linkProcs(proc, options.link);
    return proc;
  }

  /** @internal */
  lookup(target: Target): Process | undefined {
    if (typeof target === 'string') return this.names.get(target);
    if (target instanceof Pid) {
      const p = this.processes.get(target.id);
      return p && p.pid === target ? p : undefined;
    }
    return undefined;
  }

  /**
   * Request/reply. Resolves with `{ ok: true, value }`, or `{ ok: false, error }` where the
   * error is `CallTimeoutError`, `NoProcError` or `CalleeExitError` (the callee's exit
   * reason). Never rejects. Default timeout 5000 ms (gen_server's); `Infinity` waits forever.
   */
  call<T = unknown>(target: Target, request: object, options?: { timeoutMs?: number }): Promise<CallResult<T>> {
    if (typeof request !== 'object' || request === null || typeof (request as { type?: unknown }).type !== 'string') {
      return Promise.resolve({ ok: false, error: new BadArgumentError('request', request, 'a call request must be an object with a type') });
    }
    const timeoutMs = options?.timeoutMs ?? 5000;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      return Promise.resolve({ ok: false, error: new BadArgumentError('timeoutMs', timeoutMs, 'timeoutMs must be a number ≥ 0 (or Infinity)') });
    }
    const proc = this.lookup(target);
    if (!proc || !proc.alive) return Promise.resolve({ ok: false, error: new NoProcError(target, request) });
    const replyTo = new ReplyTo(proc, request, target);
    if (this.env.scheduler === undefined) {
      // Delivered at once: a callee that answers (or dies) while it handles the request settles
      // the call before anything waits for it — no promise executor, no timer and no pending
      // entry for it (the timer would only ever be cleared). Only a call still open afterwards
      // is registered and timed, from the same instant (`call` returns before any time passes).
      proc.deliverCall(request, replyTo);
      if (replyTo.outcome !== undefined) return Promise.resolve(replyTo.outcome as CallResult<T>);
      if (!proc.alive) {
        replyTo.settled = true;
        return Promise.resolve({ ok: false, error: new CalleeExitError(target, request, proc.exitReason) });
      }
      return this.awaitReply<T>(proc, replyTo, timeoutMs);
    }
    const pending = this.awaitReply<T>(proc, replyTo, timeoutMs);
    this.via(proc, 'call', () => proc.deliverCall(request, replyTo));
    return pending;
  }

  /** Registers an open call with its callee (its exit settles it) and arms its timeout. */
  private awaitReply<T>(proc: Process, replyTo: ReplyTo, timeoutMs: number): Promise<CallResult<T>> {
    return new Promise<CallResult<T>>((resolve) => {
      replyTo.resolve = resolve as never;
      if (timeoutMs !== Infinity) {
        replyTo.timer = this.env.clock.setTimeout(() => {
          replyTo.timer = undefined;
          if (replyTo.settled) return;
          replyTo.settled = true;
          proc.pendingCalls.delete(replyTo);
          resolve({ ok: false, error: new CallTimeoutError(replyTo.target, replyTo.request, timeoutMs) });
        }, timeoutMs);
      }
      proc.pendingCalls.add(replyTo);
    });
  }

  /** Fire-and-forget; always succeeds, even if the target does not exist (OTP's cast). */
  cast(target: Target, message: unknown): void {
    const proc = this.lookup(target);
    if (!proc?.alive) return;
    if (this.env.scheduler === undefined) proc.deliverCast(message);
    else this.via(proc, 'cast', () => proc.deliverCast(message));
  }

  /** Sends a plain message (an event, for machines). Dropped if the target does not exist. */
  send(target: Target, message: unknown): void {
    const proc = this.lookup(target);
    if (!proc?.alive) return;
    if (this.env.scheduler === undefined) proc.deliverInfo(message);
    else this.via(proc, 'send', () => proc.deliverInfo(message));
  }

  /**
   * Sends an exit signal (`erlang:exit/2`). `'kill'` cannot be trapped: the target exits
   * `'killed'`. Otherwise a machine stops through the `ordo.stop` protocol (or at once if it
   * has no transition for it), and a native process receives the signal in its mailbox.
   */
  exit(target: Target, reason: unknown, from?: Pid): void {
    const proc = this.lookup(target);
    if (!proc?.alive) return;
    if (this.env.scheduler === undefined) proc.signal(from, reason, false);
    else this.via(proc, 'exit', () => proc.signal(from, reason, false));
  }

  /**
   * In simulation (the Env has a scheduler): delivers to `proc` at the point the scheduler picks —
   * a labelled decision point; deliveries to one process keep their order. Callers deliver
   * directly when there is no scheduler (no closure on the production path).
   */
  private via(proc: Process, label: string, deliver: () => void): void {
    this.env.scheduler!.deliver(proc.pid.id, `${label}:${proc.pid}`, () => {
      if (proc.alive) deliver();
    });
  }

  /** Links two processes. Linking to a dead process sends `noproc` to the other at once. */
  link(a: Pid, b: Pid): void {
    const pa = this.lookup(a);
    if (pa) this.linkProcs(pa, b);
  }

  private linkProcs(pa: Process, b: Pid): void {
    const pb = this.lookup(b);
    if (!pb || !pb.alive) {
      pa.signal(b, 'noproc', true);
      return;
    }
    pa.links.add(pb);
    pb.links.add(pa);
  }

  unlink(a: Pid, b: Pid): void {
    const pa = this.lookup(a);
    const pb = this.lookup(b);
    if (pa && pb) {
      pa.links.delete(pb);
      pb.links.delete(pa);
    }
  }

  /**
   * Monitors `target`: `onDown(reason)` runs once when it exits (`'noproc'`, asynchronously,
   * if it is already gone). Returns a ref for `demonitor`.
   */
  monitor(target: Target, onDown: (reason: unknown) => void): number {
    const ref = ++this.nextRef;
    const proc = this.lookup(target);
    if (!proc || !proc.alive) {
      queueMicrotask(() => this.isolated(() => onDown('noproc'), 'monitor callback'));
      return ref;
    }
    proc.monitors.set(ref, onDown);
    this.monitorTargets.set(ref, proc);
    return ref;
  }

  demonitor(ref: number): void {
    const proc = this.monitorTargets.get(ref);
    if (proc) {
      proc.monitors.delete(ref);
      this.monitorTargets.delete(ref);
    }
  }

  /** Registers `name` for `pid`. Taken → `{ ok: false, reason: 'already_registered', holder }`. */
  register(name: string, pid: Pid): RegisterResult {
    if (typeof name !== 'string' || name.length === 0) throw new BadArgumentError('name', name, 'a registered name must be a non-empty string');
    const holder = this.names.get(name);
    if (holder) return { ok: false, reason: 'already_registered', holder: holder.pid };
    const proc = this.lookup(pid);
    if (!proc || !proc.alive) return { ok: false, reason: 'noproc' };
    // OTP: a process has at most one registered name (register/2 → badarg otherwise).
    if (proc.name !== undefined) return { ok: false, reason: 'already_named', name: proc.name };
    this.bindName(name, proc);
    return { ok: true };
  }

  private bindName(name: string, proc: Process): void {
    if (proc.name !== undefined) this.names.delete(proc.name);
    proc.name = name;
    this.names.set(name, proc);
  }

  whereis(name: string): Pid | undefined {
    return this.names.get(name)?.pid;
  }

  unregister(name: string): boolean {
    const proc = this.names.get(name);
    if (!proc) return false;
    this.names.delete(name);
    proc.name = undefined;
    return true;
  }

  isAlive(target: Target): boolean {
    return this.lookup(target)?.alive ?? false;
  }

  processInfo(target: Target): ProcessInfo | undefined {
    const p = this.lookup(target);
    if (!p || !p.alive) return undefined;
    const info: ProcessInfo = { pid: p.pid, name: p.name, kind: p.kind, state: p.describe(), ready: p.isReady(), links: p.linkCount === 0 ? [] : [...p.links].map((l) => l.pid), trapExit: p.trapExit };
    if (p instanceof MachineProcess) {
      const c = p.condition();
      info.degraded = c.degraded;
      if (c.error !== undefined) info.error = c.error;
    }
    return info;
  }

  /**
   * Observes process lifecycle: `ready`, `state` (a machine's snapshot changed) and `exit`.
   * For live views (`ordo tree`) and traces; returns an unsubscribe function.
   */
  onLifecycle(listener: (event: LifecycleEvent) => void): () => void {
    this.lifecycle.add(listener);
    this.listeners = [...this.lifecycle];
    return () => {
      const had = this.lifecycle.delete(listener);
      if (had) this.listeners = [...this.lifecycle];
      return had;
    };
  }

  /** @internal True when someone observes lifecycle events (lets hot paths skip building them). */
  get _observed(): boolean {
    return this.lifecycle.size > 0;
  }

  /** @internal */
  _emit(event: LifecycleEvent): void {
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!(event);
      } catch (e) {
        this.env.logger.error({ err: formatReason(e) }, 'lifecycle listener threw');
      }
    }
  }

  /**
   * Runs an observer's callback (lifecycle listener, monitor) so that a throw is logged and
   * goes no further: it must not skip the other observers, nor the links and monitors of an
   * exit that is being delivered, nor surface in whichever process triggered the event.
   */
  private isolated(fn: () => void, what: string): void {
    try {
      fn();
    } catch (e) {
      this.env.logger.error({ err: formatReason(e) }, `${what} threw`);
    }
  }

  /** Number of live processes. */
  get processCount(): number {
    return this.processes.size;
  }

  /** @internal Called once by a process when it terminates. */
  _onExit(proc: Process, reason: unknown): void {
    this.processes.delete(proc.pid.id);
    if (this.lifecycle.size > 0) this._emit({ type: 'exit', pid: proc.pid, reason });
    if (proc.name !== undefined && this.names.get(proc.name) === proc) this.names.delete(proc.name);
    if (classifyExit(reason) === 'abnormal' && reason !== 'killed' && reason !== 'noproc' && reporting(this.env.logger, 'crash_report')) {
      report(this.env.logger, 'crash_report', { pid: String(proc.pid), name: proc.name, reason, state: safeDescribe(proc) });
    }
    if (proc.pendingCount > 0) {
      for (const pending of proc.pendingCalls.values()) {
        if (pending.settled) continue;
        pending.settled = true;
        if (pending.timer !== undefined) this.env.clock.clearTimeout(pending.timer);
        pending.resolve!({ ok: false, error: new CalleeExitError(pending.target, pending.request, reason) });
      }
      proc.pendingCalls.clear();
    }
    // The collections themselves are taken from the process (not copied, then cleared): it is
    // gone from `processes`, so nothing can link or monitor it through the kernel meanwhile.
    const linked = proc.linkCount > 0 ? proc._takeLinks() : undefined;
    if (linked !== undefined) {
      for (const other of linked) {
        other.links.delete(proc);
        if (this.env.scheduler === undefined) other.signal(proc.pid, reason, true);
        else this.via(other, 'exit_signal', () => other.signal(proc.pid, reason, true));
      }
    }
    const monitors = proc.monitorCount > 0 ? proc._takeMonitors() : undefined;
    if (monitors !== undefined) {
      for (const [ref, onDown] of monitors) {
        this.monitorTargets.delete(ref);
        try {
          onDown(reason);
        } catch (e) {
          this.env.logger.error({ err: formatReason(e) }, 'monitor callback threw');
        }
      }
    }
  }
}

/** A typed error for the first invalid spawn option, if any (checked before anything is spawned). */
function badSpawnOption(o: SpawnMachineOptions): BadArgumentError | undefined {
  if (o.name !== undefined && (typeof o.name !== 'string' || o.name.length === 0)) return new BadArgumentError('name', o.name, 'a registered name must be a non-empty string');
  const t = o.startTimeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !(t > 0))) return new BadArgumentError('startTimeoutMs', t, 'startTimeoutMs must be a number > 0 (or Infinity)');
  if (o.link !== undefined && !(o.link instanceof Pid)) return new BadArgumentError('link', o.link, 'link must be a pid');
  return undefined;
}

function safeDescribe(proc: Process): unknown {
  try {
    return proc.describe();
  } catch {
    return undefined;
  }
}

/** Creates a kernel on `env`. */
export function createKernel(env: Env, options: { node?: string } = {}): Kernel {
  return new Kernel(env, options.node);
}
