import { OrdoError } from '../errors.ts';
import { formatReason } from '../actors/index.ts';

/** Base class of supervisor errors: a literal `code`, the ids involved, the bad value. */
export abstract class SupervisorError extends OrdoError {}

/** A child spec field is invalid (conformance §1.2). `field` names it, `value` is what was given. */
export class InvalidChildSpecError extends SupervisorError {
  readonly code = 'ORDO_INVALID_CHILD_SPEC' as const;
  readonly childId: string | undefined;
  readonly field: 'spec' | 'id' | 'start' | 'restart' | 'significant' | 'type' | 'shutdownMs' | 'startTimeoutMs' | 'provides' | 'requires' | 'backoff' | 'startRetry';
  readonly value: unknown;
  readonly problem: string;
  constructor(
    childId: string | undefined,
    field: 'spec' | 'id' | 'start' | 'restart' | 'significant' | 'type' | 'shutdownMs' | 'startTimeoutMs' | 'provides' | 'requires' | 'backoff' | 'startRetry',
    value: unknown,
    problem: string,
  ) {
    super(`invalid child spec${childId !== undefined ? ` '${childId}'` : ''}: ${field} ${problem} (got ${render(value)})`);
    this.childId = childId;
    this.field = field;
    this.value = value;
    this.problem = problem;
    this.name = 'InvalidChildSpecError';
  }
}

/** Two specs share an id (OTP `duplicate_child_name`). */
export class DuplicateChildError extends SupervisorError {
  readonly code = 'ORDO_DUPLICATE_CHILD' as const;
  readonly childId: string;
  constructor(childId: string) {
    super(`duplicate child id '${childId}'`);
    this.childId = childId;
    this.name = 'DuplicateChildError';
  }
}

/** Flags or specs that are valid alone but not together (OTP `bad_combination`). */
export class BadCombinationError extends SupervisorError {
  readonly code = 'ORDO_BAD_COMBINATION' as const;
  readonly childId: string | undefined;
  readonly combination: Record<string, unknown>;
  constructor(
    childId: string | undefined,
    combination: Record<string, unknown>,
  ) {
    super(`bad combination${childId ? ` in '${childId}'` : ''}: ${render(combination)}`);
    this.childId = childId;
    this.combination = combination;
    this.name = 'BadCombinationError';
  }
}

/** A supervisor flag is invalid (OTP `supervisor_data`). */
export class InvalidSupervisorFlagsError extends SupervisorError {
  readonly code = 'ORDO_INVALID_SUPERVISOR_FLAGS' as const;
  readonly flag: string;
  readonly value: unknown;
  readonly problem: string;
  constructor(
    flag: string,
    value: unknown,
    problem: string,
  ) {
    super(`invalid supervisor flag ${flag}: ${problem} (got ${render(value)})`);
    this.flag = flag;
    this.value = value;
    this.problem = problem;
    this.name = 'InvalidSupervisorFlagsError';
  }
}

/** A child failed to start while the supervisor was starting (OTP `{shutdown,{failed_to_start_child,Id,R}}`). */
export class FailedToStartChildError extends SupervisorError {
  readonly code = 'ORDO_FAILED_TO_START_CHILD' as const;
  readonly childId: string;
  readonly reason: unknown;
  readonly supervisor: string | undefined;
  constructor(
    childId: string,
    reason: unknown,
    supervisor?: string,
  ) {
    super(`child '${childId}'${supervisor ? ` of ${supervisor}` : ''} failed to start: ${render(formatReason(reason))}`);
    this.childId = childId;
    this.reason = reason;
    this.supervisor = supervisor;
    this.name = 'FailedToStartChildError';
    this.cause = reason;
  }
}

/** A child requires a service that no ready provider offers. */
export class MissingDependencyError extends SupervisorError {
  readonly code = 'ORDO_MISSING_DEPENDENCY' as const;
  readonly childId: string;
  readonly dependency: string;
  constructor(
    childId: string,
    dependency: string,
  ) {
    super(`child '${childId}' requires '${dependency}', which no ready child provides`);
    this.childId = childId;
    this.dependency = dependency;
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
