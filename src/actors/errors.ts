import { OrdoError } from '../errors.ts';
import type { Pid } from './pid.ts';
import { formatReason } from './exitReason.ts';

/** Base class of the actor kernel's typed errors. */
export abstract class ActorError extends OrdoError {}

/** `call` gave up waiting for a reply. The late reply, if any, is discarded. */
export class CallTimeoutError extends ActorError {
  readonly code = 'ORDO_CALL_TIMEOUT' as const;
  readonly target: Pid | string;
  readonly request: unknown;
  readonly timeoutMs: number;
  constructor(
    target: Pid | string,
    request: unknown,
    timeoutMs: number,
  ) {
    super(`call to ${String(target)} timed out after ${timeoutMs} ms`);
    this.target = target;
    this.request = request;
    this.timeoutMs = timeoutMs;
    this.name = 'CallTimeoutError';
  }
}

/** `call` to a process that does not exist (dead pid or unregistered name). */
export class NoProcError extends ActorError {
  readonly code = 'ORDO_NOPROC' as const;
  readonly target: Pid | string;
  readonly request: unknown;
  constructor(
    target: Pid | string,
    request: unknown,
  ) {
    super(`no process ${String(target)}`);
    this.target = target;
    this.request = request;
    this.name = 'NoProcError';
  }
}

/** The callee exited before replying; `reason` is its exit reason. */
export class CalleeExitError extends ActorError {
  readonly code = 'ORDO_CALLEE_EXIT' as const;
  readonly target: Pid | string;
  readonly request: unknown;
  readonly reason: unknown;
  constructor(
    target: Pid | string,
    request: unknown,
    reason: unknown,
  ) {
    super(`${String(target)} exited during call: ${JSON.stringify(formatReason(reason))}`);
    this.target = target;
    this.request = request;
    this.reason = reason;
    this.name = 'CalleeExitError';
  }
}

/** A process did not become ready within its start timeout. */
export class StartTimeoutError extends ActorError {
  readonly code = 'ORDO_START_TIMEOUT' as const;
  readonly pid: Pid;
  readonly timeoutMs: number;
  /** `cause`: what the machine was stuck on (its `context.error`), when it said. */
  constructor(pid: Pid, timeoutMs: number, cause?: unknown) {
    super(`${String(pid)} was not ready within ${timeoutMs} ms${cause instanceof Error ? `: ${cause.message}` : ''}`, cause === undefined ? undefined : { cause });
    this.pid = pid;
    this.timeoutMs = timeoutMs;
    this.name = 'StartTimeoutError';
  }
}

/**
 * A process exited (crashed or stopped) before it became ready.
 *
 * It reports an exit the kernel observed, not a throw site: its `stack` has the message and no
 * frames (they would only name the kernel's own functions). What went wrong in the child is
 * `reason` (also `cause`), with its own stack when it is an error. Building the frames was
 * ~5–10 µs per failed start — a tenth of a boot whose step fails twice (bench/peers).
 */
export class StartExitError extends ActorError {
  readonly code = 'ORDO_START_EXIT' as const;
  readonly pid: Pid;
  readonly reason: unknown;
  constructor(
    pid: Pid,
    reason: unknown,
  ) {
    const message = `${String(pid)} exited before it was ready: ${JSON.stringify(formatReason(reason))}`;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.pid = pid;
    this.reason = reason;
    this.name = 'StartExitError';
    this.cause = reason;
  }
}

/** Bad argument to a kernel function (an invalid name, a non-object request…). */
export class BadArgumentError extends ActorError {
  readonly code = 'ORDO_BAD_ARGUMENT' as const;
  readonly argument: string;
  readonly value: unknown;
  constructor(
    argument: string,
    value: unknown,
    message: string,
  ) {
    super(message);
    this.argument = argument;
    this.value = value;
    this.name = 'BadArgumentError';
  }
}

export type CallError = CallTimeoutError | NoProcError | CalleeExitError;
