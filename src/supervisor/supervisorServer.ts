import type { Kernel, NativeBehaviour, NativeMessage, NativeProcess, Pid, ReplyTo, StartResult } from '../actors/index.ts';
import { StartExitError, formatReason, isPid, report, reporting } from '../actors/index.ts';
import { RestartWindow } from './restartIntensity.ts';
import { decideRestart } from './decideRestart.ts';
import { shouldAutoShutdown } from './autoShutdown.ts';
import { shutdownChild } from './shutdownChild.ts';
import { attempt, giveUp, resumeParked, RESUME, START_RETRY, type Outcome } from './parking.ts';
import { newRecord, type ChildRecord } from './childRecord.ts';
import { validateChildSpec } from './validate.ts';
import { FailedToStartChildError, MissingDependencyError } from './errors.ts';
import type { NormalizedChildSpec, NormalizedFlags } from './types.ts';
import { ChildServices, type ServiceDirectory, type ServiceState } from './childServices.ts';
import { spawnChild } from './spawnChild.ts';
import { DELAYED, RETRY, restart, scheduleRestart } from './restarting.ts';
import type { AdminRequest } from './adminProtocol.ts';
import { handleAdmin } from './admin.ts';
import { describeChildren, phaseOf } from './describe.ts';

const INIT = Symbol('init');
/** `initStep`: on to the next child. */
const NEXT = Symbol('next');
/** A promise's value dropped (a wait that resolves with nothing). */
const NOTHING = (): void => undefined;

/**
 * @internal The supervisor process (OTP's `supervisor` gen_server). All state lives in two
 * places: `children` (static, start order) or `dynamic` (simple_one_for_one), and `restarts`
 * (the intensity window). Every change happens inside `handle`, one message at a time.
 */
export class SupervisorServer implements NativeBehaviour {
  /** Static children in start order. */
  readonly children: ChildRecord[] = [];
  /** Dynamic children by record key, in start order. */
  readonly dynamic = new Map<number, ChildRecord>();
  private readonly byPid = new Map<number, ChildRecord>();
  /** What the ready children provide, and who waits for it. */
  /** @internal */
  readonly services: ChildServices;
  /** The pid a record had before it stopped: a restarting dynamic child is addressed by it (OTP `{restarting, OldPid}`). Made at a dynamic child's first stop. */
  private formerPid: WeakMap<ChildRecord, Pid> | undefined = undefined;
  /** @internal The restart intensity window (charged by `restart`). */
  restarts: RestartWindow;
  /** An orderly stop (an exit signal from the parent) has arrived: start nothing more. */
  /** @internal */
  stopRequested = false;
  /** Start attempts under way (their processes are linked to us but not yet recorded). */
  /** @internal */
  inflight = 0;
  /** A provider became ready: parked children get their turn when the current message is done. */
  private resumeDue = false;
  private nextKey = 0;
  /** Resolves the start result of a caller still waiting for `init` (made only when `begin` had to wait). */
  private settleInit: ((r: StartResult) => void) | undefined = undefined;
  /** `init` has settled (an exit afterwards needs no start result — nor an error built for one). */
  private initSettled = false;
  /** The start result once settled (kept for `begin` when it settled while `begin` ran). */
  private initResult: StartResult | undefined = undefined;

  readonly proc: NativeProcess;
  readonly kernel: Kernel;
  readonly flags: NormalizedFlags;
  readonly specs: NormalizedChildSpec[];
  readonly parent: Pid | undefined;
  readonly label: string;
  /**
   * Called whenever a child changes phase (started, waiting, parked, exited): live views,
   * readiness. Not given (a nested supervisor started by hand with `startSupervisor`), the
   * linked parent's when it is an Ordo supervisor: an application hears every change below it.
   */
  readonly onChange: (() => void) | undefined;
  constructor(
    proc: NativeProcess,
    kernel: Kernel,
    flags: NormalizedFlags,
    specs: NormalizedChildSpec[],
    parent: Pid | undefined,
    label: string,
    parentServices: ServiceDirectory | undefined,
    onChange: (() => void) | undefined = undefined,
  ) {
    this.proc = proc;
    this.kernel = kernel;
    this.flags = flags;
    this.specs = specs;
    this.parent = parent;
    this.label = label;
    this.services = new ChildServices(this.children, parentServices);
    this.directory = this.services.directory;
    this.onChange = onChange ?? parentChanges(kernel, parent);
    this.restarts = new RestartWindow(flags);
  }

