import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccount, createUser } from '@nats-io/nkeys';
import { createTestEnv } from '../../src/env/env.ts';
import { connectCluster, type NatsRuntimeEvent } from '../../src/cluster/connection.ts';
import { ClusterError } from '../../src/cluster/errors.ts';
import { discoveryMachine } from '../../src/cluster/discovery.ts';
import { NatsServer, cleanup, freePort, waitFor } from '../harness/nats.ts';
import { startChild } from './helpers.ts';

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
    expect(conn.transport.isClosed()).toBe(true);
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
    expect(env.records.some((r) => r.report === 'nats_reconnect')).toBe(true);
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
    expect(conn.transport.info.tlsRequired).toBe(true);
    expect(conn.jetstream).toBe(true);
    await conn.close();
    const err = await connectCluster(env, { servers: [ns.url], connectTimeoutMs: 1000 }, 'a').catch((e: unknown) => e as ClusterError);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).code).toBe('ORDO_NATS_TLS');
    await cleanup(ns);
  });
});

describe('cluster connection: configuration errors are final', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(() => cleanup(ns));
  const seed = (): string => new TextDecoder().decode(createUser().getSeed());
  /** A user seed whose checksum is wrong: the last two base32 characters (the checksum's low bits) replaced by others, never by the same ones (a fresh seed ends in "AA" once in 256, and was then still valid). */
  const badChecksum = (): string => {
    const s = seed();
    return `${s.slice(0, -2)}${s.endsWith('AA') ? 'BA' : 'AA'}`;
  };
  const bad: Array<[string, Record<string, unknown>]> = [
    ['an invalid URL', { servers: ['nats://exa mple:4222'] }],
    ['port 99999', { servers: ['nats://127.0.0.1:99999'] }],
    ['an empty server', { servers: [''] }],
    ['a scheme nats.js cannot speak', { servers: ['http://127.0.0.1:4222'] }],
    ['no host', { servers: ['nats://:4222'] }],
    ['servers not an array', { servers: 'nats://127.0.0.1:4222' }],
    ['a malformed nkey seed', { servers: ['nats://127.0.0.1:4222'], nkeySeed: 'SUbogus' }],
    ['an nkey seed with a bad checksum', { servers: ['nats://127.0.0.1:4222'], nkeySeed: badChecksum() }],
    ['an account seed where a user seed belongs', { servers: ['nats://127.0.0.1:4222'], nkeySeed: new TextDecoder().decode(createAccount().getSeed()) }],
    ['user and token at once', { servers: ['nats://127.0.0.1:4222'], user: 'u', token: 't' }],
  ];

  it('defect 17: NATS config errors (invalid URL, port 99999, "", a malformed nkey seed) are ORDO_CLUSTER_CONFIG naming the field, not unreachable', async () => {
    const env = createTestEnv();
    for (const [what, nats] of bad) {
      const err = await connectCluster(env, { connectTimeoutMs: 300, ...nats } as never, 'a').catch((e: unknown) => e);
      expect(err, what).toBeInstanceOf(ClusterError);
      expect((err as ClusterError).code, what).toBe('ORDO_CLUSTER_CONFIG');
      expect((err as ClusterError).message, what).toMatch(/nats\.(servers|nkeySeed)|nats: set one of/);
    }
    // a seed is never echoed whole; nor are credentials in a URL
    const e1 = (await connectCluster(env, { servers: ['nats://127.0.0.1:4222'], nkeySeed: 'SUbogus-secret' }, 'a').catch((e: unknown) => e)) as ClusterError;
    expect(JSON.stringify({ m: e1.message, v: e1.value })).not.toContain('bogus-secret');
    const e2 = (await connectCluster(env, { servers: ['nats://me:hunter2@127.0.0.1:99999'] }, 'a').catch((e: unknown) => e)) as ClusterError;
    expect(JSON.stringify({ m: e2.message, v: e2.value })).not.toContain('hunter2');
    // valid spellings still connect
    const conns = [];
    for (const s of [`127.0.0.1:${new URL(ns.url).port}`, ns.url, `${ns.url}/`]) conns.push(await connectCluster(env, { servers: [s] }, 'a'));
    await cleanup(...conns.map((c) => ({ close: () => c.close() })));
  });

  it('defect 17: the discovery child ends at once with the config error as its reason (no retry loop)', async () => {
    for (const [what, nats] of bad.slice(0, 4).concat([bad[6]!])) {
      const env = createTestEnv();
      const d = startChild(discoveryMachine, { env, config: { cluster: 'cfg', nodeName: 'a', nats } }, env);
      await waitFor(() => d.getSnapshot().status === 'done', `${what}: discovery final`);
      expect((d.getSnapshot().output as { reason: { code: string } }).reason.code, what).toBe('ORDO_CLUSTER_CONFIG');
      expect(d.getSnapshot().context.health, what).toMatchObject({ status: 'failed', reason: { code: 'ORDO_CLUSTER_CONFIG' } });
      expect(env.records.filter((r) => r.report === 'discovery_connect_failed'), what).toHaveLength(0);
    }
  });
});
