import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { electionMachine, leaseTiming } from '../../src/cluster/election.ts';
import { leaseBucket, type Leadership } from '../../src/cluster/leaderElection.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';

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
    const t0 = Date.now();
    await stopChild(leader.e);
    await waitFor(() => follower.lead.isLeader(), 'takeover');
    expect(Date.now() - t0).toBeLessThan(LEASE / 2);
    expect(follower.lead.term()!.token).toBeGreaterThan(token);
    await stopChild(follower.e);
    await stopChild(a.d);
    await stopChild(b.d);
  });

  it('never renews a lease it does not own: when the row changes owner, the leader steps down and does not overwrite it', async () => {
    const env = realTimeEnv();
    const a = await node(env, ns.url, 'own', 'a');
    await waitFor(() => a.lead.isLeader(), 'a leads');
    // An intruder (think: an operator, or a split-brain peer) rewrites the lease row.
    const kv = await new Kvm(a.svc.connection!.nc!).open(leaseBucket('own'));
    const intruderRev = await kv.put('leader', JSON.stringify({ node: 'x', incarnation: 'x1' }));
    await waitFor(() => !a.lead.isLeader(), 'a steps down', LEASE);
    expect(a.log.at(-1)).toBe('follower:renew_failed');
    const entry = await kv.get('leader');
    expect(entry?.revision).toBe(intruderRev); // untouched
    expect(entry?.json<{ node: string }>().node).toBe('x');
    await waitFor(() => a.lead.leader()?.node === 'x', 'a sees x as leader', LEASE);
    await stopChild(a.e);
    await stopChild(a.d);
  });

  it('any error → not leader: NATS killed under the leader makes it step down within the lease TTL', async () => {
    const env = realTimeEnv();
    const own = await NatsServer.start();
    const a = await node(env, own.url, 'err', 'a');
    await waitFor(() => a.lead.isLeader(), 'a leads');
    const t0 = Date.now();
    await own.kill();
    await waitFor(() => !a.lead.isLeader(), 'step down', LEASE + 500);
    expect(Date.now() - t0).toBeLessThanOrEqual(LEASE);
    await own.restart();
    const t1 = Date.now();
    await waitFor(() => a.lead.isLeader(), 'leads again after NATS returns', 10_000);
    expect(Date.now() - t1).toBeLessThan(LEASE * 2);
    await stopChild(a.e);
    await stopChild(a.d);
    await cleanup(own);
  });
});
