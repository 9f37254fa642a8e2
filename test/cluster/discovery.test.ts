import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { resolveNodeName } from '../../src/cluster/nodeIdentity.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { NatsServer, cleanup, freePort, waitFor } from '../harness/nats.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';
import { SIM_URL, simCluster } from './simHelpers.ts';
import type { Env } from '../../src/env/env.ts';

const timing = { heartbeatMs: 200, ttlMs: 1000 };

describe('discovery child', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(() => cleanup(ns));

  it('with no servers configured: single-node mode, ready at once, alone', async () => {
    const env = createTestEnv();
    const a = startChild(discoveryMachine, { env, config: { nodeName: 'solo' } }, env);
    await env.clock.flush();
    await waitTag(a, 'ready');
    const svc = a.getSnapshot().context.service as ClusterService;
    expect(svc.members().map((m) => m.name)).toEqual(['solo']);
    expect(svc.health()).toMatchObject({ status: 'ok', mode: 'single' });
    expect(svc.connection).toBeUndefined();
    expect(await stopChild(a)).toEqual({ reason: 'shutdown' });
  });

  it('three nodes join and see each other; a graceful stop is a nodedown at once', async () => {
    const env = realTimeEnv();
    const cluster = 'c3';
    const actors = ['a', 'b', 'c'].map((n) => startChild(discoveryMachine, { env, config: { cluster, nodeName: n, nats: { servers: [ns.url] }, ...timing } }, env));
    for (const a of actors) await waitTag(a, 'ready');
    const svcs = actors.map((a) => a.getSnapshot().context.service as ClusterService);
    for (const s of svcs) await waitFor(() => s.members().length === 3, `${s.self} sees 3`);
    expect(svcs[0]!.members().map((m) => m.name)).toEqual(['a', 'b', 'c']);
    const downs: string[] = [];
    svcs[0]!.on('nodedown', (m, why) => downs.push(`${m.name}:${why}`));
    await stopChild(actors[2]!);
    await waitFor(() => downs.length === 1, 'nodedown c');
    expect(downs).toEqual(['c:left']); // a delete event, not a timeout (how fast: on virtual time below)
    expect(svcs[1]!.members().map((m) => m.name)).toEqual(['a', 'b']);
    await stopChild(actors[0]!);
    await stopChild(actors[1]!);
  });

  it('wrong credentials or no JetStream: a final state with a typed reason, not a retry loop', async () => {
    const env = realTimeEnv();
    const auth = await NatsServer.start({ user: 'u', password: 'p' });
    const nojs = await NatsServer.start({ jetstream: false });
    const a = startChild(discoveryMachine, { env, config: { nodeName: 'a', nats: { servers: [auth.url], user: 'u', password: 'bad' } } }, env);
    const b = startChild(discoveryMachine, { env, config: { nodeName: 'b', nats: { servers: [nojs.url] } } }, env);
    await waitFor(() => a.getSnapshot().status === 'done' && b.getSnapshot().status === 'done', 'both final');
    expect((a.getSnapshot().output as { reason: { code: string } }).reason.code).toBe('ORDO_NATS_AUTH');
    expect((b.getSnapshot().output as { reason: { code: string } }).reason.code).toBe('ORDO_NATS_NO_JETSTREAM');
    expect(a.getSnapshot().context.health).toMatchObject({ status: 'failed', reason: { code: 'ORDO_NATS_AUTH' } });
    await cleanup(auth, nojs);
  });

});

