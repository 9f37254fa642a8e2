/**
 * Issue 15, defect 16: a NATS client must not be able to act as another node. Each node is its
 * own NATS user, allowed to publish only on subjects naming it (the harness starts nats-server
 * with `natsAccountConf`, the configuration docs/cluster.md ships); the applier trusts the
 * subject's node, not the payload's. Real RocksDB stores, a real nats-server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { createUser } from '@nats-io/nkeys';
import type { NatsConnection } from '@nats-io/nats-core';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { replicationMachine, type ReplicationService } from '../../src/cluster/replication.ts';
import { replNames, type Replicator } from '../../src/cluster/replicator.ts';
import type { TestEnv } from '../../src/env/env.ts';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';
import { TABLES, openTestStore, put, removeStoreDir, type TestStore } from './realStore.ts';

const CLUSTER = 'id16';
// one store (so one stream) per test: earlier tests' messages stay in their own streams
const { prefix, stream } = replNames(CLUSTER, 'main');
const enc = (m: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(m));
const nkeyUser = createUser();
const nkeySeed = new TextDecoder().decode(nkeyUser.getSeed());

const opened: TestStore[] = [];
afterEach(async () => {
  const all = opened.splice(0);
  for (const s of all) await s.close();
  for (const s of all) removeStoreDir(s.dir);
});

describe('defect 16: identity bound to NATS permissions', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start({
      nodeAuth: {
        cluster: CLUSTER,
        stores: ['main'],
        nodes: [
          { node: 'a', password: 'pa' },
          { node: 'b', password: 'pb' },
          { node: 'c', nkey: nkeyUser.getPublicKey() },
        ],
        // an application client of the same account: not a node
        others: [{ user: 'app', password: 'pw', permissions: { publish: { allow: ['app.>', '_INBOX.>'], deny: [] }, subscribe: { allow: ['app.>', '_INBOX.>'] } } }],
      },
    });
  });
  afterAll(() => cleanup(ns));

  async function node(name: string, password: string | { nkeySeed: string }, storeName = 'main', extra: { maxMsgs?: number } = {}) {
    const env: TestEnv = realTimeEnv();
    const auth = typeof password === 'string' ? { user: name, password } : password;
    const d = startChild(discoveryMachine, { env, config: { cluster: CLUSTER, nodeName: name, nats: { servers: [ns.url], ...auth }, heartbeatMs: 200, ttlMs: 1000 } }, env);
    await waitTag(d, 'ready');
    const svc = d.getSnapshot().context.service as ClusterService;
    const t = await openTestStore(env);
    opened.push(t);
    const start = () => startChild(replicationMachine, { env, cluster: svc, store: t.store, config: { store: storeName, tables: TABLES, ...extra } }, env);
    let r = start();
    await waitTag(r, 'ready');
    const n = {
      env,
      svc,
      store: t.store,
      nc: svc.connection!.nc!,
      get r() {
        return r;
      },
      restart: () => (r = start()),
      repl: () => r.getSnapshot().context.service as ReplicationService,
      commit: (ops: ReturnType<typeof put>[]) => (r.getSnapshot().context.replicator as Replicator).commit({ ops, schemaVersion: t.store.schemaVersion }),
      async stop() {
        if (r.getSnapshot().status === 'active') await stopChild(r);
        await stopChild(d);
      },
    };
    return n;
  }

  const lastSeq = async (nc: NatsConnection, of = stream): Promise<number> => (await (await jetstreamManager(nc)).streams.info(of)).state.last_seq;
  const refused = (p: Promise<unknown>): Promise<string> => p.then(() => 'stored', (e: unknown) => (e instanceof Error ? e.constructor.name : 'refused'));

  it("defect 16: a client that is not node B cannot write into B's local tables", async () => {
    const a = await node('a', 'pa');
    const b = await node('b', 'pb');
    // the permissions let nodes replicate normally
    await a.commit([put('users', 'u1', 1)]);
    await waitFor(() => b.store.get('users', 'u1'), 'b applied u1');
    await b.store.dirtyPut('secrets', { id: 's', v: 'b-own' }); // B's local table
    const before = await lastSeq(a.nc);
    const forged = { v: 1, node: 'b', batch: { ops: [put('users', 'f', 'forged')], schemaVersion: 0 }, local: [put('secrets', 's', 'pwned')] };

    // a non-node user of the same account: the server refuses every replication subject and the JetStream API
    const app = await connect({ servers: [ns.url], user: 'app', pass: 'pw' });
    const appJs = jetstream(app, { timeout: 1000 });
    for (const subject of [`${prefix}.b.t.users`, `${prefix}.b.m`, `${prefix}.app.t.users`, `${prefix}.t.users`]) {
      expect(await refused(appJs.publish(subject, enc(forged))), subject).not.toBe('stored');
    }
    expect(await refused(jetstreamManager(app, { timeout: 1000 }).then((m) => m.streams.info(stream)))).not.toBe('stored');

    // node A publishing on node B's subjects: refused by the server
    const aJs = jetstream(a.nc, { timeout: 1000 });
    for (const subject of [`${prefix}.b.t.users`, `${prefix}.b.m`]) expect(await refused(aJs.publish(subject, enc(forged))), subject).not.toBe('stored');
    expect(await lastSeq(a.nc)).toBe(before);

    // node A on its own subject claiming to be B: stored (A may publish there), but the applier
    // trusts the subject — a malformed message, never applied, B's local tables untouched
    await aJs.publish(`${prefix}.a.t.users`, enc(forged));
    // node A, honest about itself, with a local part: only A applies it, to A's own tables
    await aJs.publish(`${prefix}.a.t.users`, enc({ v: 1, node: 'a', batch: { ops: [put('users', 'u2', 2)], schemaVersion: 0 }, local: [put('secrets', 's', 'a-own')] }));
    await waitFor(() => b.repl().appliedSeq() === before + 2, 'b consumed both');
    expect(b.store.get('secrets', 's')).toEqual({ id: 's', v: 'b-own' });
    expect(b.store.get('users', 'f')).toBeUndefined();
    expect(b.store.get('users', 'u2')).toEqual({ id: 'u2', v: 2 });
    expect(b.repl().health()).toMatchObject({ status: 'ok', malformed: 1, lastMalformed: { seq: before + 1, why: expect.stringContaining("payload claims node \"b\" but was published on node a's subject") } });
    await waitFor(() => a.store.get('secrets', 's'), 'a applied its own local part');
    expect(a.store.get('secrets', 's')).toEqual({ id: 's', v: 'a-own' });
    // and replication still works both ways
    await b.commit([put('orders', 'o1', 1)]);
    await waitFor(() => a.store.get('orders', 'o1'), 'a applied o1');
    await app.close();
    await a.stop();
    await b.stop();
  });

  it('defect 16: a message with migrations: [1] and no ops adds no schema-history entry for a migration that does not exist', async () => {
    const a = await node('a', 'pa', 'mig');
    const b = await node('b', 'pb', 'mig');
    const n = replNames(CLUSTER, 'mig');
    const history = b.store.schemaHistory();
    const before = await lastSeq(a.nc, n.stream);
    await jetstream(a.nc).publish(`${n.prefix}.a.m`, enc({ v: 1, node: 'a', batch: { ops: [], schemaVersion: 0, migrations: [1] } }));
    await waitFor(() => b.repl().health().malformed === 1, 'b refused it');
    expect(b.store.schemaHistory()).toEqual(history);
    expect(b.store.deferredMigrations()).toEqual([]);
    expect(b.repl().health()).toMatchObject({ status: 'ok', applied: before + 1, lastMalformed: { seq: before + 1, why: expect.stringContaining('migration 1 is neither deferred nor in') } });
    expect(b.r.getSnapshot().status).toBe('active');
    await a.stop();
    await b.stop();
  });

  it("defect 16: a put whose op.key disagrees with its value's key is refused (never stored under either key)", async () => {
    const a = await node('a', 'pa', 'key');
    const b = await node('b', 'pb', 'key');
    const n = replNames(CLUSTER, 'key');
    const before = await lastSeq(a.nc, n.stream);
    await jetstream(a.nc).publish(`${n.prefix}.a.t.users`, enc({ v: 1, node: 'a', batch: { ops: [{ table: 'users', op: 'put', key: 'k1', value: { id: 'k2', v: 1 } }], schemaVersion: 0 } }));
    await waitFor(() => b.repl().appliedSeq() === before + 1, 'b consumed it');
    expect(b.store.get('users', 'k1')).toBeUndefined();
    expect(b.store.get('users', 'k2')).toBeUndefined();
    expect(b.repl().health()).toMatchObject({ malformed: 1, lastMalformed: { why: expect.stringContaining("disagrees with its row's key") } });
    await a.stop();
    await b.stop();
  });

  it('defect 16: schemaVersion 999 does not halt replication silently: the child ends naming ORDO_REPL_NEWER_SCHEMA and a restarted child never reports ready', async () => {
    const a = await node('a', 'pa', 'ver');
    const b = await node('b', 'pb', 'ver');
    await jetstream(a.nc).publish(`${replNames(CLUSTER, 'ver').prefix}.a.t.users`, enc({ v: 1, node: 'a', batch: { ops: [put('users', 'z', 1)], schemaVersion: 999 } }));
    await waitFor(() => b.r.getSnapshot().status === 'done', "b's replication child ended");
    const reason = (r: { getSnapshot(): { output?: unknown } }) => (r.getSnapshot().output as { reason: { code: string; value?: unknown } }).reason;
    expect(reason(b.r)).toMatchObject({ code: 'ORDO_REPL_NEWER_SCHEMA', value: 999 });
    expect(b.env.records.some((r) => r.level >= 50 && r.code === 'ORDO_REPL_NEWER_SCHEMA')).toBe(true);
    let wasReady = false;
    const again = b.restart();
    again.subscribe((s) => (wasReady ||= s.hasTag('ready')));
    await waitFor(() => again.getSnapshot().status === 'done', 'restarted child ended');
    expect(wasReady).toBe(false);
    expect(reason(again)).toMatchObject({ code: 'ORDO_REPL_NEWER_SCHEMA' });
    expect(b.store.get('users', 'z')).toBeUndefined();
    await a.stop();
    await b.stop();
  });

  it("a node's local part may only write its non-replicated tables: a replicated table there is malformed (it would diverge on one node)", async () => {
    const a = await node('a', 'pa', 'loc');
    const b = await node('b', 'pb', 'loc');
    const n = replNames(CLUSTER, 'loc');
    await jetstream(a.nc).publish(`${n.prefix}.a.t.users`, enc({ v: 1, node: 'a', batch: { ops: [put('users', 'r', 1)], schemaVersion: 0 }, local: [put('orders', 'only-on-a', 1)] }));
    for (const x of [a, b]) {
      await waitFor(() => x.repl().health().malformed === 1, 'refused');
      expect(x.repl().health().lastMalformed?.why).toContain('local part writes replicated table orders');
      expect(x.store.get('orders', 'only-on-a')).toBeUndefined();
      expect(x.store.get('users', 'r')).toBeUndefined();
    }
    await a.stop();
    await b.stop();
  });

  it("a stream republishing onto B's subject (a node's stream-admin rights) cannot forge B's messages: server copies are never applied", async () => {
    const a = await node('a', 'pa', 'rp');
    const b = await node('b', 'pb', 'rp');
    await b.store.dirtyPut('secrets', { id: 's', v: 'b-own' });
    const n = replNames(CLUSTER, 'rp');
    const jsm = await jetstreamManager(a.nc);
    // A may publish any lease key; a stream over them republishes each onto B's replication subjects
    const evil = `EVIL_${CLUSTER}`;
    await jsm.streams.add({ name: evil, subjects: [`$KV.ordo_leases_${CLUSTER}.>`], republish: { src: `$KV.ordo_leases_${CLUSTER}.>`, dest: `${n.prefix}.b.>` } } as never);
    const before = await lastSeq(a.nc, n.stream);
    await jetstream(a.nc).publish(`$KV.ordo_leases_${CLUSTER}.t.users`, enc({ v: 1, node: 'b', batch: { ops: [put('users', 'f', 1)], schemaVersion: 0 }, local: [put('secrets', 's', 'pwned')] }));
    await waitFor(async () => (await lastSeq(a.nc, n.stream)) === before + 1, 'republished into the replication stream');
    await waitFor(() => b.repl().appliedSeq() === before + 1, 'b consumed it');
    expect(b.store.get('secrets', 's')).toEqual({ id: 's', v: 'b-own' });
    expect(b.store.get('users', 'f')).toBeUndefined();
    expect(b.repl().health()).toMatchObject({ malformed: 1, lastMalformed: { why: expect.stringContaining('republished from another stream') } });
    await jsm.streams.delete(evil);
    await a.stop();
    await b.stop();
  });

  it('an nkey node under the shipped permissions replicates, and cannot publish on a password node\'s subjects either', async () => {
    const a = await node('a', 'pa', 'nk');
    const c = await node('c', { nkeySeed }, 'nk');
    await c.commit([put('users', 'from-c', 1)]);
    await waitFor(() => a.store.get('users', 'from-c'), 'a applied c');
    await a.commit([put('users', 'from-a', 1)]);
    await waitFor(() => c.store.get('users', 'from-a'), 'c applied a');
    const n = replNames(CLUSTER, 'nk');
    expect(await refused(jetstream(c.nc, { timeout: 1000 }).publish(`${n.prefix}.a.t.users`, enc({ v: 1, node: 'a', batch: { ops: [put('users', 'x', 1)], schemaVersion: 0 } })))).not.toBe('stored');
    expect(a.store.get('users', 'x')).toBeUndefined();
    await a.stop();
    await c.stop();
  });

  it('under the shipped permissions a new node catches up from a peer snapshot (request/reply + object store)', async () => {
    const a = await node('a', 'pa', 'snap', { maxMsgs: 2 });
    for (let i = 0; i < 5; i++) await a.commit([put('orders', `o${i}`, i)]);
    const b = await node('b', 'pb', 'snap', { maxMsgs: 2 });
    expect(b.env.records.some((r) => r.report === 'replication_snapshot_loaded')).toBe(true);
    expect(b.repl().appliedSeq()).toBe(5);
    expect(b.store.range('orders').map((r) => r.id)).toEqual(['o0', 'o1', 'o2', 'o3', 'o4']);
    await a.stop();
    await b.stop();
  });
});
