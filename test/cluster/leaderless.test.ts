/**
 * Issue 14, deliverables 2–3: a discovery boot while the members bucket has no leader (two of
 * three servers down: no JetStream quorum) is JetStream unavailable — health `degraded` with
 * ORDO_JETSTREAM_UNAVAILABLE, retried — not ORDO_NATS_UNREACHABLE (NATS answers) and not a
 * permanent "no JetStream" failure; the node joins once the quorum is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { NatsCluster } from '../harness/natsCluster.ts';
import { waitFor } from '../harness/nats.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';

describe('discovery on a 3-server cluster that lost its JetStream quorum', () => {
  let c: NatsCluster;
  beforeAll(async () => {
    c = await NatsCluster.start();
  });
  afterAll(async () => {
    await c?.dispose();
  });

  const node = (name: string, servers: string[]) => {
    const env = realTimeEnv();
    return startChild(discoveryMachine, { env, config: { cluster: 'll', nodeName: name, nats: { servers, reconnect: { waitMs: 100, jitterMs: 50 } }, heartbeatMs: 200, ttlMs: 1000 } }, env);
  };

  it('boot with the members bucket leaderless: degraded, ORDO_JETSTREAM_UNAVAILABLE, then ready when the servers return', async () => {
    // the members bucket exists, R3
    const a = node('a', c.urls);
    await waitTag(a, 'ready');
    expect((a.getSnapshot().context.service as ClusterService).replicas).toBe(3);
    await stopChild(a);
    await c.waitStreamCurrent('KV_ordo_members_ll');
    const [up, ...down] = c.members;
    for (const m of down) await m.server.kill();
    const b = node('b', [up!.url]);
    try {
      // health stays set while the next attempt runs (the `degraded` tag is on `retrying` only)
      const health = await waitFor(() => (b.getSnapshot().context.health.status === 'degraded' ? b.getSnapshot().context.health : undefined), 'b degraded', 30_000);
      expect(health).toMatchObject({ status: 'degraded', reason: { code: 'ORDO_JETSTREAM_UNAVAILABLE' } });
      expect(b.getSnapshot().status).toBe('active');
      for (const m of down) await m.server.restart();
      await waitTag(b, 'ready', 60_000);
      await waitFor(() => (b.getSnapshot().context.service as ClusterService).members().some((m) => m.name === 'b'), 'b registered');
      expect(b.getSnapshot().context.health.status).toBe('ok');
    } finally {
      for (const m of down) if (!m.server.running) await m.server.restart();
      await stopChild(b);
    }
  }, 120_000);
});
