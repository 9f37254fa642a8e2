import type { Kernel, Pid, StartResult, Target } from '../actors/index.ts';
import { NoProcError } from '../actors/index.ts';
import { SupervisorServer } from './supervisorServer.ts';
import type { ServiceDirectory } from './childServices.ts';
import { validateChildSpecs, validateFlags } from './validate.ts';
import { InvalidChildSpecError } from './errors.ts';
import type { ChildSpec, RestartType, StartContext, SupervisorInit, SupervisorSpec } from './types.ts';
import type {
  AdminRequest,
  ChildCounts,
  ChildInfo,
  DeleteChildResult,
  GetChildSpecResult,
  RestartChildResult,
  StartChildResult,
  TerminateChildResult,
  WhichChildResult,
} from './adminProtocol.ts';

export interface StartSupervisorOptions {
  /** Register the supervisor under this name. */
  name?: string | undefined;
  /** Link to this parent (its exit signal stops the supervisor; the supervisor's exit reaches it). */
  link?: Pid | undefined;
  /** Passed to an `init` function. */
  args?: unknown | undefined;
  /** How reports name this supervisor (default: its name, else its pid). */
  label?: string | undefined;
  /** Called with the supervisor's pid as soon as it exists, before its children start. */
  onSpawned?: ((pid: Pid) => void) | undefined;
  /** @internal The services of the enclosing supervisors. */
  parentServices?: ServiceDirectory | undefined;
  /**
   * Called whenever a child anywhere below changes phase (started, waiting, parked, exited).
   * Default: the `link`ed parent's when it is an Ordo supervisor, so a nested supervisor started
   * by hand in a child's start function tells its application as the `supervisor()` helper's does.
   */
  onChange?: (() => void) | undefined;
}

/**
 * Starts a supervisor and resolves when every static child is ready — OTP's
 * `supervisor:start_link`. A child that fails to start rolls back the ones already started
 * (reverse order) and resolves `{ status: 'error', error: FailedToStartChildError }`.
 * Invalid flags or specs resolve `{ status: 'error', error }` with a typed error carrying
 * the bad value; an `init` returning `'ignore'` resolves `{ status: 'ignore' }`.
 *
 * @example
 * import { createKernel, createTestEnv, startSupervisor, stopProcess } from 'ordo';
 * import { createMachine } from 'xstate';
 *
 * const cacheMachine = createMachine({ initial: 'up', states: { up: { tags: ['ready'], on: { 'ordo.stop': 'down' } }, down: { type: 'final' } } });
 * const kernel = createKernel(createTestEnv());
 * const r = await startSupervisor(kernel, { strategy: 'one_for_one', maxRestarts: 3, periodMs: 5000, children: [
 *   { id: 'cache', start: { machine: cacheMachine } },
 * ] });
 * if (r.status === 'ok') await stopProcess(kernel, r.pid);
 */
export function startSupervisor(kernel: Kernel, init: SupervisorInit, options: StartSupervisorOptions = {}): Promise<StartResult> {
  try {
    const r = startSupervisorNow(kernel, init, options);
    return r instanceof Promise ? r : Promise.resolve(r);
  } catch (e) {
    return Promise.reject(e); // as the async function it was: a throw (an `onSpawned` that throws) rejects
  }
}

/**
 * @internal `startSupervisor`, returning the start result itself when the supervisor's `init`
 * settled while it ran (every child ready, ignored, failed, waiting or parked at once), else a
 * promise of it (an application's boot carries on in the same turn; `startSupervisor` wraps
 * it for everyone else).
 */
export function startSupervisorNow(kernel: Kernel, init: SupervisorInit, options: StartSupervisorOptions = {}): StartResult | Promise<StartResult> {
  let spec: SupervisorSpec | 'ignore';
  try {
    spec = typeof init === 'function' ? init({ env: kernel.env, args: options.args }) : init;
  } catch (e) {
    return { status: 'error', error: e };
  }
  if (spec === 'ignore') return { status: 'ignore' };
  if (typeof spec !== 'object' || spec === null) return { status: 'error', error: { badReturn: spec } };
  const flags = validateFlags(spec);
  if (!flags.ok) return { status: 'error', error: flags.error };
  const specs = validateChildSpecs(spec.children, flags.value.autoShutdown);
  if (!specs.ok) return { status: 'error', error: specs.error };
  if (flags.value.strategy === 'simple_one_for_one' && specs.value.length !== 1) {
    return { status: 'error', error: new InvalidChildSpecError(undefined, 'spec', spec.children, 'a simple_one_for_one supervisor needs exactly one child spec (its template)') };
  }
  let server: SupervisorServer | undefined;
  const spawned = kernel.spawnNative(
    (proc) => (server = new SupervisorServer(proc, kernel, flags.value, specs.value, options.link, options.label ?? options.name ?? String(proc.pid), options.parentServices, options.onChange)),
    { link: options.link, name: options.name },
  );
  if ('status' in spawned) return spawned;
  options.onSpawned?.(spawned.pid);
  return server!.begin();
}

/**
 * A child spec for a nested supervisor (`type: 'supervisor'`, `shutdownMs: 'infinity'`).
 * Its `init` runs again at every restart, so children added with `startChild` are lost when
 * it restarts — as in OTP.
 *
 * @example
 * import { supervisor } from 'ordo';
 * import { createMachine } from 'xstate';
 *
 * const worker = createMachine({ initial: 'up', states: { up: { tags: ['ready'], on: { 'ordo.stop': 'down' } }, down: { type: 'final' } } });
 * const workers = supervisor('workers', { strategy: 'simple_one_for_one', children: [{ id: 'w', start: { machine: worker } }] });
 * console.log(workers.type); // 'supervisor'
 */
