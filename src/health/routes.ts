import type { HttpRequest, HttpResponse } from '../env/index.ts';
import type { HealthView } from './types.ts';

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8' };

/**
 * The health endpoint's routes, as a pure function of the request and what it reads (so it is
 * tested without a socket):
 * - `GET /health/live` — 200 while the process serves at all.
 * - `GET /health/ready` — 200 only when the tree is `ready`; 503 with `{ status, reason }`
 *   while starting, degraded, stopping or failed (what a Kubernetes probe or a load balancer reads).
 * - `GET /tree` — the whole health report as JSON (every child, caches, extra sources).
 * - `GET /metrics` — Prometheus text format.
 *
 * @example
 * import { child, createTestEnv, startApplication } from 'ordo';
 * import { createMetricsRegistry, healthResponse } from 'ordo/health';
 * import { createMachine } from 'xstate';
 *
 * const ready = createMachine({ initial: 'up', states: { up: { tags: ['ready'], on: { 'ordo.stop': 'down' } }, down: { type: 'final' } } });
 * const app = startApplication({ name: 'shop', env: createTestEnv(), tree: { strategy: 'one_for_one', children: [child({ id: 'repo', start: { machine: ready } })] } });
 * await app.ready;
 * const view = { app, caches: [], sources: [], registry: createMetricsRegistry(app, [], []) };
 * const res = await healthResponse({ method: 'GET', url: '/health/ready' }, view);
 * console.log(res.status); // 200
 * await app.stop();
 */
export async function healthResponse(req: HttpRequest, view: HealthView): Promise<HttpResponse> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, headers: { allow: 'GET, HEAD', 'content-type': 'text/plain' }, body: 'method not allowed\n' };
  const path = req.url.split('?')[0];
  switch (path) {
    case '/health/live':
      return json(200, { status: 'live', app: view.app.name });
    case '/health/ready': {
      const h = view.app.health();
      const body = { status: h.status, app: h.app, ...(h.version !== undefined ? { version: h.version } : {}), ...(h.reason ? { reason: h.reason } : {}), ...sources(view) };
      return json(h.status === 'ready' ? 200 : 503, body);
    }
    case '/tree':
      return json(200, { ...view.app.health(), caches: view.caches.map((c) => c.stats()), ...sources(view) });
    case '/metrics':
      return { status: 200, headers: { 'content-type': view.registry.contentType }, body: await view.registry.metrics() };
    default:
      return { status: 404, headers: { 'content-type': 'text/plain' }, body: `not found: ${path}\n(try /health/live, /health/ready, /tree, /metrics)\n` };
  }
}

function sources(view: HealthView): { sources?: Record<string, unknown> } {
  const withHealth = view.sources.filter((s) => s.health);
  if (withHealth.length === 0) return {};
  return { sources: Object.fromEntries(withHealth.map((s) => [s.name, s.health!()])) };
}

function json(status: number, body: unknown): HttpResponse {
  return { status, headers: JSON_TYPE, body: JSON.stringify(body) + '\n' };
}
