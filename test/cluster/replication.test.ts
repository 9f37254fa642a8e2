import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { replicationMachine, type ReplicationConfig, type ReplicationService } from '../../src/cluster/replication.ts';
import { replNames, type Replicator } from '../../src/cluster/replicator.ts';
import { ClusterError } from '../../src/cluster/errors.ts';
import { connectCluster } from '../../src/cluster/connection.ts';
import { serverHas } from '../../src/cluster/serverFeatures.ts';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';
import type { CommitOp, ReplicatorCommitOptions } from '../../src/store/types.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';
import { TABLES, contentHash, openTestStore, put, removeStoreDir, type TestStore } from './realStore.ts';

const opened: TestStore[] = [];
/** A real RocksDB store in a temp dir, closed and removed after the test. */
async function newStore(schemaVersion?: number): Promise<TestStore> {
  const s = await openTestStore(realTimeEnv(), schemaVersion !== undefined ? { schemaVersion } : {});
  opened.push(s);
  return s;
}
afterEach(async () => {
  const all = opened.splice(0);
  for (const s of all) await s.close();
  for (const s of all) removeStoreDir(s.dir);
});

async function startNode(url: string, cluster: string, name: string, store: TestStore, extra: Partial<ReplicationConfig> = {}) {
  const env = realTimeEnv();
  const d = startChild(discoveryMachine, { env, config: { cluster, nodeName: name, nats: { servers: [url], reconnect: { waitMs: 100, jitterMs: 0 } }, heartbeatMs: 200, ttlMs: 1000 } }, env);
  await waitTag(d, 'ready');
  const svc = d.getSnapshot().context.service as ClusterService;
  const r = startChild(replicationMachine, { env, cluster: svc, store: store.store, config: { store: 'main', tables: TABLES, ...extra } }, env);
  await waitTag(r, 'ready');
  const repl = r.getSnapshot().context.service as ReplicationService;
  const replicator = r.getSnapshot().context.replicator as Replicator;
  return {
    env,
    d,
    r,
    svc,
    repl,
    store,
    /** One batch through the replicator (the store's commit seam), as a store transaction hands it over. */
    commit: (ops: CommitOp[], opts?: ReplicatorCommitOptions) => replicator.commit({ ops, schemaVersion: store.store.schemaVersion }, opts),
    get: (table: string, id: string) => (store.store.get(table, id) as { v?: unknown } | undefined)?.v,
    async stop() {
      await stopChild(r);
      await stopChild(d);
    },
  };
}
type Node = Awaited<ReturnType<typeof startNode>>;

/** A transaction with the retry a store transaction does on a conflict. */
async function writeRetrying(n: Node, table: string, key: string, value: unknown): Promise<number> {
  for (let conflicts = 0; ; conflicts++) {
    try {
      await n.commit([put(table, key, value)]);
      return conflicts;
    } catch (e) {
      if ((e as ClusterError).code !== 'ORDO_REPL_CONFLICT' || conflicts > 200) throw e;
    }
  }
}

const codeOf = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e as ClusterError).code,
  );

