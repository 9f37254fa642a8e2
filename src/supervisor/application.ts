import type { Env } from '../env/index.ts';
import { createKernel, formatReason, isNormalExit, report, type Kernel, type Pid } from '../actors/index.ts';
import { startSupervisor } from './supervisor.ts';
import { FailedToStartChildError, SupervisorError } from './errors.ts';
import type { SupervisorInit } from './types.ts';

/** OTP application start types (conformance §2). */
export type StartType = 'permanent' | 'transient' | 'temporary';

export interface ApplicationOptions {
  name: string;
  /** The root supervisor. */
  tree: SupervisorInit;
  env: Env;
  /** Default `'temporary'`, as `application:start/1`. */
  startType?: StartType;
  kernel?: Kernel;
  /** Trap SIGTERM/SIGINT and stop in order (default true). */
  handleSignals?: boolean;
  /** Deadline for a signal-triggered stop (default 30 000 ms). */
  stopDeadlineMs?: number;
  /** Called with the health report whenever a child starts or exits (for live views). */
  onChange?: (health: ApplicationHealth) => void;
}

/** How the application ended, and the exit code a process should use. */
export interface ApplicationExit {
  reason: unknown;
  /** 0 after an orderly stop; 1 when the root supervisor gave up, failed to start, or the stop missed its deadline. */
  code: number;
}

export interface ChildHealth {
  id: string | undefined;
  pid: string | undefined;
  type: 'worker' | 'supervisor';
  /** The machine's state value, or for a supervisor, its children. */
  state: unknown;
  children?: ChildHealth[];
  restarts: number;
  lastExit: unknown;
}

export interface ApplicationHealth {
  app: string;
  status: 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';
  pid: string | undefined;
  children: ChildHealth[];
  exit?: { reason: unknown; code: number };
}

export interface ApplicationHandle {
  readonly name: string;
  readonly kernel: Kernel;
  /** Resolves with the root supervisor's pid once every child is ready; rejects with `ApplicationStartError`. */
  readonly ready: Promise<Pid>;
  /** Resolves when the application has ended, however it ended. */
  readonly exited: Promise<ApplicationExit>;
  /** Orderly stop in reverse start order; after `deadlineMs` the tree is killed. */
  stop(options?: { deadlineMs?: number }): Promise<ApplicationExit>;
  health(): ApplicationHealth;
}

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
 * const app = startApplication({ name: 'shop', env: createRealEnv(), tree: { strategy: 'rest_for_one', children } });
 * await app.ready;
 * process.exitCode = (await app.exited).code;
 */
export function startApplication(options: ApplicationOptions): ApplicationHandle {
  const { env, name } = options;
  const kernel = options.kernel ?? createKernel(env);
  const startType = options.startType ?? 'temporary';
  let status: ApplicationHealth['status'] = 'starting';
  let rootPid: Pid | undefined;
  let stopping: Promise<ApplicationExit> | undefined;
  let exitInfo: ApplicationExit | undefined;
  let resolveExited!: (e: ApplicationExit) => void;
  const exited = new Promise<ApplicationExit>((r) => (resolveExited = r));
  const unsubscribe: (() => void)[] = [];

  const finish = (exit: ApplicationExit, explicit: boolean): void => {
    if (exitInfo) return;
    exitInfo = exit;
    status = exit.code === 0 ? 'stopped' : 'failed';
    for (const u of unsubscribe) u();
    report(env.logger, 'application_exited', { application: name, reason: exit.reason, code: exit.code, startType }, exit.code === 0 ? 'info' : 'error');
    resolveExited(exit);
    if (!explicit) {
      const haltRuntime = startType === 'permanent' || (startType === 'transient' && exit.reason !== 'normal');
      if (haltRuntime) env.io.process.exit(exit.code === 0 ? 1 : exit.code);
    }
  };

  // Subscribed before the root starts: its first children become ready synchronously.
  if (options.onChange) {
    const onChange = options.onChange;
    unsubscribe.push(kernel.onLifecycle(() => onChange(health())));
  }

  const ready = (async () => {
    const r = await startSupervisor(kernel, options.tree, { label: name, onSpawned: (pid) => (rootPid = pid) });
    if (r.status !== 'ok') {
      const error =
        r.status === 'error' && r.error instanceof FailedToStartChildError
          ? new ApplicationStartError(name, r.error.childId, r.error.reason)
          : new ApplicationStartError(name, undefined, r.status === 'error' ? r.error : r.status);
      report(env.logger, 'start_error', { application: name, child: error.childId, reason: error.reason });
      finish({ reason: error, code: 1 }, stopping !== undefined);
      throw error;
    }
    rootPid = r.pid;
    if (!stopping) status = 'running';
    kernel.monitor(r.pid, (reason) => {
      const orderly = stopping !== undefined && isNormalExit(reason);
      finish({ reason, code: orderly ? 0 : 1 }, stopping !== undefined);
    });
    report(env.logger, 'application_started', { application: name, pid: String(r.pid), startType });
    return r.pid;
  })();
  ready.catch(() => undefined); // the rejection is the caller's to observe; never unhandled

  const stop = (opts: { deadlineMs?: number } = {}): Promise<ApplicationExit> => {
    if (stopping) return stopping;
    stopping = (async () => {
      if (exitInfo) return exitInfo;
      status = 'stopping';
      // The deadline runs from the stop request, even while the tree is still starting: a
      // SIGTERM during a slow boot must not wait for the boot to finish.
      const deadline = opts.deadlineMs ?? options.stopDeadlineMs ?? 30_000;
      const timer = env.clock.setTimeout(() => {
        report(env.logger, 'shutdown_error', { application: name, reason: 'stop_deadline_exceeded', deadlineMs: deadline });
        // Kill every process of the tree, not just the root: a sub-supervisor waiting on a
        // stuck child would otherwise keep both alive (OTP's application master kills all
        // the application's processes after its top supervisor).
        if (rootPid) for (const pid of treeOf(kernel, rootPid)) kernel.exit(pid, 'kill');
      }, deadline);
      await ready.catch(() => undefined);
      if (!exitInfo) kernel.exit(rootPid!, 'shutdown');
      const exit = await exited;
      env.clock.clearTimeout(timer);
      return exit.reason === 'killed' ? { ...exit, code: 1 } : exit;
    })();
    return stopping;
  };

  if (options.handleSignals ?? true) {
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
    const tree = info?.state as { children?: unknown[] } | undefined;
    return {
      app: name,
      status,
      pid: rootPid ? String(rootPid) : undefined,
      children: toHealth(tree?.children ?? []),
      ...(exitInfo ? { exit: { reason: formatReason(exitInfo.reason), code: exitInfo.code } } : {}),
    };
  }

  return { name, kernel, ready, exited, stop, health };
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

function toHealth(children: unknown[]): ChildHealth[] {
  return children.map((c) => {
    const ch = c as { id?: string; pid?: string; type: 'worker' | 'supervisor'; state: unknown; restarts: number; lastExit: unknown };
    const nested = ch.type === 'supervisor' && ch.state && typeof ch.state === 'object' && 'children' in ch.state ? toHealth((ch.state as { children: unknown[] }).children) : undefined;
    return { id: ch.id, pid: ch.pid, type: ch.type, state: nested ? 'running' : ch.state, ...(nested ? { children: nested } : {}), restarts: ch.restarts, lastExit: ch.lastExit };
  });
}
