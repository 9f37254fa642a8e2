/**
 * The health endpoint child (`ordo/health`): liveness and readiness probes, the tree as JSON
 * and Prometheus metrics, over the Env's http adapter.
 */
export { healthEndpointMachine } from './healthEndpoint.ts';
export { healthResponse } from './routes.ts';
export { createMetricsRegistry } from './metrics.ts';
export { HealthError, HealthListenError, HealthConfigError } from './errors.ts';
export type { HealthSource, CacheLike, HealthView, HealthEndpointInput, HealthEndpoint } from './types.ts';
