import { OrdoError } from '../errors.ts';

/** Base class of the health endpoint's errors. */
export abstract class HealthError extends OrdoError {}

/** The endpoint could not bind its port (in use, not permitted): a start failure, retried with the child's `startRetry`. */
export class HealthListenError extends HealthError {
  readonly code = 'ORDO_HEALTH_LISTEN' as const;
  readonly port: number;
  readonly host: string;
  constructor(port: number, host: string, options: { cause?: unknown } = {}) {
    super(`health endpoint cannot listen on ${host}:${port}${options.cause instanceof Error ? `: ${options.cause.message}` : ''}`, options);
    this.name = 'HealthListenError';
    this.port = port;
    this.host = host;
  }
}

/** A bad endpoint configuration: permanent (fails fast, never retried). */
export class HealthConfigError extends HealthError {
  readonly code = 'ORDO_HEALTH_CONFIG' as const;
  readonly permanent = true;
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, problem: string) {
    super(`health endpoint: ${field} ${problem} (got ${JSON.stringify(value)})`);
    this.name = 'HealthConfigError';
    this.field = field;
    this.value = value;
  }
}
