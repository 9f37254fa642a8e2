/**
 * Which build of Ordo a benchmark runs: the TypeScript source through tsx (default), or with
 * `BENCH_DIST=1` the compiled package in `dist/` (`npm run build` first) — what users run. tsx
 * transforms only the source files (the compiled JavaScript is loaded as it is), and its output
 * keeps every function's name through a `__name` helper, so the source path costs the store
 * more CPU than the build does. The baselines are the benchmark's own code either way.
 */
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * True when the benchmark loads `dist/`: `--dist` (`npm run bench -- NAME --dist`), `BENCH_DIST=1`
 * or `ORDO_BENCH_DIST=1` — one switch for every module (store, core, peers).
 */
export const DIST = process.env['BENCH_DIST'] === '1' || process.env['ORDO_BENCH_DIST'] === '1' || process.argv.includes('--dist');

/** `source (tsx)` or `compiled dist/`, for the figures' labels. */
export const BUILD = DIST ? 'compiled dist/' : 'source (tsx)';

const root = join(import.meta.dirname, '..');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Refuses a missing `dist/<entry>` or a `dist/` older than `src/` (`npm run build` first). */
export function assertFreshDist(entry: string): void {
  const file = join(root, 'dist', entry);
  if (!existsSync(file)) throw new Error(`bench --dist: dist/${entry} is missing — run npm run build first`);
  if (statSync(file).mtimeMs < newest(join(root, 'src'))) throw new Error('bench --dist: dist/ is older than src/ — run npm run build first');
}

/** The store's entry points from the chosen build (refuses a missing or stale `dist/`). */
export async function impl(): Promise<{
  createRealEnv: typeof import('../src/env/index.ts').createRealEnv;
  createRocksKv: typeof import('../src/env/rocksdb.ts').createRocksKv;
  openStore: typeof import('../src/store/openStore.ts').openStore;
}> {
  if (!DIST) {
    const [e, r, s] = await Promise.all([import('../src/env/index.ts'), import('../src/env/rocksdb.ts'), import('../src/store/openStore.ts')]);
    return { createRealEnv: e.createRealEnv, createRocksKv: r.createRocksKv, openStore: s.openStore };
  }
  assertFreshDist(join('store', 'openStore.js'));
  const load = (p: string): Promise<Record<string, unknown>> => import(join(root, 'dist', p));
  const [e, r, s] = await Promise.all([load('env/index.js'), load('env/rocksdb.js'), load('store/openStore.js')]);
  return { createRealEnv: e['createRealEnv'], createRocksKv: r['createRocksKv'], openStore: s['openStore'] } as Awaited<ReturnType<typeof impl>>;
}
