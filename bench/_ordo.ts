/**
 * Where the kernel benchmarks take Ordo from: its TypeScript source (`src/`, transpiled by tsx
 * as the bench runs — the default) or the compiled JavaScript in `dist/` (what a user runs and
 * what the peers are measured as: their packages ship compiled JavaScript). Choose `dist/` with
 * `--dist`, `BENCH_DIST=1` or `ORDO_BENCH_DIST=1` (`npm run build` first):
 *
 *   npm run build && npm run bench -- peers --dist
 *   ORDO_BENCH_DIST=1 node --import tsx bench/peers.ts
 *
 * Only the bench's own file goes through tsx either way; xstate is one copy for both (its
 * package's `import` condition re-exports its CommonJS build), so a machine defined here runs
 * in Ordo's actors whichever Ordo is loaded.
 */
import { assertFreshDist, DIST } from './_impl.ts';

/** True when the bench runs against `dist/` (the same switch as the store's, bench/_impl.ts). */
export const fromDist = DIST;

/** `'dist'` or `'src'`: printed with every figure so a record says which Ordo it measured. */
export const ordoBuild: 'dist' | 'src' = fromDist ? 'dist' : 'src';

const distEntry = new URL('../dist/index.js', import.meta.url);
if (fromDist) assertFreshDist('index.js');

type Root = typeof import('../src/index.ts');
const root = (await import(fromDist ? distEntry.href : '../src/index.ts')) as Root;

export const { createRealEnv, createKernel, reply, startApplication, startSupervisor, startDynamicChild, stopProcess, whichChildren } = root;
export type { Env, Pid } from '../src/index.ts';
