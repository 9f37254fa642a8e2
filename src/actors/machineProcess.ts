import { createActor, createMachine, type AnyActorRef, type AnyStateMachine, type Subscription } from 'xstate';
import { Process, type ReplyTo } from './process.ts';
import type { Pid } from './pid.ts';
import type { Kernel } from './kernel.ts';
import { StartExitError, StartTimeoutError } from './errors.ts';
import { formatReason } from './exitReason.ts';
import { useEnvScheduler } from './envScheduler.ts';
import { LAZY_EXIT, StartExitResult, type StartResult } from './startResult.ts';
import { faults } from '../env/faults.ts';
import { __chaosBugs } from '../env/testBugs.ts';

/** Options for spawning a machine as a process. */
export interface SpawnMachineOptions {
  input?: unknown | undefined;
  /** The input as a function of the new process's own pid (evaluated once, before the actor starts); wins over `input`. */
  inputFor?: ((self: Pid) => unknown) | undefined;
  /** Register the process under this name; a taken name → `{ status: 'already_started', pid }`. */
  name?: string | undefined;
  /** Link the new process to this one (a supervisor links its children). */
  link?: Pid | undefined;
  /** Deliver exit signals from linked processes as `{ type: 'ordo.exit', from, reason }` events. */
  trapExit?: boolean | undefined;
  /** Not ready within this many ms → killed, start fails with `StartTimeoutError`. Default 5000. */
  startTimeoutMs?: number | undefined;
  /** Read the provided service from the ready snapshot. Default: `snapshot.context.service`. */
  selectService?: ((snapshot: ReturnType<AnyActorRef['getSnapshot']>) => unknown) | undefined;
}

interface MachineSnapshot {
  status: 'active' | 'done' | 'error' | 'stopped';
  value: unknown;
  output?: unknown;
  context?: unknown;
  hasTag(tag: string): boolean;
  can(event: { type: string }): boolean;
}

const STOP = 'ordo.stop';

/** @internal An xstate actor adapted to the child protocol (docs/child-protocol.md). */
export class MachineProcess extends Process {
  readonly kind = 'machine' as const;
  private actor!: AnyActorRef;
  private sub: Subscription | undefined;
  /** The actor's own observer set, when this process is in it (see `begin`). */
  private observers: Set<unknown> | undefined = undefined;
  private ready = false;
  private stopReason: unknown = undefined;
  private startTimer: unknown = undefined;
  /** The start has not settled yet (the spawner waits for ready, ignore, a failure or the timeout). */
  private startOpen = false;
  /** A start that settled while `start()` ran (nothing awaited it yet): handed back resolved, no executor. */
  private startOutcome: StartResult | undefined = undefined;
  private resolveStart: ((r: StartResult) => void) | undefined = undefined;
  /** Fault-injected delays (simulation only): before readiness counts (undefined: not drawn yet), before a stop is delivered. */
  private readyDelayDone: boolean | undefined = undefined;
  private readyDelayTimer: unknown = undefined;
  private stopTimer: unknown = undefined;
  service: unknown = undefined;

  private readonly machine: AnyStateMachine;
  private readonly options: SpawnMachineOptions;
  constructor(
    kernel: Kernel,
    pid: Pid,
    machine: AnyStateMachine,
    options: SpawnMachineOptions,
  ) {
    super(kernel, pid, options.trapExit ?? false);
    this.machine = machine;
    this.options = options;
  }

  /** Starts the actor; resolves when it is ready, ignored, failed, or timed out. */
  start(): Promise<StartResult> {
    const r = this.startNow();
    return r instanceof Promise ? r : Promise.resolve(r);
  }