  /**
   * Queues `init` as the first message (after the kernel has installed this behaviour). The
   * start result itself when `init` settled while it ran (every child settled at once: ready,
   * ignored, failed, waiting or parked), else a promise of it.
   */
  begin(): StartResult | Promise<StartResult> {
    this.proc.enqueue({ kind: 'info', message: INIT });
    if (this.initSettled) return this.initResult!;
    return new Promise((r) => (this.settleInit = r));
  }

  get self(): Pid {
    return this.proc.pid;
  }
  get isDynamic(): boolean {
    return this.flags.strategy === 'simple_one_for_one';
  }
  get template(): NormalizedChildSpec {
    return this.specs[0]!;
  }

  /**
   * One message. An exit signal whose handling finishes in this turn — a child restarted that
   * is ready at once, a child not restarted — is handled synchronously (no promise); anything
   * that waits returns its promise, and the mailbox waits for it before the next message.
   */
  handle(m: NativeMessage): void | Promise<void> {
    let pending: void | Promise<unknown>;
    switch (m.kind) {
      case 'info':
        pending = this.handleInfo(m.message);
        break;
      case 'call':
        pending = this.handleCall(m.request as AdminRequest, m.replyTo);
        break;
      case 'exit':
        pending = this.handleExitSignal(m.from, m.reason, m.linked);
        break;
      case 'cast':
        return;
    }
    if (pending !== undefined) return pending.then(() => (this.resumeDue ? this.resumeAll() : undefined));
    if (this.resumeDue) return this.resumeAll();
  }

  /**
   * Parked children get their turn once the current message is done (a provider became ready):
   * in this turn while each start settles at once, else from the start that waits.
   */
  private resumeAll(): void | Promise<void> {
    while (this.resumeDue && this.proc.alive && !this.stopRequested) {
      this.resumeDue = false;
      const pending = resumeParked(this);
      if (pending !== undefined) return pending.then(() => this.resumeAll());
    }
  }

  /**
   * An exit signal from the parent (an orderly stop) cuts short a child start in progress: the
   * starting child is asked to stop at once instead of the stop waiting behind its start
   * (OTP's supervisor would finish `init` first). What has started is then stopped in reverse
   * order when the signal is handled.
   */
  signalled(from: Pid | undefined, _reason: unknown, linked: boolean): void {
    if (!this.isFromParent(from, linked)) return;
    this.stopRequested = true;
    if (this.inflight === 0) return;
    const links = this.kernel.processInfo(this.self)?.links ?? [];
    for (const pid of links) {
      if (this.byPid.get(pid.id)?.pid === pid) continue;
      if (this.parent && pid.id === this.parent.id && pid.node === this.parent.node) continue;
      this.kernel.exit(pid, 'shutdown', this.self);
    }
  }

  private isFromParent(from: Pid | undefined, linked: boolean): boolean {
    return from === undefined ? !linked : this.parent !== undefined && from.id === this.parent.id && from.node === this.parent.node;
  }

