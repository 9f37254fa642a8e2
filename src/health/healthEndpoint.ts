import { assign, fromPromise, setup } from 'xstate';
import type { Registry } from 'prom-client';
import type { HttpServerHandle } from '../env/index.ts';
import { createMetricsRegistry } from './metrics.ts';
import { healthResponse } from './routes.ts';
import type { HealthEndpoint, HealthEndpointInput, HealthView } from './types.ts';
import { HealthConfigError, HealthListenError } from './errors.ts';

interface Ctx {
  readonly input: HealthEndpointInput;
  readonly view: HealthView;
  server: HttpServerHandle | undefined;
  service: HealthEndpoint | undefined;
  error: unknown;
}

/**
 * The health endpoint child: listens through `env.io.http` (the network is I/O: the routes
 * themselves are deterministic, see {@link healthResponse}) and serves `/health/live`,
 * `/health/ready` (200 only when the tree is ready, else 503 with the reason), `/tree` and
 * `/metrics` (Prometheus, through prom-client).
 *
 * `listening` → `serving` (tag `ready`; `context.service` is `{ port, url }`) → on `ordo.stop`,
 * `closing` → final. A port that cannot be bound ends it before it is ready (reason
 * `HealthListenError`): give the child a `startRetry` to wait for the port.
 *
 * @example
 * import { ApplicationTag, child, createRealEnv, startApplication } from 'ordo';
 * import { healthEndpointMachine } from 'ordo/health';
 *
 * const app = startApplication({
 *   name: 'shop',
 *   env: createRealEnv(),
 *   tree: { strategy: 'one_for_one', children: [child({ id: 'health', requires: { app: ApplicationTag }, start: { machine: healthEndpointMachine, input: ({ env, deps }) => ({ env, app: deps.app, port: 0, host: '127.0.0.1' }) } })] },
 * });
 * await app.ready; // GET /health/ready answers 200 now (port 0: any free port; 8080 in production)
 * await app.stop();
 */
export const healthEndpointMachine = setup({
  types: {
    input: {} as HealthEndpointInput,
    context: {} as Ctx,
    events: {} as { type: 'ordo.stop'; reason?: unknown },
    output: {} as { reason?: unknown },
  },
  actors: {
    listen: fromPromise<HttpServerHandle, Ctx>(async ({ input }) => {
      const http = input.input.env.io.http;
      if (!http) throw new HealthConfigError('env.io.http', undefined, 'this Env has no http adapter');
      const { port, host } = input.input;
      try {
        return await http.listen({ port, ...(host !== undefined ? { host } : {}) }, (req) => healthResponse(req, input.view));
      } catch (e) {
        throw new HealthListenError(port, host ?? '0.0.0.0', { cause: e });
      }
    }),
    close: fromPromise<void, HttpServerHandle | undefined>(async ({ input }) => input?.close()),
  },
}).createMachine({
  id: 'healthEndpoint',
  context: ({ input }) => {
    if (!(Number.isInteger(input.port) && input.port >= 0 && input.port < 65536)) throw new HealthConfigError('port', input.port, 'must be an integer in 0..65535');
    const caches = input.caches ?? [];
    const sources = input.sources ?? [];
    const registry: Registry = createMetricsRegistry(input.app, caches, sources);
    return { input, view: { app: input.app, caches, sources, registry }, server: undefined, service: undefined, error: undefined };
  },
  initial: 'listening',
  states: {
    listening: {
      on: { 'ordo.stop': 'closed' },
      invoke: {
        src: 'listen',
        input: ({ context }) => context,
        onDone: {
          target: 'serving',
          actions: assign(({ context, event }) => ({ server: event.output, service: { port: event.output.port, url: `http://${hostFor(context.input.host)}:${event.output.port}` } })),
        },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => event.error }) },
      },
    },
    serving: { tags: ['ready'], on: { 'ordo.stop': 'closing' } },
    closing: { invoke: { src: 'close', input: ({ context }) => context.server, onDone: 'closed', onError: 'closed' } },
    closed: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => (context.error ? { reason: context.error } : {}),
});

function hostFor(host: string | undefined): string {
  return host === undefined || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}
