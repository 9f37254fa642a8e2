import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { electionMachine } from '../../src/cluster/election.ts';
import type { Leadership } from '../../src/cluster/leaderElection.ts';
import { coordinateMigration } from '../../src/cluster/schemaGate.ts';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';

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
            await new Promise((r) => setTimeout(r, 200));
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
    expect(results.filter((r) => r === 'waited')).toHaveLength(2);
    // a later boot at the same version does nothing
    expect(await coordinateMigration({ env: nodes[1]!.env, cluster: nodes[1]!.svc, leadership: nodes[1]!.lead, store: 'main', toVersion: 2, migrate: async () => void runs++ })).toBe('already');
    expect(runs).toBe(1);
    for (const n of nodes) {
      await stopChild(n.e);
      await stopChild(n.d);
    }
  });

  it('a waiting follower that becomes leader (the old leader left without migrating) runs it itself', async () => {
    const a = await node(ns.url, 'mig2', 'a');
    await waitFor(() => a.lead.isLeader(), 'a leads');
    const b = await node(ns.url, 'mig2', 'b');
    let ranOn = '';
    const p = coordinateMigration({ env: b.env, cluster: b.svc, leadership: b.lead, store: 'main', toVersion: 5, migrate: async (t) => void (ranOn = t.node) });
    await new Promise((r) => setTimeout(r, 100));
    expect(ranOn).toBe('');
    await stopChild(a.e); // releases the lease
    expect(await p).toBe('migrated');
    expect(ranOn).toBe('b');
    await stopChild(b.e);
    await stopChild(a.d);
    await stopChild(b.d);
  });

  it('a follower times out with ORDO_REPL_MIGRATION when no leader migrates', async () => {
    const a = await node(ns.url, 'mig3', 'a');
    await waitFor(() => a.lead.isLeader(), 'a leads');
    const b = await node(ns.url, 'mig3', 'b');
    await expect(coordinateMigration({ env: b.env, cluster: b.svc, leadership: b.lead, store: 'main', toVersion: 2, migrate: async () => undefined, timeoutMs: 300 })).rejects.toMatchObject({ code: 'ORDO_REPL_MIGRATION' });
    for (const n of [a, b]) {
      await stopChild(n.e);
      await stopChild(n.d);
    }
  });
});
