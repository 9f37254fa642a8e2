/**
 * Issue 14 review: fairness hold requests were obeyed from any publisher, extended without
 * limit and waited past the commit's deadline. Virtual time, simulated NATS (no permissions, so a
 * client may publish any hold subject), simulated KV stores.
 */
import { describe, expect, it } from 'vitest';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { replicationMachine } from '../../src/cluster/replication.ts';
import type { Replicator } from '../../src/cluster/replicator.ts';
import { createSimKv } from '../../src/chaos/simKv.ts';
import { openTestStore, put } from './realStore.ts';
import { SIM_URL, simCluster, type SimCluster } from './simHelpers.ts';

let dirs = 0;
async function startNode(c: SimCluster, name: string, commitTimeoutMs = 10_000) {
  const kv = createSimKv(c.sim);
  const store = await c.settle(openTestStore(c.env, { dir: `/sim/fairh/${name}/${dirs++}`, kv }));
  const d = c.start(discoveryMachine, { env: c.env, config: { cluster: 'fair', nodeName: name, nats: { servers: [SIM_URL], reconnect: { waitMs: 100, jitterMs: 0 } }, heartbeatMs: 200, ttlMs: 2000 } });
  await c.tag(d, 'ready');
  const svc = d.getSnapshot().context.service as ClusterService;
  const r = c.start(replicationMachine, { env: c.env, cluster: svc, store: store.store, config: { store: 'main', tables: ['users'], commitTimeoutMs } });
  await c.tag(r, 'ready', 20_000);
  const replicator = r.getSnapshot().context.replicator as Replicator;
  return { name, d, r, store, replicator };
}

type Node = Awaited<ReturnType<typeof startNode>>;
const fairnessOf = (n: Node) => (n.replicator as unknown as { fairness: { holdsGranted: number; holdsRefused: number } }).fairness;

/** A client publishing `{holdMs}` on `ordo.fair.fair.main.<as>` every `everyMs`; returns stop. */
async function spam(c: SimCluster, as: string, everyMs: number, holdMs = 5000): Promise<() => void> {
  const rogue = await c.settle(c.env.io.nats!.connect({ servers: [SIM_URL], name: `rogue-${as}` } as never));
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    rogue.publishCore(`ordo.fair.fair.main.${as}`, new TextEncoder().encode(JSON.stringify({ node: as, holdMs })));
    c.env.clock.setTimeout(tick, everyMs);
  };
  tick();
  return () => (stopped = true);
}

/** Commits one row on `n` and returns how it ended and after how many virtual ms. */
async function timedCommit(c: SimCluster, n: Node, key: string): Promise<{ outcome: string; ms: number }> {
  const t0 = c.sim.now;
  const outcome = await c.settle(
    n.replicator.commit({ ops: [put('users', key, 1)], schemaVersion: n.store.store.schemaVersion }).then(
      () => 'ok',
      (e: { code?: string }) => String(e?.code ?? e),
    ),
    30_000,
  );
  return { outcome, ms: c.sim.now - t0 };
}

async function stopAll(c: SimCluster, nodes: Node[]) {
  for (const n of nodes) {
    await c.stop(n.r);
    await c.stop(n.d);
    await c.settle(n.store.close());
  }
}

describe('fairness hold requests from hostile or buggy publishers (virtual time)', () => {
  it('a client that is no member repeating hold requests is ignored: commits finish within commitTimeoutMs', async () => {
    const c = simCluster(7);
    const b = await startNode(c, 'b');
    const stop = await spam(c, 'ghost', 1500);
    await c.advance(100);
    for (let i = 0; i < 5; i++) {
      const r = await timedCommit(c, b, `k${i}`);
      expect(r.outcome).toBe('ok');
      expect(r.ms).toBeLessThan(10_000);
    }
    expect(fairnessOf(b).holdsGranted).toBe(0);
    expect(fairnessOf(b).holdsRefused).toBeGreaterThan(0);
    stop();
    await stopAll(c, [b]);
  }, 120_000);

  it('a request naming this node itself is ignored', async () => {
    const c = simCluster(8);
    const b = await startNode(c, 'b');
    const stop = await spam(c, 'b', 1500);
    await c.advance(100);
    const r = await timedCommit(c, b, 'k');
    expect(r.outcome).toBe('ok');
    expect(fairnessOf(b).holdsGranted).toBe(0);
    stop();
    await stopAll(c, [b]);
  }, 120_000);

  it("a live member's repeated hold requests are capped: one hold per 2× its length, a commit waits a bounded time", async () => {
    const c = simCluster(9);
    const a = await startNode(c, 'a');
    const b = await startNode(c, 'b');
    const t0 = c.sim.now;
    const stop = await spam(c, 'a', 100);
    await c.advance(50);
    for (let i = 0; i < 4; i++) {
      const r = await timedCommit(c, b, `k${i}`);
      expect(r.outcome).toBe('ok');
      // one hold is at most 2 s, a commit waits at most 4 s in all
      expect(r.ms).toBeLessThanOrEqual(4_500);
    }
    const elapsed = c.sim.now - t0;
    // at most one 2 s hold per 4 s from the one requester (requests arrive every 100 ms)
    expect(fairnessOf(b).holdsGranted).toBeLessThanOrEqual(Math.floor(elapsed / 4000) + 1);
    expect(fairnessOf(b).holdsRefused).toBeGreaterThan(0);
    stop();
    await stopAll(c, [a, b]);
  }, 120_000);

  it('a hold never keeps a commit past commitTimeoutMs: it fails with ORDO_REPL_UNAVAILABLE at its deadline', async () => {
    const c = simCluster(10);
    const a = await startNode(c, 'a');
    const b = await startNode(c, 'b', 1000);
    const stop = await spam(c, 'a', 100);
    await c.advance(50);
    const r = await timedCommit(c, b, 'k');
    expect(r.outcome).toBe('ORDO_REPL_UNAVAILABLE');
    expect(r.ms).toBeLessThanOrEqual(1000);
    stop();
    await stopAll(c, [a, b]);
  }, 120_000);
});
