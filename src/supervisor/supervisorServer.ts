import type { Kernel, NativeBehaviour, NativeMessage, NativeProcess, Pid, ReplyTo, StartResult } from '../actors/index.ts';
import { StartExitError, StartTimeoutError, formatReason, isPid, report } from '../actors/index.ts';
import { RestartWindow } from './restartIntensity.ts';
import { decideRestart } from './decideRestart.ts';
import { restartSet } from './strategies.ts';
import { backoffDelay, nextAttempt } from './backoff.ts';
import { shouldAutoShutdown } from './autoShutdown.ts';
import { shutdownChild } from './shutdownChild.ts';
import { newRecord, type ChildRecord } from './childRecord.ts';
import { validateChildSpec } from './validate.ts';
import { FailedToStartChildError, MissingDependencyError } from './errors.ts';
import type { InputContext, NormalizedChildSpec, NormalizedFlags, StartContext } from './types.ts';
import type { AdminRequest } from './adminProtocol.ts';
import { handleAdmin } from './admin.ts';
import { describeChildren } from './describe.ts';
import { isPermanentReason } from './permanent.ts';

const INIT = Symbol('init');
const RETRY = Symbol('retry');
const DELAYED = Symbol('delayed');
const START_RETRY = Symbol('startRetry');
const RESUME = Symbol('resume');

/** Where a required service stands: ready (with its value), declared but its provider not ready, or provided by no one. */
export type ServiceState = { readonly status: 'ready'; readonly value: unknown } | { readonly status: 'waiting'; readonly provider: string } | { readonly status: 'missing' };

/** @internal The services a supervisor can see: its own providers first, then its ancestors'. */
export interface ServiceDirectory {
  lookup(name: string): ServiceState;
  /** Calls `onReady` (once) when `name` becomes ready; returns a cancel function. */
  watch(name: string, onReady: () => void): () => void;
}

