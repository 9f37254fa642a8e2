/** Every default of supervisor flags and child specs, in one place (OTP's `?default_flags`, `?default_child_spec`). */
export const DEFAULT_FLAGS = {
  strategy: 'one_for_one',
  maxRestarts: 1,
  periodMs: 5000,
  autoShutdown: 'never',
  maxChildren: Infinity,
} as const;

export const DEFAULT_CHILD = {
  restart: 'permanent',
  type: 'worker',
  significant: false,
  workerShutdownMs: 5000,
  supervisorShutdownMs: 'infinity',
  startTimeoutMs: 5000,
} as const;

export const DEFAULT_BACKOFF = { factor: 2, jitter: 0 } as const;

/** gen_server's default call timeout; supervisor API calls wait forever, as OTP's do. */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;
