/**
 * Issue 14, meta-leader loss: re-creating the replication consumer needs JetStream's meta
 * leader, and nats-server 2.9 publishes no advisory when a new one is elected. While a recovery
 * runs, the meta leader is asked for (`$JS.API.INFO`, short timeout); a create attempt stuck on
 * its request timeout is replaced the moment the meta leader answers again. Virtual time, a
 * transport whose first consumer create hangs until its 1 s timeout.
 */
import { describe, expect, it } from 'vitest';
import { ReplConsumer } from '../../src/cluster/replConsumer.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { TransportError, type ClusterTransport, type StreamConsumer } from '../../src/env/transport.ts';

/** A consumer that never delivers (the test is about when it is created). */
function idleConsumer(): StreamConsumer {
  const never = (): AsyncIterator<never> => ({ next: () => new Promise<never>(() => undefined) });
  return { status: () => ({ [Symbol.asyncIterator]: never }), close: async () => undefined, check: async () => undefined, [Symbol.asyncIterator]: never };
}

describe('replication consumer recovery and the JetStream meta leader', () => {
  it('a create stuck while the meta group has no leader is re-sent as soon as the meta leader answers, not after its request timeout', async () => {
    const env = createTestEnv();
    const metaBackAt = 700;
    const creates: number[] = [];
    const transport = {
      consume: () => {
        creates.push(env.clock.now());
        // the first create went out while there was no meta leader: no answer until its 1 s timeout
        if (creates.length === 1) return new Promise<never>((_, reject) => env.clock.setTimeout(() => reject(new TransportError('timeout', { kind: 'timeout' })), 1000));
        return Promise.resolve(idleConsumer());
      },
      checkJetStream: (timeoutMs: number) =>
        new Promise<void>((resolve, reject) => {
          if (env.clock.now() >= metaBackAt) env.clock.setTimeout(() => resolve(), 5);
          else env.clock.setTimeout(() => reject(new TransportError('timeout', { kind: 'timeout' })), timeoutMs);
        }),
    } as unknown as ClusterTransport;
    const c = new ReplConsumer({ env, transport, stream: 'S', log: env.logger, nextSeq: () => 1, onMessage: async () => undefined, active: () => true });
    c.recover('test');
    await env.clock.advance(3000);
    expect(creates.length).toBe(2);
    expect(creates[1]!).toBeGreaterThanOrEqual(metaBackAt);
    expect(creates[1]!).toBeLessThan(1000); // before the stuck attempt times out (old: 1100, its timeout + back-off)
    expect(env.records.some((r) => r['report'] === 'replication_consumer_retry_now' && r['why'] === 'meta_leader_back')).toBe(true);
    await c.close();
  });

  it('a meta leader that answers all along wakes nothing: the stuck attempt runs to its timeout', async () => {
    const env = createTestEnv();
    const creates: number[] = [];
    const transport = {
      consume: () => {
        creates.push(env.clock.now());
        if (creates.length === 1) return new Promise<never>((_, reject) => env.clock.setTimeout(() => reject(new TransportError('timeout', { kind: 'timeout' })), 1000));
        return Promise.resolve(idleConsumer());
      },
      checkJetStream: () => new Promise<void>((resolve) => env.clock.setTimeout(() => resolve(), 5)),
    } as unknown as ClusterTransport;
    const c = new ReplConsumer({ env, transport, stream: 'S', log: env.logger, nextSeq: () => 1, onMessage: async () => undefined, active: () => true });
    c.recover('test');
    await env.clock.advance(3000);
    expect(creates).toEqual([0, 1100]);
    await c.close();
  });
});