  /**
   * Starts the actor: the outcome itself when the start settled while it ran (ready, ignored or
   * failed at once — no promise made), else a promise of it. A supervisor restarting a child
   * that is ready at once carries on in the same turn.
   */
  startNow(): StartResult | Promise<StartResult> {
    // Already gone (e.g. spawned linked to a dead parent: the `noproc` exit signal ended it).
    if (!this.alive) return { status: 'error', error: new StartExitError(this.pid, this.exitReason) };
    this.startOpen = true;
    this.begin();
    if (!this.startOpen) {
      const r = this.startOutcome!;
      this.startOutcome = undefined;
      return r;
    }
    return new Promise<StartResult>((resolve) => (this.resolveStart = resolve));
  }

  /**
   * Hands the start's outcome to the spawner: resolves its promise, or keeps the outcome for
   * `start()` to return resolved. Called once, by whoever cleared `startOpen`.
   */
  private deliverStart(r: StartResult): void {
    const resolve = this.resolveStart;
    this.resolveStart = undefined;
    if (resolve) resolve(r);
    else this.startOutcome = r;
  }

  private begin(): void {
    const { env } = this.kernel;
    if (faults.point('actor.start.fail', this.options.name)) {
      this.exit({ fault: 'actor.start.fail', process: this.options.name ?? String(this.pid) });
      return;
    }
    try {
      // Only the options that are needed: xstate merges them into its defaults by object
      // spread, and each key beyond its defaults (an `id`, an `input` of undefined) costs
      // microseconds per actor on Node 20 (spawn+stop went from ~2.0× to ~1.7× raw xstate).
      // The actor's id is xstate's own session id.
      const input = this.options.inputFor ? this.options.inputFor(this.pid) : this.options.input;
      const logger = machineLogger(env, this.pid);
      this.actor = createActor(withFinalOutput(this.machine), input === undefined ? { clock: env.clock as never, logger } : { clock: env.clock as never, logger, input });
      useEnvScheduler(this.actor, env.clock);
      // The process is its own observer (`next`, `error`), added to the actor's observer set
      // as it is: `subscribe` would wrap it in a new object with three bound functions and an
      // unsubscribe closure per spawn. Another xstate (no such set) is subscribed to.
      const observers = (this.actor as unknown as { observers?: unknown }).observers;
      if (observers instanceof Set) (this.observers = observers as Set<unknown>).add(this);
      else this.sub = this.actor.subscribe(this);
      this.actor.start();
    } catch (e) {
      this.exit(e);
      return;
    }
    if (!this.alive) return;
    this.onSnapshot(this.actor.getSnapshot() as MachineSnapshot);
    if (!this.alive || this.ready) return;
    if (__chaosBugs.earlyReady) {
      // Test-only defect: counted as started before the machine is ready.
      this.ready = true;
      this.startOpen = false;
      this.deliverStart({ status: 'ok', pid: this.pid, info: undefined });
      return;
    }
    const ms = this.options.startTimeoutMs ?? 5000;
    if (ms !== Infinity) this.startTimer = env.clock.setTimeout(() => this.startTimedOut(ms), ms);
  }

  private startTimedOut(ms: number): void {
    this.startTimer = undefined;
    if (this.ready || !this.alive) return;
    const open = this.startOpen;
    this.startOpen = false; // the kill below is this failed start, not another
    const stuckOn = this.condition().error;
    this.forceStop('killed');
    if (open) this.deliverStart({ status: 'error', error: new StartTimeoutError(this.pid, ms, stuckOn) });
  }

  /** @internal The actor's observer: every snapshot. */
  next(s: unknown): void {
    this.onSnapshot(s as MachineSnapshot);
  }

  /**
   * @internal The actor's observer: it crashed (a thrown action, a failed invoke). A getter:
   * xstate reads it only when the actor fails, and calls it detached (no `this`).
   */
  get error(): (e: unknown) => void {
    return (e) => this.exit(e);
  }

