import { DEFAULT_BACKOFF, DEFAULT_CHILD, DEFAULT_FLAGS } from './defaults.ts';
import { BadCombinationError, DuplicateChildError, InvalidChildSpecError, InvalidSupervisorFlagsError, type SupervisorError } from './errors.ts';
import type { AutoShutdown, BackoffSpec, ChildSpec, NormalizedChildSpec, NormalizedFlags, ProvidesSpec, StartRetrySpec, SupervisorFlags } from './types.ts';

export type Validated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: SupervisorError };

const STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'];
const AUTO = ['never', 'any_significant', 'all_significant'];
const RESTARTS = ['permanent', 'transient', 'temporary'];
const TYPES = ['worker', 'supervisor'];

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

// The membership tests of the lists above as comparisons: validation runs once per boot, right
// before the first child starts, where a builtin `includes` per field costs (cold) far more than
// in a loop — the same answers.
const isStrategy = (x: unknown): boolean => x === 'one_for_one' || x === 'one_for_all' || x === 'rest_for_one' || x === 'simple_one_for_one';
const isAuto = (x: unknown): boolean => x === 'never' || x === 'any_significant' || x === 'all_significant';
const isRestart = (x: unknown): boolean => x === 'permanent' || x === 'transient' || x === 'temporary';
const isType = (x: unknown): boolean => x === 'worker' || x === 'supervisor';
/** The normalized `requires` of a spec that has none (never mutated: specs are read only). */
const NO_REQUIRES: NormalizedChildSpec['requires'] = Object.freeze([]) as NormalizedChildSpec['requires'];
const isNonNegInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** Validates supervisor flags (conformance §1.1); unknown keys are ignored, as OTP does. */
export function validateFlags(flags: unknown): Validated<NormalizedFlags> {
  if (!isObj(flags)) return fail(new InvalidSupervisorFlagsError('flags', flags, 'must be an object'));
  const f = flags as SupervisorFlags;
  const strategy = f.strategy ?? DEFAULT_FLAGS.strategy;
  if (!isStrategy(strategy)) return fail(new InvalidSupervisorFlagsError('strategy', f.strategy, `must be one of ${STRATEGIES.join(', ')}`));
  const maxRestarts = f.maxRestarts ?? DEFAULT_FLAGS.maxRestarts;
  if (!isNonNegInt(maxRestarts)) return fail(new InvalidSupervisorFlagsError('maxRestarts', f.maxRestarts, 'must be an integer ≥ 0'));
  const periodMs = f.periodMs ?? DEFAULT_FLAGS.periodMs;
  if (typeof periodMs !== 'number' || !Number.isFinite(periodMs) || periodMs <= 0) return fail(new InvalidSupervisorFlagsError('periodMs', f.periodMs, 'must be a finite number > 0'));
  const autoShutdown = (f.autoShutdown ?? DEFAULT_FLAGS.autoShutdown) as AutoShutdown;
  if (!isAuto(autoShutdown)) return fail(new InvalidSupervisorFlagsError('autoShutdown', f.autoShutdown, `must be one of ${AUTO.join(', ')}`));
  if (strategy === 'simple_one_for_one' && autoShutdown !== 'never') {
    return fail(new BadCombinationError(undefined, { strategy, autoShutdown }));
  }
  const maxChildren = f.maxChildren ?? DEFAULT_FLAGS.maxChildren;
  if (maxChildren !== Infinity && !isNonNegInt(maxChildren)) return fail(new InvalidSupervisorFlagsError('maxChildren', f.maxChildren, 'must be an integer ≥ 0 or Infinity'));
  let backoff: BackoffSpec | undefined;
  if (f.backoff !== undefined) {
    const b = validateBackoff(f.backoff);
    if (typeof b === 'string') return fail(new InvalidSupervisorFlagsError('backoff', f.backoff, b));
    backoff = b;
  }
  return { ok: true, value: { strategy, maxRestarts, periodMs, autoShutdown, backoff, maxChildren } };
}

