import type { Env } from '../env/index.ts';
import { StartExitError, createKernel, formatReason, isNormalExit, report, reporting, type Kernel, type NativeProcess, type Pid, type StartResult } from '../actors/index.ts';
import { SupervisorServer } from './supervisorServer.ts';
import { startSupervisorNow } from './supervisor.ts';
import { FailedToStartChildError, SupervisorError } from './errors.ts';
import type { SupervisorInit } from './types.ts';
import { service } from './services.ts';
import type { ServiceDirectory } from './childServices.ts';
import type { ChildDescription, ChildPhase } from './describe.ts';

/** OTP application start types (conformance §2). */
export type StartType = 'permanent' | 'transient' | 'temporary';

export interface ApplicationOptions {
  name: string;
  /** The root supervisor. */
  tree: SupervisorInit;
  env: Env;
  /** Default `'temporary'`, as `application:start/1`. */
  startType?: StartType | undefined;
  kernel?: Kernel | undefined;
  /** Trap SIGTERM/SIGINT and stop in order (default true). */
  handleSignals?: boolean | undefined;
  /** Deadline for a signal-triggered stop (default 30 000 ms). */
  stopDeadlineMs?: number | undefined;
  /** Called with the health report whenever a child starts or exits (for live views). */
  onChange?: ((health: ApplicationHealth) => void) | undefined;
  /**
   * The code version running (a release tag, a commit): reported at boot (`application_started`),
   * in `health()` and so on `/health/ready`, so a deploy can check it runs what it built — a
   * cached build that ships the old code shows (seed `003_…` step 9).
   */
  version?: string | undefined;
}

/** How the application ended, and the exit code a process should use. */
export interface ApplicationExit {
  reason: unknown;
  /** 0 after an orderly stop; 1 when the root supervisor gave up, failed to start, or the stop missed its deadline. */
  code: number;
}

/** One child in {@link ApplicationHealth}: started or not, with where it stands and why. */
export interface ChildHealth {
  id: string | undefined;
  pid: string | undefined;
  type: 'worker' | 'supervisor';
  /** The machine's state value; `'running'` for a supervisor (its children are in `children`). */
  state: unknown;
  /** running, starting (an attempt under way), waiting (startRetry), parked (a provider not ready), restarting, pending, stopped. */
  phase: ChildPhase;
  children?: ChildHealth[];
  restarts: number;
  lastExit: unknown;
  /** Failed start attempts since it was last running. */
  attempts: number;
  /** Why the last start attempt failed. */
  lastError: unknown;
  /** When the current phase began (the Env clock's ms). */
  since: number | undefined;
  /** How long it has been in this phase (ms), as of the health read. */
  forMs?: number;
  /** Parked: the service whose provider is not ready. */
  waitingFor?: string;
  /** Up, but its state is tagged `degraded` (e.g. a cache serving stale data, NATS down). */
  degraded?: boolean;
  /** The machine's `context.error`, when it keeps one. */
  error?: unknown;
  /** Supervisors: restarts inside the intensity window now, out of `maxRestarts`. */
  intensity?: IntensityHealth;
}

/** How much of a supervisor's restart intensity is used. */
export interface IntensityHealth {
  used: number;
  maxRestarts: number;
  periodMs: number;
}

/** The application's condition: what `/health/ready` serves. */
export type ApplicationStatus = 'starting' | 'ready' | 'degraded' | 'stopping' | 'stopped' | 'failed';

/** Why the application is not `ready`: the first child that is not (path from the root), and what it waits for. */
export interface HealthReason {
  /** The child's ids from the root, joined by `/` (`jobs/runner`). */
  child: string;
  phase: ChildPhase;
  error?: unknown;
  attempts?: number;
  waitingFor?: string;
  /** How long it has been in this phase. */
  forMs?: number;
}

export interface ApplicationHealth {
  app: string;
  /** The code version, when the application was given one. */
  version?: string;
  status: ApplicationStatus;
  /** Why not ready (starting, degraded, failed). */
  reason?: HealthReason;
  pid: string | undefined;
  /** When health was read (the Env clock's ms). */
  at: number;
  /** The root supervisor's intensity use. */
  intensity?: IntensityHealth;
  children: ChildHealth[];
  exit?: { reason: unknown; code: number };
}