  private onSnapshot(s: MachineSnapshot): void {
    if (!this.alive) return;
    if (s.status === 'error') return; // delivered through the error observer
    if (s.status === 'active' && this.kernel._observed) this.kernel._emit({ type: 'state', pid: this.pid, value: s.value });
    if (!this.ready && s.status === 'active' && s.hasTag('ready')) {
      if (this.readyDelayDone === undefined) {
        const ms = faults.delayMs('actor.start.slow', this.options.name);
        this.readyDelayDone = ms <= 0;
        if (ms > 0) {
          this.readyDelayTimer = this.kernel.env.clock.setTimeout(() => {
            this.readyDelayTimer = undefined;
            this.readyDelayDone = true;
            if (this.alive) this.onSnapshot(this.actor.getSnapshot() as MachineSnapshot);
          }, ms);
        }
      }
      if (!this.readyDelayDone) return;
      try {
        this.service = this.options.selectService ? this.options.selectService(s as never) : (s.context as { service?: unknown } | undefined)?.service;
      } catch (e) {
        this.forceStop(e); // not ready yet: a failed start
        return;
      }
      this.ready = true;
      if (this.startTimer !== undefined) this.kernel.env.clock.clearTimeout(this.startTimer);
      const open = this.startOpen;
      this.startOpen = false;
      if (this.kernel._observed) this.kernel._emit({ type: 'ready', pid: this.pid });
      if (open) this.deliverStart({ status: 'ok', pid: this.pid, info: this.service });
      return;
    }
    if (s.status === 'done') this.exit(this.reasonFromOutput(s.output));
  }

  private reasonFromOutput(output: unknown): unknown {
    const o = output as { reason?: unknown; ignore?: unknown } | undefined;
    if (o && typeof o === 'object' && o.ignore === true && !this.ready) return IGNORE;
    if (o && typeof o === 'object' && 'reason' in o && o.reason !== undefined) return o.reason;
    return this.stopReason ?? 'normal';
  }

  /** Ends the process with `reason`. Idempotent. */
  private exit(reason: unknown): void {
    if (!this.alive) return;
    if (this.startTimer !== undefined) this.kernel.env.clock.clearTimeout(this.startTimer);
    if (this.readyDelayTimer !== undefined) this.kernel.env.clock.clearTimeout(this.readyDelayTimer);
    if (this.stopTimer !== undefined) this.kernel.env.clock.clearTimeout(this.stopTimer);
    this.sub?.unsubscribe();
    this.observers?.delete(this);
    const snapshot = this.actor?.getSnapshot() as (MachineSnapshot & { children?: Record<string, AnyActorRef | undefined> }) | undefined;
    if (snapshot?.status === 'active') this.actor.stop();
    else if (snapshot?.status === 'error')
      stopOrphans(snapshot.children, (child, err) => this.kernel.env.logger.warn({ err, pid: String(this.pid), child }, "a crashed machine's child failed to stop"));
    const open = this.startOpen;
    this.startOpen = false;
    const final = reason === IGNORE ? 'normal' : reason;
    // A process that ends before it was ready is a failed start: the spawner learns it from
    // the start result, and (OTP ≥ 26) linked processes get no exit signal from it.
    if (!this.ready) this.dropLinks();
    this.terminated(final);
    if (open) {
      if (reason === IGNORE) this.deliverStart({ status: 'ignore' });
      else this.deliverStart((this.options as { [LAZY_EXIT]?: boolean })[LAZY_EXIT] === true ? new StartExitResult(this.pid, reason) : { status: 'error', error: new StartExitError(this.pid, reason) });
    }
  }

  private dropLinks(): void {
    if (this.linkCount === 0) return;
    for (const other of this.links) other.links.delete(this);
    this.links.clear();
  }

  private forceStop(reason: unknown): void {
    this.exit(reason);
  }

