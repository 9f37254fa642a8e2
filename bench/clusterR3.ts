/**
 * Cluster benchmarks on a 3-server NATS cluster (issue 14), each against a baseline measured in
 * the same run:
 * - replicated write p50/p99 on R3 (writer = this process with the real RocksDB `Store`, 2
 *   follower processes) vs a raw JetStream publish into an R3 stream, sides alternating one
 *   write each, median over RUNS runs;
 * - writes unavailable per killed-server role (stream leader, meta leader, follower): 3 node
 *   processes commit every 100 ms; ms from the `kill -9` until every node committed a write
 *   started after it, and until the replication stream had a (new) leader — the Raft election,
 *   which the client cannot shorten; one kill per role per round, median over KILL_ROUNDS
 *   rounds (BENCH_KILL_ROUNDS, default 5), roles in turn.
 * Every temp dir it creates is removed. Run: `node --import tsx bench/clusterR3.ts`
 * (also part of `bench/cluster.ts`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createActor } from 'xstate';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createRealEnv } from '../src/env/index.ts';
import { discoveryMachine, type ClusterService } from '../src/cluster/discovery.ts';
import { replicationMachine } from '../src/cluster/replication.ts';
import { openStore } from '../src/store/index.ts';
import { NatsCluster } from '../test/harness/natsCluster.ts';
import { waitFor } from '../test/harness/nats.ts';
import { OrdoNodeProcess } from '../test/harness/nodes.ts';
import { type BenchResult, isMain, median, now, percentile, printResults } from './lib.ts';

const RUNS = Math.max(1, Number(process.env['BENCH_RUNS'] ?? 3));
const N = Number(process.env['BENCH_WRITES'] ?? 500);
const KILL_ROUNDS = Math.max(1, Number(process.env['BENCH_KILL_ROUNDS'] ?? 5));
const body = 'x'.repeat(64);

type Tagged = { getSnapshot(): { hasTag(t: string): boolean; status: string } };
const ready = (a: Tagged): Promise<boolean> => waitFor(() => a.getSnapshot().hasTag('ready'), 'ready', 30_000, 5);

/** One latency run: the writer here + 2 followers; alternating raw R3 publish / replicated write. */
async function r3Latency(c: NatsCluster, run: number, dirs: string[]): Promise<{ ordo: number[]; raw: number[] }> {
  const cluster = `r3lat${run}`;
  const tmp = (p: string): string => {
    const d = mkdtempSync(join(tmpdir(), `ordo-bench-${cluster}-${p}-`));
    dirs.push(d);
    return d;
  };
  const fs = ['f0', 'f1'].map((name) => OrdoNodeProcess.spawn('replNode.ts', name, { cluster, servers: c.urls, dataDir: tmp(name), durability: 'async' }));
  for (const f of fs) await f.waitEvent((e) => e.ev === 'ready', 'ready', 60_000);
  const env = createRealEnv({ logger: pino({ level: 'silent' }) });
  const store = await openStore({
    env,
    dir: tmp('writer'),
    tables: {
      counters: { key: 'id', attributes: { id: { type: 'string' }, n: { type: 'integer', default: 0 } }, replicated: true, durability: 'async' },
      payloads: { key: 'id', attributes: { id: { type: 'string' }, body: { type: 'string' } }, replicated: true, durability: 'async' },
    },
  });
  const d = createActor(discoveryMachine, { input: { env, config: { cluster, nodeName: 'writer', nats: { servers: c.urls }, heartbeatMs: 500, ttlMs: 3000 } }, clock: env.clock });
  d.start();
  await ready(d);
  const svc = d.getSnapshot().context.service as ClusterService;
  const r = createActor(replicationMachine, { input: { env, cluster: svc, store, config: { store: 'main', tables: ['counters', 'payloads'] } }, clock: env.clock });
  r.start();
  await ready(r);
  const nc = await connect({ servers: c.urls, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const rawStream = `RAWR3_${run}`;
  await jsm.streams.add({ name: rawStream, subjects: [`rawr3.${run}`], num_replicas: 3 });
  const js = jetstream(nc);
  const data = new TextEncoder().encode(JSON.stringify({ v: 1, node: 'raw', batch: { ops: [{ table: 'payloads', op: 'put', key: 'p0', value: { id: 'p0', body } }], schemaVersion: 1 } }));
  const write = async (i: number): Promise<void> => void (await store.dirtyPut('payloads', { id: `p${i % 100}`, body }));
  for (let i = 0; i < 50; i++) {
    await js.publish(`rawr3.${run}`, data);
    await write(i);
  }
  const ordo: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < N; i++) {
    // alternate which side goes first, so neither always follows the other
    const sides: Array<() => Promise<void>> = [async () => void (await js.publish(`rawr3.${run}`, data)), () => write(i)];
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const s of order) {
      const t = now();
      await sides[s]!();
      (s === 0 ? raw : ordo).push((now() - t) * 1000);
    }
  }
  await jsm.streams.delete(rawStream);
  await nc.close();
  for (const a of [r, d]) {
    a.send({ type: 'ordo.stop' });
    await waitFor(() => a.getSnapshot().status !== 'active', 'stopped', 20_000);
  }
  await store.close();
  for (const f of fs) await f.stop();
  return { ordo, raw };
}

