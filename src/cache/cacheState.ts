import type { Env } from '../env/index.ts';
import type { Cache, CacheStats, CacheSourceSpec } from './types.ts';

/**
 * @internal The data and counters of one cache incarnation. The machine's actions mutate it
 * (loads, invalidations); the {@link Cache} service reads it.
 */
export class CacheState<S, K, V> {
  readonly data = new Map<K, V>();
  hits = 0;
  misses = 0;
  loads = 0;
  invalidations = 0;
  loadedAt: number | undefined = undefined;
  status: CacheStats['status'] = 'loading';
  lastError: unknown = undefined;
  readonly env: Env;
  readonly name: string;
  readonly source: S;
  readonly spec: CacheSourceSpec<S, K, V>;

  constructor(env: Env, name: string, source: S, spec: CacheSourceSpec<S, K, V>) {
    this.env = env;
    this.name = name;
    this.source = source;
    this.spec = spec;
  }

  /** Replaces the data with a full load. */
  replace(entries: Iterable<readonly [K, V]>): void {
    this.data.clear();
    for (const [k, v] of entries) this.data.set(k, v);
    this.loads++;
    this.loadedAt = this.env.clock.now();
    this.lastError = undefined;
  }

  ageMs(): number | undefined {
    return this.loadedAt === undefined ? undefined : this.env.clock.now() - this.loadedAt;
  }

  stats(): CacheStats {
    const reads = this.hits + this.misses;
    return {
      name: this.name,
      status: this.status,
      size: this.data.size,
      hits: this.hits,
      misses: this.misses,
      hitRate: reads === 0 ? 0 : this.hits / reads,
      loads: this.loads,
      invalidations: this.invalidations,
      loadedAt: this.loadedAt,
      ageMs: this.ageMs(),
      stale: this.status === 'stale',
      lastError: this.lastError,
    };
  }

  /** The service handed to dependents. */
  service(): Cache<K, V> {
    return {
      name: this.name,
      get: (key) => {
        const v = this.data.get(key);
        if (v === undefined) this.misses++;
        else this.hits++;
        return v;
      },
      getOrLoad: async (key) => {
        const v = this.data.get(key);
        if (v !== undefined) {
          this.hits++;
          return v;
        }
        this.misses++;
        if (!this.spec.loadOne) return undefined;
        const loaded = await this.spec.loadOne(this.source, key);
        if (loaded !== undefined) this.data.set(key, loaded);
        return loaded;
      },
      has: (key) => this.data.has(key),
      size: () => this.data.size,
      ageMs: () => this.ageMs(),
      stats: () => this.stats(),
    };
  }
}
