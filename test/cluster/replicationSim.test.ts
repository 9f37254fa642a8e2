/**
 * Store replication on virtual time: the replicator over the simulated NATS (streams, ordered
 * consumers, msg-id dedupe, expectations) and stores on the simulated KV engine. The real-server
 * tier of the same behaviour is replication.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { replicationMachine, type ReplicationConfig } from '../../src/cluster/replication.ts';
import type { Replicator } from '../../src/cluster/replicator.ts';
import type { ClusterError } from '../../src/cluster/errors.ts';
import { createSimKv } from '../../src/chaos/simKv.ts';
import type { CommitOp } from '../../src/store/types.ts';
import { TABLES, contentHash, openTestStore, put } from './realStore.ts';
import { SIM_URL, simCluster, type SimCluster } from './simHelpers.ts';

async function startNode(c: SimCluster, cluster: string, name: string, extra: Partial<ReplicationConfig> = {}) {
  const kv = createSimKv(c.sim);
  const store = await c.settle(openTestStore(c.env, { dir: `/sim/${cluster}/${name}`, kv }));
  const d = c.start(discoveryMachine, { env: c.env, config: { cluster, nodeName: name, nats: { servers: [SIM_URL], reconnect: { waitMs: 100, jitterMs: 0 } }, heartbeatMs: 200, ttlMs: 1000 } });
  await c.tag(d, 'ready');
  const svc = d.getSnapshot().context.service as ClusterService;
  const r = c.start(replicationMachine, { env: c.env, cluster: svc, store: store.store, config: { store: 'main', tables: TABLES, ...extra } });
  await c.tag(r, 'ready', 20_000);
  const replicator = r.getSnapshot().context.replicator as Replicator;
  return {
    name,
    d,
    r,
    svc,
    store,
    replicator,
    commit: (ops: CommitOp[]) => replicator.commit({ ops, schemaVersion: store.store.schemaVersion }),
    get: (table: string, id: string) => (store.store.get(table, id) as { v?: unknown } | undefined)?.v,
    async stop() {
      await c.stop(r);
      await c.stop(d);
      await c.settle(store.close());
    },
  };
}
type Node = Awaited<ReturnType<typeof startNode>>;

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e: unknown) => String((e as ClusterError).code),
  );

async function writeRetrying(n: Node, table: string, key: string, value: unknown): Promise<void> {
  for (let conflicts = 0; ; conflicts++) {
    try {
      await n.commit([put(table, key, value)]);
      return;
    } catch (e) {
      if ((e as ClusterError).code !== 'ORDO_REPL_CONFLICT' || conflicts > 200) throw e;
    }
  }
}

describe('replication on virtual time (simulated NATS, simulated KV)', () => {
  it('3 nodes writing concurrently converge to identical tables; every seq applied exactly once on every node', async () => {
    const c = simCluster(31);
    const nodes: Node[] = [];
    for (const n of ['a', 'b', 'c']) nodes.push(await startNode(c, 'conv', n));
    await c.settle(Promise.all(nodes.map((n, i) => (async () => {
      for (let k = 0; k < 10; k++) await writeRetrying(n, k % 2 ? 'users' : 'orders', `${n.name}${k}`, i * 100 + k);
    })())));
    const last = Math.max(...nodes.map((n) => n.replicator.appliedSeq()));
    await c.until(() => nodes.every((n) => n.replicator.appliedSeq() === last), 'all applied');
    expect(last).toBeGreaterThanOrEqual(30);
    expect(new Set(nodes.map((n) => contentHash(n.store.store))).size).toBe(1);
    for (const n of nodes) expect([...n.store.applyCount.values()].every((x) => x === 1)).toBe(true);
    expect(nodes[0]!.get('orders', 'c0')).toBe(200);
    for (const n of nodes) await n.stop();
  });

  it('with NATS gone, commits queued behind a stuck one fail with it (deadline from the call), not one commit timeout after another', async () => {
    const c = simCluster(32);
    const a = await startNode(c, 'stuck', 'a', { commitTimeoutMs: 600, publishTimeoutMs: 200 });
    await c.settle(a.commit([put('users', '0', { n: 0 })]));
    c.nats.restart(60_000);
    const t0 = c.sim.now;
    const codes = await c.settle(Promise.all(Array.from({ length: 5 }, (_, i) => codeOf(a.commit([put('users', String(i + 1), { n: i })])))));
    const took = c.sim.now - t0;
    expect(codes.every((x) => x === 'ORDO_NATS_UNREACHABLE' || x === 'ORDO_REPL_UNAVAILABLE')).toBe(true);
    expect(took).toBeGreaterThanOrEqual(600);
    expect(took).toBeLessThan(2 * 600); // sequential timeouts would take 3 s or more
  });

  it('the server restarted mid-run (JetStream back a while later): nodes reconnect, no acknowledged write lost, tables identical', async () => {
    const c = simCluster(33);
    const nodes: Node[] = [];
    for (const n of ['a', 'b']) nodes.push(await startNode(c, 'rs', n));
    const acked: string[] = [];
    let stop = false;
    const writers = nodes.map((n) => (async () => {
      for (let k = 0; !stop; k++) {
        const key = `${n.name}${k}`;
        const r = await codeOf(n.commit([put('users', key, k)]));
        if (r === 'resolved') acked.push(key);
        await new Promise<void>((res) => c.env.clock.setTimeout(() => res(), 50));
      }
    })());
    await c.advance(1000);
    c.nats.restart(1500, 1000);
    await c.advance(8000);
    stop = true;
    await c.settle(Promise.all(writers));
    const last = Math.max(...nodes.map((n) => n.replicator.appliedSeq()));
    await c.until(() => nodes.every((n) => n.replicator.appliedSeq() === last), 'caught up', 30_000);
    expect(acked.length).toBeGreaterThan(20);
    for (const n of nodes) for (const k of acked) expect(n.store.store.get('users', k), `${n.name} has ${k}`).toBeDefined();
    expect(contentHash(nodes[0]!.store.store)).toBe(contentHash(nodes[1]!.store.store));
    for (const n of nodes) await n.stop();
  });
});
