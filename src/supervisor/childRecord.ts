import type { Pid } from '../actors/index.ts';
import type { NormalizedChildSpec } from './types.ts';

/**
 * @internal One child as the supervisor tracks it (OTP's `#child{}`). `pid` undefined and
 * `restarting` false: not running, spec kept. `restarting` true: a restart is pending
 * (a failed attempt awaiting its retry, or a backoff delay).
 */
export interface ChildRecord {
  readonly key: number;
  spec: NormalizedChildSpec;
  pid: Pid | undefined;
  restarting: boolean;
  /** How many times this child has been restarted by the supervisor. */
  restarts: number;
  lastExit: unknown;
  startedAt: number | undefined;
  /** Consecutive restarts, for backoff. */
  attempt: number;
  timer: unknown;
  /** Extra start arguments (dynamic children). */
  args: unknown;
  /** A start attempt is under way. */
  starting: boolean;
  /** A failed start is waiting for its `startRetry` delay (not charged to intensity). */
  waiting: boolean;
  /** Failed start attempts since the child was last running. */
  attempts: number;
  /** Why the last start attempt failed. */
  lastError: unknown;
  /** Parked: the service it requires whose provider is not ready. */
  parkedOn: string | undefined;
  /** When the current phase (starting, waiting, parked, running, stopped) began. */
  since: number | undefined;
  /** A start was attempted at least once (false: still `pending` in its supervisor's boot). */
  tried: boolean;
}

export function newRecord(key: number, spec: NormalizedChildSpec, args?: unknown): ChildRecord {
  return {
    key,
    spec,
    pid: undefined,
    restarting: false,
    restarts: 0,
    lastExit: undefined,
    startedAt: undefined,
    attempt: 0,
    timer: undefined,
    args,
    starting: false,
    waiting: false,
    attempts: 0,
    lastError: undefined,
    parkedOn: undefined,
    since: undefined,
    tried: false,
  };
}