type Role = 'stream leader' | 'meta leader' | 'follower';
/** Per role, per kill: ms until every one of 3 loaded node processes commits again, and until the stream had a leader. */
type Kills = Record<Role, Array<{ back: number; elected: number }>>;

/** KILL_ROUNDS rounds of one kill per role: ms until every one of 3 loaded node processes commits again. */
async function unavailability(c: NatsCluster, dirs: string[]): Promise<Kills> {
  const cluster = 'r3fo';
  const stream = `ORDO_REPL_${cluster}_main`;
  const nodes = ['a', 'b', 'c'].map((name) => {
    const dataDir = mkdtempSync(join(tmpdir(), `ordo-bench-${cluster}-${name}-`));
    dirs.push(dataDir);
    return OrdoNodeProcess.spawn('loadNode.ts', name, { cluster, servers: c.urls, dataDir });
  });
  const out: Kills = { 'stream leader': [], 'meta leader': [], follower: [] };
  try {
    for (const n of nodes) await n.waitEvent((e) => e.ev === 'ready', 'ready', 60_000);
    await c.waitStreamCurrent(stream);
    await c.waitMetaCurrent();
    for (const n of nodes) await n.request({ cmd: 'load', intervalMs: 100 });
    for (let round = 0; round < KILL_ROUNDS; round++) {
      for (const role of ['stream leader', 'meta leader', 'follower'] as const) {
        const sl = await c.waitStreamLeader(stream);
        const ml = await c.waitMetaLeader();
        const name = role === 'stream leader' ? sl : role === 'meta leader' ? ml : (c.members.find((m) => m.name !== sl && m.name !== ml) ?? c.members.find((m) => m.name !== sl)!).name;
        const victim = c.server(name);
        const t0 = Date.now();
        await victim.server.kill();
        try {
          const elected = c.waitStreamLeader(stream, 120_000, sl === name ? name : undefined).then(() => Date.now() - t0);
          elected.catch(() => undefined);
          for (const n of nodes) {
            await waitFor(async () => {
              const last = (await n.request({ cmd: 'progress' })).last as { start: number; result: string } | undefined;
              return last && last.result === 'ok' && last.start > t0;
            }, `${n.name} commits again`, 120_000, 50);
          }
          out[role].push({ back: Date.now() - t0, elected: await elected });
          process.stderr.write(`kill ${round + 1}/${KILL_ROUNDS} ${role} (${name}): writes back ${out[role].at(-1)!.back} ms, stream leader ${out[role].at(-1)!.elected} ms\n`);
        } finally {
          await victim.server.restart();
          await c.waitStreamCurrent(stream, 60_000);
          await c.waitMetaCurrent(60_000);
        }
      }
    }
  } finally {
    for (const n of nodes) await n.stop().catch(() => n.kill());
  }
  return out;
}

/** Runs the R3 benchmarks (starts and disposes its own 3-server cluster) and returns the results. */
export async function run(): Promise<BenchResult[]> {
  const dirs: string[] = [];
  const c = await NatsCluster.start();
  try {
    const ordo: number[][] = [];
    const raw: number[][] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await r3Latency(c, i, dirs);
      ordo.push(r.ordo);
      raw.push(r.raw);
    }
    // the kills come last and never cost the latency figures: a failure is reported, not thrown
    const down: Kills | undefined = process.env['BENCH_SKIP_KILLS']
      ? undefined
      : await unavailability(c, dirs).catch((e: unknown) => {
          process.stderr.write(`unavailability measurement failed: ${e instanceof Error ? e.message : String(e)}\n`);
          return undefined;
        });
    const lat = (q: number): BenchResult => {
      const base = median(raw.map((x) => percentile(x, q)));
      const value = median(ordo.map((x) => percentile(x, q)));
      return { name: `R3 replicated write p${q} (RocksDB Store writer + 2 follower processes, 3 nats-servers), alternating with raw publishes`, value, unit: 'µs', baseline: { name: `raw JetStream publish into an R3 stream p${q}, alternating`, value: base }, ratio: value / base, target: '≤ 1.5×', met: value / base <= 1.5, runs: ordo.map((x) => percentile(x, q)) };
    };
    const windows: BenchResult[] = Object.entries(down ?? {})
      .filter(([, ks]) => ks.length > 0)
      .flatMap(([role, ks]) => {
        const back = median(ks.map((k) => k.back));
        const elected = median(ks.map((k) => k.elected));
        return [
          { name: `writes unavailable after kill -9 of the ${role} (3 node processes, every node commits again; median of ${ks.length})`, value: back, unit: 'ms', baseline: { name: 'target', value: 3000 }, ratio: back / 3000, target: '≤ 3 s', met: back <= 3000, runs: ks.map((k) => k.back) },
          { name: `  of which: the replication stream has a leader (Raft election if it was the ${role}; median of ${ks.length})`, value: elected, unit: 'ms', runs: ks.map((k) => k.elected) },
        ];
      });
    return [lat(50), lat(99), ...windows];
  } finally {
    await c.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  const results = await run();
  printResults('Cluster (3 nats-servers, R3)', results);
  for (const r of results) if (r.runs) process.stdout.write(`  runs: ${r.name.slice(0, 40)}… ${JSON.stringify(r.runs.map((x) => Math.round(x)))}\n`);
  process.exit(0);
}
