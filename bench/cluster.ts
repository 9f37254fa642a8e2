/**
 * Cluster benchmarks (issue 4), each against a baseline measured in the same run:
 * - replicated write latency p50/p99 vs a raw JetStream publish round trip (target ≤ 1.5×);
 * - replicated write throughput with 3 nodes vs raw JetStream publish throughput;
 * - node-down detection time vs the member TTL; leader failover time vs the lease TTL.
 * Median of RUNS runs (default 3). Starts its own nats-server (Debian's 2.9) via the test harness.
 * Run: `node --import tsx bench/cluster.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createActor } from 'xstate';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createRealEnv, type Env } from '../src/env/index.ts';
import { discoveryMachine, type ClusterService } from '../src/cluster/discovery.ts';
import { replicationMachine, type ReplicationConfig } from '../src/cluster/replication.ts';
import type { ReplicatedStore } from '../src/cluster/replicatedStore.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { NatsServer, waitFor } from '../test/harness/nats.ts';
import { OrdoNodeProcess } from '../test/harness/nodes.ts';
import { run as runR3 } from './clusterR3.ts';
import { type BenchResult, isMain, median, now, percentile, printResults } from './lib.ts';

const RUNS = Math.max(3, Number(process.env['BENCH_RUNS'] ?? 3));
const N = Number(process.env['BENCH_WRITES'] ?? 1000);
const THROUGHPUT_MS = 2000;
const CONCURRENCY = 8;
const PAYLOAD = { id: 'k-000', balance: 12345, note: 'x'.repeat(64) };

/** Temp dirs this benchmark created: all removed when `run` ends. */
const tempDirs: string[] = [];
const tmp = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
};

const quietEnv = (): Env => createRealEnv({ logger: pino({ level: 'silent' }) });

type Tagged = { getSnapshot(): { hasTag(t: string): boolean; context: { service?: unknown } } };
const ready = (a: Tagged): Promise<boolean> => waitFor(() => a.getSnapshot().hasTag('ready'), 'ready', 20_000, 5);

interface BenchNode {
  svc: ClusterService;
  stop(): Promise<void>;
}

async function startNode(url: string, cluster: string, name: string, store: ReplicatedStore, config: Partial<ReplicationConfig>): Promise<BenchNode> {
  const env = quietEnv();
  const d = createActor(discoveryMachine, { input: { env, config: { cluster, nodeName: name, nats: { servers: [url] }, heartbeatMs: 500, ttlMs: 3000 } }, clock: env.clock });
  d.start();
  await ready(d);
  const svc = d.getSnapshot().context.service as ClusterService;
  const r = createActor(replicationMachine, { input: { env, cluster: svc, store, config: { store: 'main', tables: TABLES, ...config } }, clock: env.clock });
  r.start();
  await ready(r);
  return {
    svc,
    async stop() {
      r.send({ type: 'ordo.stop' });
      await waitFor(() => r.getSnapshot().status !== 'active', 'r stopped');
      d.send({ type: 'ordo.stop' });
      await waitFor(() => d.getSnapshot().status !== 'active', 'd stopped');
    },
  };
}

