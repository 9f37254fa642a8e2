import type { Pid } from './pid.ts';
import { StartExitError } from './errors.ts';

/**
 * The outcome of starting a process, mirroring OTP's `start_link` returns:
 * `{ ok, Pid, Info }`, `ignore`, `{ error, Reason }`, `{ error, { already_started, Pid } }`.
 */
export type StartResult =
  | { readonly status: 'ok'; readonly pid: Pid; readonly info?: unknown }
  | { readonly status: 'ignore' }
  | { readonly status: 'already_started'; readonly pid: Pid }
  | { readonly status: 'error'; readonly error: unknown };

/**
 * @internal A start that failed because the process exited before it was ready, as the
 * supervisor's spawns receive it: `error` (the {@link StartExitError}) is built when it is first
 * read, not when the process exits. A start retried by the supervisor reads only `reason` —
 * building the error (a native `Error`) cost ~9 µs of a ~25 µs failed attempt on the boot path.
 * Only a spawn that asks for it with {@link LAZY_EXIT} gets one; every other caller gets the
 * plain `{ status: 'error', error }` object (an own `error`, as spreading or comparing expects).
 */
export class StartExitResult {
  readonly status = 'error' as const;
  readonly pid: Pid;
  /** The exit reason (what `error.reason` is). */
  readonly reason: unknown;
  private built: StartExitError | undefined = undefined;
  constructor(pid: Pid, reason: unknown) {
    this.pid = pid;
    this.reason = reason;
  }
  /** The start's error, built once, on first read. */
  get error(): StartExitError {
    return (this.built ??= new StartExitError(this.pid, this.reason));
  }
}

/** @internal The spawn option (a symbol key: not part of `SpawnMachineOptions`) asking for a {@link StartExitResult} on an exit before ready. */
export const LAZY_EXIT: unique symbol = Symbol('ordo.lazyExit');
