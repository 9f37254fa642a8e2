import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { electionMachine, leaseTiming } from '../../src/cluster/election.ts';
import { leaseBucket, type Leadership } from '../../src/cluster/leaderElection.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';
import { SIM_URL, simCluster, type SimCluster } from './simHelpers.ts';

const LEASE = 1200;

async function node(env: ReturnType<typeof realTimeEnv>, url: string, cluster: string, name: string) {
  const d = startChild(discoveryMachine, { env, config: { cluster, nodeName: name, nats: { servers: [url], reconnect: { waitMs: 100, jitterMs: 0 } }, heartbeatMs: 200, ttlMs: 1000 } }, env);
  await waitTag(d, 'ready');
  const svc = d.getSnapshot().context.service as ClusterService;
  const e = startChild(electionMachine, { env, cluster: svc, config: { leaseTtlMs: LEASE } }, env);
  await waitTag(e, 'ready');
  const lead = e.getSnapshot().context.service as Leadership;
  const log: string[] = [];
  lead.on('leader', (t) => log.push(`leader:${t.token}`));
  lead.on('follower', (why) => log.push(`follower:${why}`));
  return { d, e, svc, lead, log };
}

describe('leader election', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(() => cleanup(ns));

  it('single-node mode: leader at once, token 1', async () => {
    const env = createTestEnv();
    const d = startChild(discoveryMachine, { env, config: { nodeName: 'solo' } }, env);
    await waitTag(d, 'ready');
    const e = startChild(electionMachine, { env, cluster: d.getSnapshot().context.service }, env);
    await waitTag(e, 'ready');
    const lead = e.getSnapshot().context.service as Leadership;
    expect(lead.isLeader()).toBe(true);
    expect(lead.term()).toMatchObject({ node: 'solo', token: 1 });
    expect(await stopChild(e)).toEqual({ reason: 'shutdown' });
    await stopChild(d);
  });

  it('bad lease timing is a typed config error', () => {
    expect(() => leaseTiming({ leaseTtlMs: 1000, renewMs: 900 })).toThrow(expect.objectContaining({ code: 'ORDO_CLUSTER_CONFIG' }));
    expect(leaseTiming({ leaseTtlMs: 3000 })).toEqual({ leaseTtlMs: 3000, renewMs: 1000, retryMs: 300 });
  });

  it('exactly one of two leads; a graceful stop releases the lease and the other takes over well before the TTL', async () => {
    const env = realTimeEnv();
    const a = await node(env, ns.url, 'g1', 'a');
    const b = await node(env, ns.url, 'g1', 'b');
    await waitFor(() => a.lead.isLeader() !== b.lead.isLeader(), 'one leader');
    const [leader, follower] = a.lead.isLeader() ? [a, b] : [b, a];
    expect(follower.lead.leader()?.node).toBe(leader.svc.self);
    const token = leader.lead.term()!.token;
    await stopChild(leader.e);
    await waitFor(() => follower.lead.isLeader(), 'takeover');
    expect(follower.lead.term()!.token).toBeGreaterThan(token); // how fast: on virtual time below
    await stopChild(follower.e);
    await stopChild(a.d);
    await stopChild(b.d);
  });

});