/** Raw JetStream: sequential publish round trips (µs each). */
async function rawLatency(url: string, run: number): Promise<number[]> {
  const nc = await connect({ servers: [url], noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const name = `RAW_${run}`;
  await jsm.streams.add({ name, subjects: [`raw.${run}.>`] });
  const js = jetstream(nc);
  const data = new TextEncoder().encode(JSON.stringify({ v: 1, node: 'raw', batch: { ops: [{ table: 't0', op: 'put', key: 'k', value: PAYLOAD }], schemaVersion: 1 } }));
  for (let i = 0; i < 100; i++) await js.publish(`raw.${run}.t`, data);
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = now();
    await js.publish(`raw.${run}.t`, data, { expect: { lastSequence: 100 + i } });
    out.push((now() - t) * 1000);
  }
  await nc.close();
  return out;
}

/** Raw JetStream throughput: 3 connections × CONCURRENCY in-flight publishes for THROUGHPUT_MS. */
async function rawThroughput(url: string, run: number): Promise<number> {
  const ncs = await Promise.all([0, 1, 2].map(() => connect({ servers: [url], noAsyncTraces: true })));
  const jsm = await jetstreamManager(ncs[0]!);
  await jsm.streams.add({ name: `RAWT_${run}`, subjects: [`rawt.${run}.>`] });
  const data = new TextEncoder().encode(JSON.stringify(PAYLOAD));
  let count = 0;
  const end = now() + THROUGHPUT_MS;
  await Promise.all(
    ncs.flatMap((nc, i) =>
      Array.from({ length: CONCURRENCY }, async () => {
        const js = jetstream(nc);
        while (now() < end) {
          await js.publish(`rawt.${run}.${i}`, data);
          count++;
        }
      }),
    ),
  );
  await Promise.all(ncs.map((nc) => nc.close()));
  return (count / THROUGHPUT_MS) * 1000;
}

type Writer = (i: number) => Promise<void>;

const TABLES = ['counters', 'payloads'];
const body = 'x'.repeat(64);

/** Two follower processes (replNode fixture, RocksDB, sync durability) of `cluster`. */
async function followers(url: string, cluster: string, extra: Record<string, unknown> = {}, n = 2): Promise<OrdoNodeProcess[]> {
  const ps = Array.from({ length: n }, (_, i) =>
    OrdoNodeProcess.spawn('replNode.ts', `f${i}`, { cluster, servers: [url], dataDir: tmp(`ordo-bench-${cluster}-f${i}-`), ...extra }),
  );
  for (const p of ps) await p.waitEvent((e) => e.ev === 'ready', 'ready', 30_000);
  return ps;
}

/** A real Store; `'memory'`: its replicated tables are `storage: 'ram'` (the replication path without RocksDB row writes). */
async function rocksStore(name: string, kind: 'memory' | 'sync' | 'async'): Promise<Store> {
  const dir = tmp(`ordo-bench-${name}-`);
  const durability = kind === 'memory' ? 'async' : kind;
  const storage = kind === 'memory' ? 'ram' : 'disc';
  return openStore({
    env: quietEnv(),
    dir,
    tables: {
      counters: { key: 'id', attributes: { id: { type: 'string' }, n: { type: 'integer', default: 0 } }, replicated: true, durability, storage },
      payloads: { key: 'id', attributes: { id: { type: 'string' }, body: { type: 'string' } }, replicated: true, durability, storage },
      local_payloads: { key: 'id', attributes: { id: { type: 'string' }, body: { type: 'string' } }, durability },
    },
  });
}

/**
 * Replicated write latency: the writer (this process) + 2 follower processes; sequential
 * single-row commits on the writer, each resolving once the writer has applied it.
 */
async function replicatedLatency(url: string, run: number, kind: 'memory' | 'sync' | 'async', local?: number[][], loaded?: number[][], interleavedRaw?: number[][]): Promise<number[]> {
  const cluster = `lat${kind[0]}${run}`;
  const fs = await followers(url, cluster);
  if (loaded) {
    // Baseline under the same load: raw publishes of the same messages into the same stream,
    // with the 2 follower processes consuming and applying every one of them.
    const nc = await connect({ servers: [url], noAsyncTraces: true });
    const js = jetstream(nc);
    const data = new TextEncoder().encode(JSON.stringify({ v: 1, node: 'raw', batch: { ops: [{ table: 'payloads', op: 'put', key: 'p0', value: { id: 'p0', body } }], schemaVersion: 0 } }));
    const subject = `ordo.repl.${cluster}.main.raw.t.payloads`; // node 'raw' publishes on its own subject
    for (let i = 0; i < 100; i++) await js.publish(subject, data);
    const l: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = now();
      await js.publish(subject, data);
      l.push((now() - t) * 1000);
    }
    loaded.push(l);
    await nc.close();
  }
  const store = await rocksStore(cluster, kind);
  const node = await startNode(url, cluster, 'writer', store, {});
  const write: Writer = async (i) => void (await store.dirtyPut('payloads', { id: `p${i % 100}`, body }));
  for (let i = 0; i < 100; i++) await write(i);
  if (local && kind !== 'memory') {
    // the same store, a non-replicated table: what a local write costs without the cluster
    const l: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = now();
      await store.dirtyPut('local_payloads', { id: `p${i % 100}`, body });
      l.push((now() - t) * 1000);
    }
    local.push(l);
  }
  const out: number[] = [];
  if (interleavedRaw) {
    // Same conditions for both: alternate one raw publish (own stream, no consumers) and one
    // replicated write, so load and noise hit both series alike.
    const nc = await connect({ servers: [url], noAsyncTraces: true });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: `RAWI_${cluster}`, subjects: [`rawi.${cluster}`] });
    const js = jetstream(nc);
    const data = new TextEncoder().encode(JSON.stringify({ v: 1, node: 'raw', batch: { ops: [{ table: 'payloads', op: 'put', key: 'p0', value: { id: 'p0', body } }], schemaVersion: 0 } }));
    for (let i = 0; i < 100; i++) await js.publish(`rawi.${cluster}`, data);
    const r: number[] = [];
    for (let i = 0; i < N; i++) {
      let t = now();
      await js.publish(`rawi.${cluster}`, data);
      r.push((now() - t) * 1000);
      t = now();
      await write(i);
      out.push((now() - t) * 1000);
    }
    interleavedRaw.push(r);
    await nc.close();
  } else {
    for (let i = 0; i < N; i++) {
      const t = now();
      await write(i);
      out.push((now() - t) * 1000);
    }
  }
  await node.stop();
  await store.close();
  for (const f of fs) await f.stop();
  return out;
}

