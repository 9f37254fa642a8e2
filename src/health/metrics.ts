import { Gauge, Registry } from 'prom-client';
import type { ApplicationHealth, ChildHealth } from '../supervisor/index.ts';
import type { CacheLike, HealthSource } from './types.ts';
import type { ApplicationInfo } from '../supervisor/index.ts';

const STATUSES = ['starting', 'ready', 'degraded', 'stopping', 'stopped', 'failed'] as const;

/** Every child with its path from the root (`jobs/runner`), depth first. */
export function flatten(children: readonly ChildHealth[], path = ''): { path: string; child: ChildHealth }[] {
  const out: { path: string; child: ChildHealth }[] = [];
  for (const c of children) {
    const p = path ? `${path}/${c.id ?? c.pid ?? '?'}` : (c.id ?? c.pid ?? '?');
    out.push({ path: p, child: c });
    if (c.children) out.push(...flatten(c.children, p));
  }
  return out;
}

/**
 * A prom-client registry of the application's figures, read at scrape time: status, each
 * child's phase, restarts and start attempts, each supervisor's intensity use, each cache's
 * hit ratio, size, age and staleness — and whatever the extra sources register.
 *
 * @example
 * import { child, createTestEnv, startApplication } from 'ordo';
 * import { createMetricsRegistry } from 'ordo/health';
 * import { createMachine } from 'xstate';
 *
 * const ready = createMachine({ initial: 'up', states: { up: { tags: ['ready'], on: { 'ordo.stop': 'down' } }, down: { type: 'final' } } });
 * const app = startApplication({ name: 'shop', env: createTestEnv(), tree: { strategy: 'one_for_one', children: [child({ id: 'repo', start: { machine: ready } })] } });
 * await app.ready;
 * const registry = createMetricsRegistry(app, [], []); // the app, its caches, other sources
 * const text = await registry.metrics(); // Prometheus text: ordo_child_up{child="repo"} 1 …
 * console.log(text.split('\n').length > 1);
 * await app.stop();
 */
export function createMetricsRegistry(app: ApplicationInfo, caches: readonly CacheLike[], sources: readonly HealthSource[]): Registry {
  const registry = new Registry();
  let snapshot: ApplicationHealth | undefined;
  // one health read per scrape: the first collector reads, the others reuse it
  const read = (): ApplicationHealth => (snapshot ??= app.health());
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void): void => {
    new Gauge({ name, help, labelNames, registers: [registry], collect(this: Gauge) { this.reset(); collect(this); } });
  };
  gauge('ordo_application_status', 'The application status (1 for the current one).', ['app', 'status'], (g) => {
    snapshot = undefined;
    const h = read();
    for (const s of STATUSES) g.set({ app: h.app, status: s }, h.status === s ? 1 : 0);
  });
  gauge('ordo_child_phase', 'Each child of the tree by phase (1 for the current one).', ['child', 'phase'], (g) => {
    for (const { path, child } of flatten(read().children)) g.set({ child: path, phase: child.phase }, 1);
  });
  gauge('ordo_child_restarts', 'Restarts of each child by its supervisor.', ['child'], (g) => {
    for (const { path, child } of flatten(read().children)) g.set({ child: path }, child.restarts);
  });
  gauge('ordo_child_start_attempts', 'Failed start attempts of each child since it last ran.', ['child'], (g) => {
    for (const { path, child } of flatten(read().children)) g.set({ child: path }, child.attempts);
  });
  gauge('ordo_supervisor_intensity_used', 'Restarts inside the intensity window now.', ['supervisor'], (g) => {
    const h = read();
    if (h.intensity) g.set({ supervisor: h.app }, h.intensity.used);
    for (const { path, child } of flatten(h.children)) if (child.intensity) g.set({ supervisor: path }, child.intensity.used);
  });
  gauge('ordo_supervisor_intensity_max', 'Restarts allowed inside the intensity window (maxRestarts).', ['supervisor'], (g) => {
    const h = read();
    if (h.intensity) g.set({ supervisor: h.app }, h.intensity.maxRestarts);
    for (const { path, child } of flatten(h.children)) if (child.intensity) g.set({ supervisor: path }, child.intensity.maxRestarts);
  });
  const cacheGauge = (name: string, help: string, value: (s: ReturnType<CacheLike['stats']>) => number | undefined): void =>
    gauge(name, help, ['cache'], (g) => {
      for (const c of caches) {
        const s = c.stats();
        const v = value(s);
        if (v !== undefined) g.set({ cache: s.name }, v);
      }
    });
  cacheGauge('ordo_cache_hit_ratio', 'Cache hits / (hits + misses).', (s) => s.hitRate);
  cacheGauge('ordo_cache_hits', 'Cache hits.', (s) => s.hits);
  cacheGauge('ordo_cache_misses', 'Cache misses.', (s) => s.misses);
  cacheGauge('ordo_cache_size', 'Entries in the cache.', (s) => s.size);
  cacheGauge('ordo_cache_age_seconds', 'Age of the data served.', (s) => (s.ageMs === undefined ? undefined : s.ageMs / 1000));
  cacheGauge('ordo_cache_stale', '1 while a refresh is failing and old data is served.', (s) => (s.stale ? 1 : 0));
  for (const src of sources) src.metrics?.(registry);
  return registry;
}