  signal(from: Pid | undefined, reason: unknown, linked: boolean): void {
    if (!this.alive) return;
    // Only an exit *signal* 'kill' (kernel.exit) is untrappable. A linked process that ended
    // with reason 'kill' sends an ordinary, trappable signal with that reason (as in OTP).
    if (reason === 'kill' && !linked) return this.forceStop('killed');
    if (linked) {
      if (this.trapExit) return this.send({ type: 'ordo.exit', from, reason });
      if (reason === 'normal') return;
      return this.forceStop(reason);
    }
    if (reason === 'normal' && from !== this.pid) return;
    this.stopReason = reason;
    let canStop = false;
    try {
      canStop = takesStop(this.actor.getSnapshot() as MachineSnapshot);
    } catch {
      canStop = false;
    }
    if (!canStop) return this.forceStop(reason);
    const slow = faults.delayMs('actor.stop.slow', this.options.name);
    if (slow <= 0) return this.send({ type: STOP, reason });
    this.stopTimer = this.kernel.env.clock.setTimeout(() => {
      this.stopTimer = undefined;
      if (this.alive) this.send({ type: STOP, reason });
    }, slow);
  }


  private send(event: { type: string; [k: string]: unknown }): void {
    // A throwing action turns the actor's status to 'error'; the error observer ends the process.
    this.actor.send(event);
  }

  deliverCall(request: object, replyTo: ReplyTo): void {
    // An explicit copy, not `{ ...request, replyTo }`: on Node 20 that spread takes a slow
    // path (~600 ns against ~15 ns), a third of a call's overhead over a raw `actor.send`.
    const event: { type: string; [k: string]: unknown } = { type: (request as { type: string }).type, replyTo };
    for (const k in request) if (k !== 'type' && k !== 'replyTo') event[k] = (request as Record<string, unknown>)[k];
    this.send(event);
  }
  deliverCast(message: unknown): void {
    this.deliverEvent(message);
  }
  deliverInfo(message: unknown): void {
    this.deliverEvent(message);
  }

  /**
   * A machine only takes events (objects with a string `type`). Anything else is dropped and
   * logged — like a gen_server's unexpected message — rather than thrown back at the sender
   * (cast never fails) or fed to xstate (which would crash the machine with a TypeError).
   */
  private deliverEvent(message: unknown): void {
    if (isEvent(message)) return this.send(message);
    this.kernel.env.logger.warn({ pid: String(this.pid), message: formatReason(message) }, 'dropped a message that is not an event');
  }
  describe(): unknown {
    return this.actor?.getSnapshot()?.value;
  }
  /** Whether the current state is tagged `degraded`, and the machine's `context.error` (what health shows). */
  condition(): { degraded: boolean; error: unknown } {
    const s = this.actor?.getSnapshot() as MachineSnapshot | undefined;
    if (!s || s.status !== 'active') return { degraded: false, error: undefined };
    return { degraded: s.hasTag('degraded'), error: (s.context as { error?: unknown } | undefined)?.error };
  }
  isReady(): boolean {
    return this.ready;
  }
  /** The live xstate actor (for inspection and tests). */
  get ref(): AnyActorRef {
    return this.actor;
  }
}

const IGNORE = Symbol('ignore');

/** The part of an xstate state node read to answer `can(ordo.stop)` without evaluating it. */
interface StateNodeShape {
  readonly states?: Record<string, StateNodeShape | undefined>;
  readonly transitions?: unknown;
}

/**
 * Whether `ordo.stop` is taken from a top-level state node when that is fixed by the machine
 * alone, `null` when a guard or a wildcard event descriptor decides it (xstate is asked).
 */
const stopTaken = new WeakMap<StateNodeShape, boolean | null>();

/**
 * xstate's `snapshot.can({ type: 'ordo.stop' })` — whether the machine takes the stop event —
 * read once per top-level state from its transitions when no guard or wildcard is involved
 * (every machine of a tree is asked when the tree stops, and xstate resolves the transition
 * each time). The same answer as `can`: in a top-level (string-valued) state, the state node's
 * own transitions for the event are tried first, then the root's; the first candidate is taken
 * when it has no guard, and `can` is true when it has a target or actions. Anything else
 * (nested or parallel states, guards, wildcards, another xstate's nodes) is asked of `can`.
 */