export function supervisor(id: string, init: SupervisorInit, options: { restart?: RestartType | undefined; significant?: boolean | undefined; name?: string | undefined } = {}): ChildSpec {
  return {
    id,
    type: 'supervisor',
    restart: options.restart,
    significant: options.significant,
    start: (ctx) =>
      startSupervisor(ctx.kernel, init, {
        link: ctx.parent,
        args: ctx.args,
        name: options.name,
        label: options.name ?? id,
        ...internalContext(ctx),
      }),
  };
}

/** The tree plumbing a supervisor hands its children's start functions (services, change notices). */
function internalContext(ctx: StartContext): { parentServices?: ServiceDirectory; onChange?: () => void } {
  const c = ctx as StartContext & { services?: ServiceDirectory; onChange?: () => void };
  return { ...(c.services ? { parentServices: c.services } : {}), ...(c.onChange ? { onChange: c.onChange } : {}) };
}

async function admin<T>(kernel: Kernel, sup: Target, request: AdminRequest): Promise<T> {
  const r = await kernel.call<T>(sup, request, { timeoutMs: Infinity });
  if (r.ok) return r.value;
  // OTP: the caller exits `{noproc, …}` (or with the supervisor's exit reason).
  throw r.error instanceof Error ? r.error : new NoProcError(sup, request);
}

/**
 * Adds a child to a static supervisor (OTP `start_child/2` with a child spec). Build typed
 * specs with {@link child}.
 *
 * @example
 * import { child, createKernel, createTestEnv, startChild, startSupervisor, stopProcess } from 'ordo';
 * import { createMachine } from 'xstate';
 *
 * const cacheMachine = createMachine({ initial: 'up', states: { up: { tags: ['ready'], on: { 'ordo.stop': 'down' } }, down: { type: 'final' } } });
 * const kernel = createKernel(createTestEnv());
 * const sup = await startSupervisor(kernel, { strategy: 'one_for_one', children: [] }, { name: 'root' });
 * await startChild(kernel, 'root', child({ id: 'cache', start: { machine: cacheMachine } })); // { ok: true, pid }
 * if (sup.status === 'ok') await stopProcess(kernel, sup.pid);
 */
export function startChild(kernel: Kernel, sup: Target, spec: ChildSpec): Promise<StartChildResult> {
  return admin(kernel, sup, { type: 'startChild', spec, args: spec });
}

/**
 * Starts one more child of a `simple_one_for_one` supervisor (OTP `start_child/2` with extra
 * arguments): `args` reaches the template's start context as `ctx.args`.
 *
 * @example
 * import { createKernel, createTestEnv, startDynamicChild, startSupervisor, stopProcess } from 'ordo';
 * import { createMachine } from 'xstate';
 *
 * const worker = createMachine({ types: {} as { input: { job: number } }, initial: 'up', states: { up: { tags: ['ready'], on: { 'ordo.stop': 'down' } }, down: { type: 'final' } } });
 * const kernel = createKernel(createTestEnv());
 * const workers = await startSupervisor(kernel, { strategy: 'simple_one_for_one', children: [{ id: 'w', start: (ctx) => kernel.spawn(worker, { input: ctx.args }) }] });
 * if (workers.status === 'ok') {
 *   await startDynamicChild(kernel, workers.pid, { job: 42 }); // `{ job: 42 }` is the template's ctx.args
 *   await stopProcess(kernel, workers.pid);
 * }
 */
export function startDynamicChild(kernel: Kernel, sup: Target, args?: unknown): Promise<StartChildResult> {
  return admin(kernel, sup, { type: 'startChild', spec: undefined, args });
}
/** Stops a child (static: by id; dynamic: by pid). Idempotent; never counts as a restart. */
export function terminateChild(kernel: Kernel, sup: Target, idOrPid: string | Pid): Promise<TerminateChildResult> {
  return admin(kernel, sup, { type: 'terminateChild', target: idOrPid });
}
/** Starts a stopped static child again. Does not count toward intensity. */
export function restartChild(kernel: Kernel, sup: Target, id: string): Promise<RestartChildResult> {
  return admin(kernel, sup, { type: 'restartChild', id });
}
/** Removes a stopped static child's spec. */
export function deleteChild(kernel: Kernel, sup: Target, id: string): Promise<DeleteChildResult> {
  return admin(kernel, sup, { type: 'deleteChild', id });
}
/** Children in **reverse start order**, as OTP returns them. */
export function whichChildren(kernel: Kernel, sup: Target): Promise<ChildInfo[]> {
  return admin(kernel, sup, { type: 'whichChildren' });
}
export function whichChild(kernel: Kernel, sup: Target, idOrPid: string | Pid): Promise<WhichChildResult> {
  return admin(kernel, sup, { type: 'whichChild', target: idOrPid });
}
export function countChildren(kernel: Kernel, sup: Target): Promise<ChildCounts> {
  return admin(kernel, sup, { type: 'countChildren' });
}
/** The fully defaulted spec of a child. */
export function getChildSpec(kernel: Kernel, sup: Target, idOrPid: string | Pid): Promise<GetChildSpecResult> {
  return admin(kernel, sup, { type: 'getChildSpec', target: idOrPid });
}

/**
 * Stops a supervisor (or any process) with `reason` and resolves with its exit reason once
 * it is gone — children first, in reverse start order.
 */
export function stopProcess(kernel: Kernel, target: Target, reason: unknown = 'shutdown'): Promise<unknown> {
  return new Promise((resolve) => {
    kernel.monitor(target, resolve);
    kernel.exit(target, reason);
  });
}