describe('replication through JetStream', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(() => cleanup(ns));

  it('3 nodes writing concurrently converge to identical tables; every seq applied exactly once on every node', async () => {
    const nodes: Node[] = [];
    for (const n of ['a', 'b', 'c']) nodes.push(await startNode(ns.url, 'conv', n, await newStore()));
    let conflicts = 0;
    await Promise.all(
      nodes.map(async (n, i) => {
        for (let k = 0; k < 40; k++) {
          conflicts += await writeRetrying(n, k % 2 ? 'users' : 'orders', `k${k % 10}`, { by: n.svc.self, k, i });
        }
      }),
    );
    const last = Math.max(...nodes.map((n) => n.repl.appliedSeq()));
    for (const n of nodes) await waitFor(() => n.repl.appliedSeq() >= last, `${n.svc.self} applied ${last}`);
    const hashes = nodes.map((n) => contentHash(n.store.store));
    expect(new Set(hashes).size).toBe(1);
    expect(nodes[0]!.store.store.count('users')).toBe(5);
    for (const n of nodes) {
      expect([...n.store.applyCount.values()].every((c) => c === 1)).toBe(true);
      expect(n.store.applyCount.size).toBe(last);
      expect(n.repl.health()).toMatchObject({ status: 'ok', malformed: 0 });
    }
    expect(last).toBe(120); // every write landed once
    expect(conflicts).toBeGreaterThanOrEqual(0);
    expect(nodes[0]!.repl.replicas()).toEqual(['a', 'b', 'c']);
    for (const n of nodes) await n.stop();
  });

  it('conflict detection (stream scope, default): two nodes committing at the same stream position → one gets ORDO_REPL_CONFLICT, after it has applied the winner', async () => {
    const a = await startNode(ns.url, 'conf', 'a', await newStore());
    const b = await startNode(ns.url, 'conf', 'b', await newStore());
    await a.commit([put('users', '1', { n: 0 })]);
    await waitFor(() => b.repl.appliedSeq() === 1, 'b applied 1');
    const outcome = (n: Node, p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'resolved',
        (e: unknown) => `${(e as ClusterError).code} with ${n.repl.appliedSeq()} applied`,
      );
    // different tables: in stream scope every commit expects the stream's last sequence
    const codes = await Promise.all([
      outcome(a, a.commit([put('users', '1', { n: 1 })])),
      outcome(b, b.commit([put('orders', '1', { n: 2 })])),
    ]);
    expect(codes.sort()).toEqual(['ORDO_REPL_CONFLICT with 2 applied', 'resolved']);
    expect(a.repl.health().conflicts + b.repl.health().conflicts).toBe(1);
    // the loser, caught up, commits at the new position
    const loser = a.repl.health().conflicts === 1 ? a : b;
    await loser.commit([put('orders', '1', { n: 3 })]);
    for (const n of [a, b]) await waitFor(() => n.repl.appliedSeq() === 3, 'applied 3');
    expect([...a.store.applyCount.keys()]).toEqual([1, 2, 3]);
    await a.stop();
    await b.stop();
  });

  it("a node's own concurrent commits go out one at a time: they never lose to each other", async () => {
    const a = await startNode(ns.url, 'lane', 'a', await newStore());
    const codes = await Promise.all(Array.from({ length: 8 }, (_, i) => codeOf(a.commit([put(i % 2 ? 'users' : 'orders', String(i), { i })]))));
    expect(codes).toEqual(Array(8).fill('resolved'));
    expect(a.repl.appliedSeq()).toBe(8);
    expect(a.repl.health().conflicts).toBe(0);
    await a.stop();
  });

  it('a commit whose read set changed before its turn is refused as a conflict without publishing; dirty commits are not checked', async () => {
    const a = await startNode(ns.url, 'stale', 'a', await newStore());
    const b = await startNode(ns.url, 'stale', 'b', await newStore());
    await a.commit([put('users', '1', { n: 0 })]);
    expect(await codeOf(a.commit([put('users', '1', { n: 1 })], { stillValid: () => false }))).toBe('ORDO_REPL_CONFLICT');
    const jsm = await jetstreamManager(a.svc.connection!.nc!);
    expect((await jsm.streams.info(a.repl.stream)).state.last_seq).toBe(1); // nothing published
    await waitFor(() => b.repl.appliedSeq() === 1, 'b applied 1');
    const dirty = await Promise.all([
      codeOf(a.commit([put('users', '2', { n: 2 })], { check: false })),
      codeOf(b.commit([put('users', '3', { n: 3 })], { check: false })),
    ]);
    expect(dirty).toEqual(['resolved', 'resolved']);
    for (const n of [a, b]) await waitFor(() => n.repl.appliedSeq() === 3, 'applied 3');
    expect(contentHash(a.store.store)).toBe(contentHash(b.store.store));
    await a.stop();
    await b.stop();
  });

  // 'with NATS gone, commits queued behind a stuck one fail with it': on virtual time, replicationSim.test.ts

  it('conflict detection (table scope): refused before nats-server 2.11 (per-node subjects need the wildcard expectation); on 2.11+ same table conflicts across nodes, different tables do not', async () => {
    const probe = await connectCluster(realTimeEnv(), { servers: [ns.url] }, 'probe');
    const version = probe.serverVersion;
    await probe.close();
    if (!serverHas(version, 'lastSubjectSequenceSubject')) {
      const env = realTimeEnv();
      const d = startChild(discoveryMachine, { env, config: { cluster: 'conft', nodeName: 'a', nats: { servers: [ns.url] }, heartbeatMs: 200, ttlMs: 1000 } }, env);
      await waitTag(d, 'ready');
      const store = await newStore();
      const r = startChild(replicationMachine, { env, cluster: d.getSnapshot().context.service, store: store.store, config: { store: 'main', tables: TABLES, conflictScope: 'table' } }, env);
      await waitFor(() => r.getSnapshot().status === 'done', 'replication child ends');
      expect((r.getSnapshot().output as { reason: { code: string; message: string } }).reason).toMatchObject({ code: 'ORDO_NATS_FEATURE', message: expect.stringContaining('2.11') });
      await stopChild(d);
      return;
    }
    const a = await startNode(ns.url, 'conft', 'a', await newStore(), { conflictScope: 'table' });
    const b = await startNode(ns.url, 'conft', 'b', await newStore(), { conflictScope: 'table' });
    await a.commit([put('users', '1', { n: 0 })]);
    await waitFor(() => b.repl.appliedSeq() === 1, 'b applied 1');
    const same = await Promise.all([
      codeOf(a.commit([put('users', '1', { n: 1 })])),
      codeOf(b.commit([put('users', '1', { n: 2 })])),
    ]);
    expect(same.sort()).toEqual(['ORDO_REPL_CONFLICT', 'resolved']);
    for (const n of [a, b]) await waitFor(() => n.repl.appliedSeq() === 2, 'applied 2');
    const different = await Promise.all([
      codeOf(a.commit([put('users', '2', { n: 3 })])),
      codeOf(b.commit([put('orders', '2', { n: 4 })])),
    ]);
    expect(different).toEqual(['resolved', 'resolved']);
    await a.stop();
    await b.stop();
  });

  it('malformed messages on the stream: typed, counted in health, never applied, no crash; later writes still apply once', async () => {
    const a = await startNode(ns.url, 'mal', 'a', await newStore());
    const b = await startNode(ns.url, 'mal', 'b', await newStore());
    const js = jetstream(a.svc.connection!.nc!);
    const { prefix } = replNames('mal', 'main');
    await js.publish(`${prefix}.x.t.users`, new TextEncoder().encode('{not json'));
    await js.publish(`${prefix}.x.t.users`, new TextEncoder().encode(JSON.stringify({ v: 1, node: 'x', batch: { ops: 'nope', schemaVersion: 1 } })));
    await js.publish(`${prefix}.x.t.users`, new TextEncoder().encode(JSON.stringify({ v: 1, node: 'x', batch: { ops: [{ table: 'ghost', op: 'put', key: 1, value: {} }], schemaVersion: 1 } })));
    await js.publish(`${prefix}.a.t.users`, new TextEncoder().encode(JSON.stringify({ v: 1, node: 'a', batch: { ops: [{ table: 'users', op: 'put', key: 'bad-local', value: {} }], schemaVersion: 1 }, local: [{ table: 'x', op: 'drop' }] })));
    // a migration batch may have no ops, but its `migrations` must be a non-empty array of positive integers
    await js.publish(`${prefix}.x.m`, new TextEncoder().encode(JSON.stringify({ v: 1, node: 'x', batch: { ops: [], schemaVersion: 1, migrations: [0] } })));
    await js.publish(`${prefix}.x.t.users`, new TextEncoder().encode(JSON.stringify({ v: 1, node: 'x', batch: { ops: [{ table: 'users', op: 'put', key: 'm', value: {} }], schemaVersion: 1, migrations: '2' } })));
    // (writing before a has seen them would rightly be a conflict: they are the table's latest messages)
    await waitFor(() => a.repl.health().malformed === 6, 'a skipped 6');
    await a.commit([put('users', 'ok', { fine: true })]);
    for (const n of [a, b]) {
      await waitFor(() => n.repl.appliedSeq() === 7, 'applied 7');
      expect(n.repl.health()).toMatchObject({ status: 'ok', malformed: 6, lastMalformed: { seq: 6, why: 'migrations is not a non-empty array of positive integers' } });
      expect(n.get('users', 'ok')).toEqual({ fine: true });
      expect(n.get('users', 'bad-local')).toBeUndefined();
      expect(n.get('users', 'm')).toBeUndefined();
      expect([...n.store.applyCount.keys()]).toEqual([7]);
      expect(n.r.getSnapshot().status).toBe('active');
    }
    expect(a.env.records.filter((r) => r.report === 'replication_malformed' && r.code === 'ORDO_REPL_MALFORMED')).toHaveLength(6);
    // publishing a malformed batch is refused before it reaches the stream
    expect(await codeOf(a.commit([put('ghost', '1', {})]))).toBe('ORDO_REPL_MALFORMED');
    await a.stop();
    await b.stop();
  });

  it('a node whose code is older than the data refuses newer records: the child ends naming ORDO_REPL_NEWER_SCHEMA, a restarted one never becomes ready, upgraded code catches up', async () => {
    const a = await startNode(ns.url, 'sch', 'a', await newStore(2));
    const oldStore = await newStore(1);
    const old = await startNode(ns.url, 'sch', 'old', oldStore);
    await a.commit([put('users', 'u', { v: 2 })]);
    await waitFor(() => old.r.getSnapshot().status === 'done', 'old replication child ends');
    const reason = (r: { getSnapshot(): { output?: unknown } }) => (r.getSnapshot().output as { reason: { code: string; seq?: number } }).reason;
    expect(reason(old.r)).toMatchObject({ code: 'ORDO_REPL_NEWER_SCHEMA', seq: 1 });
    expect(old.get('users', 'u')).toBeUndefined();
    expect(oldStore.store.lastAppliedSeq(old.repl.stream)).toBe(0);
    // unplugged, the store does not write replicated tables locally behind the cluster's back
    await expect(oldStore.store.transaction((t) => void t.put('users', { id: 'x', v: 1 }))).rejects.toMatchObject({ code: 'ORDO_REPL_UNAVAILABLE' });
    expect(oldStore.store.get('users', 'x')).toBeUndefined();
    // a restarted child refuses again at the same place, as a start failure: never ready
    let wasReady = false;
    const again = startChild(replicationMachine, { env: old.env, cluster: old.svc, store: oldStore.store, config: { store: 'main', tables: TABLES } }, old.env);
    again.subscribe((snap) => (wasReady ||= snap.hasTag('ready')));
    await waitFor(() => again.getSnapshot().status === 'done', 'restarted child ends');
    expect(wasReady).toBe(false);
    expect(reason(again)).toMatchObject({ code: 'ORDO_REPL_NEWER_SCHEMA', seq: 1 });
    await stopChild(old.d);
    // the node upgraded (code that knows schema 2) resumes at the halted seq
    await oldStore.close();
    const upgraded = await oldStore.reopen({ schemaVersion: 2 });
    opened.push(upgraded);
    const up = await startNode(ns.url, 'sch', 'old', upgraded);
    expect(up.get('users', 'u')).toEqual({ v: 2 });
    await up.stop();
    await a.stop();
  });

  it('a restarted node catches up from its last applied sequence; a new node past the stream limit catches up from a snapshot', async () => {
    const a = await startNode(ns.url, 'cu', 'a', await newStore(), { maxMsgs: 5 });
    const bStore = await newStore();
    let b = await startNode(ns.url, 'cu', 'b', bStore, { maxMsgs: 5 });
    for (let i = 0; i < 3; i++) await a.commit([put('users', String(i), { i })]);
    await waitFor(() => b.repl.appliedSeq() === 3, 'b applied 3');
    await b.stop();
    for (let i = 3; i < 6; i++) await a.commit([put('users', String(i), { i })]);
    b = await startNode(ns.url, 'cu', 'b', bStore, { maxMsgs: 5 }); // from seq 4: still in the stream
    expect(b.repl.appliedSeq()).toBe(6);
    expect([...bStore.applyCount.keys()]).toEqual([1, 2, 3, 4, 5, 6]);
    for (let i = 6; i < 20; i++) await a.commit([put('orders', String(i), { i })]);
    const c = await startNode(ns.url, 'cu', 'c', await newStore(), { maxMsgs: 5 }); // stream starts at 16: snapshot
    expect(c.env.records.some((r) => r.report === 'replication_snapshot_loaded')).toBe(true);
    await waitFor(() => c.repl.appliedSeq() === 20 && b.repl.appliedSeq() === 20, 'all at 20');
    expect(contentHash(c.store.store)).toBe(contentHash(a.store.store));
    expect(contentHash(b.store.store)).toBe(contentHash(a.store.store));
    for (const n of [a, b, c]) await n.stop();
  });

  it('a running node whose consumer comes back after the stream dropped its next messages detects the gap and resyncs from a snapshot', async () => {
    const a = await startNode(ns.url, 'gap', 'a', await newStore(), { maxMsgs: 3 });
    const b = await startNode(ns.url, 'gap', 'b', await newStore(), { maxMsgs: 3 });
    await a.commit([put('users', '0', { i: 0 })]);
    await waitFor(() => b.repl.appliedSeq() === 1, 'b applied 1');
    // b's consumer goes away (as through a long outage) while a writes past the stream limit
    const rep = b.r.getSnapshot().context.replicator as unknown as { consumer: { close(): Promise<void>; recover(trigger: string): void } };
    await rep.consumer.close();
    for (let i = 1; i <= 8; i++) await a.commit([put('users', String(i), { i })]);
    expect(b.repl.appliedSeq()).toBe(1);
    rep.consumer.recover('test'); // the stream now starts at 7: seqs 2..6 are gone
    await waitFor(() => b.repl.appliedSeq() === 9, 'b resynced to 9');
    expect(b.env.records.some((r) => r.report === 'replication_gap')).toBe(true);
    expect(b.env.records.some((r) => r.report === 'replication_snapshot_loaded')).toBe(true);
    expect(contentHash(b.store.store)).toBe(contentHash(a.store.store));
    await a.commit([put('orders', '1', { after: true })]);
    await waitFor(() => b.repl.appliedSeq() === 10, 'b applies on after the resync');
    expect(b.repl.health().status).toBe('ok');
    await a.stop();
    await b.stop();
  });

  it('a new node that needs a snapshot and finds no peer: degraded with ORDO_REPL_SNAPSHOT, then ready once a peer is up', async () => {
    const a = await startNode(ns.url, 'nos', 'a', await newStore(), { maxMsgs: 2, commitTimeoutMs: 1000 });
    for (let i = 0; i < 5; i++) await a.commit([put('users', String(i), { i })]);
    await stopChild(a.r); // no peer serves snapshots now
    const env = realTimeEnv();
    const d = startChild(discoveryMachine, { env, config: { cluster: 'nos', nodeName: 'z', nats: { servers: [ns.url] }, heartbeatMs: 200, ttlMs: 1000 } }, env);
    await waitTag(d, 'ready');
    const zStore = await newStore();
    const r = startChild(replicationMachine, { env, cluster: d.getSnapshot().context.service, store: zStore.store, config: { store: 'main', tables: TABLES, maxMsgs: 2, commitTimeoutMs: 1000 } }, env);
    await waitTag(r, 'degraded');
    expect(r.getSnapshot().context.lastError).toMatchObject({ code: 'ORDO_REPL_SNAPSHOT' });
    const a2 = startChild(replicationMachine, { env: a.env, cluster: a.svc, store: a.store.store, config: { store: 'main', tables: TABLES, maxMsgs: 2 } }, a.env);
    await waitTag(a2, 'ready');
    await waitTag(r, 'ready');
    expect(contentHash(zStore.store)).toBe(contentHash(a.store.store));
    await stopChild(r);
    await stopChild(d);
    await stopChild(a2);
    await stopChild(a.d);
  });
});

