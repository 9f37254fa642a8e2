import { OrdoError } from '../errors.ts';
import type { Pid } from './pid.ts';
import { formatReason } from './exitReason.ts';

/** Base class of the actor kernel's typed errors. */
export abstract class ActorError extends OrdoError {}

/** `call` gave up waiting for a reply. The late reply, if any, is discarded. */
export class CallTimeoutError extends ActorError {
  readonly code = 'ORDO_CALL_TIMEOUT' as const;
  constructor(
    readonly target: Pid | string,
    readonly request: unknown,
    readonly timeoutMs: number,
  ) {
    super(`call to ${String(target)} timed out after ${timeoutMs} ms`);
    this.name = 'CallTimeoutError';
  }
}

/** `call` to a process that does not exist (dead pid or unregistered name). */
export class NoProcError extends ActorError {
  readonly code = 'ORDO_NOPROC' as const;
  constructor(
    readonly target: Pid | string,
    readonly request: unknown,
  ) {
    super(`no process ${String(target)}`);
    this.name = 'NoProcError';
  }
}

/** The callee exited before replying; `reason` is its exit reason. */
export class CalleeExitError extends ActorError {
  readonly code = 'ORDO_CALLEE_EXIT' as const;
  constructor(
    readonly target: Pid | string,
    readonly request: unknown,
    readonly reason: unknown,
  ) {
    super(`${String(target)} exited during call: ${JSON.stringify(formatReason(reason))}`);
    this.name = 'CalleeExitError';
  }
}

/** A process did not become ready within its start timeout. */
export class StartTimeoutError extends ActorError {
  readonly code = 'ORDO_START_TIMEOUT' as const;
  constructor(
    readonly pid: Pid,
    readonly timeoutMs: number,
  ) {
    super(`${String(pid)} was not ready within ${timeoutMs} ms`);
    this.name = 'StartTimeoutError';
  }
}

/** A process exited (crashed or stopped) before it became ready. */
export class StartExitError extends ActorError {
  readonly code = 'ORDO_START_EXIT' as const;
  constructor(
    readonly pid: Pid,
    readonly reason: unknown,
  ) {
    super(`${String(pid)} exited before it was ready: ${JSON.stringify(formatReason(reason))}`);
    this.name = 'StartExitError';
    this.cause = reason;
  }
}

/** Bad argument to a kernel function (an invalid name, a non-object request…). */
export class BadArgumentError extends ActorError {
  readonly code = 'ORDO_BAD_ARGUMENT' as const;
  constructor(
    readonly argument: string,
    readonly value: unknown,
    message: string,
  ) {
    super(message);
    this.name = 'BadArgumentError';
  }
}

export type CallError = CallTimeoutError | NoProcError | CalleeExitError;
