import type { Env } from '../env/index.ts';

/** A change a source reports: one key updated (with its new value, or deleted), or "everything may have changed". */
export type CacheChange<K, V> = { readonly key: K; readonly op: 'put'; readonly value: V } | { readonly key: K; readonly op: 'delete' } | { readonly op: 'all' };

/** How a cache reads its source. `S` is the provided service (a `Store`, a client…). */
export interface CacheSourceSpec<S, K, V> {
  /** The full load: every entry. Runs in `loading` and `refreshing`. */
  load(source: S): Promise<Iterable<readonly [K, V]>> | Iterable<readonly [K, V]>;
  /** One entry, for `getOrLoad` misses (optional). */
  loadOne?(source: S, key: K): Promise<V | undefined> | V | undefined;
  /** Change events of the source (the store's, replicated writes included); returns an unsubscribe. */
  subscribe?(source: S, onChange: (change: CacheChange<K, V>) => void): () => void;
}

/** Backoff of a failed load or refresh, inside the machine (never a crash of its supervisor). */
export interface CacheRetrySpec {
  initialMs: number;
  maxMs: number;
  factor?: number;
  jitter?: number;
}

/** Input of {@link cacheLoaderMachine}. */
export interface CacheLoaderInput<S = unknown, K = unknown, V = unknown> {
  env: Env;
  /** The cache's name (health, metrics). */
  name: string;
  /** The provided service it loads from: pass it from `deps`, so the cache starts only once that is ready. */
  source: S;
  spec: CacheSourceSpec<S, K, V>;
  /** Default `{ initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.1 }`. */
  retry?: CacheRetrySpec | undefined;
  /** Reload everything this often (optional; change events keep it fresh otherwise). */
  refreshEveryMs?: number | undefined;
}

/** A cache's figures, for health and metrics. */
export interface CacheStats {
  readonly name: string;
  /** loading (first load), ready, refreshing, degraded (first load failing), stale (refresh failing: serving old data). */
  readonly status: 'loading' | 'ready' | 'refreshing' | 'degraded' | 'stale';
  readonly size: number;
  readonly hits: number;
  readonly misses: number;
  /** hits / (hits + misses); 0 before any read. */
  readonly hitRate: number;
  readonly loads: number;
  readonly invalidations: number;
  /** When the data served was loaded (Env clock ms), undefined before the first load. */
  readonly loadedAt: number | undefined;
  /** How old the data served is, ms. */
  readonly ageMs: number | undefined;
  /** True while a refresh is failing and old data is served. */
  readonly stale: boolean;
  readonly lastError: unknown;
}

/** What a running cache loader provides (`context.service`). */
export interface Cache<K = unknown, V = unknown> {
  readonly name: string;
  /** The cached value; counts a hit or a miss. */
  get(key: K): V | undefined;
  /** The cached value, else one loaded with the source's `loadOne` (and kept). */
  getOrLoad(key: K): Promise<V | undefined>;
  has(key: K): boolean;
  size(): number;
  /** How old the data served is (ms), undefined before the first load. */
  ageMs(): number | undefined;
  stats(): CacheStats;
}
