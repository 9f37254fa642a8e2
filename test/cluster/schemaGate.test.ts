import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { electionMachine } from '../../src/cluster/election.ts';
import type { Leadership } from '../../src/cluster/leaderElection.ts';
import { coordinateMigration } from '../../src/cluster/schemaGate.ts';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';
import { SIM_URL, simCluster, type SimCluster } from './simHelpers.ts';

async function node(url: string, cluster: string, name: string) {
  const env = realTimeEnv();
  const d = startChild(discoveryMachine, { env, config: { cluster, nodeName: name, nats: { servers: [url] }, heartbeatMs: 200, ttlMs: 1000 } }, env);
  await waitTag(d, 'ready');
  const svc = d.getSnapshot().context.service as ClusterService;
  const e = startChild(electionMachine, { env, cluster: svc, config: { leaseTtlMs: 1200 } }, env);
  await waitTag(e, 'ready');
  return { env, d, e, svc, lead: e.getSnapshot().context.service as Leadership };
}

describe('schema migrations on replicated tables', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(() => cleanup(ns));

  it('run once, on the leader; the others wait for the new version', async () => {
    const nodes = await Promise.all(['a', 'b', 'c'].map((n) => node(ns.url, 'mig', n)));
    await waitFor(() => nodes.filter((n) => n.lead.isLeader()).length === 1, 'one leader');
    let runs = 0;
    let finished = false;
    const results = await Promise.all(
      nodes.map((n) =>
        coordinateMigration({
          env: n.env,
          cluster: n.svc,
          leadership: n.lead,
          store: 'main',
          toVersion: 2,
          migrate: async (term) => {
            runs++;
            expect(term.node).toBe(n.svc.self);
            await Promise.resolve();
            finished = true;
          },
        }).then((r) => {
          expect(finished).toBe(true); // nobody proceeds before the migration is done
          return r;
        }),
      ),
    );
    expect(runs).toBe(1);
    expect(results.filter((r) => r === 'migrated')).toHaveLength(1);
    // a follower that reads the record after it is written says 'already' (strict counts: on virtual time below)
    expect(results.filter((r) => r === 'waited' || r === 'already')).toHaveLength(2);
    // a later boot at the same version does nothing
    expect(await coordinateMigration({ env: nodes[1]!.env, cluster: nodes[1]!.svc, leadership: nodes[1]!.lead, store: 'main', toVersion: 2, migrate: async () => void runs++ })).toBe('already');
    expect(runs).toBe(1);
    for (const n of nodes) {
      await stopChild(n.e);
      await stopChild(n.d);
    }
  });

});

describe('schema migrations on virtual time (simulated NATS)', () => {
  async function simNode(c: SimCluster, cluster: string, name: string) {
    const d = c.start(discoveryMachine, { env: c.env, config: { cluster, nodeName: name, nats: { servers: [SIM_URL] }, heartbeatMs: 200, ttlMs: 1000 } });
    await c.tag(d, 'ready');
    const svc = d.getSnapshot().context.service as ClusterService;
    const e = c.start(electionMachine, { env: c.env, cluster: svc, config: { leaseTtlMs: 1200 } });
    await c.tag(e, 'ready');
    return { env: c.env, d, e, svc, lead: e.getSnapshot().context.service as Leadership };
  }
  const sleep = (c: SimCluster, ms: number): Promise<void> => new Promise((r) => c.env.clock.setTimeout(() => r(), ms));

  it('run once, on the leader; the others wait for the new version (a migration taking 200 virtual ms)', async () => {
    const c = simCluster(21);
    const nodes: Array<Awaited<ReturnType<typeof simNode>>> = [];
    for (const n of ['a', 'b', 'c']) nodes.push(await simNode(c, 'mig', n));
    await c.until(() => nodes.filter((n) => n.lead.isLeader()).length === 1, 'one leader');
    let runs = 0;
    let finished = false;
    const results = await c.settle(
      Promise.all(
        nodes.map((n) =>
          coordinateMigration({
            env: n.env,
            cluster: n.svc,
            leadership: n.lead,
            store: 'main',
            toVersion: 2,
            migrate: async (term) => {
              runs++;
              expect(term.node).toBe(n.svc.self);
              await sleep(c, 200);
              finished = true;
            },
          }).then((r) => {
            expect(finished).toBe(true); // nobody proceeds before the migration is done
            return r;
          }),
        ),
      ),
    );
    expect(runs).toBe(1);
    expect(results.filter((r) => r === 'migrated')).toHaveLength(1);
    expect(results.filter((r) => r === 'waited')).toHaveLength(2);
    expect(await c.settle(coordinateMigration({ env: c.env, cluster: nodes[1]!.svc, leadership: nodes[1]!.lead, store: 'main', toVersion: 2, migrate: async () => void runs++ }))).toBe('already');
    expect(runs).toBe(1);
    for (const n of nodes) {
      await c.stop(n.e);
      await c.stop(n.d);
    }
  });

  it('a waiting follower that becomes leader (the old leader left without migrating) runs it itself — and not before', async () => {
    const c = simCluster(22);
    const a = await simNode(c, 'mig2', 'a');
    await c.until(() => a.lead.isLeader(), 'a leads');
    const b = await simNode(c, 'mig2', 'b');
    let ranOn = '';
    let result: string | undefined;
    void coordinateMigration({ env: c.env, cluster: b.svc, leadership: b.lead, store: 'main', toVersion: 5, migrate: async (t) => void (ranOn = t.node) }).then((r) => (result = r));
    await c.advance(5000); // virtual: while a leads and does not migrate, b only waits
    expect(ranOn).toBe('');
    expect(result).toBeUndefined();
    await c.stop(a.e); // releases the lease
    await c.until(() => result !== undefined, 'b migrates');
    expect(result).toBe('migrated');
    expect(ranOn).toBe('b');
    await c.stop(b.e);
    await c.stop(a.d);
    await c.stop(b.d);
  });

  it('a follower times out with ORDO_REPL_MIGRATION when no leader migrates, after exactly its timeout', async () => {
    const c = simCluster(23);
    const a = await simNode(c, 'mig3', 'a');
    await c.until(() => a.lead.isLeader(), 'a leads');
    const b = await simNode(c, 'mig3', 'b');
    const t0 = c.sim.now;
    await expect(c.settle(coordinateMigration({ env: c.env, cluster: b.svc, leadership: b.lead, store: 'main', toVersion: 2, migrate: async () => undefined, timeoutMs: 300 }))).rejects.toMatchObject({ code: 'ORDO_REPL_MIGRATION' });
    expect(c.sim.now - t0).toBeGreaterThanOrEqual(300);
    expect(c.sim.now - t0).toBeLessThan(330);
    for (const n of [a, b]) {
      await c.stop(n.e);
      await c.stop(n.d);
    }
  });
});
