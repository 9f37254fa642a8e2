/**
 * Old vs new build of the store's synced transaction loop (`bench/store.ts synced`: 64 writers,
 * one-row transactions on a `sync` table, the strict watermark), in one process, the two builds'
 * rounds alternating (a b, b a, …) after unrecorded warm-up rounds (a diagnosis of one change, not
 * a summary figure). Each round opens a fresh store from its side's compiled `dist/` and runs
 * `AB_TX` transactions. Per round: tx/s; CPU per transaction (`process.cpuUsage`, every thread:
 * the sync writer's and libuv's included), less moved by the neighbours' load than wall time;
 * and the main thread's busy time per transaction (`eventLoopUtilization().active`: wall time
 * outside the loop's idle wait, so also inflated while the thread is preempted). Each figure is
 * the median of the rounds, each ratio (new ÷ old) the median of the per-pair ratios.
 * Run: `AB_OLD=/tmp/ss-old AB_NEW=/tmp/ss-new node --import tsx bench/_syncedTxAB.ts` (both built
 * with `npx tsc -p tsconfig.build.json`; AB_PAIRS=10, AB_WARMUP=4, AB_TX=6400).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import type { Env } from '../src/env/index.ts';
import type { OpenStoreOptions } from '../src/store/openStore.ts';
import type { Store } from '../src/store/store.ts';
import { load1, median, now, oneRowTxWriters } from './lib.ts';

const PAIRS = Number(process.env['AB_PAIRS'] ?? 10);
const WARMUP = Number(process.env['AB_WARMUP'] ?? 4);
const TX = Number(process.env['AB_TX'] ?? 6400);
const WRITERS = 64;

interface Build {
  readonly createRealEnv: (o: { logger: unknown }) => Env;
  readonly openStore: (o: OpenStoreOptions) => Promise<Store>;
}

async function build(root: string | undefined, name: string): Promise<Build> {
  if (root === undefined) throw new Error(`set AB_${name.toUpperCase()} to a built clone`);
  const load = async (p: string): Promise<Record<string, unknown>> => (await import(pathToFileURL(join(root, 'dist', p)).href)) as Record<string, unknown>;
  const [e, s] = await Promise.all([load('env/index.js'), load('store/openStore.js')]);
  return { createRealEnv: e['createRealEnv'], openStore: s['openStore'] } as Build;
}

interface Round {
  readonly txs: number;
  readonly cpuUs: number;
  readonly mainUs: number;
}

async function round(b: Build): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-bench-syncedab-'));
  try {
    const store = await b.openStore({ env: b.createRealEnv({ logger: pino({ level: 'silent' }) }), dir: join(dir, 's'), tables: { t: { key: 'id', attributes: { id: { type: 'integer' }, payload: { type: 'string' } }, durability: 'sync' } } });
    const e0 = performance.eventLoopUtilization();
    const c0 = process.cpuUsage();
    const t0 = now();
    await oneRowTxWriters(store, TX, WRITERS);
    const ms = now() - t0;
    const c = process.cpuUsage(c0);
    const e = performance.eventLoopUtilization(e0);
    await store.close();
    return { txs: TX / (ms / 1000), cpuUs: (c.user + c.system) / TX, mainUs: (e.active * 1000) / TX };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const old = await build(process.env['AB_OLD'], 'old');
const neu = await build(process.env['AB_NEW'], 'new');
for (let i = 0; i < WARMUP; i++) {
  await round(old);
  await round(neu);
}
const a: Round[] = [];
const b: Round[] = [];
const loads: number[] = [];
for (let i = 0; i < PAIRS; i++) {
  if (i % 2 === 0) {
    a.push(await round(old));
    b.push(await round(neu));
  } else {
    b.push(await round(neu));
    a.push(await round(old));
  }
  loads.push(load1());
}
const fig = (k: keyof Round): { old: number; new: number; ratio: number; perPair: number[] } => {
  const perPair = b.map((r, i) => r[k] / a[i]![k]);
  return { old: median(a.map((r) => r[k])), new: median(b.map((r) => r[k])), ratio: median(perPair), perPair: perPair.map((x) => Math.round(x * 100) / 100) };
};
console.log(JSON.stringify({ pairs: PAIRS, tx: TX, load: [Math.min(...loads), Math.max(...loads)], txPerS: fig('txs'), cpuUsPerTx: fig('cpuUs'), mainBusyUsPerTx: fig('mainUs') }, null, 1));
