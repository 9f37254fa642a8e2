import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '@nats-io/nkeys';
import { createTestEnv } from '../../src/env/env.ts';
import { connectCluster, type NatsRuntimeEvent } from '../../src/cluster/connection.ts';
import { ClusterError } from '../../src/cluster/errors.ts';
import { NatsServer, cleanup, freePort, waitFor } from '../harness/nats.ts';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ClusterError);
    return (e as ClusterError).code;
  }
  return 'resolved';
}

describe('cluster connection', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(() => cleanup(ns));

  it('connects, reads the server version and JetStream at boot', async () => {
    const env = createTestEnv();
    const conn = await connectCluster(env, { servers: [ns.url] }, 'a');
    expect(conn.serverVersion).toMatch(/^2\.\d+\.\d+/);
    expect(conn.jetstream).toBe(true);
    expect(conn.state()).toBe('connected');
    await conn.close();
    expect(conn.nc.isClosed()).toBe(true);
  });

  it('unreachable servers → ORDO_NATS_UNREACHABLE with the servers tried', async () => {
    const env = createTestEnv();
    const url = `nats://127.0.0.1:${await freePort()}`;
    const err = await connectCluster(env, { servers: [url], connectTimeoutMs: 500 }, 'a').catch((e: unknown) => e as ClusterError);
    expect((err as ClusterError).code).toBe('ORDO_NATS_UNREACHABLE');
    expect((err as ClusterError).servers).toEqual([url]);
  });

  it('a feature the server lacks is refused at boot (per-key TTL on 2.9)', async () => {
    const env = createTestEnv();
    const code = await codeOf(connectCluster(env, { servers: [ns.url], requireFeatures: ['perKeyTtl', 'kv'] }, 'a'));
    expect(code).toBe('ORDO_NATS_FEATURE');
    // and a feature it has is accepted
    const conn = await connectCluster(env, { servers: [ns.url], requireFeatures: ['kv', 'expectedLastSubjectSeq'] }, 'a');
    await conn.close();
  });

  it('NATS status events become runtime events across a server restart', async () => {
    const env = createTestEnv();
    const own = await NatsServer.start();
    const conn = await connectCluster(env, { servers: [own.url], reconnect: { waitMs: 100, jitterMs: 0 } }, 'a');
    const seen: NatsRuntimeEvent['type'][] = [];
    conn.on((e) => seen.push(e.type));
    await own.kill();
    await waitFor(() => conn.state() === 'reconnecting', 'reconnecting state');
    await own.restart();
    await waitFor(() => seen.includes('nats.reconnect'), 'reconnect event');
    expect(seen).toContain('nats.disconnect');
    expect(conn.state()).toBe('connected');
    expect(env.records.some((r) => r.report === 'nats' && r.event === 'nats.reconnect')).toBe(true);
    await cleanup(conn, own);
  });
});

describe('cluster connection: auth and JetStream', () => {
  it('user/password: right ones connect, wrong ones → ORDO_NATS_AUTH', async () => {
    const ns = await NatsServer.start({ user: 'ordo', password: 's3cret' });
    const env = createTestEnv();
    const conn = await connectCluster(env, { servers: [ns.url], user: 'ordo', password: 's3cret' }, 'a');
    await conn.close();
    expect(await codeOf(connectCluster(env, { servers: [ns.url], user: 'ordo', password: 'wrong' }, 'a'))).toBe('ORDO_NATS_AUTH');
    await cleanup(ns);
  });

  it('token and nkey auth', async () => {
    const env = createTestEnv();
    const tns = await NatsServer.start({ token: 't0k' });
    await (await connectCluster(env, { servers: [tns.url], token: 't0k' }, 'a')).close();
    expect(await codeOf(connectCluster(env, { servers: [tns.url], token: 'nope' }, 'a'))).toBe('ORDO_NATS_AUTH');
    const user = createUser();
    const nns = await NatsServer.start({ nkey: user.getPublicKey() });
    const seed = new TextDecoder().decode(user.getSeed());
    await (await connectCluster(env, { servers: [nns.url], nkeySeed: seed }, 'a')).close();
    expect(await codeOf(connectCluster(env, { servers: [nns.url], nkeySeed: new TextDecoder().decode(createUser().getSeed()) }, 'a'))).toBe('ORDO_NATS_AUTH');
    await cleanup(tns, nns);
  });

  it('a server without JetStream → ORDO_NATS_NO_JETSTREAM, connection closed', async () => {
    const ns = await NatsServer.start({ jetstream: false });
    const env = createTestEnv();
    expect(await codeOf(connectCluster(env, { servers: [ns.url] }, 'a'))).toBe('ORDO_NATS_NO_JETSTREAM');
    await cleanup(ns);
  });
});

describe('cluster connection: TLS', () => {
  it('connects over TLS with the CA given in config.tls; without it the handshake is refused', async () => {
    const ns = await NatsServer.start({ tls: true });
    const env = createTestEnv();
    const conn = await connectCluster(env, { servers: [ns.url], tls: { caFile: ns.tlsFiles!.caFile } }, 'a');
    expect(conn.nc.info?.tls_required).toBe(true);
    expect(conn.jetstream).toBe(true);
    await conn.close();
    const err = await connectCluster(env, { servers: [ns.url], connectTimeoutMs: 1000 }, 'a').catch((e: unknown) => e as ClusterError);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).code).toBe('ORDO_NATS_TLS');
    await cleanup(ns);
  });
});