describe('discovery on virtual time (simulated NATS)', () => {
  const nats = { servers: [SIM_URL], reconnect: { waitMs: 100, jitterMs: 0 } };
  const cfg = (cluster: string, nodeName: string, extra: Record<string, unknown> = {}) => ({ config: { cluster, nodeName, nats, ...timing, ...extra } });

  it('a graceful stop is a nodedown at once (a delete event, within a few ms — not a TTL)', async () => {
    const c = simCluster(8);
    const actors = ['a', 'b', 'c'].map((n) => c.start(discoveryMachine, { env: c.env, ...cfg('c3', n) }));
    for (const a of actors) await c.tag(a, 'ready');
    const sa = actors[0]!.getSnapshot().context.service as ClusterService;
    await c.until(() => sa.members().length === 3, 'a sees 3');
    const downs: string[] = [];
    sa.on('nodedown', (m, why) => downs.push(`${m.name}:${why}`));
    const t0 = c.sim.now;
    await c.stop(actors[2]!);
    await c.until(() => downs.length === 1, 'nodedown c');
    expect(downs).toEqual(['c:left']);
    expect(c.sim.now - t0).toBeLessThan(20);
    await c.stop(actors[0]!);
    await c.stop(actors[1]!);
  });

  it('a node that stops heartbeating is down within TTL + one heartbeat of its last one (key expiry gives no event on 2.9)', async () => {
    const c = simCluster(1);
    const a = c.start(discoveryMachine, { env: c.env, ...cfg('hb', 'a') });
    const b = c.start(discoveryMachine, { env: c.env, ...cfg('hb', 'b') });
    await c.tag(a, 'ready');
    await c.tag(b, 'ready');
    const sa = a.getSnapshot().context.service as ClusterService;
    await c.until(() => sa.members().length === 2, 'a sees b');
    let downAt = 0;
    sa.on('nodedown', () => (downAt = c.sim.now));
    // b vanishes without deleting its key: the actor stopped by force, its connection closed
    const sb = b.getSnapshot().context.service as ClusterService;
    b.stop();
    const t0 = c.sim.now;
    await c.settle(sb.connection!.transport.close());
    await c.until(() => downAt > 0, 'nodedown b', 5000);
    expect(downAt - t0).toBeLessThanOrEqual(timing.ttlMs + timing.heartbeatMs + 10);
    expect(downAt - t0).toBeGreaterThanOrEqual(timing.ttlMs - timing.heartbeatMs);
    expect(c.records.some((r) => r['report'] === 'discovery_nodedown' && r['member'] === 'b' && r['reason'] === 'timeout')).toBe(true);
    await c.stop(a);
  });

  it('clock skew between machines does not move the TTL: nodes 10 s ahead and 10 s behind stay up for several TTLs, and one is down within TTL + one heartbeat', async () => {
    const c = simCluster(2);
    const skewed = (ms: number): Env => ({ ...c.env, clock: { ...c.env.clock, now: () => c.env.clock.now() + ms } });
    const ahead = skewed(10_000);
    const behind = skewed(-10_000);
    const a = c.start(discoveryMachine, { env: c.env, ...cfg('skew', 'a') });
    const b = c.start(discoveryMachine, { env: ahead, ...cfg('skew', 'b') }, ahead);
    const d = c.start(discoveryMachine, { env: behind, ...cfg('skew', 'c') }, behind);
    for (const x of [a, b, d]) await c.tag(x, 'ready');
    const svcs = [a, b, d].map((x) => x.getSnapshot().context.service as ClusterService);
    for (const s of svcs) await c.until(() => s.members().length === 3, `${s.self} sees 3`);
    const downs: string[] = [];
    svcs[0]!.on('nodedown', (m) => downs.push(`${m.name}@${c.sim.now}`));
    await c.advance(3 * timing.ttlMs); // virtual time: a deterministic horizon, not a sleep
    expect(downs).toEqual([]);
    const t0 = c.sim.now;
    b.stop();
    await c.settle(svcs[1]!.connection!.transport.close());
    await c.until(() => downs.length === 1, 'nodedown b', 5000);
    expect(downs[0]!.startsWith('b@')).toBe(true);
    expect(Number(downs[0]!.slice(2)) - t0).toBeLessThanOrEqual(timing.ttlMs + timing.heartbeatMs + 10);
    expect(svcs[0]!.members().map((m) => m.name)).toEqual(['a', 'c']);
    await c.stop(d);
    await c.stop(a);
  });

  it('cluster formed: with minMembers 2 a lone node is not ready for as long as it is alone; it becomes ready when the second joins', async () => {
    const c = simCluster(3);
    const a = c.start(discoveryMachine, { env: c.env, ...cfg('form', 'a', { minMembers: 2 }) });
    await c.until(() => a.getSnapshot().matches('forming'), 'a forming');
    let wasReady = false;
    const sub = a.subscribe((s) => void (wasReady ||= s.hasTag('ready')));
    await c.advance(5 * timing.ttlMs);
    expect(wasReady).toBe(false);
    sub.unsubscribe();
    const b = c.start(discoveryMachine, { env: c.env, ...cfg('form', 'b', { minMembers: 2 }) });
    await c.tag(a, 'ready');
    await c.tag(b, 'ready');
    expect(c.records.some((r) => r['report'] === 'discovery_formed')).toBe(true);
    await c.stop(a);
    await c.stop(b);
  });

  it('cluster formed: formTimeoutMs lets a lone node proceed, with a warning, after exactly that long', async () => {
    const c = simCluster(4);
    const a = c.start(discoveryMachine, { env: c.env, ...cfg('form2', 'a', { minMembers: 3, formTimeoutMs: 300 }) });
    await c.until(() => a.getSnapshot().matches('forming'), 'a forming');
    const formingAt = c.sim.now;
    await c.tag(a, 'ready');
    expect(c.sim.now - formingAt).toBeGreaterThanOrEqual(295);
    expect(c.sim.now - formingAt).toBeLessThanOrEqual(320);
    expect(c.records.some((r) => r['report'] === 'discovery_formation_timeout')).toBe(true);
    await c.stop(a);
  });

  it('NATS unreachable at boot: degraded with the reason, retries, then joins when NATS becomes reachable', async () => {
    const c = simCluster(5);
    c.nats.partition('ordo:a');
    const a = c.start(discoveryMachine, { env: c.env, ...cfg('late', 'a') });
    await c.tag(a, 'degraded');
    expect(a.getSnapshot().context.health).toMatchObject({ status: 'degraded', reason: { code: 'ORDO_NATS_UNREACHABLE' } });
    expect(a.getSnapshot().status).toBe('active'); // not a crash
    await c.advance(2000);
    expect(c.records.filter((r) => r['report'] === 'discovery_connect_failed').length).toBeGreaterThan(1); // it retries
    c.nats.heal('ordo:a');
    await c.tag(a, 'ready', 15_000);
    expect((a.getSnapshot().context.service as ClusterService).health().status).toBe('ok');
    await c.stop(a);
  });

  it('a NATS outage makes running nodes degraded (still ready), and they recover and see each other again', async () => {
    const c = simCluster(6);
    const a = c.start(discoveryMachine, { env: c.env, ...cfg('out', 'a') });
    const b = c.start(discoveryMachine, { env: c.env, ...cfg('out', 'b') });
    await c.tag(a, 'ready');
    await c.tag(b, 'ready');
    const sa = a.getSnapshot().context.service as ClusterService;
    await c.until(() => sa.members().length === 2, 'a sees b');
    c.nats.restart(3000);
    await c.tag(a, 'degraded');
    expect(a.getSnapshot().hasTag('ready')).toBe(true);
    expect(sa.health()).toMatchObject({ status: 'degraded', reason: { code: 'ORDO_NATS_UNREACHABLE' } });
    await c.until(() => !a.getSnapshot().hasTag('degraded') && sa.health().status === 'ok', 'a healthy', 10_000);
    await c.until(() => sa.members().length === 2, 'a sees b again', 10_000);
    expect(a.getSnapshot().status).toBe('active');
    await c.stop(a);
    await c.stop(b);
  });

  it('JetStream without a leader for 3 TTLs (heartbeats refused, the watch silent): degraded, nobody judged down; when it answers, all still up; a node gone after that is judged down', async () => {
    // the virtual twin of the real failover test's "no false nodedown" through a server kill
    // (test/cluster/failover.test.ts): every peer *looks* older than the TTL while the members
    // bucket has no leader: a node that cannot see the bucket (its own heartbeat refused, or not
    // back through the watch) judges nobody (red with that rule removed from membership.ts)
    const c = simCluster(9);
    const actors = ['a', 'b', 'c'].map((n) => c.start(discoveryMachine, { env: c.env, ...cfg('blind', n) }));
    for (const x of actors) await c.tag(x, 'ready');
    const svcs = actors.map((x) => x.getSnapshot().context.service as ClusterService);
    for (const s of svcs) await c.until(() => s.members().length === 3, `${s.self} sees 3`);
    const downs: string[] = [];
    for (const s of svcs) s.on('nodedown', (m, why) => downs.push(`${s.self} saw ${m.name} down (${why}) at ${c.sim.now}`));
    c.nats.setJetStream(false);
    await c.advance(3 * timing.ttlMs); // virtual time: a deterministic horizon, not a sleep
    expect(downs).toEqual([]);
    for (const s of svcs) expect(s.health(), s.self).toMatchObject({ status: 'degraded', reason: { code: 'ORDO_JETSTREAM_UNAVAILABLE' } });
    c.nats.setJetStream(true);
    await c.until(() => svcs.every((s) => s.health().status === 'ok'), 'every node healthy again', 10_000);
    await c.advance(3 * timing.ttlMs);
    expect(downs).toEqual([]);
    for (const s of svcs) expect(s.members().map((m) => m.name), s.self).toEqual(['a', 'b', 'c']);
    // judging still works once the bucket is visible: c vanishes without deleting its key
    actors[2]!.stop();
    await c.settle(svcs[2]!.connection!.transport.close());
    await c.until(() => downs.length === 2, 'a and b see c down', 5000);
    expect(downs.map((d) => d.replace(/ at \d+$/, '')).sort()).toEqual(['a saw c down (timeout)', 'b saw c down (timeout)']);
    await c.stop(actors[0]!);
    await c.stop(actors[1]!);
  });

  it('a partitioned node is judged down by the others within TTL + one heartbeat, and up again after the heal', async () => {
    const c = simCluster(7);
    const a = c.start(discoveryMachine, { env: c.env, ...cfg('part', 'a') });
    const b = c.start(discoveryMachine, { env: c.env, ...cfg('part', 'b') });
    await c.tag(a, 'ready');
    await c.tag(b, 'ready');
    const sa = a.getSnapshot().context.service as ClusterService;
    await c.until(() => sa.members().length === 2, 'a sees b');
    const events: string[] = [];
    sa.on('nodedown', (m, why) => events.push(`down:${m.name}:${why}`));
    sa.on('nodeup', (m) => events.push(`up:${m.name}`));
    const t0 = c.sim.now;
    c.nats.partition('ordo:b');
    await c.until(() => events.length === 1, 'b down');
    expect(events).toEqual(['down:b:timeout']);
    expect(c.sim.now - t0).toBeLessThanOrEqual(timing.ttlMs + timing.heartbeatMs + 10);
    c.nats.heal('ordo:b');
    await c.until(() => events.length === 2, 'b up again', 10_000);
    expect(events[1]).toBe('up:b');
    await c.stop(a);
    await c.stop(b);
  });
});

describe('node identity', () => {
  it('a generated node name is persisted in the data dir and reused on the next boot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ordo-name-'));
    const n1 = await resolveNodeName(createTestEnv({ seed: 1 }), { dataDir: dir });
    const n2 = await resolveNodeName(createTestEnv({ seed: 2 }), { dataDir: dir });
    expect(n1).toMatch(/^node-[0-9a-f]{12}$/);
    expect(n2).toBe(n1);
    expect(await resolveNodeName(createTestEnv(), { nodeName: 'web-1', dataDir: dir })).toBe('web-1');
    await expect(resolveNodeName(createTestEnv(), { nodeName: 'bad name!' })).rejects.toMatchObject({ code: 'ORDO_CLUSTER_CONFIG' });
  });
});