export interface ApplicationHandle {
  readonly name: string;
  readonly kernel: Kernel;
  /**
   * Resolves with the root supervisor's pid once every child has started (children waiting with
   * `startRetry`, parked or starting keep it pending; one up but tagged `degraded` does not —
   * `health().status` says `degraded` then); rejects with `ApplicationStartError`
   * when the start fails, or when the application ends before it was ever ready.
   */
  readonly ready: Promise<Pid>;
  /** Resolves when the application has ended, however it ended. */
  readonly exited: Promise<ApplicationExit>;
  /** Orderly stop in reverse start order; after `deadlineMs` the tree is killed. */
  stop(options?: { deadlineMs?: number }): Promise<ApplicationExit>;
  health(): ApplicationHealth;
}

/** What every child of an application can require as {@link ApplicationTag}: its name and live health. */
export interface ApplicationInfo {
  readonly name: string;
  /** The application's health as `app.health()` returns it, read live. */
  health(): ApplicationHealth;
}

/**
 * The application itself as a service, ready for every child of its tree from the start (the
 * health endpoint requires it).
 *
 * @example
 * import { ApplicationTag, child } from 'ordo';
 * import { healthEndpointMachine } from 'ordo/health';
 *
 * // the health endpoint requires the application itself: ready for every child from the start
 * child({ id: 'health', requires: { app: ApplicationTag }, start: { machine: healthEndpointMachine, input: ({ env, deps }) => ({ env, app: deps.app, port: 8080 }) } });
 */
export const ApplicationTag = service<ApplicationInfo>('ordo.application');

/** The application's root failed to start; names the child and its reason. */
export class ApplicationStartError extends SupervisorError {
  readonly code = 'ORDO_APPLICATION_START' as const;
  readonly app: string;
  readonly childId: string | undefined;
  readonly reason: unknown;
  constructor(
    app: string,
    childId: string | undefined,
    reason: unknown,
  ) {
    super(`application ${app} failed to start${childId ? `: child '${childId}'` : ''}: ${JSON.stringify(formatReason(reason))}`);
    this.app = app;
    this.childId = childId;
    this.reason = reason;
    this.name = 'ApplicationStartError';
    this.cause = reason;
  }
}

/**
 * Starts an application: the root supervisor, signal handling, health, and OTP's start-type
 * rules for what its end means — `permanent`: the runtime exits when it ends; `transient`:
 * it exits unless the reason is `normal` (note a supervisor that gives up exits `shutdown`);
 * `temporary`: the end is reported only. An explicit `stop()` never exits the runtime by
 * itself; a SIGTERM/SIGINT stops in order and then exits with the code.
 *
 * @example
 * import { child, createRealEnv, startApplication } from 'ordo';
 * import { createMachine } from 'xstate';
 *
 * const worker = createMachine({ initial: 'up', states: { up: { tags: ['ready'], on: { 'ordo.stop': 'down' } }, down: { type: 'final' } } });
 * const children = [child({ id: 'w', start: { machine: worker } })];
 * const app = startApplication({ name: 'shop', env: createRealEnv(), tree: { strategy: 'rest_for_one', children } });
 * await app.ready;
 * void app.stop(); // what SIGTERM or SIGINT also does: the tree stops in reverse order
 * process.exitCode = (await app.exited).code; // 0 (1 when the root supervisor gave up)
 */