  /** An info message: `init`, a resume, a retry or restart timer's message — done in this turn unless a start waits. */
  private handleInfo(message: unknown): void | Promise<unknown> {
    if (message === INIT) return this.init();
    if (message === RESUME) {
      this.resumeDue = true;
      return;
    }
    const msg = (typeof message === 'object' && message !== null ? message : {}) as { tag?: symbol; record?: ChildRecord };
    if (msg.tag === START_RETRY) {
      const rec = msg.record!;
      rec.timer = undefined;
      if (!rec.waiting || !this.owns(rec) || this.stopRequested) return;
      rec.waiting = false;
      rec.restarting = false;
      const o = attempt(this, rec);
      if (o instanceof Promise) return o.then((out) => (typeof out === 'object' ? giveUp(this, rec, out.failed) : undefined));
      if (typeof o === 'object') return giveUp(this, rec, o.failed);
      return;
    }
    if (msg.tag === RETRY || msg.tag === DELAYED) {
      const rec = msg.record!;
      if (msg.tag === DELAYED) rec.timer = undefined;
      if (!rec.restarting || !this.owns(rec)) return; // terminated or deleted meanwhile
      return restart(this, rec);
    }
    // OTP: "Supervisor received unexpected message" — logged, and the supervisor carries on.
    this.kernel.env.logger.error({ supervisor: this.label, message: formatReason(message) }, 'supervisor received unexpected message');
  }

  private async handleCall(request: AdminRequest, replyTo: ReplyTo): Promise<void> {
    replyTo.reply(await handleAdmin(this, request));
  }

  // ---- init -------------------------------------------------------------------------------

  /**
   * OTP's `init`: every static child started in order. Done in this turn while each start
   * settles at once (a machine ready, ignored or failed while it was spawned); from the first
   * start that waits, the rest follows when it settles.
   */
  private init(): void | Promise<void> {
    if (this.isDynamic) {
      this.proc.ready = true;
      this.initDone({ status: 'ok', pid: this.self });
      return;
    }
    // Every static child is known from the start (health shows the ones not started yet).
    const now = this.kernel.env.clock.now();
    for (const spec of this.specs) {
      const rec = newRecord(this.nextKey++, spec);
      rec.since = now;
      this.children.push(rec);
    }
    return this.initFrom(this.children.slice(), 0);
  }

  /** `init` from `recs[i]` on. */
  private initFrom(recs: readonly ChildRecord[], i: number): void | Promise<void> {
    for (; i < recs.length; i++) {
      const rec = recs[i]!;
      const o = attempt(this, rec);
      if (o instanceof Promise) {
        const next = i + 1;
        return o.then((out) => {
          const step = this.initStep(rec, out);
          return step === NEXT ? this.initFrom(recs, next) : step;
        });
      }
      const step = this.initStep(rec, o);
      if (step !== NEXT) return step;
    }
    // Started — also when some children are still waiting or parked: the supervisor has taken
    // charge of them, and health says which ones are not ready yet.
    this.proc.ready = true;
    this.initDone({ status: 'ok', pid: this.self });
  }

  /** What one child's start attempt in `init` comes to: on to the next child, done, or the failure's rollback. */
  private initStep(rec: ChildRecord, out: Outcome): typeof NEXT | void | Promise<void> {
    if (out === 'stopped') return; // the stop signal queued behind us stops what started
    if (out === 'ignored') {
      if (rec.spec.restart === 'temporary') this.remove(rec);
      return NEXT;
    }
    if (typeof out !== 'object') return NEXT; // started, or waiting / parked (startRetry)
    report(this.kernel.env.logger, 'start_error', { supervisor: this.label, child: rec.spec.id, reason: out.failed });
    const failed = (): void => {
      const error = new FailedToStartChildError(rec.spec.id, out.failed, this.label);
      // OTP ≥ 26: the caller learns the failure from the start result, not from an EXIT.
      if (this.parent) this.kernel.unlink(this.self, this.parent);
      this.initDone({ status: 'error', error });
      this.proc.exit({ shutdown: error });
    };
    const stopping = this.terminateAll();
    if (stopping !== undefined) return stopping.then(failed);
    failed();
  }

  changed(): void {
    this.onChange?.();
  }

  // ---- starting ---------------------------------------------------------------------------