/** What one start attempt came to. */
type Outcome = 'started' | 'ignored' | 'parked' | 'waiting' | 'stopped' | { readonly failed: unknown };

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
  private readonly services = new Map<string, { pid: Pid; value: unknown }>();
  /** The pid a record had before it stopped: a restarting dynamic child is addressed by it (OTP `{restarting, OldPid}`). */
  private readonly formerPid = new WeakMap<ChildRecord, Pid>();
  restarts: RestartWindow;
  /** An orderly stop (an exit signal from the parent) has arrived: start nothing more. */
  private stopRequested = false;
  /** Start attempts under way (their processes are linked to us but not yet recorded). */
  private inflight = 0;
  /** A provider became ready: parked children get their turn when the current message is done. */
  private resumeDue = false;
  private readonly watchers = new Map<string, Set<() => void>>();
  private nextKey = 0;
  private initDone!: (r: StartResult) => void;
  readonly initialized: Promise<StartResult>;

  readonly proc: NativeProcess;
  readonly kernel: Kernel;
  readonly flags: NormalizedFlags;
  readonly specs: NormalizedChildSpec[];
  readonly parent: Pid | undefined;
  readonly label: string;
  private readonly parentServices: ServiceDirectory | undefined;
  /** Called whenever a child changes phase (started, waiting, parked, exited): live views, readiness. */
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
    this.parentServices = parentServices;
    this.onChange = onChange;
    this.initialized = new Promise((r) => (this.initDone = r));
    this.restarts = new RestartWindow(flags);
  }

  /** Queues `init` as the first message (after the kernel has installed this behaviour). */
  begin(): Promise<StartResult> {
    this.proc.enqueue({ kind: 'info', message: INIT });
    return this.initialized;
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

  async handle(m: NativeMessage): Promise<void> {
    switch (m.kind) {
      case 'info':
        await this.handleInfo(m.message);
        break;
      case 'call':
        await this.handleCall(m.request as AdminRequest, m.replyTo);
        break;
      case 'exit':
        await this.handleExitSignal(m.from, m.reason, m.linked);
        break;
      case 'cast':
        return;
    }
    while (this.resumeDue && this.proc.alive && !this.stopRequested) {
      this.resumeDue = false;
      await this.resumeParked();
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

  private async handleInfo(message: unknown): Promise<void> {
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
      const out = await this.attempt(rec);
      if (typeof out === 'object') await this.giveUp(rec, out.failed);
      return;
    }
    if (msg.tag === RETRY || msg.tag === DELAYED) {
      const rec = msg.record!;
      if (msg.tag === DELAYED) rec.timer = undefined;
      if (!rec.restarting || !this.owns(rec)) return; // terminated or deleted meanwhile
      await this.restart(rec);
      return;
    }
    // OTP: "Supervisor received unexpected message" — logged, and the supervisor carries on.
    this.kernel.env.logger.error({ supervisor: this.label, message: formatReason(message) }, 'supervisor received unexpected message');
  }

  private async handleCall(request: AdminRequest, replyTo: ReplyTo): Promise<void> {
    replyTo.reply(await handleAdmin(this, request));
  }

  // ---- init -------------------------------------------------------------------------------

  private async init(): Promise<void> {
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
    for (const rec of [...this.children]) {
      const out = await this.attempt(rec);
      if (out === 'stopped') return; // the stop signal queued behind us stops what started
      if (out === 'ignored') {
        if (rec.spec.restart === 'temporary') this.remove(rec);
        continue;
      }
      if (typeof out !== 'object') continue; // started, or waiting / parked (startRetry)
      report(this.kernel.env.logger, 'start_error', { supervisor: this.label, child: rec.spec.id, reason: out.failed });
      await this.terminateAll();
      const error = new FailedToStartChildError(rec.spec.id, out.failed, this.label);
      // OTP ≥ 26: the caller learns the failure from the start result, not from an EXIT.
      if (this.parent) this.kernel.unlink(this.self, this.parent);
      this.initDone({ status: 'error', error });
      this.proc.exit({ shutdown: error });
      return;
    }
    // Started — also when some children are still waiting or parked: the supervisor has taken
    // charge of them, and health says which ones are not ready yet.
    this.proc.ready = true;
    this.initDone({ status: 'ok', pid: this.self });
  }

  // ---- waiting and parking (beyond OTP: dependencies are Ordo's) -------------------------------

  /**
   * One start attempt of `rec`: parked if a service it requires has a provider that is not
   * ready; else started. A failed attempt with `startRetry` (and a reason not permanent) waits
   * for its retry — not charged to intensity; any other failure is returned to the caller,
   * which applies OTP's rules.
   */
  private async attempt(rec: ChildRecord): Promise<Outcome> {
    if (this.stopRequested || !this.proc.alive) return 'stopped';
    const deps = this.resolveDeps(rec);
    if (deps.status !== 'ok') {
      if (deps.status === 'missing') return { failed: new MissingDependencyError(rec.spec.id, deps.service) };
      this.park(rec, deps.service);
      return 'parked';
    }
    rec.parkedOn = undefined;
    rec.starting = true;
    rec.since = this.kernel.env.clock.now();
    this.inflight++;
    this.changed();
    let res: StartResult;
    try {
      res = await this.startRecord(rec, deps.deps);
    } finally {
      rec.starting = false;
      this.inflight--;
    }
    if (res.status === 'ok') return 'started';
    rec.since = this.kernel.env.clock.now();
    if (this.stopRequested) return 'stopped';
    if (res.status === 'ignore') return 'ignored';
    const reason = res.status === 'already_started' ? { alreadyStarted: res.pid } : res.error;
    rec.attempts++;
    // Health shows what went wrong in the child, not the wrapper that says it exited before ready.
    rec.lastError = reason instanceof StartExitError ? reason.reason : reason instanceof StartTimeoutError && reason.cause !== undefined ? reason.cause : reason;
    this.changed();
    const retry = rec.spec.startRetry;
    if (!retry || isPermanentReason(reason, retry.isPermanent) || (retry.maxAttempts !== undefined && rec.attempts >= retry.maxAttempts)) {
      // Marked before returning: observers that run before the caller resumes must not see a
      // settled child. Without startRetry the caller queues OTP's retry (`restarting`); with it,
      // the supervisor gives up (fail fast), so nothing more may start.
      rec.restarting = true;
      if (retry && this.proc.ready) this.stopRequested = true;
      return { failed: reason };
    }
    const delay = backoffDelay(retry, rec.attempts - 1, this.kernel.env.random.next());
    rec.waiting = true;
    rec.restarting = true; // OTP's `restarting` slot: a retry is pending
    report(this.kernel.env.logger, 'start_retry', { supervisor: this.label, child: rec.spec.id, reason, attempts: rec.attempts, delayMs: delay });
    rec.timer = this.kernel.env.clock.setTimeout(() => this.proc.enqueue({ kind: 'info', message: { tag: START_RETRY, record: rec } }), delay);
    return 'waiting';
  }

  private park(rec: ChildRecord, service: string): void {
    const first = rec.parkedOn !== service;
    rec.parkedOn = service;
    rec.restarting = false;
    rec.since = this.kernel.env.clock.now();
    if (first) {
      report(this.kernel.env.logger, 'child_parked', { supervisor: this.label, child: rec.spec.id, waitingFor: service });
      // A provider of an ancestor's: ask to be told when it is ready. Own providers resume us by themselves.
      if (!this.ownProvider(service)) this.parentServices?.watch(service, () => this.proc.enqueue({ kind: 'info', message: RESUME }));
    }
    this.changed();
  }

  /** Starts the parked children whose providers are ready now, in start order. */
  private async resumeParked(): Promise<void> {
    const recs = this.isDynamic ? [...this.dynamic.values()] : [...this.children];
    for (const rec of recs) {
      if (rec.parkedOn === undefined || rec.pid || !this.owns(rec)) continue;
      if (this.lookup(rec.parkedOn).status !== 'ready') continue;
      const out = await this.attempt(rec);
      if (out === 'stopped') return;
      if (out === 'ignored' && (this.isDynamic || rec.spec.restart === 'temporary')) this.remove(rec);
      if (typeof out === 'object') {
        await this.giveUp(rec, out.failed);
        return;
      }
    }
  }

  /** A start that cannot succeed by waiting (permanent reason, attempts exhausted, missing service): fail fast, named. */
  private async giveUp(rec: ChildRecord, reason: unknown): Promise<void> {
    report(this.kernel.env.logger, 'start_error', { supervisor: this.label, child: rec.spec.id, reason, attempts: rec.attempts });
    this.stopRequested = true;
    await this.terminateAll();
    this.proc.exit({ shutdown: new FailedToStartChildError(rec.spec.id, reason, this.label) });
  }

  private resolveDeps(rec: ChildRecord): { status: 'ok'; deps: Record<string, unknown> } | { status: 'parked' | 'missing'; service: string } {
    const deps: Record<string, unknown> = {};
    for (const { as, service } of rec.spec.requires) {
      const found = this.lookup(service);
      if (found.status === 'ready') deps[as] = found.value;
      else return { status: found.status === 'waiting' ? 'parked' : 'missing', service };
    }
    return { status: 'ok', deps };
  }

  private ownProvider(name: string): ChildRecord | undefined {
    return this.children.find((c) => c.spec.provides?.name === name);
  }

  changed(): void {
    this.onChange?.();
  }

  // ---- starting ---------------------------------------------------------------------------

  lookup(name: string): ServiceState {
    const own = this.services.get(name);
    if (own) return { status: 'ready', value: own.value };
    const provider = this.ownProvider(name);
    if (provider) return { status: 'waiting', provider: provider.spec.id };
    return this.parentServices ? this.parentServices.lookup(name) : { status: 'missing' };
  }

  /** The directory nested supervisors look services up in. */
  readonly directory: ServiceDirectory = {
    lookup: (name) => this.lookup(name),
    watch: (name, onReady) => {
      if (!this.ownProvider(name)) return this.parentServices?.watch(name, onReady) ?? (() => undefined);
      let set = this.watchers.get(name);
      if (!set) this.watchers.set(name, (set = new Set()));
      set.add(onReady);
      return () => set.delete(onReady);
    },
  };

  private serviceReady(name: string): void {
    this.resumeDue = true;
    const set = this.watchers.get(name);
    if (!set) return;
    this.watchers.delete(name);
    for (const fn of set) fn();
  }

  /** Starts one child per its spec; on success records pid, service and start time. */
  async startRecord(rec: ChildRecord, resolved?: Record<string, unknown>): Promise<StartResult> {
    const spec = rec.spec;
    let deps = resolved;
    if (!deps) {
      const d = this.resolveDeps(rec);
      if (d.status !== 'ok') return { status: 'error', error: new MissingDependencyError(spec.id, d.service) };
      deps = d.deps;
    }
    const { kernel } = this;
    const ctx: StartContext & { services: ServiceDirectory; onChange: (() => void) | undefined } = {
      env: kernel.env,
      kernel,
      parent: this.self,
      deps,
      args: rec.args,
      services: this.directory,
      onChange: this.onChange,
      spawn: (machine, options = {}) => kernel.spawn(machine, { startTimeoutMs: spec.startTimeoutMs, ...options, link: this.self }),
    };
    let res: StartResult;
    try {
      const start = spec.start;
      if (typeof start === 'function') {
        res = await start(ctx);
      } else {
        const input = start.input;
        res = await kernel.spawn(start.machine, {
          ...(typeof input === 'function' ? { inputFor: (self: Pid) => (input as (c: InputContext) => unknown)({ ...ctx, self }) } : { input }),
          name: start.name,
          trapExit: start.trapExit,
          link: this.self,
          startTimeoutMs: spec.startTimeoutMs,
          selectService: spec.provides?.select as never,
        });
      }
    } catch (e) {
      res = { status: 'error', error: e };
    }
    if (!res || typeof res !== 'object' || !('status' in res)) res = { status: 'error', error: { badReturn: res } };
    rec.tried = true;
    if (res.status === 'ok') {
      if (!isPid(res.pid)) return { status: 'error', error: { badReturn: res } };
      kernel.link(this.self, res.pid);
      rec.pid = res.pid;
      rec.restarting = false;
      rec.waiting = false;
      rec.parkedOn = undefined;
      rec.attempts = 0;
      rec.lastError = undefined;
      rec.startedAt = kernel.env.clock.now();
      rec.since = rec.startedAt;
      this.byPid.set(res.pid.id, rec);
      if (spec.provides) {
        this.services.set(spec.provides.name, { pid: res.pid, value: res.info });
        this.serviceReady(spec.provides.name);
      }
      report(kernel.env.logger, 'progress', { supervisor: this.label, child: spec.id, pid: String(res.pid) }, 'info');
      this.changed();
    }
    return res;
  }

  // ---- exits ------------------------------------------------------------------------------

  private async handleExitSignal(from: Pid | undefined, reason: unknown, linked: boolean): Promise<void> {
    if (this.isFromParent(from, linked)) {
      this.stopRequested = true;
      await this.terminateAll();
      this.proc.exit(reason);
      this.initDone({ status: 'error', error: new StartExitError(this.self, reason) }); // no-op once started
      return;
    }
    if (!linked || !from) return;
    const rec = this.byPid.get(from.id);
    if (!rec || rec.pid !== from) return; // not (or no longer) a child: ignore, as OTP does
    await this.childExited(rec, reason);
  }

  private forget(rec: ChildRecord): void {
    if (rec.pid) {
      this.formerPid.set(rec, rec.pid);
      this.byPid.delete(rec.pid.id);
      const p = rec.spec.provides;
      if (p && this.services.get(p.name)?.pid === rec.pid) this.services.delete(p.name);
    }
    rec.pid = undefined;
    rec.since = this.kernel.env.clock.now();
  }

  private async childExited(rec: ChildRecord, reason: unknown): Promise<void> {
    const pid = rec.pid;
    this.forget(rec);
    rec.lastExit = reason;
    this.changed();
    const decision = decideRestart(rec.spec.restart, reason);
    if (decision.report) {
      report(this.kernel.env.logger, 'child_terminated', { supervisor: this.label, child: rec.spec.id, pid: String(pid), reason, restarts: rec.restarts });
    }
    if (decision.action === 'restart') return this.scheduleRestart(rec);
    // A dynamic child has no spec of its own to keep: not restarted means gone (OTP state_del_child).
    if (decision.action === 'remove' || this.isDynamic) this.remove(rec);
    await this.checkAutoShutdown(rec);
  }

  private async checkAutoShutdown(rec: ChildRecord): Promise<void> {
    if (!rec.spec.significant) return;
    const active = this.children.filter((c) => c.spec.significant && (c.pid || c.restarting)).length;
    if (!shouldAutoShutdown(this.flags.autoShutdown, true, active)) return;
    report(this.kernel.env.logger, 'auto_shutdown', { supervisor: this.label, child: rec.spec.id, reason: rec.lastExit });
    await this.terminateAll();
    this.proc.exit('shutdown');
  }

  /** Restart now, or after the backoff delay. */
  private async scheduleRestart(rec: ChildRecord): Promise<void> {
    const backoff = rec.spec.backoff ?? this.flags.backoff;
    if (backoff) {
      const { clock, random } = this.kernel.env;
      const upFor = rec.startedAt === undefined ? undefined : clock.now() - rec.startedAt;
      rec.attempt = nextAttempt(backoff, rec.attempt, upFor);
      const delay = backoffDelay(backoff, rec.attempt, random.next());
      rec.attempt++;
      rec.startedAt = undefined;
      if (delay > 0) {
        rec.restarting = true;
        rec.timer = clock.setTimeout(() => this.proc.enqueue({ kind: 'info', message: { tag: DELAYED, record: rec } }), delay);
        return;
      }
    }
    rec.restarting = true;
    await this.restart(rec);
  }

  /** One restart event: charge intensity, then apply the strategy. */
  private async restart(rec: ChildRecord): Promise<void> {
    const now = this.kernel.env.clock.now();
    if (!this.restarts.charge(now)) {
      rec.restarting = false;
      this.stopRequested = true; // giving up: nothing starts any more, and health says it is stopping
      report(this.kernel.env.logger, 'reached_max_restart_intensity', {
        supervisor: this.label,
        child: rec.spec.id,
        reason: rec.lastExit,
        restarts: this.restarts.size - 1,
        maxRestarts: this.flags.maxRestarts,
        periodMs: this.flags.periodMs,
      });
      await this.terminateAll();
      this.proc.exit('shutdown');
      return;
    }
    if (this.isDynamic || this.flags.strategy === 'one_for_one') {
      await this.startAgain(rec);
      return;
    }
    if (this.stopRequested) return;
    const set = restartSet(
      this.flags.strategy,
      this.children.map((c) => ({ id: c.spec.id, restart: c.spec.restart })),
      rec.spec.id,
    );
    for (const id of set.terminate) {
      const c = this.find(id)!;
      await this.stopRecord(c);
    }
    for (const id of set.remove) this.remove(this.find(id)!);
    for (const id of set.start) {
      const c = this.find(id);
      if (!c) continue;
      if (!(await this.startAgain(c))) break;
    }
  }

  /**
   * Starts a record again as part of a restart; false when it failed (a retry is queued) or a
   * stop arrived. Parked (its provider is not ready) and waiting (`startRetry`) count as done:
   * they start by themselves later, uncharged.
   */
  private async startAgain(rec: ChildRecord): Promise<boolean> {
    if (!this.proc.alive) return false;
    const out = await this.attempt(rec);
    if (out === 'started') {
      rec.restarts++;
      return true;
    }
    if (out === 'stopped') return false;
    if (out === 'parked' || out === 'waiting') return true;
    if (out === 'ignored') {
      rec.restarting = false;
      if (this.isDynamic || rec.spec.restart === 'temporary') this.remove(rec);
      return true;
    }
    const reason = out.failed;
    if (rec.spec.startRetry) {
      await this.giveUp(rec, reason); // permanent, or out of attempts: fail fast, named
      return false;
    }
    rec.lastExit = reason;
    report(this.kernel.env.logger, 'start_error', { supervisor: this.label, child: rec.spec.id, reason, restarts: rec.restarts });
    rec.restarting = true;
    if (rec.spec.backoff ?? this.flags.backoff) await this.scheduleRestart(rec);
    else this.proc.enqueue({ kind: 'info', message: { tag: RETRY, record: rec } });
    return false;
  }

  // ---- stopping ---------------------------------------------------------------------------

  /** Stops one child per its shutdown spec; cancels a pending restart. */
  async stopRecord(rec: ChildRecord): Promise<void> {
    this.cancelPending(rec);
    const pid = rec.pid;
    if (!pid) return;
    this.forget(rec);
    await shutdownChild(this.kernel, this.self, { id: rec.spec.id, pid, shutdownMs: rec.spec.shutdownMs, restart: rec.spec.restart }, this.label);
  }

  cancelPending(rec: ChildRecord): void {
    if (rec.timer !== undefined) this.kernel.env.clock.clearTimeout(rec.timer);
    rec.timer = undefined;
    rec.restarting = false;
    rec.waiting = false;
    rec.parkedOn = undefined;
  }

  /** Terminates every child: static in reverse start order, one at a time; dynamic all at once. */
  async terminateAll(): Promise<void> {
    if (this.isDynamic) {
      const recs = [...this.dynamic.values()];
      this.dynamic.clear();
      await Promise.all(recs.map((r) => this.stopRecord(r)));
      return;
    }
    for (let i = this.children.length - 1; i >= 0; i--) await this.stopRecord(this.children[i]!);
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
    for (const r of this.dynamic.values()) if (r.restarting && this.formerPid.get(r) === pid) return r;
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

  killed(): void {
    for (const r of this.isDynamic ? this.dynamic.values() : this.children) this.cancelPending(r);
    this.initDone({ status: 'error', error: new StartExitError(this.self, 'killed') }); // no-op once started
  }
}
