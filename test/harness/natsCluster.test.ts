import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { NatsCluster } from './natsCluster.ts';

describe('NatsCluster harness (3 nats-servers, routes + JetStream)', () => {
  let c: NatsCluster;
  let nc: NatsConnection;
  beforeAll(async () => {
    c = await NatsCluster.start();
    nc = await connect({ servers: c.urls, reconnectTimeWait: 100 });
  });
  afterAll(async () => {
    await nc?.close();
    await c?.dispose();
  });

  it('forms one JetStream cluster with a meta leader and places an R3 stream on all three', async () => {
    expect(c.urls).toHaveLength(3);
    expect(c.members.map((m) => m.name)).toEqual(['n1', 'n2', 'n3']);
    expect(c.members.map((m) => m.name)).toContain(await c.waitMetaLeader());
    // a just-elected meta leader on 2.9 can take longer than the client's 5 s default to place a
    // first R3 stream on a loaded machine (a CI run on Node 24 timed out here): 15 s per request
    const jsm = await jetstreamManager(nc, { timeout: 15_000 });
    const si = await jsm.streams.add({ name: 'H', subjects: ['h.>'], num_replicas: 3 });
    expect(si.config.num_replicas).toBe(3);
    await jetstream(nc).publish('h.x', 'a');
    const p = await c.waitStreamCurrent('H');
    expect([p.leader, ...p.replicas.map((r) => r.name)].sort()).toEqual(['n1', 'n2', 'n3']);
  });

  it('kill -9 of the stream leader: another server leads; restarted, it catches up with what was written meanwhile', async () => {
    const js = jetstream(nc);
    const old = await c.waitStreamLeader('H');
    await c.server(old).server.kill();
    expect(c.server(old).server.running).toBe(false);
    const next = await c.waitStreamLeader('H', 30_000, old);
    expect(next).not.toBe(old);
    // the first publish to a just-elected stream leader (and the info after the restart) get the
    // same generous request timeout as the first stream placement above: not what is checked here
    const ack = await js.publish('h.x', 'b', { timeout: 15_000 });
    await c.server(old).server.restart();
    await c.waitStreamCurrent('H');
    const jsm = await jetstreamManager(nc, { timeout: 15_000 });
    expect((await jsm.streams.info('H')).state.last_seq).toBe(ack.seq);
  });

  it('kill -9 of the meta leader: the other two elect a new one', async () => {
    const old = await c.waitMetaLeader();
    await c.server(old).server.kill();
    const next = await c.waitMetaLeader(30_000, old);
    expect(next).not.toBe(old);
    await c.server(old).server.restart();
    expect(c.running()).toHaveLength(3);
  });
});
