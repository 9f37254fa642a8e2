/**
 * A node behind a slow link, on the real 3-server cluster (issue 14): node `a` reaches the
 * cluster only through the TCP fault proxy in front of `n1` with LATENCY ms added each way,
 * `b` and `c` connect directly; every node commits checked transactions (`loadNode.ts`: `a`
 * every 50 ms, `b` and `c` every INTERVAL ms each). Per phase, how many each node committed in
 * PHASE_MS, with stream-scope fairness off (the baseline: `a` loses every race) and on
 * (`docs/cluster.md`, *Fairness*), phases alternating over ROUNDS rounds, fresh node processes
 * and stream per phase. Every server, proxy and temp dir it creates is removed.
 * Run: `node --import tsx bench/slowLink.ts` (BENCH_SLOW_LATENCY_MS 150, BENCH_SLOW_INTERVAL_MS
 * 100, BENCH_SLOW_PHASE_MS 20000, BENCH_SLOW_ROUNDS 1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsCluster } from '../test/harness/natsCluster.ts';
import { startFaultProxy } from '../test/harness/faultProxy.ts';
import { OrdoNodeProcess } from '../test/harness/nodes.ts';
import { isMain } from './lib.ts';

const LATENCY = Number(process.env['BENCH_SLOW_LATENCY_MS'] ?? 150);
const INTERVAL = Number(process.env['BENCH_SLOW_INTERVAL_MS'] ?? 100);
const PHASE_MS = Number(process.env['BENCH_SLOW_PHASE_MS'] ?? 20_000);
const ROUNDS = Math.max(1, Number(process.env['BENCH_SLOW_ROUNDS'] ?? 1));

interface Outcome {
  result: string;
}
type Phase = { fairness: boolean; ok: Record<string, number>; failed: Record<string, number> };

async function phase(c: NatsCluster, proxyUrl: string, fairness: boolean, n: number, dirs: string[]): Promise<Phase> {
  const cluster = `slow${n}`;
  const nodes = ['a', 'b', 'c'].map((name) => {
    const dataDir = mkdtempSync(join(tmpdir(), `ordo-bench-${cluster}-${name}-`));
    dirs.push(dataDir);
    return OrdoNodeProcess.spawn('loadNode.ts', name, { cluster, servers: name === 'a' ? [proxyUrl] : c.urls, dataDir, fairness });
  });
  const out: Phase = { fairness, ok: {}, failed: {} };
  try {
    for (const node of nodes) await node.waitEvent((e) => e.ev === 'ready', 'ready', 90_000);
    for (const node of nodes) await node.request({ cmd: 'load', intervalMs: node.name === 'a' ? 50 : INTERVAL });
    await new Promise((r) => setTimeout(r, PHASE_MS));
    const results = await Promise.all(nodes.map((node) => node.request({ cmd: 'unload' }, 120_000)));
    for (const [i, r] of results.entries()) {
      const os = r.outcomes as Outcome[];
      out.ok[nodes[i]!.name] = os.filter((o) => o.result === 'ok').length;
      out.failed[nodes[i]!.name] = os.length - out.ok[nodes[i]!.name]!;
    }
  } finally {
    for (const node of nodes) await node.stop().catch(() => node.kill());
  }
  return out;
}

/** Runs the phases; returns them in order. */
export async function slowLink(): Promise<Phase[]> {
  const c = await NatsCluster.start();
  const proxy = await startFaultProxy({ targetPort: c.server('n1').server.port, seed: 7 });
  proxy.setMode({ kind: 'latency', ms: LATENCY });
  const dirs: string[] = [];
  const phases: Phase[] = [];
  try {
    let n = 0;
    for (let r = 0; r < ROUNDS; r++) for (const f of r % 2 === 0 ? [false, true] : [true, false]) phases.push(await phase(c, proxy.url, f, n++, dirs));
  } finally {
    await proxy.close();
    await c.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  return phases;
}

if (isMain(import.meta.url)) {
  for (const p of await slowLink()) {
    console.log(`fairness ${p.fairness ? 'on ' : 'off'}: committed in ${PHASE_MS / 1000} s ${JSON.stringify(p.ok)}; failed ${JSON.stringify(p.failed)} (a: ${LATENCY} ms each way, b and c every ${INTERVAL} ms)`);
  }
}
