/**
 * Issue 14: an outcome that is not known is never reported as a failure, and JetStream being
 * unavailable is not "NATS unreachable". Against a real 3-server NATS cluster.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { discoveryMachine, type ClusterService, type DiscoveryConfig } from '../../src/cluster/discovery.ts';
import { replicationMachine, type ReplicationConfig } from '../../src/cluster/replication.ts';
import type { StreamPosition } from '../../src/cluster/replicatedStore.ts';
import type { CommitBatch } from '../../src/store/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { NatsCluster } from '../harness/natsCluster.ts';
import { waitFor, HARNESS_WAIT_MS } from '../harness/nats.ts';
import { startChild, stopChild, trackedRealTimeEnv, waitTag } from './helpers.ts';

const TABLES = { t: { key: 'id', attributes: { id: { type: 'string' }, n: { type: 'integer', default: 0 } }, replicated: true } } as const;

describe('commit outcomes on a 3-server NATS cluster', () => {
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

  /** One Ordo node in this process: discovery + replication over a real RocksDB Store (optionally wrapped). */
  async function node(cluster: string, servers: string[], opts: { discovery?: Partial<DiscoveryConfig>; repl?: Partial<ReplicationConfig>; wrap?: (s: Store) => Store } = {}) {
    const env = trackedRealTimeEnv();
    const dir = mkdtempSync(join(tmpdir(), 'ordo-outcome-'));
    dirs.push(dir);
    const real = await openStore({ env, dir, tables: TABLES as never });
    const store = opts.wrap ? opts.wrap(real) : real;
    const d = startChild(discoveryMachine, { env, config: { cluster, nodeName: 'w', nats: { servers, reconnect: { waitMs: 100, jitterMs: 0 } }, heartbeatMs: 200, ttlMs: 2000, ...opts.discovery } }, env);
    await waitTag(d, 'ready');
    const svc = d.getSnapshot().context.service as ClusterService;
    const r = startChild(replicationMachine, { env, cluster: svc, store, config: { store: 'main', tables: ['t'], ...opts.repl } }, env);
    await waitTag(r, 'ready');
    return {
      env,
      store: real,
      async stop() {
        await stopChild(r);
        await stopChild(d);
        await real.close();
      },
    };
  }
  /** The stream's last sequence (the request retried: the test's own connection may be failing over). */
  const lastSeq = (stream: string): Promise<number> =>
    waitFor(async () => ({ seq: (await (await jetstreamManager(nc, { timeout: 2000 })).streams.info(stream)).state.last_seq }), `info of ${stream}`, HARNESS_WAIT_MS, 100).then((r) => r.seq);

  it("a committed write whose local apply is slower than the commit timeout resolves as committed (not 'sequence N not applied within …')", async () => {
    let gate: Promise<void> | undefined;
    let open!: () => void;
    let held = false;
    const wrap = (s: Store): Store =>
      new Proxy(s, {
        get(target, p) {
          if (p === 'applyReplicated') {
            return async (b: CommitBatch, pos: StreamPosition) => {
              if (gate) {
                held = true;
                await gate;
              }
              return target.applyReplicated(b, pos);
            };
          }
          const v = Reflect.get(target, p, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    const n = await node('oa', c.urls, { repl: { commitTimeoutMs: 300 }, wrap });
    gate = new Promise<void>((r) => (open = r));
    const commit = n.store.transaction((tx) => void tx.put('t', { id: 'a', n: 1 }));
    const outcome = commit.then(
      () => 'committed',
      (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
    );
    // the write is in the stream (acknowledged) while its local apply is held past the timeout
    await waitFor(async () => (await lastSeq('ORDO_REPL_oa_main')) >= 1, 'the write in the stream');
    await waitFor(() => held, 'the local apply held');
    // every timer within the commit timeout has run (one that failed the commit at its deadline would have)
    await n.env.timersDone(300);
    open();
    expect(await outcome).toBe('committed');
    expect(n.store.get('t', 'a')).toMatchObject({ n: 1 });
    await n.stop();
  });

  it('a publish that timed out but reached the stream is settled by its msg id: the caller is told committed, and it is stored once', async () => {
    const stream = 'ORDO_REPL_ob_main';
    // create the stream up front (R3) to know its leader, and connect the node to the leader only
    const n0 = await node('ob', c.urls);
    await n0.stop();
    const leader = await c.waitStreamLeader(stream);
    await c.waitStreamCurrent(stream);
    const n = await node('ob', [c.server(leader).url], { repl: { commitTimeoutMs: 1000, publishTimeoutMs: 250 } });
    const before = await lastSeq(stream);
    const followers = c.members.filter((m) => m.name !== leader);
    // no quorum: the leader takes the publish but cannot store it until a follower is back
    for (const f of followers) await f.server.pause();
    try {
      const commit = n.store.transaction((tx) => void tx.put('t', { id: 'b', n: 7 }));
      const outcome = commit.then(
        () => 'committed',
        (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`,
      );
      // past the commit timeout with every attempt unanswered (the outcome unknown): the node says so
      await waitFor(() => n.env.records.some((r) => r['report'] === 'replication_publish_settling'), 'the commit timeout passed, outcome unknown');
      for (const f of followers) f.server.resume();
      expect(await outcome).toBe('committed');
    } finally {
      for (const f of followers) f.server.resume();
    }
    expect(n.store.get('t', 'b')).toMatchObject({ n: 7 });
    // stored once, although published several times with the same msg id
    expect(await lastSeq(stream)).toBe(before + 1);
    await n.stop();
  });

  it('JetStream unavailable (the stream has no server) is ORDO_JETSTREAM_UNAVAILABLE, not ORDO_NATS_UNREACHABLE; nothing was stored', async () => {
    const stream = 'ORDO_REPL_oc_main';
    // an R1 stream, on one server; the node connects only to another
    const n0 = await node('oc', c.urls, { discovery: { replicas: 1 } });
    await n0.stop();
    const home = await c.waitStreamLeader(stream);
    const other = c.members.find((m) => m.name !== home)!;
    const n = await node('oc', [other.url], { discovery: { replicas: 1 }, repl: { commitTimeoutMs: 800 } });
    const before = await lastSeq(stream);
    await c.server(home).server.kill();
    try {
      const err = await n.store.transaction((tx) => void tx.put('t', { id: 'c', n: 1 })).then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      );
      expect(err?.code).toBe('ORDO_JETSTREAM_UNAVAILABLE');
    } finally {
      await c.server(home).server.restart();
    }
    await c.waitStreamLeader(stream);
    expect(await lastSeq(stream)).toBe(before);
    await n.stop();
  });
});