/** Replicated throughput: 3 node processes × CONCURRENCY writers for THROUGHPUT_MS (lost races re-submitted by the store). */
async function replicatedThroughput(url: string, run: number, variant: 'stream' | 'none'): Promise<{ perSec: number; conflicts: number }> {
  const cluster = `thr${variant[0]}${run}`;
  const ps = await followers(url, cluster, { conflictDetection: variant !== 'none' }, 3);
  const replies = await Promise.all(ps.map((p) => p.request({ cmd: 'flood', ms: THROUGHPUT_MS, concurrency: CONCURRENCY }, 60_000)));
  for (const p of ps) await p.stop();
  const count = replies.reduce((s, r) => s + (r.count as number), 0);
  const conflicts = replies.reduce((s, r) => s + (r.conflicts as number), 0);
  return { perSec: (count / THROUGHPUT_MS) * 1000, conflicts };
}

/** kill -9 one of 3 node processes; ms until both others report it down, and until a new leader. */
async function failover(url: string, run: number, what: 'nodedown' | 'leader'): Promise<number> {
  const HB = 200;
  const TTL = 1000;
  const LEASE = 1500;
  const cluster = `fo${what[0]}${run}`;
  const procs = ['p1', 'p2', 'p3'].map((n) => OrdoNodeProcess.spawn('node.ts', n, { cluster, servers: [url], heartbeatMs: HB, ttlMs: TTL, leaseTtlMs: LEASE, election: what === 'leader' }));
  try {
    for (const p of procs) await p.waitEvent((e) => e.ev === 'ready', 'ready', 30_000);
    for (const p of procs) await waitFor(async () => ((await p.request({ cmd: 'members' })).members as string[]).length === 3, 'sees 3');
    const isLeader = (p: OrdoNodeProcess): boolean => p.events.filter((e) => e.ev === 'leader' || e.ev === 'follower').at(-1)?.ev === 'leader';
    let victim = procs[0]!;
    if (what === 'leader') victim = await waitFor(() => procs.find(isLeader), 'a leader');
    // kill at a random point of the renewal/heartbeat cycle
    await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 500)));
    const others = procs.filter((p) => p !== victim);
    const t0 = Date.now();
    await victim.kill();
    if (what === 'nodedown') {
      const evs = await Promise.all(others.map((p) => p.waitEvent((e) => e.ev === 'nodedown' && e.member === victim.name && e.t >= t0, 'nodedown', 10_000)));
      return Math.max(...evs.map((e) => e.t)) - t0;
    }
    const ev = await waitFor(() => others.map((p) => p.events.find((e) => e.ev === 'leader' && e.t >= t0)).find(Boolean), 'new leader', 10_000);
    return ev.t - t0;
  } finally {
    for (const p of procs) await p.stop();
  }
}

