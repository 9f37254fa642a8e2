/** The job runner's bench modules from the chosen build, shared by bench/jobs.ts and bench/_jobsTrace.ts. */
import { join } from 'node:path';
import { DIST, assertFreshDist } from './_impl.ts';

/**
 * Ordo from the chosen build (bench/_impl.ts): the TypeScript source through tsx, or with
 * `--dist` / `BENCH_DIST=1` the compiled `dist/` — what users run, and what the store, core and
 * peers benchmarks load with the same switch (tsx's `__name` helper costs every closure the
 * source creates, and the job path creates several per job).
 */
export async function jobsImpl(): Promise<{
  createRealEnv: typeof import('../src/env/index.ts').createRealEnv;
  createRocksKv: typeof import('../src/env/rocksdb.ts').createRocksKv;
  openStore: typeof import('../src/store/openStore.ts').openStore;
  jobs: Pick<typeof import('../src/jobs/index.ts'), 'JobRunner' | 'defineWorker' | 'jobTables'>;
}> {
  if (!DIST) {
    const [e, r, s, j] = await Promise.all([import('../src/env/index.ts'), import('../src/env/rocksdb.ts'), import('../src/store/openStore.ts'), import('../src/jobs/index.ts')]);
    return { createRealEnv: e.createRealEnv, createRocksKv: r.createRocksKv, openStore: s.openStore, jobs: j };
  }
  assertFreshDist(join('jobs', 'index.js'));
  const load = (p: string): Promise<Record<string, unknown>> => import(join(import.meta.dirname, '..', 'dist', p));
  const [e, r, s, j] = await Promise.all([load('env/index.js'), load('env/rocksdb.js'), load('store/openStore.js'), load('jobs/index.js')]);
  return { createRealEnv: e['createRealEnv'], createRocksKv: r['createRocksKv'], openStore: s['openStore'], jobs: j } as unknown as Awaited<ReturnType<typeof jobsImpl>>;
}
