// The health endpoint (issue 9 item 3): routes on the virtual clock through an in-memory http
// adapter, and one real node:http round trip.
import { describe, expect, it } from 'vitest';
import { fromPromise, setup } from 'xstate';
import { Gauge } from 'prom-client';
import { createRealHttp } from '../../src/env/index.ts';
import { ApplicationTag, child, createKernel, createTestEnv, service, startApplication, type HttpAdapter, type HttpRequest, type HttpResponse } from '../../src/index.ts';
import { healthEndpointMachine, type HealthSource } from '../../src/health/index.ts';
import { cacheLoaderMachine, type Cache } from '../../src/cache/index.ts';

/** An http adapter that only records the handler: the test calls it, no socket, no wall clock. */
function memoryHttp(): HttpAdapter & { request(url: string, method?: string): Promise<HttpResponse>; listening: boolean } {
  let handler: ((req: HttpRequest) => HttpResponse | Promise<HttpResponse>) | undefined;
  const a = {
    listening: false,
    async listen(_o: { port: number }, h: (req: HttpRequest) => HttpResponse | Promise<HttpResponse>) {
      handler = h;
      a.listening = true;
      return { port: 9999, close: async () => void ((a.listening = false), (handler = undefined)) };
    },
    async get(): Promise<{ status: number; body: string }> {
      throw new Error('not used');
    },
    async request(url: string, method = 'GET'): Promise<HttpResponse> {
      if (!handler) throw new Error('not listening');
      return handler({ method, url });
    },
  };
  return a;
}

const db = { up: false };
const RepoTag = service<{ ok: true }>('repo');
const repo = setup({ actors: { connect: fromPromise(async () => (db.up ? { ok: true as const } : Promise.reject(new Error('nxdomain')))) }, types: { context: {} as { service?: { ok: true } } } }).createMachine({
  context: {},
  initial: 'connecting',
  states: { connecting: { invoke: { src: 'connect', onDone: { target: 'up', actions: ({ context, event }) => (context.service = event.output) } } }, up: { tags: ['ready'], on: { 'ordo.stop': 'down' } }, down: { type: 'final' } },
});
const CacheTag = service<Cache<string, number>>('numbers');

function boot(http: HttpAdapter, extra: { sources?: HealthSource[] } = {}) {
  const env = createTestEnv({ io: { http } });
  const kernel = createKernel(env);
  const app = startApplication({
    name: 'shop',
    env,
    kernel,
    tree: {
      strategy: 'rest_for_one',
      maxRestarts: 3,
      periodMs: 5000,
      children: [
        child({ id: 'repo', startRetry: { initialMs: 1000, maxMs: 30_000 }, start: { machine: repo }, provides: RepoTag }),
        child({
          id: 'numbers',
          requires: { repo: RepoTag },
          start: { machine: cacheLoaderMachine, input: ({ env }) => ({ env, name: 'numbers', source: null, spec: { load: () => [['a', 1] as const, ['b', 2] as const] } }) },
          provides: CacheTag,
        }),
        child({
          id: 'health',
          requires: { app: ApplicationTag },
          start: { machine: healthEndpointMachine, input: ({ env, deps }) => ({ env, app: deps.app, port: 8080, caches: [cache], sources: extra.sources ?? [] }) },
        }),
      ],
    },
  });
  // the cache service, read lazily by the metrics (the endpoint starts before the cache here)
  const cache = { stats: () => ({ name: 'numbers', status: 'ready' as const, size: 2, hits: 3, misses: 1, hitRate: 0.75, loads: 1, invalidations: 0, loadedAt: 0, ageMs: 1500, stale: false, lastError: undefined }) };
  return { env, app };
}