export function startApplication(options: ApplicationOptions): ApplicationHandle {
  const { env, name } = options;
  const kernel = options.kernel ?? createKernel(env);
  const startType = options.startType ?? 'temporary';
  let rootStarted = false;
  let rootPid: Pid | undefined;
  let stopping: Promise<ApplicationExit> | undefined;
  let exitInfo: ApplicationExit | undefined;
  let startError: ApplicationStartError | undefined;
  let resolveExited!: (e: ApplicationExit) => void;
  const exited = new Promise<ApplicationExit>((r) => (resolveExited = r));
  let resolveReady!: (pid: Pid) => void;
  let rejectReady!: (e: unknown) => void;
  let isReady = false;
  const ready = new Promise<Pid>((res, rej) => ((resolveReady = res), (rejectReady = rej)));
  ready.catch(() => undefined); // the rejection is the caller's to observe; never unhandled
  const unsubscribe: (() => void)[] = [];

  const finish = (exit: ApplicationExit, explicit: boolean): void => {
    if (exitInfo) return;
    exitInfo = exit;
    for (const u of unsubscribe) u();
    const level = exit.code === 0 ? 'info' : 'error';
    // the fields are built only when the record is written (a boot's end, every time)
    if (reporting(env.logger, 'application_exited', level)) report(env.logger, 'application_exited', { application: name, reason: exit.reason, code: exit.code, startType }, level);
    if (!isReady) rejectReady(startError ?? new ApplicationStartError(name, undefined, exit.reason));
    resolveExited(exit);
    if (!explicit) {
      const haltRuntime = startType === 'permanent' || (startType === 'transient' && exit.reason !== 'normal');
      if (haltRuntime) env.io.process.exit(exit.code === 0 ? 1 : exit.code);
    }
  };

  /** Every change below the root: resolve `ready` the first time the whole tree is. */
  const checkReady = (): void => {
    if (isReady || !rootStarted || exitInfo || stopping) return;
    // every child has started (a child up but tagged degraded counts: health says degraded),
    // and the root is not on its way out (giving up stops the children before it exits)
    // One description of the tree (health() would describe it again, and build what readiness does not need).
    if (!rootPid) return;
    const proc = kernel.lookup(rootPid);
    const server = proc?.alive && proc.kind === 'native' ? (proc as NativeProcess).behaviour : undefined;
    // read from the supervisors' records (no description of the tree built per change) …
    let started = server instanceof SupervisorServer && !server.stopRequested ? server.treeStarted() : false;
    if (started === undefined) {
      // … unless a supervisor-type child is not an Ordo supervisor: then from its description,
      // checked again at every lifecycle event from now on (its changes reach no onChange of ours)
      observeLifecycle();
      const root = kernel.processInfo(rootPid)?.state as { stopping?: boolean; children?: unknown[] } | undefined;
      started = root !== undefined && !root.stopping && allStarted(toHealth(root.children ?? [], env.clock.now()));
    }
    if (!started) return;
    isReady = true;
    if (reporting(env.logger, 'application_started')) {
      report(env.logger, 'application_started', { application: name, pid: String(rootPid), startType, ...(options.version !== undefined ? { version: options.version } : {}) });
    }
    resolveReady(rootPid!);
  };
  let changeQueued = false;
  /** The queued check: readiness, then the listener. */
  const changeTurn = (): void => {
    changeQueued = false;
    try {
      checkReady();
      if (options.onChange && !exitInfo) options.onChange(health());
    } catch (e) {
      // thrown out of the microtask, as `queueMicrotask` would: an uncaught exception, not a rejection
      queueMicrotask(() => {
        throw e;
      });
    }
  };
  const onTreeChange = (): void => {
    // Once ready, without an onChange listener, the queued check would do nothing (checkReady
    // returns at once): no microtask per lifecycle event of a running tree.
    if (changeQueued || (isReady && !options.onChange)) return;
    changeQueued = true;
    // A reaction on a settled promise, not `queueMicrotask`: the same microtask queue, without
    // Node's AsyncResource per call (and its async-context push and pop when it runs).
    void SETTLED.then(changeTurn);
  };
  // Readiness is told by the supervisors (`onChange` below): every change of a record of theirs.
  // Lifecycle events are observed only when they tell more — tag changes (degraded ↔ healthy)
  // show only as machine state events, for an `onChange` listener; and a supervisor-type child
  // that is not an Ordo supervisor tells nothing by itself. Observing them by default had every
  // machine of the application build a lifecycle event per snapshot for the application's life.
  let observing = false;
  const observeLifecycle = (): void => {
    if (observing) return;
    observing = true;
    unsubscribe.push(kernel.onLifecycle((e) => (e.type !== 'state' || options.onChange || !isReady ? onTreeChange() : undefined)));
  };
  // Subscribed before the root starts: its first children become ready synchronously.
  if (options.onChange) observeLifecycle();

  const appInfo: ApplicationInfo = { name, health: () => health() };
  const appServices: ServiceDirectory = {
    lookup: (key) => (key === ApplicationTag.key ? { status: 'ready', value: appInfo } : { status: 'missing' }),
    watch: () => () => undefined,
  };
  /** The root's start has settled: started (readiness is checked), or the start error reported. */
  const rootStart = (r: StartResult): void => {
    if (r.status !== 'ok') {
      if (startError || exitInfo) return; // already reported by the root's monitor
      if (stopping && r.status === 'error' && r.error instanceof StartExitError) return; // a stop cut the boot short: the monitor reports it
      startError =
        r.status === 'error' && r.error instanceof FailedToStartChildError
          ? new ApplicationStartError(name, r.error.childId, r.error.reason)
          : new ApplicationStartError(name, undefined, r.status === 'error' ? r.error : r.status);
      report(env.logger, 'start_error', { application: name, child: startError.childId, reason: startError.reason });
      finish({ reason: startError, code: 1 }, stopping !== undefined);
      return;
    }
    rootStarted = true;
    checkReady();
  };
  let r: StartResult | Promise<StartResult>;
  try {
    r = startSupervisorNow(kernel, options.tree, {
      label: name,
      parentServices: appServices,
      onChange: onTreeChange,
      onSpawned: (pid) => {
        rootPid = pid;
        kernel.monitor(pid, (reason) => {
          const failed = (reason as { shutdown?: unknown } | undefined)?.shutdown;
          if (!startError && !stopping && failed instanceof FailedToStartChildError) {
            // The root failed to start a child (at boot, or a start that fails fast later): name it.
            startError = new ApplicationStartError(name, failed.childId, failed.reason);
            report(env.logger, 'start_error', { application: name, child: startError.childId, reason: startError.reason });
          }
          const orderly = stopping !== undefined && isNormalExit(reason) && !startError;
          finish({ reason: startError ?? reason, code: orderly ? 0 : 1 }, stopping !== undefined);
        });
      },
    });
  } catch (e) {
    r = Promise.reject(e);
  }
  // A root whose children all settled at once is started in this turn: `ready` resolves before
  // `startApplication` returns. With an `onChange` listener the root counts as started a turn
  // later, as before: the listener hears the children's changes while the root is starting.
  if (r instanceof Promise || options.onChange) void Promise.resolve(r).then(rootStart);
  else rootStart(r);

  const stop = (opts: { deadlineMs?: number } = {}): Promise<ApplicationExit> => {
    if (stopping) return stopping;
    if (exitInfo) return (stopping = Promise.resolve(exitInfo));
    options.onChange?.(health());
    let settle!: (exit: ApplicationExit) => void;
    // Set before the exit signal is sent: a tree whose children all stop at once is down
    // before `kernel.exit` returns, and the root's monitor must see an orderly stop.
    stopping = new Promise<ApplicationExit>((r) => (settle = r));
    // The deadline runs from the stop request, also while the tree is still starting: a stop
    // during boot cuts the start in progress short and stops what has started, in reverse order.
    const deadline = opts.deadlineMs ?? options.stopDeadlineMs ?? 30_000;
    const done = (exit: ApplicationExit): void => settle(exit.reason === 'killed' ? { ...exit, code: 1 } : exit);
    const arm = (ms: number): unknown =>
      env.clock.setTimeout(() => {
        report(env.logger, 'shutdown_error', { application: name, reason: 'stop_deadline_exceeded', deadlineMs: deadline });
        // Kill every process of the tree, not just the root: a sub-supervisor waiting on a
        // stuck child would otherwise keep both alive (OTP's application master kills all
        // the application's processes after its top supervisor).
        if (rootPid) for (const pid of treeOf(kernel, rootPid)) kernel.exit(pid, 'kill');
      }, ms);
    // Under a delivery scheduler (simulation) the signal is only queued: the deadline is armed
    // first, as ever (a simulation's schedule keeps its order). Otherwise a tree whose children
    // all stop at once is down before `exit` returns, and no deadline is armed at all; one that
    // is not gets it for what is left of it since the request (the same instant on a virtual clock).
    const requestedAt = env.clock.now();
    let timer = env.scheduler !== undefined ? arm(deadline) : undefined;
    if (rootPid && !exitInfo) kernel.exit(rootPid, 'shutdown');
    if (exitInfo) {
      if (timer !== undefined) env.clock.clearTimeout(timer);
      done(exitInfo);
      return stopping;
    }
    timer ??= arm(Math.max(0, deadline - (env.clock.now() - requestedAt)));
    void exited.then((exit) => {
      env.clock.clearTimeout(timer);
      done(exit);
    });
    return stopping;
  };

  // Not when the root already ended in the turn of its start (a child failing at once, a root
  // returning `ignore`, a bad spec): `finish()` has run its unsubscribe loop, and a handler
  // subscribed now would stay, stopping (and exiting the host for) an application already ended.
  if ((options.handleSignals ?? true) && !exitInfo) {
    let signalled = false;
    const onSignal = () => {
      if (signalled) return; // the stop is under way; exit once, when it ends
      signalled = true;
      void stop().then((exit) => env.io.process.exit(exit.code));
    };
    unsubscribe.push(env.io.process.onSignal('SIGTERM', onSignal), env.io.process.onSignal('SIGINT', onSignal));
  }

  function health(): ApplicationHealth {
    const info = rootPid ? kernel.processInfo(rootPid) : undefined;
    const tree = info?.state as { children?: unknown[]; intensity?: IntensityHealth } | undefined;
    const now = env.clock.now();
    const children = toHealth(tree?.children ?? [], now);
    let status: ApplicationStatus;
    let reason: HealthReason | undefined;
    if (exitInfo) status = exitInfo.code === 0 && !startError ? 'stopped' : 'failed';
    else if (stopping) status = 'stopping';
    else {
      const found = notReady(children, now);
      reason = found?.reason;
      status = found ? (found.degraded ? 'degraded' : 'starting') : rootStarted ? 'ready' : 'starting';
    }
    if (startError) reason = { child: startError.childId ?? name, phase: 'stopped', error: formatReason(startError.reason) };
    return {
      app: name,
      ...(options.version !== undefined ? { version: options.version } : {}),
      status,
      ...(reason ? { reason } : {}),
      pid: rootPid ? String(rootPid) : undefined,
      at: now,
      ...(tree?.intensity ? { intensity: tree.intensity } : {}),
      children,
      ...(exitInfo ? { exit: { reason: formatReason(exitInfo.reason), code: exitInfo.code } } : {}),
    };
  }

  return { name, kernel, ready, exited, stop, health };
}