/** @internal Exported for its property test (test/actors/takesStop.test.ts). */
export function takesStop(s: MachineSnapshot): boolean {
  const root = (s as { machine?: { root?: StateNodeShape } }).machine?.root;
  const leaf = typeof s.value === 'string' ? root?.states?.[s.value] : undefined;
  if (root !== undefined && leaf !== undefined) {
    let known = stopTaken.get(leaf);
    if (known === undefined) stopTaken.set(leaf, (known = fixedStop(leaf, root)));
    if (known !== null) return known;
  }
  return s.can({ type: STOP });
}

interface TransitionShape {
  readonly guard?: unknown;
  readonly target?: unknown;
  readonly actions?: readonly unknown[];
}

/** `can(ordo.stop)` in the top-level state `leaf`, read off its transitions and then the root's; `null` when a guard or a wildcard decides it. */
function fixedStop(leaf: StateNodeShape, root: StateNodeShape): boolean | null {
  for (const node of [leaf, root]) {
    const transitions = node.transitions;
    if (!(transitions instanceof Map)) return null;
    for (const key of transitions.keys()) if (typeof key !== 'string' || key.includes('*')) return null;
    const list = transitions.get(STOP) as readonly TransitionShape[] | undefined;
    if (list === undefined || list.length === 0) continue; // none here: the next node up
    const first = list[0]!;
    if (first.guard !== undefined) return null;
    return first.target !== undefined || (first.actions?.length ?? 0) > 0;
  }
  return false;
}

/** xstate's logger for one machine (its `log` actions), as an `info` record naming the pid. */
function machineLogger(env: Kernel['env'], pid: Pid): (...args: unknown[]) => void {
  return (...args) => env.logger.info({ pid: String(pid), args }, 'machine log');
}

/**
 * Stops the invoked and spawned actors of a machine that crashed. xstate v5 stops an errored
 * actor but not its children (a TODO in its `Actor._stopProcedure`: "orphaned active actors"),
 * so their cleanup never ran: a callback actor's timers stayed armed and a promise actor was
 * never aborted. A process's resources go when it dies, as in OTP.
 */
function stopOrphans(children: Record<string, AnyActorRef | undefined> | undefined, failed: (child: string, err: unknown) => void): void {
  if (children === undefined) return;
  for (const key in children) {
    const child = children[key];
    if (child === undefined || child.getSnapshot().status !== 'active') continue;
    try {
      // `_stop` is what xstate's own `stopChild` action calls: a child cannot be stopped with
      // the public `stop()` (it throws for a non-root actor). It enqueues `xstate.stop`, which
      // runs a callback actor's cleanup, aborts a promise actor and stops a machine's children.
      (child as unknown as { _stop(): void })._stop();
    } catch (err) {
      // a child's cleanup that throws must not keep the others running, nor the exit from being
      // delivered: reported, and the next child stopped
      failed(key, err);
    }
  }
}

/** An xstate event: an object with a string `type`. */
function isEvent(x: unknown): x is { type: string; [k: string]: unknown } {
  return typeof x === 'object' && x !== null && typeof (x as { type?: unknown }).type === 'string';
}

const outputting = new WeakMap<AnyStateMachine, AnyStateMachine>();

/**
 * The machine whose done output is its top-level final state's `output` (the child protocol
 * reads `reason` / `ignore` from there). xstate v5 makes a machine's output only from the
 * *root* `output` config — a final state's own `output` is dropped unless the root forwards
 * it — so a machine without a root `output` gets one that forwards the final state's output.
 * A machine that defines its own root `output` is used as is.
 */
function withFinalOutput(machine: AnyStateMachine): AnyStateMachine {
  if (machine.root.output !== undefined) return machine;
  let wrapped = outputting.get(machine);
  if (!wrapped) {
    wrapped = createMachine({ ...(machine.config as object), output: ({ event }: { event: { output?: unknown } }) => event.output } as never, machine.implementations as never) as AnyStateMachine;
    outputting.set(machine, wrapped);
  }
  return wrapped;
}
