import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { resolveNodeName } from '../../src/cluster/nodeIdentity.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { NatsServer, cleanup, freePort, waitFor } from '../harness/nats.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';

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
    const t0 = Date.now();
    await stopChild(actors[2]!);
    await waitFor(() => downs.length === 1, 'nodedown c');
    expect(downs).toEqual(['c:left']);
    expect(Date.now() - t0).toBeLessThan(timing.ttlMs); // a delete event, not a timeout
    expect(svcs[1]!.members().map((m) => m.name)).toEqual(['a', 'b']);
    await stopChild(actors[0]!);
    await stopChild(actors[1]!);
  });

  it('a node that stops heartbeating is down within TTL + one heartbeat (key expiry gives no event on 2.9)', async () => {
    const env = realTimeEnv();
    const cluster = 'hb';
    const a = startChild(discoveryMachine, { env, config: { cluster, nodeName: 'a', nats: { servers: [ns.url] }, ...timing } }, env);
    const b = startChild(discoveryMachine, { env, config: { cluster, nodeName: 'b', nats: { servers: [ns.url] }, ...timing } }, env);
    await waitTag(a, 'ready');
    await waitTag(b, 'ready');
    const sa = a.getSnapshot().context.service as ClusterService;
    await waitFor(() => sa.members().length === 2, 'a sees b');
    let downAt = 0;
    sa.on('nodedown', () => (downAt = Date.now()));
    // b vanishes without deleting its key: stop the actor by force and close its connection.
    const sb = b.getSnapshot().context.service as ClusterService;
    b.stop();
    const t0 = Date.now();
    await sb.connection!.nc.close();
    await waitFor(() => downAt > 0, 'nodedown b', 5000);
    expect(downAt - t0).toBeLessThanOrEqual(timing.ttlMs + timing.heartbeatMs + 100);
    expect(env.records.some((r) => r.report === 'discovery_nodedown' && r.member === 'b' && r.reason === 'timeout')).toBe(true);
    await stopChild(a);
  });

  it('clock skew between machines does not move the TTL: nodes 10 s ahead and 10 s behind are seen up, and down within TTL + one heartbeat', async () => {
    const env = realTimeEnv();
    const skewed = (ms: number): typeof env => ({ ...env, clock: { ...env.clock, now: () => env.clock.now() + ms } });
    const cluster = 'skew';
    const a = startChild(discoveryMachine, { env, config: { cluster, nodeName: 'a', nats: { servers: [ns.url] }, ...timing } }, env);
    const ahead = skewed(10_000);
    const behind = skewed(-10_000);
    const b = startChild(discoveryMachine, { env: ahead, config: { cluster, nodeName: 'b', nats: { servers: [ns.url] }, ...timing } }, ahead);
    const c = startChild(discoveryMachine, { env: behind, config: { cluster, nodeName: 'c', nats: { servers: [ns.url] }, ...timing } }, behind);
    for (const x of [a, b, c]) await waitTag(x, 'ready');
    const svcs = [a, b, c].map((x) => x.getSnapshot().context.service as ClusterService);
    for (const s of svcs) await waitFor(() => s.members().length === 3, `${s.self} sees 3`);
    // stays up across several TTLs (a node behind would look stale on a naive clock comparison)
    const downs: string[] = [];
    svcs[0]!.on('nodedown', (m) => downs.push(`${m.name}@${Date.now()}`));
    await new Promise((r) => setTimeout(r, 2 * timing.ttlMs));
    expect(downs).toEqual([]);
    // the node ahead vanishes without deleting its key: a naive check would wait 10 s more
    const t0 = Date.now();
    b.stop();
    await svcs[1]!.connection!.nc.close();
    await waitFor(() => downs.length === 1, 'nodedown b', 5000);
    expect(downs[0]!.startsWith('b@')).toBe(true);
    expect(Number(downs[0]!.slice(2)) - t0).toBeLessThanOrEqual(timing.ttlMs + timing.heartbeatMs + 100);
    expect(svcs[0]!.members().map((m) => m.name)).toEqual(['a', 'c']);
    await stopChild(c);
    await stopChild(a);
  });

  it('cluster formed: with minMembers 2 a lone node is not ready; it becomes ready when the second joins', async () => {
    const env = realTimeEnv();
    const cfg = (n: string) => ({ env, config: { cluster: 'form', nodeName: n, nats: { servers: [ns.url] }, minMembers: 2, ...timing } });
    const a = startChild(discoveryMachine, cfg('a'), env);
    await waitFor(() => a.getSnapshot().matches('forming'), 'a forming');
    await new Promise((r) => setTimeout(r, 300));
    expect(a.getSnapshot().hasTag('ready')).toBe(false);
    const b = startChild(discoveryMachine, cfg('b'), env);
    await waitTag(a, 'ready');
    await waitTag(b, 'ready');
    expect(env.records.some((r) => r.report === 'discovery_formed')).toBe(true);
    await stopChild(a);
    await stopChild(b);
  });

  it('cluster formed: formTimeoutMs lets a lone node proceed, with a warning', async () => {
    const env = realTimeEnv();
    const a = startChild(discoveryMachine, { env, config: { cluster: 'form2', nodeName: 'a', nats: { servers: [ns.url] }, minMembers: 3, formTimeoutMs: 300, ...timing } }, env);
    await waitTag(a, 'ready');
    expect(env.records.some((r) => r.report === 'discovery_formation_timeout')).toBe(true);
    await stopChild(a);
  });

  it('NATS unreachable at boot: degraded with the reason, retries, then joins when NATS appears', async () => {
    const env = realTimeEnv();
    const port = await freePort();
    const a = startChild(discoveryMachine, { env, config: { cluster: 'late', nodeName: 'a', nats: { servers: [`nats://127.0.0.1:${port}`], connectTimeoutMs: 300 }, ...timing } }, env);
    await waitTag(a, 'degraded');
    expect(a.getSnapshot().context.health).toMatchObject({ status: 'degraded', reason: { code: 'ORDO_NATS_UNREACHABLE' } });
    expect(a.getSnapshot().status).toBe('active'); // not a crash
    const late = await NatsServer.start({ port });
    await waitTag(a, 'ready', 15_000);
    expect((a.getSnapshot().context.service as ClusterService).health().status).toBe('ok');
    await stopChild(a);
    await cleanup(late);
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

  it('a NATS outage makes running nodes degraded (still ready), and they recover and see each other again', async () => {
    const env = realTimeEnv();
    const own = await NatsServer.start();
    const nats = { servers: [own.url], reconnect: { waitMs: 100, jitterMs: 0 } };
    const a = startChild(discoveryMachine, { env, config: { cluster: 'out', nodeName: 'a', nats, ...timing } }, env);
    const b = startChild(discoveryMachine, { env, config: { cluster: 'out', nodeName: 'b', nats, ...timing } }, env);
    await waitTag(a, 'ready');
    await waitTag(b, 'ready');
    const sa = a.getSnapshot().context.service as ClusterService;
    await waitFor(() => sa.members().length === 2, 'a sees b');
    await own.kill();
    await waitTag(a, 'degraded');
    expect(a.getSnapshot().hasTag('ready')).toBe(true);
    expect(sa.health()).toMatchObject({ status: 'degraded', reason: { code: 'ORDO_NATS_UNREACHABLE' } });
    await own.restart();
    await waitFor(() => !a.getSnapshot().hasTag('degraded') && sa.health().status === 'ok', 'a healthy', 10_000);
    await waitFor(() => sa.members().length === 2, 'a sees b again', 10_000);
    expect(a.getSnapshot().status).toBe('active');
    await stopChild(a);
    await stopChild(b);
    await cleanup(own);
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
