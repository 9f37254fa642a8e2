import type { Registry } from 'prom-client';
import type { Env } from '../env/index.ts';
import type { ApplicationInfo } from '../supervisor/index.ts';
import type { CacheStats } from '../cache/index.ts';

/**
 * An extra source of health and metrics (the job runner's counts, a connection pool…): give
 * it to the endpoint's `sources`.
 */
export interface HealthSource {
  readonly name: string;
  /** Shown under `sources[name]` in `/tree` and `/health/ready`. */
  health?(): Record<string, unknown>;
  /** Registers metrics on the endpoint's prom-client registry (once per endpoint start); use `collect` to read live values. */
  metrics?(registry: Registry): void;
}

/** Anything with cache figures (a {@link Cache} from `ordo/cache`). */
export interface CacheLike {
  stats(): CacheStats;
}

/** What the health routes read. */
export interface HealthView {
  readonly app: ApplicationInfo;
  readonly caches: readonly CacheLike[];
  readonly sources: readonly HealthSource[];
  readonly registry: Registry;
}

/** Input of {@link healthEndpointMachine}. */
export interface HealthEndpointInput {
  env: Env;
  /** The application (require `ApplicationTag`). */
  app: ApplicationInfo;
  /** 0 picks a free port (tests). */
  port: number;
  /** Default `0.0.0.0`. */
  host?: string;
  caches?: readonly CacheLike[];
  sources?: readonly HealthSource[];
}

/** What a running endpoint provides. */
export interface HealthEndpoint {
  readonly port: number;
  readonly url: string;
}
