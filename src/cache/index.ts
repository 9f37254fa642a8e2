/**
 * Cache loaders (`ordo/cache`): a machine per cache that loads from a provided service once it
 * is ready, follows its change events, serves stale data with its age when a refresh fails, and
 * reports degraded instead of crashing its supervisor.
 */
export { cacheLoaderMachine } from './cacheLoader.ts';
export { storeTableSource } from './storeSource.ts';
export type { Cache, CacheChange, CacheLoaderInput, CacheRetrySpec, CacheSourceSpec, CacheStats } from './types.ts';
