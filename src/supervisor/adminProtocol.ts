import type { Pid } from '../actors/index.ts';
import type { InvalidChildSpecError, BadCombinationError, DuplicateChildError } from './errors.ts';
import type { ChildSpec, ChildType, NormalizedChildSpec } from './types.ts';

/** @internal The requests a supervisor answers (OTP's `handle_call` clauses). */
export type AdminRequest =
  | { type: 'startChild'; spec: ChildSpec | undefined; args: unknown }
  | { type: 'terminateChild'; target: string | Pid }
  | { type: 'restartChild'; id: string }
  | { type: 'deleteChild'; id: string }
  | { type: 'whichChildren' }
  | { type: 'whichChild'; target: string | Pid }
  | { type: 'countChildren' }
  | { type: 'getChildSpec'; target: string | Pid };

/** `startChild`'s outcome, as OTP's return values. */
export type StartChildResult =
  | { readonly ok: true; readonly pid: Pid | undefined; readonly info?: unknown }
  | { readonly ok: false; readonly error: 'already_started'; readonly pid: Pid }
  | { readonly ok: false; readonly error: 'already_present' }
  | { readonly ok: false; readonly error: 'max_children' }
  | { readonly ok: false; readonly error: 'invalid_spec'; readonly cause: InvalidChildSpecError | BadCombinationError | DuplicateChildError }
  | { readonly ok: false; readonly error: 'start_failed'; readonly reason: unknown };

export type TerminateChildResult = { readonly ok: true } | { readonly ok: false; readonly error: 'not_found' | 'simple_one_for_one' };

export type RestartChildResult =
  | { readonly ok: true; readonly pid: Pid | undefined; readonly info?: unknown }
  | { readonly ok: false; readonly error: 'running' | 'restarting' | 'not_found' | 'simple_one_for_one' }
  | { readonly ok: false; readonly error: 'start_failed'; readonly reason: unknown };

export type DeleteChildResult = { readonly ok: true } | { readonly ok: false; readonly error: 'running' | 'restarting' | 'not_found' | 'simple_one_for_one' };

/** One row of `whichChildren` (OTP `{Id, Child, Type, Modules}`); `id` is undefined for dynamic children. */
export interface ChildInfo {
  readonly id: string | undefined;
  readonly pid: Pid | 'restarting' | undefined;
  readonly type: ChildType;
}

export type WhichChildResult = { readonly ok: true; readonly child: ChildInfo } | { readonly ok: false; readonly error: 'not_found' | 'simple_one_for_one' };

/** OTP's `count_children`. */
export interface ChildCounts {
  readonly specs: number;
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}

export type GetChildSpecResult = { readonly ok: true; readonly spec: NormalizedChildSpec } | { readonly ok: false; readonly error: 'not_found' };
