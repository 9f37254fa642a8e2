/**
 * Issue 14: the replication consumer recovers when the server it lives on dies while this
 * node was connected to that same server. nats.js cancels its heartbeat monitor on the
 * disconnect and restarts it only once the consumer answers an info request — which a consumer
 * on a dead server never does — so without Ordo's own watchdog the consumer stayed silent until
 * the server came back (the failover run's "every kill after the first timed out").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { ReplConsumer } from '../../src/cluster/replConsumer.ts';
import { natsTransport } from '../../src/env/natsTransport.ts';
import { NatsCluster } from '../harness/natsCluster.ts';
import { waitFor, HARNESS_WAIT_MS } from '../harness/nats.ts';
import { realTimeEnv } from './helpers.ts';

describe('ReplConsumer on a 3-server cluster', () => {
  let c: NatsCluster;
  let admin: NatsConnection;
  let nc: NatsConnection | undefined;
  let consumer: ReplConsumer | undefined;
  beforeAll(async () => {
    c = await NatsCluster.start();
    admin = await connect({ servers: c.urls, reconnectTimeWait: 100 });
    await (await jetstreamManager(admin)).streams.add({ name: 'RC', subjects: ['rc.>'], num_replicas: 3 });
    await c.waitStreamCurrent('RC');
  });
  afterAll(async () => {
    await consumer?.close();
    await nc?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await c?.dispose();
  });

  it('its server killed while this client was connected to it: re-created on a live server, nothing skipped', async () => {
    const env = realTimeEnv();
    const js = jetstream(admin, { timeout: 2000 });
    // a publish that timed out may still have been stored: a retry carries the same msg id, so
    // the stream keeps one copy (a plain retry would store a second one, delivered twice)
    const publish = (i: number): Promise<true> => waitFor(() => js.publish('rc.x', String(i), { msgID: `rc-${i}` }).then(() => true as const), `publish ${i}`, HARNESS_WAIT_MS, 100);
    for (let i = 1; i <= 5; i++) await publish(i);
    // Connected to one server only at first (it learns the others from the cluster's INFO).
    const home = c.server(0);
    nc = await connect({ servers: [home.url], reconnectTimeWait: 100 });
    const conn = nc;
    const got: number[] = [];
    let state: 'connected' | 'reconnecting' = 'connected';
    void (async () => {
      for await (const s of conn.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnecting') state = 'reconnecting';
        else if (s.type === 'reconnect') state = 'connected';
      }
    })();
    consumer = new ReplConsumer({
      env,
      transport: natsTransport(conn),
      requestTimeoutMs: 1000,
      stream: 'RC',
      log: env.logger,
      nextSeq: () => (got.at(-1) ?? 0) + 1,
      onMessage: async (m) => void got.push(m.seq),
      active: () => true,
      connected: () => state === 'connected',
    });
    // Place the (R1, ephemeral) consumer on the server this client is connected to: JetStream
    // picks one of the stream's peers at random, so re-create it until it lands there.
    const placedHome = async (): Promise<boolean> => {
      const name = await consumer!.consumerName();
      const leader = await waitFor(async () => (await c.consumers('RC')).find((x) => x.name === name)?.leader, `consumer ${name} placed`, HARNESS_WAIT_MS, 50);
      return leader === home.name;
    };
    await consumer.start();
    await waitFor(() => got.length === 5, 'the first 5 messages');
    for (let i = 0; !(await placedHome()); i++) {
      expect(i, 'the consumer never landed on the home server').toBeLessThan(40);
      await consumer.start();
    }
    await home.server.kill();
    try {
      // The stream may have lost its leader too: wait for one, then write more.
      await c.waitStreamLeader('RC', 30_000, home.name);
      for (let i = 6; i <= 8; i++) await publish(i);
      // Delivered with the home server still down: the consumer was re-created elsewhere.
      await waitFor(() => got.length >= 8, 'messages 6–8 while the consumer\'s server is down', 30_000, 50);
      expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    } finally {
      await home.server.restart();
    }
  }, 120_000);
});