/** Returns a normalized backoff, or a description of what is wrong. */
function validateBackoff(b: unknown): BackoffSpec | string {
  if (!isObj(b)) return 'must be an object';
  const { initialMs, maxMs, factor = DEFAULT_BACKOFF.factor, jitter = DEFAULT_BACKOFF.jitter, resetAfterMs } = b as unknown as BackoffSpec;
  if (typeof initialMs !== 'number' || !(initialMs >= 0)) return 'initialMs must be a number ≥ 0';
  if (typeof maxMs !== 'number' || !(maxMs >= initialMs)) return 'maxMs must be a number ≥ initialMs';
  if (typeof factor !== 'number' || !(factor >= 1)) return 'factor must be a number ≥ 1';
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) return 'jitter must be a fraction in [0, 1]';
  if (resetAfterMs !== undefined && (typeof resetAfterMs !== 'number' || !(resetAfterMs > 0))) return 'resetAfterMs must be a number > 0';
  return { initialMs, maxMs, factor, jitter, resetAfterMs };
}

/**
 * Validates one child spec and applies defaults. Field order is OTP's `do_check_childspec`
 * (id, start, restart, significant, type, shutdown), so the first bad field is reported.
 */
export function validateChildSpec(spec: unknown, autoShutdown: AutoShutdown = 'never'): Validated<NormalizedChildSpec> {
  if (!isObj(spec)) return fail(new InvalidChildSpecError(undefined, 'spec', spec, 'must be an object'));
  const s = spec as unknown as ChildSpec;
  const id = s.id;
  if (id === undefined) return fail(new InvalidChildSpecError(undefined, 'id', id, 'is missing'));
  if (typeof id !== 'string' || id.length === 0) return fail(new InvalidChildSpecError(undefined, 'id', id, 'must be a non-empty string'));
  if (s.start === undefined) return fail(new InvalidChildSpecError(id, 'start', undefined, 'is missing'));
  if (typeof s.start !== 'function' && !(isObj(s.start) && isMachine((s.start as { machine?: unknown }).machine))) {
    return fail(new InvalidChildSpecError(id, 'start', s.start, 'must be { machine } (an xstate machine) or a start function'));
  }
  const restart = s.restart ?? DEFAULT_CHILD.restart;
  if (!isRestart(restart)) return fail(new InvalidChildSpecError(id, 'restart', s.restart, `must be one of ${RESTARTS.join(', ')}`));
  const significant = s.significant ?? DEFAULT_CHILD.significant;
  if (typeof significant !== 'boolean') return fail(new InvalidChildSpecError(id, 'significant', s.significant, 'must be a boolean'));
  if (significant && restart === 'permanent') return fail(new BadCombinationError(id, { restart: 'permanent', significant: true }));
  if (significant && autoShutdown === 'never') return fail(new BadCombinationError(id, { autoShutdown: 'never', significant: true }));
  const type = s.type ?? DEFAULT_CHILD.type;
  if (!isType(type)) return fail(new InvalidChildSpecError(id, 'type', s.type, `must be one of ${TYPES.join(', ')}`));
  const shutdownMs = s.shutdownMs ?? (type === 'supervisor' ? DEFAULT_CHILD.supervisorShutdownMs : DEFAULT_CHILD.workerShutdownMs);
  if (!(shutdownMs === 'brutal' || shutdownMs === 'infinity' || (typeof shutdownMs === 'number' && Number.isFinite(shutdownMs) && shutdownMs >= 0))) {
    return fail(new InvalidChildSpecError(id, 'shutdownMs', s.shutdownMs, "must be a number ≥ 0, 'brutal' or 'infinity'"));
  }
  const startTimeoutMs = s.startTimeoutMs ?? (type === 'supervisor' ? Infinity : DEFAULT_CHILD.startTimeoutMs);
  if (typeof startTimeoutMs !== 'number' || !(startTimeoutMs > 0)) return fail(new InvalidChildSpecError(id, 'startTimeoutMs', s.startTimeoutMs, 'must be a number > 0 (or Infinity)'));
  let provides: ProvidesSpec | undefined;
  if (s.provides !== undefined) {
    provides = normalizeProvides(s.provides);
    if (!provides) return fail(new InvalidChildSpecError(id, 'provides', s.provides, 'must be a service name, a service tag, { name, select? } or { service: tag, select }'));
  }
  const requires = s.requires === undefined || s.requires === null ? NO_REQUIRES : normalizeRequires(s.requires);
  if (!requires) return fail(new InvalidChildSpecError(id, 'requires', s.requires, 'must be an array of service names or an object of service tags'));
  let backoff: BackoffSpec | undefined;
  if (s.backoff !== undefined) {
    const b = validateBackoff(s.backoff);
    if (typeof b === 'string') return fail(new InvalidChildSpecError(id, 'backoff', s.backoff, b));
    backoff = b;
  }
  let startRetry: StartRetrySpec | undefined;
  if (s.startRetry !== undefined) {
    const r = validateStartRetry(s.startRetry);
    if (typeof r === 'string') return fail(new InvalidChildSpecError(id, 'startRetry', s.startRetry, r));
    startRetry = r;
  }
  return { ok: true, value: { id, start: s.start, restart, shutdownMs, type, significant, startTimeoutMs, provides, requires, backoff, startRetry } };
}

