/**
 * Issue 14, "one leader per term": the fencing token is the revision of a node's own
 * acknowledged write, never a revision it read; leases never expire on the server (nats-server
 * 2.9 stores a create made as its key expires on some replicas and refuses it on others, so two
 * nodes could end up holding the same revision — docs/cluster.md, *Leases on nats-server 2.9*);
 * a late step-down timer never extends a term. All on virtual time (simulated NATS).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { electionMachine, leaseTiming } from '../../src/cluster/election.ts';
import { KvLeaderElection, leaseBucket, type Leadership } from '../../src/cluster/leaderElection.ts';
import type { Clock } from '../../src/env/clock.ts';
import type { Env } from '../../src/env/env.ts';
import { SIM_URL, simCluster, type SimCluster } from './simHelpers.ts';

const LEASE = 1200;

async function discovery(c: SimCluster, cluster: string, name: string) {
  const d = c.start(discoveryMachine, { env: c.env, config: { cluster, nodeName: name, nats: { servers: [SIM_URL], reconnect: { waitMs: 100, jitterMs: 0 } }, heartbeatMs: 200, ttlMs: 1000 } });
  await c.tag(d, 'ready');
  return { d, svc: d.getSnapshot().context.service as ClusterService };
}

async function simNode(c: SimCluster, cluster: string, name: string) {
  const { d, svc } = await discovery(c, cluster, name);
  const e = c.start(electionMachine, { env: c.env, cluster: svc, config: { leaseTtlMs: LEASE } });
  await c.tag(e, 'ready');
  const lead = e.getSnapshot().context.service as Leadership;
  const claims: Array<{ token: number; at: number }> = [];
  lead.on('leader', (t) => claims.push({ token: t.token, at: c.sim.now }));
  if (lead.isLeader()) claims.push({ token: lead.term()!.token, at: c.sim.now });
  return { name, d, e, svc, lead, claims };
}

describe('fencing tokens and lease expiry (virtual time)', () => {
  it('the lease bucket has no TTL: one made with a TTL by an earlier Ordo loses it when the election starts', async () => {
    const c = simCluster(31);
    const { d, svc } = await discovery(c, 'ttl', 'a');
    await c.settle(svc.connection!.transport.kv(leaseBucket('ttl'), { ttlMs: 3000, history: 1 }));
    expect((await c.settle(svc.connection!.transport.streams.info(`KV_${leaseBucket('ttl')}`))).config.maxAgeMs).toBe(3000);
    const e = c.start(electionMachine, { env: c.env, cluster: svc, config: { leaseTtlMs: LEASE } });
    await c.tag(e, 'ready');
    expect((await c.settle(svc.connection!.transport.streams.info(`KV_${leaseBucket('ttl')}`))).config.maxAgeMs).toBe(0);
    expect(c.records.some((r) => r['report'] === 'election_lease_bucket_ttl_removed')).toBe(true);
    await c.stop(e);
    await c.stop(d);
  });

  it('a lease of its own read back (a renewal whose answer was lost) is taken back by a new write: the token is that write revision, not the one read', async () => {
    const c = simCluster(32);
    const a = await simNode(c, 'own', 'a');
    await c.until(() => a.lead.isLeader(), 'a leads');
    const first = a.lead.term()!.token;
    // the lease row now holds a's own value at a revision a never got an answer for
    const kv = await c.settle(a.svc.connection!.transport.kv(leaseBucket('own')));
    const landed = await c.settle(kv.put('leader', JSON.stringify({ node: 'a', incarnation: a.svc.incarnation })));
    await c.until(() => a.claims.length >= 2, 'a leads again', 3 * LEASE);
    const again = a.claims[1]!.token;
    expect(again).toBeGreaterThan(landed); // old code: `landed`, a revision it only read
    expect(again).not.toBe(first);
    const row = await c.settle(kv.get('leader'));
    expect(row?.revision).toBe(a.lead.term()!.token); // the token names the row that is the lease
    await c.stop(a.e);
    await c.stop(a.d);
  });

  it('a leader whose step-down timer runs late is not leader past its deadline (isLeader checks the clock)', async () => {
    const c = simCluster(33);
    const { d, svc } = await discovery(c, 'late', 'a');
    // a's timers fire `late` ms after they are due (a blocked event loop); its NATS client is unaffected
    let late = 0;
    const clock: Clock = { now: () => c.env.clock.now(), setTimeout: (fn, ms) => c.env.clock.setTimeout(fn, ms + late), clearTimeout: (h) => c.env.clock.clearTimeout(h) };
    const lateEnv: Env = { ...c.env, clock };
    const a = new KvLeaderElection(lateEnv, svc.connection!, { cluster: 'late', node: 'a', incarnation: svc.incarnation, name: 'leader', timing: leaseTiming({ leaseTtlMs: LEASE }) });
    await c.settle(a.start());
    await c.until(() => a.isLeader(), 'a leads');
    late = 10 * LEASE;
    const b = await simNode(c, 'late', 'b');
    let both = 0;
    await c.until(() => {
      if (a.isLeader() && b.lead.isLeader()) both++;
      return b.lead.isLeader();
    }, 'b takes over', 5 * LEASE);
    expect(both).toBe(0);
    expect(a.isLeader()).toBe(false);
    late = 0;
    await c.settle(a.stop());
    await c.stop(b.e);
    await c.stop(b.d);
    await c.stop(d);
  });

  it('a dead leader is replaced once its revision was unchanged for a whole TTL on the follower clock — not before, although the server never expires it', async () => {
    const c = simCluster(34);
    const a = await simNode(c, 'dead', 'a');
    await c.until(() => a.lead.isLeader(), 'a leads');
    const b = await simNode(c, 'dead', 'b');
    await c.advance(LEASE);
    const lastRenewal = c.sim.now;
    a.e.stop(); // killed: no release, and the row stays in the bucket
    await c.settle(a.svc.connection!.transport.close());
    const kv = await c.settle(b.svc.connection!.transport.kv(leaseBucket('dead')));
    await c.until(() => b.lead.isLeader(), 'b takes over', 5 * LEASE);
    expect(c.sim.now - lastRenewal).toBeGreaterThanOrEqual(LEASE - LEASE / 3);
    expect(c.sim.now - lastRenewal).toBeLessThanOrEqual(LEASE + LEASE / 3 + 100);
    expect((await c.settle(kv.get('leader')))?.revision).toBe(b.lead.term()!.token);
    expect(b.lead.term()!.token).toBeGreaterThan(a.claims.at(-1)!.token);
    await c.stop(b.e);
    await c.stop(b.d);
  });

  it('property: under partitions, server restarts and killed nodes, a token is claimed by one node only, terms never overlap, and tokens increase', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.array(fc.record({ at: fc.integer({ min: 500, max: 12_000 }), what: fc.constantFrom('partition', 'restart', 'kill'), node: fc.integer({ min: 0, max: 2 }), ms: fc.integer({ min: 100, max: 3 * LEASE }) }), { maxLength: 5 }),
        async (seed, faults) => {
          const c = simCluster(seed);
          const nodes = [];
          for (const n of ['a', 'b', 'c']) nodes.push(await simNode(c, 'prop', n));
          const alive = new Set(nodes);
          const overlaps: string[] = [];
          const t0 = c.sim.now;
          for (const f of [...faults].sort((x, y) => x.at - y.at)) {
            await c.until(() => check(), 'fault time', f.at + t0 - c.sim.now + 1).catch(() => undefined);
            const n = nodes[f.node]!;
            if (f.what === 'partition') {
              c.nats.partition(`ordo:${n.name}`);
              await c.until(() => check() && false, 'partitioned', f.ms).catch(() => undefined);
              c.nats.heal(`ordo:${n.name}`);
            } else if (f.what === 'restart') c.nats.restart(f.ms);
            else if (alive.has(n)) {
              alive.delete(n);
              n.e.stop();
              n.d.stop();
              await c.settle(n.svc.connection!.transport.close()).catch(() => undefined);
            }
          }
          await c.until(() => check() && c.sim.now - t0 >= 16_000, 'run out', 20_000);
          function check(): boolean {
            const leaders = [...alive].filter((n) => n.lead.isLeader());
            if (leaders.length > 1) overlaps.push(`${c.sim.now}: ${leaders.map((l) => `${l.name}@${l.lead.term()!.token}`).join(' & ')}`);
            return true;
          }
          const holders = new Map<number, Set<string>>();
          for (const n of nodes) for (const cl of n.claims) holders.set(cl.token, (holders.get(cl.token) ?? new Set()).add(n.name));
          const shared = [...holders].filter(([, who]) => who.size > 1).map(([t, who]) => `${t}: ${[...who].join(',')}`);
          const inOrder = nodes.flatMap((n) => n.claims).sort((x, y) => x.at - y.at || x.token - y.token).map((x) => x.token);
          expect({ shared, overlaps: overlaps.slice(0, 3) }).toEqual({ shared: [], overlaps: [] });
          expect(inOrder.length).toBeGreaterThan(0);
          expect(inOrder).toEqual([...inOrder].sort((x, y) => x - y));
          for (const n of alive) {
            n.e.stop();
            n.d.stop();
          }
        },
      ),
      { numRuns: 12 },
    );
  }, 120_000);
});
