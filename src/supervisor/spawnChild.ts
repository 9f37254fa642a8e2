import type { Kernel, Pid, StartResult } from '../actors/index.ts';
import { LAZY_EXIT } from '../actors/index.ts';
import type { ServiceDirectory } from './childServices.ts';
import type { InputContext, NormalizedChildSpec, StartContext } from './types.ts';

/** What the supervisor hands one start of a child: itself, the child's resolved dependencies and arguments. */
export interface SpawnChildContext {
  readonly kernel: Kernel;
  /** The supervisor (every child is linked to it). */
  readonly self: Pid;
  readonly deps: Record<string, unknown>;
  readonly args: unknown;
  /** The directory nested supervisors look services up in. */
  readonly services: ServiceDirectory;
  readonly onChange: (() => void) | undefined;
}

/**
 * @internal One start of a child per its spec: a machine spawned linked to the supervisor
 * (its input evaluated against the start context), or the spec's start function. Never throws:
 * a throw or a malformed return is an error result, named.
 */
export function spawnChild(spec: NormalizedChildSpec, c: SpawnChildContext): StartResult | Promise<StartResult> {
  const start = spec.start;
  if (typeof start === 'function') return startWith(start, spec, c);
  const { kernel, self } = c;
  try {
    const input = start.input;
    // LAZY_EXIT: an exit before ready comes back as a StartExitResult (its error built when read):
    // the supervisor's retry path reads the reason alone
    const options: Parameters<Kernel['spawn']>[1] & { [LAZY_EXIT]?: boolean } = { link: self, [LAZY_EXIT]: true };
    if (typeof input === 'function') options.inputFor = (pid: Pid) => (input as (x: InputContext) => unknown)(startContext(spec, c, pid));
    else if (input !== undefined) options.input = input;
    if (start.name !== undefined) options.name = start.name;
    if (start.trapExit !== undefined) options.trapExit = start.trapExit;
    if (spec.startTimeoutMs !== undefined) options.startTimeoutMs = spec.startTimeoutMs;
    const select = spec.provides?.select;
    if (select !== undefined) options.selectService = select as never;
    // the start result itself when the machine settled while it was spawned (ready, ignored or
    // failed at once), else a promise that never rejects: handed on as it is
    return kernel._spawnNow(start.machine, options);
  } catch (e) {
    return { status: 'error', error: e };
  }
}

/** A start function's start: a throw, a rejection or a malformed return is an error result. */
async function startWith(start: Extract<NormalizedChildSpec['start'], (...args: never[]) => unknown>, spec: NormalizedChildSpec, c: SpawnChildContext): Promise<StartResult> {
  let res: StartResult;
  try {
    res = await start(startContext(spec, c));
  } catch (e) {
    res = { status: 'error', error: e };
  }
  if (!res || typeof res !== 'object' || !('status' in res)) res = { status: 'error', error: { badReturn: res } };
  return res;
}

/** The context a start function (or a machine's input function) sees. */
function startContext(spec: NormalizedChildSpec, c: SpawnChildContext): StartContext & { services: ServiceDirectory; onChange: (() => void) | undefined };
function startContext(spec: NormalizedChildSpec, c: SpawnChildContext, child: Pid): InputContext & { services: ServiceDirectory; onChange: (() => void) | undefined };
function startContext(spec: NormalizedChildSpec, c: SpawnChildContext, child?: Pid): StartContext & { services: ServiceDirectory; onChange: (() => void) | undefined; self?: Pid } {
  const { kernel, self } = c;
  // One literal (with `self` for a machine's input function), not a spread of the start
  // context: spreading an object literal takes a slow path on Node 20.
  const ctx: StartContext & { services: ServiceDirectory; onChange: (() => void) | undefined; self?: Pid } = {
    env: kernel.env,
    kernel,
    parent: self,
    deps: c.deps,
    args: c.args,
    services: c.services,
    onChange: c.onChange,
    // Method shorthand, not a named arrow: under esbuild's keepNames (tsx) a named arrow has its
    // name redefined at every start (one `__name` call per start and restart).
    spawn(machine, options = {}) {
      return kernel.spawn(machine, { startTimeoutMs: spec.startTimeoutMs, ...options, link: self });
    },
  };
  if (child !== undefined) ctx.self = child;
  return ctx;
}
