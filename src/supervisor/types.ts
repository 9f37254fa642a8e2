import type { AnyStateMachine } from 'xstate';
import type { Env } from '../env/index.ts';
import type { Kernel, Pid, SpawnMachineOptions, StartResult } from '../actors/index.ts';

export type RestartType = 'permanent' | 'transient' | 'temporary';
export type ChildType = 'worker' | 'supervisor';
/** ms to wait for an orderly stop, `'brutal'` (kill at once), or `'infinity'` (wait forever). */
export type Shutdown = number | 'brutal' | 'infinity';
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'simple_one_for_one';
export type AutoShutdown = 'never' | 'any_significant' | 'all_significant';

/**
 * Opt-in restart backoff (beyond OTP; Akka's BackoffSupervisor, systemd `RestartSec`,
 * Kubernetes CrashLoopBackOff). The n-th consecutive restart of a child waits
 * `min(maxMs, initialMs * factor^n)`, spread by ±`jitter` (a fraction, drawn from the seeded
 * `env.random`). A child that stayed up for `resetAfterMs` starts again from `initialMs`.
 *
 * Intensity: a delayed restart counts toward `maxRestarts`/`periodMs` when it is *attempted*
 * (when the delay has passed), not when the crash happened — so delays that spread restarts
 * wider than `periodMs / maxRestarts` keep a crash-looping child from exhausting intensity.
 */
export interface BackoffSpec {
  initialMs: number;
  maxMs: number;
  factor?: number | undefined;
  jitter?: number | undefined;
  resetAfterMs?: number | undefined;
}

/**
 * Opt-in retry of a child's *start* (beyond OTP, which has no opinion on a first start that
 * fails: it rolls the whole supervisor back). A failed start attempt — not ready within
 * `startTimeoutMs`, an exit before ready, a start function's error — is retried after
 * `min(maxMs, initialMs * factor^n)` (± `jitter`), and the child shows as `waiting` in health.
 * Attempts are **not** charged to restart intensity, earlier children stay up, and children
 * that require a service of the waiting child are *parked* (not started, not charged) until
 * it is ready. Each attempt has its own `startTimeoutMs`; there is no overall cap unless
 * `maxAttempts` is set.
 *
 * What still fails fast (no retry, the ordinary start failure): a reason marked permanent —
 * an object with `permanent: true` (a bad configuration, refused credentials) or one for
 * which `isPermanent` returns true — a required service no child provides
 * (`MissingDependencyError`), and `maxAttempts` failed attempts.
 */
export interface StartRetrySpec {
  initialMs: number;
  maxMs: number;
  factor?: number | undefined;
  jitter?: number | undefined;
  /** Give up after this many failed attempts (default: never). */
  maxAttempts?: number | undefined;
  /** Reasons that no retry can fix: fail fast. Default: `reason.permanent === true`. */
  isPermanent?: ((reason: unknown) => boolean) | undefined;
}

/** What a custom start function receives. */
export interface StartContext<Deps = Readonly<Record<string, unknown>>> {
  readonly env: Env;
  readonly kernel: Kernel;
  /** The supervisor's pid: link what you start to it (`spawn` does). */
  readonly parent: Pid;
  /** Services named in `requires`, from providers that are ready. */
  readonly deps: Deps;
  /** Extra arguments given to a dynamic supervisor's `startChild`. */
  readonly args: unknown;
  /** Spawns a machine linked to the supervisor and waits for it to be ready. */
  spawn(machine: AnyStateMachine, options?: Omit<SpawnMachineOptions, 'link'>): Promise<StartResult>;
}

/** What a machine's `input` function receives: the start context plus the child's own pid. */
export interface InputContext<Deps = Readonly<Record<string, unknown>>> extends StartContext<Deps> {
  /** The pid the child will have: a machine can keep its own address (e.g. to register callbacks). */
  readonly self: Pid;
}

/** Start a machine: the common case. */
export interface MachineStart {
  machine: AnyStateMachine;
  /** The machine's input: a value, or a function of the {@link InputContext} evaluated at every (re)start. */
  input?: unknown | undefined;
  /** Register the child under this name. */
  name?: string | undefined;
  trapExit?: boolean | undefined;
}

/** A custom start function: returns what OTP's start functions return. */
export type StartFunction = (ctx: StartContext) => StartResult | Promise<StartResult>;

