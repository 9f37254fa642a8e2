/**
 * Old vs new build of the real RocksDB adapter's strict synced write, in one process, the two
 * sides alternating slice by slice (a diagnosis of one change, not a summary figure). Each side
 * opens its own database (its own sync writer thread) from its own compiled `dist/`; a slice is
 * `AB_WRITES` sequential synced 64-put batches, each naming the next mark (what the store's
 * group commit sends in strict mode); per slice: batches/s and the p50/p99 of one write's
 * latency. With `AB_BUSY=1` the main thread is kept busy meanwhile (setImmediate turns of
 * ~0.3 ms of spinning: the event loop is free only between them, as under a loaded store), the
 * case where a reply needing the main thread for more work before the acknowledgement waits.
 * Run: `AB_OLD=/tmp/ss-old AB_NEW=/tmp/ss-new node --import tsx bench/_syncAB.ts` (both built
 * with `npx tsc -p tsconfig.build.json`; AB_SLICES=10, AB_WRITES=200).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { KvAdapter, KvDb, KvOp } from '../src/env/kv.ts';
import { load1, median, now, percentile } from './lib.ts';

const SLICES = Number(process.env['AB_SLICES'] ?? 10);
const WRITES = Number(process.env['AB_WRITES'] ?? 200);
const BUSY = process.env['AB_BUSY'] === '1';

async function adapter(root: string | undefined, name: string): Promise<KvAdapter> {
  if (root === undefined) throw new Error(`set AB_${name.toUpperCase()} to a built clone`);
  const m = (await import(pathToFileURL(join(root, 'dist/env/index.js')).href)) as { createRocksKv: () => KvAdapter };
  return m.createRocksKv();
}

const batch = (i: number): KvOp[] =>
  Array.from({ length: 64 }, (_, j) => ({ type: 'put' as const, column: 'rows', key: Buffer.from(`k${String(i).padStart(8, '0')}-${j}`), value: Buffer.alloc(100, j) }));

interface Side {
  readonly db: KvDb;
  mark: number;
}

async function slice(s: Side): Promise<{ ops: number; p50: number; p99: number }> {
  const lat: number[] = [];
  const t0 = now();
  for (let i = 0; i < WRITES; i++) {
    const b = batch(s.mark);
    const t = now();
    await s.db.write(b, { sync: true, mark: ++s.mark });
    lat.push(now() - t);
  }
  const ms = now() - t0;
  return { ops: (WRITES * 1000) / ms, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

const root = mkdtempSync(join(tmpdir(), 'ordo-sync-ab-'));
let spinning = BUSY;
const spin = (): void => {
  if (!spinning) return;
  const until = now() + 0.3;
  while (now() < until);
  setImmediate(spin);
};
try {
  const sides: Record<'old' | 'new', Side> = {
    old: { db: await (await adapter(process.env['AB_OLD'], 'old')).open(`${root}/old`, { columns: ['rows'], createIfMissing: true }), mark: 0 },
    new: { db: await (await adapter(process.env['AB_NEW'], 'new')).open(`${root}/new`, { columns: ['rows'], createIfMissing: true }), mark: 0 },
  };
  for (const s of Object.values(sides)) await s.db.release?.();
  // warm-up: one slice each (the sync writer threads' first writes), dropped
  await slice(sides.old);
  await slice(sides.new);
  if (BUSY) spin();
  const rows: string[] = [];
  const ratios = { ops: [] as number[], p50: [] as number[], p99: [] as number[] };
  for (let i = 0; i < SLICES; i++) {
    const order: Array<'old' | 'new'> = i % 2 === 0 ? ['old', 'new'] : ['new', 'old'];
    const r: Partial<Record<'old' | 'new', { ops: number; p50: number; p99: number }>> = {};
    for (const k of order) r[k] = await slice(sides[k]);
    const o = r.old!;
    const n = r.new!;
    ratios.ops.push(n.ops / o.ops);
    ratios.p50.push(n.p50 / o.p50);
    ratios.p99.push(n.p99 / o.p99);
    rows.push(`slice ${i + 1} (${order.join(' then ')}, load ${load1().toFixed(1)}): old ${o.ops.toFixed(0)} batches/s p50 ${o.p50.toFixed(2)} p99 ${o.p99.toFixed(2)} ms | new ${n.ops.toFixed(0)} batches/s p50 ${n.p50.toFixed(2)} p99 ${n.p99.toFixed(2)} ms`);
  }
  spinning = false;
  for (const s of Object.values(sides)) await s.db.close();
  console.log(`# strict synced 64-put batches, old vs new adapter${BUSY ? ', main thread busy' : ''} (${SLICES} slices × ${WRITES} writes, 1 warm-up slice each dropped)`);
  for (const r of rows) console.log(r);
  const f = (xs: number[]): string => `${median(xs).toFixed(2)}× [${xs.map((x) => x.toFixed(2)).join(' ')}]`;
  console.log(`new ÷ old, median of per-slice ratios: batches/s ${f(ratios.ops)}; p50 ${f(ratios.p50)}; p99 ${f(ratios.p99)}`);
} finally {
  spinning = false;
  rmSync(root, { recursive: true, force: true });
}
