import { OrdoError } from '../errors.ts';
import { formatReason } from '../actors/index.ts';

/** Base class of supervisor errors: a literal `code`, the ids involved, the bad value. */
export abstract class SupervisorError extends OrdoError {}

/** A child spec field is invalid (conformance §1.2). `field` names it, `value` is what was given. */
export class InvalidChildSpecError extends SupervisorError {
  readonly code = 'ORDO_INVALID_CHILD_SPEC' as const;
  constructor(
    readonly childId: string | undefined,
    readonly field: 'spec' | 'id' | 'start' | 'restart' | 'significant' | 'type' | 'shutdownMs' | 'startTimeoutMs' | 'provides' | 'requires' | 'backoff' | 'startRetry',
    readonly value: unknown,
    readonly problem: string,
  ) {
    super(`invalid child spec${childId !== undefined ? ` '${childId}'` : ''}: ${field} ${problem} (got ${render(value)})`);
    this.name = 'InvalidChildSpecError';
  }
}

/** Two specs share an id (OTP `duplicate_child_name`). */
export class DuplicateChildError extends SupervisorError {
  readonly code = 'ORDO_DUPLICATE_CHILD' as const;
  constructor(readonly childId: string) {
    super(`duplicate child id '${childId}'`);
    this.name = 'DuplicateChildError';
  }
}

/** Flags or specs that are valid alone but not together (OTP `bad_combination`). */
export class BadCombinationError extends SupervisorError {
  readonly code = 'ORDO_BAD_COMBINATION' as const;
  constructor(
    readonly childId: string | undefined,
    readonly combination: Record<string, unknown>,
  ) {
    super(`bad combination${childId ? ` in '${childId}'` : ''}: ${render(combination)}`);
    this.name = 'BadCombinationError';
  }
}

/** A supervisor flag is invalid (OTP `supervisor_data`). */
export class InvalidSupervisorFlagsError extends SupervisorError {
  readonly code = 'ORDO_INVALID_SUPERVISOR_FLAGS' as const;
  constructor(
    readonly flag: string,
    readonly value: unknown,
    readonly problem: string,
  ) {
    super(`invalid supervisor flag ${flag}: ${problem} (got ${render(value)})`);
    this.name = 'InvalidSupervisorFlagsError';
  }
}

/** A child failed to start while the supervisor was starting (OTP `{shutdown,{failed_to_start_child,Id,R}}`). */
export class FailedToStartChildError extends SupervisorError {
  readonly code = 'ORDO_FAILED_TO_START_CHILD' as const;
  constructor(
    readonly childId: string,
    readonly reason: unknown,
    readonly supervisor?: string,
  ) {
    super(`child '${childId}'${supervisor ? ` of ${supervisor}` : ''} failed to start: ${render(formatReason(reason))}`);
    this.name = 'FailedToStartChildError';
    this.cause = reason;
  }
}

/** A child requires a service that no ready provider offers. */
export class MissingDependencyError extends SupervisorError {
  readonly code = 'ORDO_MISSING_DEPENDENCY' as const;
  constructor(
    readonly childId: string,
    readonly dependency: string,
  ) {
    super(`child '${childId}' requires '${dependency}', which no ready child provides`);
    this.name = 'MissingDependencyError';
  }
}

function render(v: unknown): string {
  try {
    return typeof v === 'function' ? `[function ${v.name || 'anonymous'}]` : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}