  lookup(name: string): ServiceState {
    return this.services.lookup(name);
  }

  /** The directory nested supervisors look services up in. */
  readonly directory: ServiceDirectory;

  /**
   * Starts one child per its spec; on success records pid, service and start time. The result
   * itself when the start settled at once (a machine ready, ignored or failed while it was
   * spawned), else a promise of it.
   */
  startRecord(rec: ChildRecord, resolved?: Record<string, unknown>, at?: number): StartResult | Promise<StartResult> {
    const spec = rec.spec;
    let deps = resolved;
    if (!deps) {
      const d = this.services.resolve(rec);
      if (d.status !== 'ok') return { status: 'error', error: new MissingDependencyError(spec.id, d.service) };
      deps = d.deps;
    }
    const res = spawnChild(spec, { kernel: this.kernel, self: this.self, deps, args: rec.args, services: this.directory, onChange: this.onChange });
    return res instanceof Promise ? res.then((r) => this.started(rec, r)) : this.started(rec, res, at);
  }

  /** A start of `rec` has settled with `res`: recorded when it started (`at`: the clock read at the attempt, when it settled in that turn). */
  private started(rec: ChildRecord, res: StartResult, at?: number): StartResult {
    const spec = rec.spec;
    const { kernel } = this;
    rec.tried = true;
    if (res.status === 'ok') {
      if (!isPid(res.pid)) return { status: 'error', error: { badReturn: res } };
      // A stop cut this start short (`signalled`) and the child is down already — a nested
      // supervisor's teardown finishes in that call, its EXIT queued ahead of our own stop: it is
      // the stop it was, not a child that started and then exited (no child_terminated report).
      const proc = this.stopRequested ? kernel.lookup(res.pid) : undefined;
      if (this.stopRequested && !proc?.alive) return { status: 'error', error: new StartExitError(res.pid, proc?.exitReason ?? 'shutdown') };
      kernel.link(this.self, res.pid);
      rec.pid = res.pid;
      rec.restarting = false;
      rec.waiting = false;
      rec.parkedOn = undefined;
      rec.attempts = 0;
      rec.lastError = undefined;
      rec.startedAt = at ?? kernel.env.clock.now();
      rec.since = rec.startedAt;
      this.byPid.set(res.pid.id, rec);
      if (spec.provides) {
        this.resumeDue = true; // parked children get their turn when the current message is done
        this.services.provide(spec.provides.name, res.pid, res.info);
      }
      if (reporting(kernel.env.logger, 'progress')) report(kernel.env.logger, 'progress', { supervisor: this.label, child: spec.id, pid: String(res.pid) }, 'info');
      this.changed();
    }
    return res;
  }

  // ---- exits ------------------------------------------------------------------------------

  private handleExitSignal(from: Pid | undefined, reason: unknown, linked: boolean): void | Promise<unknown> {
    if (this.isFromParent(from, linked)) return this.stopAll(reason);
    if (!linked || !from) return;
    const rec = this.byPid.get(from.id);
    if (!rec || rec.pid !== from) return; // not (or no longer) a child: ignore, as OTP does
    return this.childExited(rec, reason);
  }

  /**
   * An orderly stop from the parent: every child in reverse order, then this supervisor — in
   * this turn when every child stops at once.
   */
  private stopAll(reason: unknown): void | Promise<void> {
    this.stopRequested = true;
    const stopping = this.terminateAll();
    if (stopping !== undefined) return stopping.then(() => this.stopped(reason));
    this.stopped(reason);
  }

  /** Every child is down after an orderly stop: this supervisor exits with `reason`. */
  private stopped(reason: unknown): void {
    this.proc.exit(reason);
    if (!this.initSettled) this.initDone({ status: 'error', error: new StartExitError(this.self, reason) });
  }

