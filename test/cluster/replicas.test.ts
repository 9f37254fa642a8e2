import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { electionMachine } from '../../src/cluster/election.ts';
import { replicationMachine } from '../../src/cluster/replication.ts';
import { ClusterConfigError } from '../../src/cluster/errors.ts';
import { reconcileReplicas, resolveReplicas, type ReplicasSetting } from '../../src/cluster/replicas.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { natsTransport } from '../../src/env/natsTransport.ts';
import { NatsCluster } from '../harness/natsCluster.ts';
import { waitFor } from '../harness/nats.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';

describe('resolveReplicas', () => {
  it("'auto' is 3 on a cluster advertising ≥ 3 servers, 1 on one server or a smaller cluster", () => {
    expect(resolveReplicas(undefined, 'auto')).toBe(1);
    expect(resolveReplicas({}, 'auto')).toBe(1);
    expect(resolveReplicas({ cluster: 'c', connect_urls: ['a', 'b'] }, 'auto')).toBe(1);
    expect(resolveReplicas({ cluster: 'c', connect_urls: ['a', 'b', 'c'] }, 'auto')).toBe(3);
    expect(resolveReplicas({ cluster: 'c', connect_urls: ['a', 'b', 'c', 'd', 'e'] })).toBe(3);
    expect(resolveReplicas({ connect_urls: ['a', 'b', 'c'] }, 2)).toBe(2);
  });
  it('an explicit count must be an integer 1–5', () => {
    for (const bad of [0, 6, 1.5, Number.NaN, -1]) expect(() => resolveReplicas(undefined, bad)).toThrow(ClusterConfigError);
  });
});

describe('replica counts on a 3-server NATS cluster', () => {
  let c: NatsCluster;
  let nc: NatsConnection;
  const dirs: string[] = [];
  beforeAll(async () => {
    c = await NatsCluster.start();
    nc = await connect({ servers: c.urls });
  });
  afterAll(async () => {
    await nc?.close();
    await c?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function node(cluster: string, replicas?: ReplicasSetting) {
    const env = realTimeEnv();
    const d = startChild(discoveryMachine, { env, config: { cluster, nodeName: 'a', nats: { servers: c.urls }, heartbeatMs: 200, ttlMs: 1000, ...(replicas !== undefined ? { replicas } : {}) } }, env);
    return { env, d };
  }
  async function stack(cluster: string, replicas?: ReplicasSetting) {
    const { env, d } = await node(cluster, replicas);
    await waitTag(d, 'ready');
    const svc = d.getSnapshot().context.service as ClusterService;
    const e = startChild(electionMachine, { env, cluster: svc }, env);
    await waitTag(e, 'ready');
    const dir = mkdtempSync(join(tmpdir(), 'ordo-replicas-'));
    dirs.push(dir);
    const store: Store = await openStore({ env, dir, tables: { t: { key: 'id', attributes: { id: { type: 'string' } }, replicated: true } } });
    const r = startChild(replicationMachine, { env, cluster: svc, store, config: { store: 'main', tables: ['t'] } }, env);
    await waitTag(r, 'ready');
    await store.dirtyPut('t', { id: 'x' });
    return {
      svc,
      async stop() {
        await stopChild(r);
        await stopChild(e);
        await stopChild(d);
        await store.close();
      },
    };
  }
  const replicasOf = async (stream: string): Promise<number | undefined> => (await (await jetstreamManager(nc)).streams.info(stream)).config.num_replicas;

  it("default 'auto': members, leases and the replication stream are created R3", async () => {
    const s = await stack('ra');
    expect(s.svc.replicas).toBe(3);
    expect(await replicasOf('KV_ordo_members_ra')).toBe(3);
    expect(await replicasOf('KV_ordo_leases_ra')).toBe(3);
    expect(await replicasOf('ORDO_REPL_ra_main')).toBe(3);
    await s.stop();
  });

  it('existing R1 streams and buckets (an older Ordo) are reconciled to R3', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'ORDO_REPL_rb_main', subjects: ['ordo.repl.rb.main.>'], num_replicas: 1 });
    await jsm.streams.add({ name: 'KV_ordo_members_rb', subjects: ['$KV.ordo_members_rb.>'], num_replicas: 1, max_msgs_per_subject: 1, allow_rollup_hdrs: true, deny_delete: true, max_age: 1_000_000_000 });
    const s = await stack('rb');
    expect(await replicasOf('ORDO_REPL_rb_main')).toBe(3);
    expect(await replicasOf('KV_ordo_members_rb')).toBe(3);
    await s.stop();
  });

  it("an explicit count shrinks existing ones; 'auto' (not explicit) never shrinks", async () => {
    const s1 = await stack('rc', 1);
    expect(await replicasOf('ORDO_REPL_rc_main')).toBe(1);
    await s1.stop();
    const s2 = await stack('rc');
    expect(await replicasOf('ORDO_REPL_rc_main')).toBe(3);
    await s2.stop();
    const s3 = await stack('rc', 1);
    expect(await replicasOf('ORDO_REPL_rc_main')).toBe(1);
    expect(await replicasOf('KV_ordo_members_rc')).toBe(1);
    await s3.stop();
    // what 'auto' does when it resolves lower than a stream has (a server down at boot): nothing
    await (await jetstreamManager(nc)).streams.update('ORDO_REPL_rc_main', { num_replicas: 3 });
    expect(await reconcileReplicas(natsTransport(nc), 'ORDO_REPL_rc_main', 2, false, realTimeEnv().logger)).toBe(3);
    await reconcileReplicas(natsTransport(nc), 'ORDO_REPL_rc_main', 1, false, realTimeEnv().logger);
    expect(await replicasOf('ORDO_REPL_rc_main')).toBe(3);
  });

  it('more replicas than servers: discovery fails with ORDO_JETSTREAM_REPLICAS, not a retry loop', async () => {
    const { d } = await node('rd', 5);
    await waitFor(() => d.getSnapshot().status !== 'active', 'discovery ends', 30_000);
    const out = d.getSnapshot().output as { reason?: { code?: string; value?: unknown; message?: string } } | undefined;
    expect(out?.reason?.code, out?.reason?.message).toBe('ORDO_JETSTREAM_REPLICAS');
    expect(out?.reason?.value).toEqual({ want: 5, have: undefined });
  });
});