/** Runs every cluster benchmark and returns the results (no side effects on import). */
export async function run(): Promise<BenchResult[]> {
  const ns = await NatsServer.start();
  try {
    const raw: number[][] = [];
    const mem: number[][] = [];
    const rocks: number[][] = [];
    const rocksAsync: number[][] = [];
    const localSync: number[][] = [];
    const localAsync: number[][] = [];
    const rawLoaded: number[][] = [];
    const rawInter: number[][] = [];
    const rawT: number[] = [];
    const thrStream: number[] = [];
    const thrNone: number[] = [];
    const conflicts: number[] = [];
    const down: number[] = [];
    const lead: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      // the raw series goes first on even runs and last on odd ones (sides alternate)
      if (r % 2 === 0) raw.push(await rawLatency(ns.url, r));
      mem.push(await replicatedLatency(ns.url, r, 'memory', undefined, rawLoaded, rawInter));
      rocks.push(await replicatedLatency(ns.url, r, 'sync', localSync));
      rocksAsync.push(await replicatedLatency(ns.url, r, 'async', localAsync));
      if (r % 2 === 1) raw.push(await rawLatency(ns.url, r));
      if (r % 2 === 0) rawT.push(await rawThroughput(ns.url, r));
      const s = await replicatedThroughput(ns.url, r, 'stream');
      thrStream.push(s.perSec);
      conflicts.push(s.conflicts);
      thrNone.push((await replicatedThroughput(ns.url, r, 'none')).perSec);
      if (r % 2 === 1) rawT.push(await rawThroughput(ns.url, r));
      down.push(await failover(ns.url, r, 'nodedown'));
      lead.push(await failover(ns.url, r, 'leader'));
    }
    const p = (xs: number[][], q: number): number => median(xs.map((x) => percentile(x, q)));
    const lat = (name: string, xs: number[][], q: number): BenchResult => {
      const base = p(raw, q);
      const value = p(xs, q);
      return { name, value, unit: 'µs', baseline: { name: `raw JetStream publish p${q}`, value: base }, ratio: value / base, target: '≤ 1.5×', met: value / base <= 1.5, runs: xs.map((x) => percentile(x, q)) };
    };
    const thr = (name: string, xs: number[]): BenchResult => {
      const base = median(rawT);
      const value = median(xs);
      return { name, value, unit: 'ops/s', baseline: { name: `raw JetStream publish, 3 conns × ${CONCURRENCY} in flight`, value: base }, ratio: value / base, runs: xs };
    };
    // raw publish + local write as one latency: per run, the i-th raw sample plus the i-th local
    // sample (independent series, so each sum is a sample of the sum's distribution), then its
    // percentile — never the sum of two percentiles (a p99 + a p99 is not a p99)
    const sums = (loc: number[][]): number[][] => raw.map((rs, r) => rs.slice(0, Math.min(rs.length, loc[r]!.length)).map((x, i) => x + loc[r]![i]!));
    const vsLocal = (name: string, xs: number[][], loc: number[][], q: number): BenchResult => {
      const base = p(sums(loc), q);
      const value = p(xs, q);
      return { name, value, unit: 'µs', baseline: { name: `p${q} of (raw publish + local store write), sample by sample (local alone p${q}: ${p(loc, q).toFixed(0)} µs)`, value: base }, ratio: value / base, target: '≤ 1.5×', met: value / base <= 1.5, runs: xs.map((x) => percentile(x, q)) };
    };
    const vsLoaded = (q: number): BenchResult => {
      const base = p(rawLoaded, q);
      const value = p(mem, q);
      return { name: `replicated write p${q}, in-memory writer, vs raw publish into the same stream with the same 2 followers consuming`, value, unit: 'µs', baseline: { name: `raw publish p${q} under follower load`, value: base }, ratio: value / base, target: '≤ 1.5×', met: value / base <= 1.5, runs: mem.map((x) => percentile(x, q)) };
    };
    const vsInter = (q: number): BenchResult => {
      const base = p(rawInter, q);
      const value = p(mem, q);
      return { name: `replicated write p${q} (3 nodes, in-memory writer store), interleaved with raw publishes`, value, unit: 'µs', baseline: { name: `raw JetStream publish p${q}, interleaved`, value: base }, ratio: value / base, target: '≤ 1.5×', met: value / base <= 1.5, runs: mem.map((x) => percentile(x, q)) };
    };
    return [
      vsInter(50),
      vsInter(99),
      vsLoaded(50),
      vsLoaded(99),
      vsLocal('replicated write p50, RocksDB async, vs raw publish + local write', rocksAsync, localAsync, 50),
      vsLocal('replicated write p99, RocksDB async, vs raw publish + local write', rocksAsync, localAsync, 99),
      vsLocal('replicated write p50, RocksDB sync, vs raw publish + local write', rocks, localSync, 50),
      vsLocal('replicated write p99, RocksDB sync, vs raw publish + local write', rocks, localSync, 99),
      lat('replicated write p50, writer with in-memory store (replication path only)', mem, 50),
      lat('replicated write p99, writer with in-memory store (replication path only)', mem, 99),
      lat('replicated write p50, writer with RocksDB Store, async durability', rocksAsync, 50),
      lat('replicated write p99, writer with RocksDB Store, async durability', rocksAsync, 99),
      lat('replicated write p50, writer with RocksDB Store, sync durability (fsync per apply)', rocks, 50),
      lat('replicated write p99, writer with RocksDB Store, sync durability (fsync per apply)', rocks, 99),
      thr(`replicated throughput, 3 node processes × ${CONCURRENCY} writers, conflict detection on (median lost races re-submitted: ${median(conflicts)})`, thrStream),
      thr(`replicated throughput, 3 node processes × ${CONCURRENCY} writers, conflict detection off`, thrNone),
      { name: 'node-down detection after kill -9 (heartbeat 200 ms, TTL 1000 ms)', value: median(down), unit: 'ms', baseline: { name: 'member TTL', value: 1000 }, ratio: median(down) / 1000, target: '≤ TTL + 1 heartbeat (1.2×)', met: median(down) <= 1200, runs: down },
      { name: 'leader failover after kill -9 (lease TTL 1500 ms)', value: median(lead), unit: 'ms', baseline: { name: 'lease TTL', value: 1500 }, ratio: median(lead) / 1500, target: '≤ lease TTL (1.0×)', met: median(lead) <= 1500, runs: lead },
    ];
  } finally {
    await ns.dispose();
    for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const results = await run();
  printResults('Cluster', results);
  // the 3-server cluster (R3) figures: bench/clusterR3.ts
  const r3 = await runR3();
  printResults('Cluster (3 nats-servers, R3)', r3);
  results.push(...r3);
  for (const r of results) process.stdout.write(`  runs: ${r.name.slice(0, 40)}… ${JSON.stringify(r.runs?.map((x) => Math.round(x)))}\n`);
  process.exit(0);
}