export type ChildStart = MachineStart | StartFunction;

/** A provided service: its name, and how to read it from the ready snapshot. */
export interface ProvidesSpec {
  name: string;
  select?: ((snapshot: unknown) => unknown) | undefined;
}

/**
 * A typed service key (Effect's `Context.Tag`): `service<Store>('store')`. The type parameter
 * is invariant, so a `ServiceTag<Store>` is not a `ServiceTag<Cache>`.
 */
export interface ServiceTag<T> {
  readonly key: string;
  /** @internal Phantom: carries `T` invariantly; never set. */
  readonly _service?: (service: T) => T;
}

/** `requires` in its typed form: local names → service tags (`{ store: StoreTag }`). */
export type Requirements = Readonly<Record<string, ServiceTag<any>>>;

/** The `deps` a child receives for its `requires`: `{ store: Store }` for `{ store: StoreTag }`. */
export type DepsOf<R> = R extends readonly string[]
  ? Readonly<Record<string, unknown>>
  : { readonly [K in keyof R]: R[K] extends ServiceTag<infer T> ? T : never };

/**
 * A child specification, with OTP's vocabulary. Defaults (set once, in `defaults.ts`):
 * `restart: 'permanent'`, `shutdownMs: 5000` for workers and `'infinity'` for supervisors,
 * `type: 'worker'`, `significant: false`, `startTimeoutMs: 5000` for machines.
 */
export interface ChildSpec {
  id: string;
  start: ChildStart;
  restart?: RestartType | undefined;
  shutdownMs?: Shutdown | undefined;
  type?: ChildType | undefined;
  significant?: boolean | undefined;
  startTimeoutMs?: number | undefined;
  /** A service name, `{ name, select }`, a {@link ServiceTag}, or `{ service: tag, select }`. */
  provides?: (string | ProvidesSpec | ServiceTag<any> | { service: ServiceTag<any>; select: (snapshot: any) => unknown }) | undefined;
  /** Service names, or local names → tags (`{ store: StoreTag }`, see {@link child}). */
  requires?: readonly string[] | Requirements | undefined;
  backoff?: BackoffSpec | undefined;
  /** Retry a failed start with backoff instead of failing the supervisor's start. */
  startRetry?: StartRetrySpec | undefined;
}

/** A child spec with every default applied (what `getChildSpec` returns). */
export interface NormalizedChildSpec {
  readonly id: string;
  readonly start: ChildStart;
  readonly restart: RestartType;
  readonly shutdownMs: Shutdown;
  readonly type: ChildType;
  readonly significant: boolean;
  readonly startTimeoutMs: number;
  readonly provides: ProvidesSpec | undefined;
  /** Local dep name → service name. */
  readonly requires: readonly { readonly as: string; readonly service: string }[];
  readonly backoff: BackoffSpec | undefined;
  readonly startRetry: StartRetrySpec | undefined;
}

/** Supervisor flags. `periodMs` is milliseconds (OTP's `period` is whole seconds). */
export interface SupervisorFlags {
  strategy?: Strategy | undefined;
  /** OTP `intensity`: restarts allowed within `periodMs`; one more and the supervisor gives up. Default 1. */
  maxRestarts?: number | undefined;
  /** The sliding window, ms. Default 5000. */
  periodMs?: number | undefined;
  autoShutdown?: AutoShutdown | undefined;
  /** Backoff applied to every child that has none of its own. */
  backoff?: BackoffSpec | undefined;
  /** Dynamic supervisors: at most this many children (`startChild` → `max_children`). */
  maxChildren?: number | undefined;
}

export interface NormalizedFlags {
  readonly strategy: Strategy;
  readonly maxRestarts: number;
  readonly periodMs: number;
  readonly autoShutdown: AutoShutdown;
  readonly backoff: BackoffSpec | undefined;
  readonly maxChildren: number;
}

/** A supervisor: flags plus its children (for `simple_one_for_one`, exactly one template). */
export interface SupervisorSpec extends SupervisorFlags {
  children: readonly ChildSpec[];
}

/** OTP's `init/1`: return the spec, or `'ignore'` to not start at all. Runs at every (re)start. */
export type SupervisorInit = SupervisorSpec | ((ctx: { env: Env; args: unknown }) => SupervisorSpec | 'ignore');