/** One settled promise: readiness checks are queued as its reactions. */
const SETTLED = Promise.resolve();

const NOT_STARTED = new Set<ChildPhase>(['starting', 'waiting', 'parked', 'pending', 'restarting']);

function allStarted(children: readonly ChildHealth[]): boolean {
  return children.every((c) => !NOT_STARTED.has(c.phase) && (!c.children || allStarted(c.children)));
}

/**
 * The first child, depth first, that keeps the tree from being ready — preferring one that is
 * failing (waiting after a failed attempt, or tagged degraded) over one merely on its way.
 */
function notReady(children: ChildHealth[], now: number): { reason: HealthReason; degraded: boolean } | undefined {
  let starting: HealthReason | undefined;
  let degraded: HealthReason | undefined;
  const walk = (list: ChildHealth[], path: string): void => {
    for (const c of list) {
      const id = path ? `${path}/${c.id ?? c.pid ?? '?'}` : (c.id ?? c.pid ?? '?');
      if (c.children) walk(c.children, id);
      if (degraded) return;
      const forMs = c.since === undefined ? undefined : now - c.since;
      const failing = c.phase === 'waiting' || c.phase === 'restarting' || c.degraded === true || (c.phase === 'starting' && c.attempts > 0);
      if (failing) {
        degraded = { child: id, phase: c.phase, ...(c.lastError !== undefined || c.error !== undefined ? { error: c.lastError ?? c.error } : {}), attempts: c.attempts, ...(forMs !== undefined ? { forMs } : {}) };
        return;
      }
      if (!starting && (c.phase === 'starting' || c.phase === 'parked' || c.phase === 'pending')) {
        starting = { child: id, phase: c.phase, ...(c.waitingFor ? { waitingFor: c.waitingFor } : {}), ...(forMs !== undefined ? { forMs } : {}) };
      }
    }
  };
  walk(children, '');
  if (degraded) return { reason: degraded, degraded: true };
  return starting ? { reason: starting, degraded: false } : undefined;
}

