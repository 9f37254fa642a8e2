import type { Pid } from './pid.ts';
import type { Kernel } from './kernel.ts';

/** What `processInfo` tells about a live process. */
export interface ProcessInfo {
  pid: Pid;
  name: string | undefined;
  kind: 'machine' | 'native';
  /** For machines: the xstate snapshot's `value`; for native processes: what they describe. */
  state: unknown;
  ready: boolean;
  links: Pid[];
  trapExit: boolean;
  /** Machines: the current state is tagged `degraded` (up, but not well). */
  degraded?: boolean;
  /** Machines: `context.error`, when the machine keeps one (why it is degraded). */
  error?: unknown;
}

/**
 * @internal The kernel's view of a process. Two kinds exist: `MachineProcess` (an xstate
 * actor) and `NativeProcess` (a mailbox behaviour — supervisors are these).
 */
export abstract class Process {
  alive = true;
  exitReason: unknown = undefined;
  name: string | undefined = undefined;
  // Created on first use: most processes never get a monitor or a call, and a process that is
  // spawned and stopped without links should not pay for three empty collections.
  private _links: Set<Process> | undefined = undefined;
  private _monitors: Map<number, (reason: unknown) => void> | undefined = undefined;
  private _pendingCalls: Set<ReplyTo> | undefined = undefined;

  /** The processes linked to this one. */
  get links(): Set<Process> {
    return (this._links ??= new Set());
  }
  /** Monitors of this process: ref → what runs when it exits. */
  get monitors(): Map<number, (reason: unknown) => void> {
    return (this._monitors ??= new Map());
  }
  /** Calls waiting for this process's reply. */
  get pendingCalls(): Set<ReplyTo> {
    return (this._pendingCalls ??= new Set());
  }
  /** @internal How many links, monitors and pending calls there are (without creating the collections). */
  get linkCount(): number {
    return this._links === undefined ? 0 : this._links.size;
  }
  /** @internal */
  get monitorCount(): number {
    return this._monitors === undefined ? 0 : this._monitors.size;
  }
  /**
   * @internal The links, handed over and dropped (the exit's delivery walks them): no copy of
   * the set, and a link made to this process from now on finds a new one.
   */
  _takeLinks(): Set<Process> | undefined {
    const links = this._links;
    this._links = undefined;
    return links;
  }
  /** @internal The monitors, handed over and dropped, as `_takeLinks`. */
  _takeMonitors(): Map<number, (reason: unknown) => void> | undefined {
    const monitors = this._monitors;
    this._monitors = undefined;
    return monitors;
  }
  /** @internal */
  get pendingCount(): number {
    return this._pendingCalls === undefined ? 0 : this._pendingCalls.size;
  }

  readonly kernel: Kernel;
  readonly pid: Pid;
  trapExit: boolean;
  constructor(
    kernel: Kernel,
    pid: Pid,
    trapExit: boolean,
  ) {
    this.kernel = kernel;
    this.pid = pid;
    this.trapExit = trapExit;
  }

  abstract readonly kind: 'machine' | 'native';
  /** An exit signal from `from` (undefined: from outside any process). `linked`: it came through a link. */
  abstract signal(from: Pid | undefined, reason: unknown, linked: boolean): void;
  abstract deliverCall(request: object, replyTo: ReplyTo): void;
  abstract deliverCast(message: unknown): void;
  abstract deliverInfo(message: unknown): void;
  abstract describe(): unknown;
  abstract isReady(): boolean;

  /** Subclasses call this exactly once, when the process has terminated. */
  protected terminated(reason: unknown): void {
    if (!this.alive) return;
    this.alive = false;
    this.exitReason = reason;
    this.kernel._onExit(this, reason);
  }
}

/**
 * The reply address handed to a machine with every `call`. Reply with
 * {@link reply}`(event.replyTo, value)` from an action. Replying twice, or after the caller
 * timed out, does nothing.
 */
export class ReplyTo {
  /** @internal The timeout armed for an open call (none for one answered while it was delivered). */
  timer: unknown = undefined;
  /** @internal Answered, timed out, or its callee exited: nothing more happens to it. */
  settled = false;
  /** @internal The outcome of a call settled while it was being delivered (nothing awaits it yet). */
  outcome: { ok: true; value: unknown } | undefined = undefined;
  /** @internal Set once the caller awaits the reply (the call was still open after its delivery). */
  resolve: ((outcome: { ok: true; value: unknown } | { ok: false; error: unknown }) => void) | undefined = undefined;
  private readonly callee: Process;
  /** @internal */
  readonly request: unknown;
  /** @internal */
  readonly target: Pid | string;
  /** @internal */
  constructor(callee: Process, request: unknown, target: Pid | string) {
    this.callee = callee;
    this.request = request;
    this.target = target;
  }
  reply(value: unknown): void {
    // One object is both the pending call and its reply address: no id map on the hot path.
    if (this.settled) return;
    this.settled = true;
    const resolve = this.resolve;
    if (resolve === undefined) {
      this.outcome = { ok: true, value };
      return;
    }
    this.callee.pendingCalls.delete(this);
    if (this.timer !== undefined) this.callee.kernel.env.clock.clearTimeout(this.timer);
    resolve({ ok: true, value });
  }
}

/**
 * Answers a `call` from inside a machine action.
 *
 * @example
 * import { reply, type ReplyTo } from 'ordo';
 * import { setup } from 'xstate';
 *
 * setup({ types: { context: {} as { count: number }, events: {} as { type: 'get.count'; replyTo?: ReplyTo } } }).createMachine({
 *   context: { count: 0 },
 *   on: { 'get.count': { actions: ({ context, event }) => reply(event.replyTo, context.count) } },
 * });
 */
export function reply(replyTo: ReplyTo | undefined, value: unknown): void {
  replyTo?.reply(value);
}
