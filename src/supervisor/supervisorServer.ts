import type { Kernel, NativeBehaviour, NativeMessage, NativeProcess, Pid, ReplyTo, StartResult } from '../actors/index.ts';
import { StartExitError, formatReason, isPid, report } from '../actors/index.ts';
import { RestartWindow } from './restartIntensity.ts';
import { decideRestart } from './decideRestart.ts';
import { restartSet } from './strategies.ts';
import { backoffDelay, nextAttempt } from './backoff.ts';
import { shouldAutoShutdown } from './autoShutdown.ts';
import { shutdownChild } from './shutdownChild.ts';
import { newRecord, type ChildRecord } from './childRecord.ts';
import { validateChildSpec } from './validate.ts';
import { FailedToStartChildError, MissingDependencyError } from './errors.ts';
import type { NormalizedChildSpec, NormalizedFlags, StartContext } from './types.ts';
import type { AdminRequest } from './adminProtocol.ts';
import { handleAdmin } from './admin.ts';

const INIT = Symbol('init');
const RETRY = Symbol('retry');
const DELAYED = Symbol('delayed');

/** A service lookup through the tree: own providers first, then the parent's. */
export type ServiceLookup = (name: string) => { found: boolean; value: unknown };

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
  private nextKey = 0;
  private initDone!: (r: StartResult) => void;
  readonly initialized: Promise<StartResult>;

  constructor(
    readonly proc: NativeProcess,
    readonly kernel: Kernel,
    readonly flags: NormalizedFlags,
    readonly specs: NormalizedChildSpec[],
    readonly parent: Pid | undefined,
    readonly label: string,
    private readonly parentLookup: ServiceLookup | undefined,
  ) {
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
        return this.handleInfo(m.message);
      case 'call':
        return this.handleCall(m.request as AdminRequest, m.replyTo);
      case 'exit':
        return this.handleExitSignal(m.from, m.reason, m.linked);
      case 'cast':
        return;
    }
  }

  private async handleInfo(message: unknown): Promise<void> {
    if (message === INIT) return this.init();
    const msg = (typeof message === 'object' && message !== null ? message : {}) as { tag?: symbol; record?: ChildRecord };
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
    for (const spec of this.specs) {
      const rec = newRecord(this.nextKey++, spec);
      const res = await this.startRecord(rec);
      if (res.status === 'ok') {
        this.children.push(rec);
        continue;
      }
      if (res.status === 'ignore') {
        if (spec.restart !== 'temporary') this.children.push(rec);
        continue;
      }
      const reason = res.status === 'already_started' ? { alreadyStarted: res.pid } : res.error;
      report(this.kernel.env.logger, 'start_error', { supervisor: this.label, child: spec.id, reason });
      await this.terminateAll();
      const error = new FailedToStartChildError(spec.id, reason, this.label);
      // OTP ≥ 26: the caller learns the failure from the start result, not from an EXIT.
      if (this.parent) this.kernel.unlink(this.self, this.parent);
      this.initDone({ status: 'error', error });
      this.proc.exit({ shutdown: error });
      return;
    }
    this.proc.ready = true;
    this.initDone({ status: 'ok', pid: this.self });
  }

  // ---- starting ---------------------------------------------------------------------------

  lookupService: ServiceLookup = (name) => {
    const own = this.services.get(name);
    if (own) return { found: true, value: own.value };
    return this.parentLookup ? this.parentLookup(name) : { found: false, value: undefined };
  };

  /** Starts one child per its spec; on success records pid, service and start time. */
  async startRecord(rec: ChildRecord): Promise<StartResult> {
    const spec = rec.spec;
    const deps: Record<string, unknown> = {};
    for (const name of spec.requires) {
      const found = this.lookupService(name);
      if (!found.found) return { status: 'error', error: new MissingDependencyError(spec.id, name) };
      deps[name] = found.value;
    }
    const { kernel } = this;
    const ctx: StartContext & { lookupService: ServiceLookup } = {
      env: kernel.env,
      kernel,
      parent: this.self,
      deps,
      args: rec.args,
      lookupService: this.lookupService,
      spawn: (machine, options = {}) => kernel.spawn(machine, { startTimeoutMs: spec.startTimeoutMs, ...options, link: this.self }),
    };
    let res: StartResult;
    try {
      const start = spec.start;
      if (typeof start === 'function') {
        res = await start(ctx);
      } else {
        const input = typeof start.input === 'function' ? (start.input as (c: StartContext) => unknown)(ctx) : start.input;
        res = await kernel.spawn(start.machine, {
          input,
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
    if (res.status === 'ok') {
      if (!isPid(res.pid)) return { status: 'error', error: { badReturn: res } };
      kernel.link(this.self, res.pid);
      rec.pid = res.pid;
      rec.restarting = false;
      rec.startedAt = kernel.env.clock.now();
      this.byPid.set(res.pid.id, rec);
      if (spec.provides) this.services.set(spec.provides.name, { pid: res.pid, value: res.info });
      report(kernel.env.logger, 'progress', { supervisor: this.label, child: spec.id, pid: String(res.pid) }, 'info');
    }
    return res;
  }

  // ---- exits ------------------------------------------------------------------------------

  private async handleExitSignal(from: Pid | undefined, reason: unknown, linked: boolean): Promise<void> {
    const fromParent = from === undefined ? !linked : this.parent !== undefined && from.id === this.parent.id && from.node === this.parent.node;
    if (fromParent) {
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
  }

  private async childExited(rec: ChildRecord, reason: unknown): Promise<void> {
    const pid = rec.pid;
    this.forget(rec);
    rec.lastExit = reason;
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

  /** Starts a record again as part of a restart; false when it failed (a retry is queued). */
  private async startAgain(rec: ChildRecord): Promise<boolean> {
    if (!this.proc.alive) return false;
    const res = await this.startRecord(rec);
    if (res.status === 'ok') {
      rec.restarts++;
      return true;
    }
    if (res.status === 'ignore') {
      rec.restarting = false;
      if (this.isDynamic || rec.spec.restart === 'temporary') this.remove(rec);
      return true;
    }
    const reason = res.status === 'already_started' ? { alreadyStarted: res.pid } : res.error;
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
    const recs = this.isDynamic ? [...this.dynamic.values()] : this.children;
    return {
      supervisor: this.label,
      strategy: this.flags.strategy,
      children: recs.map((r) => ({
        id: this.isDynamic ? undefined : r.spec.id,
        pid: r.restarting ? 'restarting' : r.pid ? String(r.pid) : undefined,
        type: r.spec.type,
        state: r.pid ? this.kernel.processInfo(r.pid)?.state : undefined,
        restarts: r.restarts,
        lastExit: r.lastExit === undefined ? undefined : formatReason(r.lastExit),
      })),
    };
  }

  killed(): void {
    for (const r of this.isDynamic ? this.dynamic.values() : this.children) this.cancelPending(r);
    this.initDone({ status: 'error', error: new StartExitError(this.self, 'killed') }); // no-op once started
  }
}