  private forget(rec: ChildRecord, at?: number): void {
    if (rec.pid) {
      // only a dynamic child is addressed by its old pid while it restarts (`findRestarting`)
      if (this.isDynamic) (this.formerPid ??= new WeakMap()).set(rec, rec.pid);
      this.byPid.delete(rec.pid.id);
      const p = rec.spec.provides;
      if (p) this.services.withdraw(p.name, rec.pid);
    }
    rec.pid = undefined;
    rec.since = at ?? this.kernel.env.clock.now();
  }

  private childExited(rec: ChildRecord, reason: unknown): void | Promise<unknown> {
    const pid = rec.pid;
    this.forget(rec);
    rec.lastExit = reason;
    this.changed();
    const decision = decideRestart(rec.spec.restart, reason);
    if (decision.report && reporting(this.kernel.env.logger, 'child_terminated')) {
      report(this.kernel.env.logger, 'child_terminated', { supervisor: this.label, child: rec.spec.id, pid: String(pid), reason, restarts: rec.restarts });
    }
    if (decision.action === 'restart') return scheduleRestart(this, rec);
    // A dynamic child has no spec of its own to keep: not restarted means gone (OTP state_del_child).
    if (decision.action === 'remove' || this.isDynamic) this.remove(rec);
    return this.checkAutoShutdown(rec);
  }

  private checkAutoShutdown(rec: ChildRecord): void | Promise<void> {
    if (!rec.spec.significant) return;
    const active = this.children.filter((c) => c.spec.significant && (c.pid || c.restarting)).length;
    if (!shouldAutoShutdown(this.flags.autoShutdown, true, active)) return;
    return this.autoShutdown(rec);
  }

  private async autoShutdown(rec: ChildRecord): Promise<void> {
    report(this.kernel.env.logger, 'auto_shutdown', { supervisor: this.label, child: rec.spec.id, reason: rec.lastExit });
    await this.terminateAll();
    this.proc.exit('shutdown');
  }

  // ---- stopping ---------------------------------------------------------------------------

  /**
   * Stops one child per its shutdown spec; cancels a pending restart. Nothing to wait for
   * (`undefined`) when the child was down by the time the stop was sent, else a promise that
   * resolves once it is.
   */
  stopRecord(rec: ChildRecord, at?: number): void | Promise<void> {
    this.cancelPending(rec);
    const pid = rec.pid;
    if (!pid) return;
    this.forget(rec, at);
    this.changed();
    const down = shutdownChild(this.kernel, this.self, { id: rec.spec.id, pid, shutdownMs: rec.spec.shutdownMs, restart: rec.spec.restart }, this.label);
    if (down !== undefined) return down.then(NOTHING);
  }

  /** Drops a pending restart, retry or park (a phase change, told when there was one). */
  cancelPending(rec: ChildRecord): void {
    const pending = rec.timer !== undefined || rec.restarting || rec.waiting || rec.parkedOn !== undefined;
    if (rec.timer !== undefined) this.kernel.env.clock.clearTimeout(rec.timer);
    rec.timer = undefined;
    rec.restarting = false;
    rec.waiting = false;
    rec.parkedOn = undefined;
    if (pending) this.changed();
  }

  /**
   * Terminates every child: static in reverse start order, one at a time (the next once the
   * previous is down); dynamic all at once. `undefined` when every child was down at once (no
   * turn taken), else a promise that resolves once all are.
   */
  terminateAll(): void | Promise<void> {
    if (this.isDynamic) {
      const recs = [...this.dynamic.values()];
      this.dynamic.clear();
      let waits: Promise<void>[] | undefined;
      for (const r of recs) {
        const down = this.stopRecord(r);
        if (down !== undefined) (waits ??= []).push(down);
      }
      if (waits !== undefined) return Promise.all(waits).then(NOTHING);
      return;
    }
    return this.terminateFrom(this.children.length - 1);
  }

