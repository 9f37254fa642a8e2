import type { Pid } from './pid.ts';

/**
 * The outcome of starting a process, mirroring OTP's `start_link` returns:
 * `{ ok, Pid, Info }`, `ignore`, `{ error, Reason }`, `{ error, { already_started, Pid } }`.
 */
export type StartResult =
  | { readonly status: 'ok'; readonly pid: Pid; readonly info?: unknown }
  | { readonly status: 'ignore' }
  | { readonly status: 'already_started'; readonly pid: Pid }
  | { readonly status: 'error'; readonly error: unknown };