describe('replication across a nats-server restart', () => {
  it('nats-server killed and restarted mid-run: nodes reconnect, no acknowledged write lost, tables identical', async () => {
    const ns = await NatsServer.start();
    const nodes: Node[] = [];
    for (const n of ['a', 'b', 'c']) nodes.push(await startNode(ns.url, 'rs', n, await newStore(), { commitTimeoutMs: 15_000 }));
    const acked: Array<{ key: string; by: string }> = [];
    let stop = false;
    const writers = nodes.map(async (n) => {
      for (let i = 0; !stop; i++) {
        const key = `${n.svc.self}-${i}`;
        try {
          await writeRetrying(n, 'users', key, { i });
          acked.push({ key, by: n.svc.self });
        } catch (e) {
          // not acknowledged: allowed to be lost, must not be half-applied
          expect((e as ClusterError).code).toMatch(/^ORDO_/);
        }
      }
    });
    await waitFor(() => acked.length >= 30, '30 acked writes');
    await ns.kill();
    await waitFor(() => nodes.every((n) => n.repl.health().status === 'degraded'), 'degraded');
    await ns.restart();
    const before = acked.length;
    await waitFor(() => acked.length >= before + 30, '30 more acked writes after restart');
    stop = true;
    await Promise.all(writers);
    const last = Math.max(...nodes.map((n) => n.repl.appliedSeq()));
    for (const n of nodes) {
      await waitFor(() => n.repl.appliedSeq() >= last, 'converged').catch((e: unknown) => {
        throw new Error(`${String(e)}: ${n.svc.self} applied ${n.repl.appliedSeq()} of ${last}; ${JSON.stringify(n.env.records.filter((r) => r.level >= 40).slice(-8))}`);
      });
    }
    for (const n of nodes) {
      for (const w of acked) expect(n.get('users', w.key), `${n.svc.self} has ${w.key}`).toBeDefined();
      expect([...n.store.applyCount.values()].every((c) => c === 1)).toBe(true);
      expect(n.repl.health().status).toBe('ok');
    }
    expect(new Set(nodes.map((n) => contentHash(n.store.store))).size).toBe(1);
    for (const n of nodes) await n.stop();
    await cleanup(ns);
  });
});