  /** Stops the static children from index `i` down to the first, one after the other. */
  private terminateFrom(i: number): void | Promise<void> {
    // one clock read for the children that stop in this turn (the rest read it again after the wait)
    const at = this.kernel.env.clock.now();
    for (; i >= 0; i--) {
      const down = this.stopRecord(this.children[i]!, at);
      if (down !== undefined) {
        const next = i - 1;
        return down.then(() => this.terminateFrom(next));
      }
    }
  }

  private initDone(r: StartResult): void {
    if (this.initSettled) return;
    this.initSettled = true;
    const settle = this.settleInit;
    this.settleInit = undefined;
    if (settle) settle(r);
    else this.initResult = r;
  }

  // ---- bookkeeping ------------------------------------------------------------------------

  find(id: string): ChildRecord | undefined {
    return this.children.find((c) => c.spec.id === id);
  }
  findByPid(pid: Pid): ChildRecord | undefined {
    const rec = this.byPid.get(pid.id);
    return rec && rec.pid === pid ? rec : undefined;
  }
  /** A dynamic child whose restart is pending, by the pid it had before it exited. */
  findRestarting(pid: Pid): ChildRecord | undefined {
    const former = this.formerPid;
    if (former === undefined) return undefined;
    for (const r of this.dynamic.values()) if (r.restarting && former.get(r) === pid) return r;
    return undefined;
  }
  owns(rec: ChildRecord): boolean {
    return this.isDynamic ? this.dynamic.get(rec.key) === rec : this.children.includes(rec);
  }
  remove(rec: ChildRecord): void {
    this.cancelPending(rec);
    this.forget(rec);
    if (this.isDynamic) this.dynamic.delete(rec.key);
    else {
      const i = this.children.indexOf(rec);
      if (i >= 0) this.children.splice(i, 1);
    }
    this.changed();
  }
  newKey(): number {
    return this.nextKey++;
  }
  validate(spec: unknown) {
    return validateChildSpec(spec, this.flags.autoShutdown);
  }

  describe(): unknown {
    return describeChildren(this, this.isDynamic ? [...this.dynamic.values()] : this.children, this.stopRequested);
  }

  /**
   * Whether every child has started — none starting, waiting, parked, pending or restarting —
   * and a nested supervisor's children too (what an application's readiness asks after every
   * change of its tree), read from the records without describing the tree. `undefined` for a
   * child this cannot read (a supervisor-type child that is not an Ordo supervisor): the caller
   * asks the description then.
   */
  treeStarted(): boolean | undefined {
    for (const r of this.isDynamic ? this.dynamic.values() : this.children) {
      const phase = phaseOf(r);
      if (phase !== 'running' && phase !== 'stopped') return false;
      if (r.spec.type !== 'supervisor' || r.pid === undefined) continue;
      const nested = this.kernel.lookup(r.pid);
      if (nested === undefined || !nested.alive) continue; // described as no state: no children to wait for
      const behaviour = nested.kind === 'native' ? (nested as NativeProcess).behaviour : undefined;
      if (!(behaviour instanceof SupervisorServer)) return undefined;
      const started = behaviour.treeStarted();
      if (started !== true) return started;
    }
    return true;
  }

  killed(): void {
    for (const r of this.isDynamic ? this.dynamic.values() : this.children) this.cancelPending(r);
    if (!this.initSettled) this.initDone({ status: 'error', error: new StartExitError(this.self, 'killed') });
  }
}

/**
 * The change notices of a supervisor given none: its linked parent's, when that is an Ordo
 * supervisor (a nested one started by hand, not with the `supervisor()` helper, which hands
 * them down) — else none (a root, or a parent that is not a supervisor).
 */
function parentChanges(kernel: Kernel, parent: Pid | undefined): (() => void) | undefined {
  if (parent === undefined) return undefined;
  const proc = kernel.lookup(parent);
  const behaviour = proc?.alive && proc.kind === 'native' ? (proc as NativeProcess).behaviour : undefined;
  return behaviour instanceof SupervisorServer ? () => behaviour.changed() : undefined;
}