const isTag = (x: unknown): x is { key: string } => isObj(x) && typeof x['key'] === 'string' && x['key'].length > 0;

function normalizeProvides(p: unknown): ProvidesSpec | undefined {
  if (typeof p === 'string') return p ? { name: p } : undefined;
  if (!isObj(p)) return undefined;
  const select = p['select'];
  if (select !== undefined && typeof select !== 'function') return undefined;
  if (typeof p['name'] === 'string' && p['name']) return p as unknown as ProvidesSpec;
  if (isTag(p)) return { name: p.key };
  if (isTag(p['service']) && typeof select === 'function') return { name: p['service'].key, select: select as ProvidesSpec['select'] };
  return undefined;
}

function normalizeRequires(r: unknown): NormalizedChildSpec['requires'] | undefined {
  if (Array.isArray(r)) {
    const out: { as: string; service: string }[] = [];
    for (let i = 0; i < r.length; i++) {
      const x: unknown = r[i];
      if (typeof x !== 'string' || x.length === 0) return undefined;
      out.push({ as: x, service: x });
    }
    return out;
  }
  if (!isObj(r)) return undefined;
  const out: { as: string; service: string }[] = [];
  for (const [as, tag] of Object.entries(r)) {
    if (!isTag(tag)) return undefined;
    out.push({ as, service: tag.key });
  }
  return out;
}

function validateStartRetry(r: unknown): StartRetrySpec | string {
  const b = validateBackoff(r);
  if (typeof b === 'string') return b;
  const { maxAttempts, isPermanent } = r as StartRetrySpec;
  if (maxAttempts !== undefined && !(typeof maxAttempts === 'number' && maxAttempts >= 1)) return 'maxAttempts must be a number ≥ 1';
  if (isPermanent !== undefined && typeof isPermanent !== 'function') return 'isPermanent must be a function';
  // Assigned, not spread in: spreading an object literal takes a slow path on Node 20.
  const out: StartRetrySpec = { initialMs: b.initialMs, maxMs: b.maxMs, factor: b.factor, jitter: b.jitter };
  if (maxAttempts !== undefined) out.maxAttempts = maxAttempts;
  if (isPermanent) out.isPermanent = isPermanent;
  return out;
}

/** Validates a list of specs: each one, then id uniqueness (OTP `check_childspecs`). */
export function validateChildSpecs(specs: unknown, autoShutdown: AutoShutdown = 'never'): Validated<NormalizedChildSpec[]> {
  if (!Array.isArray(specs)) return fail(new InvalidChildSpecError(undefined, 'spec', specs, 'children must be an array'));
  const out: NormalizedChildSpec[] = [];
  // a short list is checked for a duplicate id by scanning it (no Set per supervisor start)
  const seen = specs.length > 16 ? new Set<string>() : undefined;
  for (let i = 0; i < specs.length; i++) {
    const v = validateChildSpec(specs[i], autoShutdown);
    if (!v.ok) return v;
    const id = v.value.id;
    if (seen !== undefined ? seen.has(id) : hasId(out, id)) return fail(new DuplicateChildError(id));
    seen?.add(id);
    out.push(v.value);
  }
  return { ok: true, value: out };
}

function hasId(specs: readonly NormalizedChildSpec[], id: string): boolean {
  for (let i = 0; i < specs.length; i++) if (specs[i]!.id === id) return true;
  return false;
}

function isMachine(x: unknown): boolean {
  return isObj(x) && typeof (x as { transition?: unknown }).transition === 'function' && typeof (x as { getInitialSnapshot?: unknown }).getInitialSnapshot === 'function';
}

function fail<T>(error: SupervisorError): Validated<T> {
  return { ok: false, error };
}