describe('health endpoint', () => {
  it('/health/ready answers 503 with the reason (the repo, waiting) the whole outage, 200 once ready; /health/live 200 throughout', async () => {
    db.up = false;
    const http = memoryHttp();
    const t = boot(http);
    await t.env.clock.advance(1);
    expect(http.listening).toBe(true); // the endpoint needs no repo: it serves while the repo waits
    for (let s = 0; s < 600; s += 30) {
      await t.env.clock.advance(30_000);
      const r = await http.request('/health/ready');
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body)).toMatchObject({ status: 'degraded', app: 'shop', reason: { child: 'repo', phase: 'waiting', error: { message: 'nxdomain' } } });
      expect((await http.request('/health/live')).status).toBe(200);
    }
    db.up = true;
    await t.env.clock.advance(30_000);
    const r = await http.request('/health/ready');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ status: 'ready', app: 'shop' });
  });

  it('/tree is the whole report as JSON; unknown paths 404; other methods 405', async () => {
    db.up = true;
    const http = memoryHttp();
    const t = boot(http);
    await t.app.ready;
    const tree = JSON.parse((await http.request('/tree')).body) as { status: string; children: { id: string; phase: string }[]; caches: { name: string }[] };
    expect(tree.status).toBe('ready');
    expect(tree.children.map((c) => [c.id, c.phase])).toEqual([['repo', 'running'], ['numbers', 'running'], ['health', 'running']]);
    expect(tree.caches.map((c) => c.name)).toEqual(['numbers']);
    expect((await http.request('/nope')).status).toBe(404);
    expect((await http.request('/tree', 'POST')).status).toBe(405);
  });

  it('/metrics: Prometheus text with status, child phases, restarts, intensity, cache figures and registered extra sources', async () => {
    db.up = true;
    const http = memoryHttp();
    const jobs: HealthSource = {
      name: 'jobs',
      health: () => ({ queued: 4 }),
      metrics: (registry) => {
        new Gauge({ name: 'ordo_jobs_queued', help: 'queued jobs', registers: [registry], collect() { this.set(4); } });
      },
    };
    const t = boot(http, { sources: [jobs] });
    await t.app.ready;
    const r = await http.request('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers!['content-type']).toMatch(/^text\/plain/);
    const lines = r.body.split('\n');
    expect(lines).toContain('ordo_application_status{app="shop",status="ready"} 1');
    expect(lines).toContain('ordo_application_status{app="shop",status="degraded"} 0');
    expect(lines).toContain('ordo_child_phase{child="repo",phase="running"} 1');
    expect(lines).toContain('ordo_child_restarts{child="numbers"} 0');
    expect(lines).toContain('ordo_supervisor_intensity_used{supervisor="shop"} 0');
    expect(lines).toContain('ordo_supervisor_intensity_max{supervisor="shop"} 3');
    expect(lines).toContain('ordo_cache_hit_ratio{cache="numbers"} 0.75');
    expect(lines).toContain('ordo_cache_age_seconds{cache="numbers"} 1.5');
    expect(lines).toContain('ordo_jobs_queued 4');
    expect(JSON.parse((await http.request('/health/ready')).body)).toMatchObject({ sources: { jobs: { queued: 4 } } });
  });

  it('a bad port is a permanent configuration error: fails fast, named', async () => {
    const env = createTestEnv({ io: { http: memoryHttp() } });
    const app = startApplication({ name: 'x', env, tree: { children: [child({ id: 'health', startRetry: { initialMs: 10, maxMs: 10 }, requires: { app: ApplicationTag }, start: { machine: healthEndpointMachine, input: ({ env, deps }) => ({ env, app: deps.app, port: -1 }) } })] } });
    expect(await app.ready.then(() => undefined, (e: unknown) => e)).toMatchObject({ code: 'ORDO_APPLICATION_START', childId: 'health' });
  });

  it('over real node:http: a free port, /health/ready 200, stopped with the tree', async () => {
    db.up = true;
    const http = createRealHttp();
    const env = createTestEnv({ io: { http } });
    let url = '';
    const app = startApplication({
      name: 'real',
      env,
      tree: {
        children: [
          child({ id: 'health', requires: { app: ApplicationTag }, start: { machine: healthEndpointMachine, input: ({ env, deps }) => ({ env, app: deps.app, port: 0, host: '127.0.0.1' }) }, provides: { service: service<{ url: string }>('health'), select: (s) => ((url = s.context.service!.url), s.context.service) } }),
        ],
      },
    });
    await app.ready;
    const r = await http.get(`${url}/health/ready`);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ status: 'ready', app: 'real' });
    await app.stop();
    await expect(http.get(`${url}/health/live`, { timeoutMs: 1000 })).rejects.toThrow();
  });
});