/**
 * The processes of the tree under `root`, children before their supervisor: everything linked
 * to a supervisor (its children — also one it is shutting down, which no longer shows in its
 * child list — and anything else that linked itself to it), depth first.
 */
function treeOf(kernel: Kernel, root: Pid): Pid[] {
  const seen = new Set<string>();
  const out: Pid[] = [];
  const visit = (pid: Pid): void => {
    if (seen.has(String(pid))) return;
    seen.add(String(pid));
    const info = kernel.processInfo(pid);
    if (!info) return;
    if (info.kind === 'native') for (const l of info.links) visit(l);
    out.push(pid);
  };
  visit(root);
  return out;
}

function toHealth(children: unknown[], now: number): ChildHealth[] {
  return children.map((c) => {
    const ch = c as ChildDescription;
    const nested = ch.type === 'supervisor' && ch.state && typeof ch.state === 'object' && 'children' in ch.state ? toHealth((ch.state as { children: unknown[] }).children, now) : undefined;
    const out: ChildHealth = {
      id: ch.id,
      pid: ch.pid,
      type: ch.type,
      state: nested ? 'running' : ch.state,
      phase: ch.phase,
      ...(nested ? { children: nested } : {}),
      restarts: ch.restarts,
      lastExit: ch.lastExit,
      attempts: ch.attempts,
      lastError: ch.lastError,
      since: ch.since,
    };
    if (ch.since !== undefined) out.forMs = now - ch.since;
    if (ch.waitingFor !== undefined) out.waitingFor = ch.waitingFor;
    if (ch.degraded) out.degraded = true;
    if (ch.error !== undefined) out.error = ch.error;
    const intensity = nested ? (ch.state as { intensity?: IntensityHealth }).intensity : undefined;
    if (intensity) out.intensity = intensity;
    return out;
  });
}
