import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApplication } from '../../src/supervisor/index.ts';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { electionMachine } from '../../src/cluster/election.ts';
import type { Leadership } from '../../src/cluster/leaderElection.ts';
import type { Env } from '../../src/env/env.ts';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';
import { realTimeEnv } from './helpers.ts';

function tree(nats: Record<string, unknown>, seen: { cluster?: ClusterService; leader?: Leadership }) {
  return {
    strategy: 'rest_for_one' as const,
    children: [
      {
        id: 'discovery',
        start: { machine: discoveryMachine, input: ({ env }: { env: Env }) => ({ env, config: { cluster: 'sup', nodeName: 'a', nats, heartbeatMs: 200, ttlMs: 1000 } }) },
        provides: 'cluster',
        startTimeoutMs: 5000,
      },
      {
        id: 'election',
        start: {
          machine: electionMachine,
          input: ({ env, deps }: { env: Env; deps: Record<string, unknown> }) => {
            seen.cluster = deps.cluster as ClusterService;
            return { env, cluster: deps.cluster, config: { leaseTtlMs: 1200 } };
          },
        },
        requires: ['cluster'],
        provides: { name: 'leader', select: (s: unknown) => (seen.leader = (s as { context: { service: Leadership } }).context.service) },
      },
    ],
  };
}

describe('cluster children under an Ordo supervisor', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start({ user: 'u', password: 'p' });
  });
  afterAll(() => cleanup(ns));

  it('discovery then election start in order, provide their services, and stop in reverse order (entry deleted, lease released)', async () => {
    const env = realTimeEnv();
    const seen: { cluster?: ClusterService; leader?: Leadership } = {};
    const app = startApplication({ name: 'node-a', env, tree: tree({ servers: [ns.url], user: 'u', password: 'p' }, seen), handleSignals: false });
    await app.ready;
    expect(seen.cluster?.members().map((m) => m.name)).toEqual(['a']);
    await waitFor(() => seen.leader?.isLeader(), 'leader');
    expect(app.health().status).toBe('ready');
    await waitFor(() => JSON.stringify(app.health().children.find((c) => c.id === 'election')!.state) === JSON.stringify({ running: 'leader' }), 'health shows leader');
    await app.stop();
    const reports = env.records.filter((r) => r.report === 'discovery_left' || (r.report === 'election_follower' && r.why === 'stopped')).map((r) => r.report);
    expect(reports).toEqual(['election_follower', 'discovery_left']); // election stopped first, then discovery
  });

  it('wrong credentials: the application fails to start naming the discovery child and ORDO_NATS_AUTH — no restart loop', async () => {
    const env = realTimeEnv();
    const app = startApplication({ name: 'node-a', env, tree: tree({ servers: [ns.url], user: 'u', password: 'bad' }, {}), handleSignals: false });
    const err = await app.ready.then(
      () => undefined,
      (e: unknown) => e as { code: string; childId: string; reason: { reason?: { code?: string } } | { code?: string } },
    );
    expect(err?.code).toBe('ORDO_APPLICATION_START');
    expect(err?.childId).toBe('discovery');
    expect(JSON.stringify(err?.reason)).toContain('ORDO_NATS_AUTH');
    const attempts = env.records.filter((r) => r.report === 'nats_connected').length;
    expect(attempts).toBe(0);
    await app.exited;
  });

  it('a NATS outage shows in the application health as the discovery child in state running.degraded, then healthy again; no restart', async () => {
    const own = await NatsServer.start();
    const env = realTimeEnv();
    const app = startApplication({ name: 'node-a', env, tree: tree({ servers: [own.url], reconnect: { waitMs: 100, jitterMs: 0 } }, {}), handleSignals: false });
    await app.ready;
    const discovery = () => app.health().children.find((c) => c.id === 'discovery')!;
    expect(discovery().state).toEqual({ running: 'healthy' });
    await own.kill();
    await waitFor(() => JSON.stringify(discovery().state) === JSON.stringify({ running: 'degraded' }), 'degraded in health');
    await own.restart();
    await waitFor(() => JSON.stringify(discovery().state) === JSON.stringify({ running: 'healthy' }), 'healthy in health');
    expect(discovery().restarts).toBe(0);
    expect(app.health().children.find((c) => c.id === 'election')!.restarts).toBe(0);
    await app.stop();
    await cleanup(own);
  });
});