describe('leader election on virtual time (simulated NATS)', () => {
  async function simNode(c: SimCluster, cluster: string, name: string) {
    const d = c.start(discoveryMachine, { env: c.env, config: { cluster, nodeName: name, nats: { servers: [SIM_URL], reconnect: { waitMs: 100, jitterMs: 0 } }, heartbeatMs: 200, ttlMs: 1000 } });
    await c.tag(d, 'ready');
    const svc = d.getSnapshot().context.service as ClusterService;
    const e = c.start(electionMachine, { env: c.env, cluster: svc, config: { leaseTtlMs: LEASE } });
    await c.tag(e, 'ready');
    const lead = e.getSnapshot().context.service as Leadership;
    const log: string[] = [];
    lead.on('leader', (t) => log.push(`leader:${t.token}`));
    lead.on('follower', (why) => log.push(`follower:${why}`));
    return { d, e, svc, lead, log };
  }

  it('exactly one of two leads; a graceful stop releases the lease and the other takes over well before the TTL', async () => {
    const c = simCluster(11);
    const a = await simNode(c, 'g1', 'a');
    const b = await simNode(c, 'g1', 'b');
    await c.until(() => a.lead.isLeader() !== b.lead.isLeader(), 'one leader');
    const [leader, follower] = a.lead.isLeader() ? [a, b] : [b, a];
    expect(follower.lead.leader()?.node).toBe(leader.svc.self);
    const token = leader.lead.term()!.token;
    const t0 = c.sim.now;
    await c.stop(leader.e);
    await c.until(() => follower.lead.isLeader(), 'takeover');
    expect(c.sim.now - t0).toBeLessThan(LEASE / 4); // the release is a watch event: no TTL wait
    expect(follower.lead.term()!.token).toBeGreaterThan(token);
    await c.stop(follower.e);
    await c.stop(a.d);
    await c.stop(b.d);
  });

  it('a leader that dies without releasing is replaced after the lease TTL from its last renewal, not TTL + a poll', async () => {
    const c = simCluster(12);
    const a = await simNode(c, 'die', 'a');
    await c.until(() => a.lead.isLeader(), 'a leads');
    const b = await simNode(c, 'die', 'b');
    await c.advance(LEASE);
    expect(b.lead.isLeader()).toBe(false);
    const t0 = c.sim.now;
    a.e.stop(); // killed: no release
    await c.settle(a.svc.connection!.transport.close());
    await c.until(() => b.lead.isLeader(), 'b takes over', 5 * LEASE);
    expect(c.sim.now - t0).toBeLessThanOrEqual(LEASE + 50);
    expect(c.sim.now - t0).toBeGreaterThanOrEqual(LEASE - LEASE / 3 - 50); // not before the lease could have expired
    await c.stop(b.e);
    await c.stop(b.d);
  });

  it('never renews a lease it does not own: when the row changes owner, the leader steps down and does not overwrite it', async () => {
    const c = simCluster(13);
    const a = await simNode(c, 'own', 'a');
    await c.until(() => a.lead.isLeader(), 'a leads');
    // An intruder (think: an operator, or a split-brain peer) rewrites the lease row.
    const kv = await c.settle(a.svc.connection!.transport.kv(leaseBucket('own')));
    const intruderRev = await c.settle(kv.put('leader', JSON.stringify({ node: 'x', incarnation: 'x1' })));
    await c.until(() => !a.lead.isLeader(), 'a steps down', LEASE);
    expect(a.log.at(-1)).toBe('follower:renew_failed');
    const entry = await c.settle(kv.get('leader'));
    expect(entry?.revision).toBe(intruderRev); // untouched
    expect(entry?.json<{ node: string }>().node).toBe('x');
    await c.until(() => a.lead.leader()?.node === 'x', 'a sees x as leader', LEASE);
    await c.stop(a.e);
    await c.stop(a.d);
  });

  it('any error → not leader: NATS down under the leader makes it step down within the lease TTL; it leads again soon after NATS returns', async () => {
    const c = simCluster(14);
    const a = await simNode(c, 'err', 'a');
    await c.until(() => a.lead.isLeader(), 'a leads');
    const t0 = c.sim.now;
    c.nats.restart(3 * LEASE);
    await c.until(() => !a.lead.isLeader(), 'step down', LEASE + 500);
    expect(c.sim.now - t0).toBeLessThanOrEqual(LEASE);
    await c.until(() => c.nats.up, 'server back', 5 * LEASE);
    const t1 = c.sim.now;
    await c.until(() => a.lead.isLeader(), 'leads again after NATS returns', 10_000);
    expect(c.sim.now - t1).toBeLessThan(LEASE * 2);
    await c.stop(a.e);
    await c.stop(a.d);
  });

  it('a leader that steps down and finds its own lease adopts it only by renewing it: the lease counts from that write, so it never leads past the server-side expiry (found by the cluster-3-nodes scenario)', async () => {
    for (const seed of [21, 22, 23, 24, 25, 26]) {
      const c = simCluster(seed);
      const a = await simNode(c, `adopt${seed}`, 'a');
      await c.until(() => a.lead.isLeader(), 'a leads');
      const b = await simNode(c, `adopt${seed}`, 'b');
      // the server goes away for less than the lease: a's renewal fails, a steps down, and its next
      // campaign (JetStream back a little later) finds its own lease still there, written before the outage
      await c.advance(LEASE / 3);
      c.nats.restart(LEASE / 2, LEASE / 5);
      let both = false;
      await c.until(() => ((both ||= a.lead.isLeader() && b.lead.isLeader()), c.sim.now > 6 * LEASE + 5000), 'a few lease periods', 8 * LEASE + 5000);
      expect(both, `seed ${seed}: both led at once (${a.log.join(' ')} | ${b.log.join(' ')})`).toBe(false);
      for (const n of [a, b]) await c.stop(n.e);
      for (const n of [a, b]) await c.stop(n.d);
    }
  });

  it('a partitioned leader steps down on its own clock before its lease can expire on the server; the other node leads after the TTL', async () => {
    const c = simCluster(15);
    const a = await simNode(c, 'split', 'a');
    await c.until(() => a.lead.isLeader(), 'a leads');
    const b = await simNode(c, 'split', 'b');
    let aDownAt = 0;
    let bUpAt = 0;
    a.lead.on('follower', () => (aDownAt ||= c.sim.now));
    b.lead.on('leader', () => (bUpAt ||= c.sim.now));
    c.nats.partition('ordo:a');
    await c.until(() => bUpAt > 0, 'b leads', 5 * LEASE);
    expect(aDownAt).toBeGreaterThan(0);
    expect(aDownAt).toBeLessThan(bUpAt); // never two leaders at once
    c.nats.heal('ordo:a');
    await c.advance(2 * LEASE);
    expect([a.lead.isLeader(), b.lead.isLeader()]).toEqual([false, true]);
    for (const n of [a, b]) {
      await c.stop(n.e);
      await c.stop(n.d);
    }
  });
  it('3 nodes: never two leaders at any step over several renewals; the leader killed → one new leader within the lease TTL, with a higher token', async () => {
    const c = simCluster(16);
    const nodes: Array<Awaited<ReturnType<typeof simNode>>> = [];
    for (const n of ['e1', 'e2', 'e3']) nodes.push(await simNode(c, 'el', n));
    const alive = new Set(nodes);
    const leaders = () => [...alive].filter((n) => n.lead.isLeader());
    await c.until(() => leaders().length === 1, 'one leader');
    let most = 0;
    const end = c.sim.now + 3 * LEASE;
    await c.until(() => ((most = Math.max(most, leaders().length)), c.sim.now >= end), 'three leases');
    expect(most).toBe(1);
    const old = leaders()[0]!;
    const oldToken = old.lead.term()!.token;
    alive.delete(old);
    const killedAt = c.sim.now;
    old.e.stop();
    old.d.stop();
    await c.settle(old.svc.connection!.transport.close());
    await c.until(() => leaders().length === 1, 'new leader', 5 * LEASE);
    expect(c.sim.now - killedAt).toBeLessThanOrEqual(LEASE + 50);
    expect(leaders()[0]!.lead.term()!.token).toBeGreaterThan(oldToken);
    for (const n of alive) {
      await c.stop(n.e);
      await c.stop(n.d);
    }
  });
});
