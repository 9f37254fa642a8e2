/**
 * Issue 15, defect 15: a replicated message the local store could not write (I/O failure, a
 * closed store) is never skipped. Applying stops at it, the replication child ends with
 * ORDO_REPL_APPLY, and a restarted child re-applies from the store's recorded position. Real
 * RocksDB stores (a switchable EIO in front of the real adapter), a real nats-server.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { replicationMachine, type ReplicationService } from '../../src/cluster/replication.ts';
import type { Replicator } from '../../src/cluster/replicator.ts';
import type { TestEnv } from '../../src/env/env.ts';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';
import { TABLES, flakyKv, openTestStore, put, removeStoreDir, type TestStore } from './realStore.ts';

const opened: TestStore[] = [];
afterEach(async () => {
  const all = opened.splice(0);
  for (const s of all) await s.close();
  for (const s of all) removeStoreDir(s.dir);
});

async function discovery(env: TestEnv, url: string, cluster: string, name: string): Promise<{ svc: ClusterService; stop: () => Promise<unknown> }> {
  const d = startChild(discoveryMachine, { env, config: { cluster, nodeName: name, nats: { servers: [url] }, heartbeatMs: 200, ttlMs: 1000 } }, env);
  await waitTag(d, 'ready');
  return { svc: d.getSnapshot().context.service as ClusterService, stop: () => stopChild(d) };
}

function replication(env: TestEnv, svc: ClusterService, store: TestStore) {
  return startChild(replicationMachine, { env, cluster: svc, store: store.store, config: { store: 'main', tables: TABLES, commitTimeoutMs: 3000 } }, env);
}

const reasonCode = (a: { getSnapshot(): { output?: unknown } }): unknown => (a.getSnapshot().output as { reason?: { code?: unknown } } | undefined)?.reason?.code;

describe('defect 15: the store side — the stream position never moves past a batch that was not written', () => {
  it('defect 15: a seq queued behind a failed apply, and every later one, is refused (ORDO_STORE_REPL_GAP) until the failed seq is re-applied', async () => {
    const flaky = flakyKv();
    const t = await openTestStore(realTimeEnv(), { kv: flaky.kv });
    opened.push(t);
    const s = t.store;
    const b = (id: string) => ({ ops: [put('users', id, { id })], schemaVersion: s.schemaVersion });
    expect(await s.applyReplicated(b('1'), { stream: 'S', seq: 1 })).toBe('applied');
    // seq 2's write is held; seq 3 is queued behind it (the next group flush); then 2's write fails
    const release = flaky.hold();
    const two = s.applyReplicated(b('2'), { stream: 'S', seq: 2 }).then(() => 'applied', (e: { code?: string }) => e.code);
    await flaky.held();
    const three = s.applyReplicated(b('3'), { stream: 'S', seq: 3 }).then(() => 'applied', (e: { code?: string }) => e.code);
    release('fail');
    expect(await two).toBe('ORDO_STORE_IO');
    expect(await three).toBe('ORDO_STORE_REPL_GAP');
    // a pipelined caller that has not seen the failure yet cannot move the position past it either
    await expect(s.applyReplicated(b('4'), { stream: 'S', seq: 4 })).rejects.toMatchObject({ code: 'ORDO_STORE_REPL_GAP', failedSeq: 2 });
    expect(s.lastAppliedSeq('S')).toBe(1);
    expect(s.get('users', '3')).toBeUndefined();
    // other streams are not affected
    expect(await s.applyReplicated(b('x'), { stream: 'T', seq: 1 })).toBe('applied');
    // a replicator restarted from the recorded position re-applies 2, then 3 and 4
    for (const seq of [2, 3, 4]) expect(await s.applyReplicated(b(String(seq)), { stream: 'S', seq })).toBe('applied');
    expect(s.lastAppliedSeq('S')).toBe(4);
    expect(['1', '2', '3', '4'].map((id) => s.get('users', id)?.id)).toEqual(['1', '2', '3', '4']);
  });

  it('after a failed apply, a peer snapshot past it re-opens the stream (a restarted node that catches up from a snapshot is not refused forever)', async () => {
    const flaky = flakyKv();
    const t = await openTestStore(realTimeEnv(), { kv: flaky.kv });
    opened.push(t);
    const s = t.store;
    flaky.failing = true;
    await expect(s.applyReplicated({ ops: [put('users', 'a')], schemaVersion: 0 }, { stream: 'S', seq: 1 })).rejects.toMatchObject({ code: 'ORDO_STORE_IO' });
    flaky.failing = false;
    await expect(s.applyReplicated({ ops: [put('users', 'b')], schemaVersion: 0 }, { stream: 'S', seq: 2 })).rejects.toMatchObject({ code: 'ORDO_STORE_REPL_GAP' });
    await s.loadSnapshot({ schemaVersion: 0, applied: { S: 10 }, tables: { users: [{ id: 'x', v: 0 }], orders: [] } });
    expect(await s.applyReplicated({ ops: [put('users', 'y')], schemaVersion: 0 }, { stream: 'S', seq: 11 })).toBe('applied');
    expect(s.lastAppliedSeq('S')).toBe(11);
  });

  it('an apply whose write fails is ORDO_STORE_IO (not written: the caller must not skip it); only a batch that does not fit is ORDO_STORE_VALIDATION', async () => {
    const flaky = flakyKv();
    const t = await openTestStore(realTimeEnv(), { kv: flaky.kv });
    opened.push(t);
    flaky.failing = true;
    const err = await t.store.applyReplicated({ ops: [put('users', 'a')], schemaVersion: 0 }, { stream: 'S', seq: 1 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ORDO_STORE_IO' });
    // and a batch that is itself invalid is the only kind refused as a validation error
    flaky.failing = false;
    await expect(t.store.applyReplicated({ ops: [{ table: 'users', op: 'put', key: 'a', value: { id: 'a', nope: 1 } }], schemaVersion: 0 }, { stream: 'S', seq: 1 })).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION' });
  });
});

describe('defect 15: the replicator — stop, let the supervisor restart, re-apply', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(() => cleanup(ns));

  it('defect 15: an I/O failure applying a message ends the replication child with ORDO_REPL_APPLY; the restarted child re-applies it — no write missed', async () => {
    const envA = realTimeEnv();
    const envB = realTimeEnv();
    const a = await discovery(envA, ns.url, 'io15', 'a');
    const b = await discovery(envB, ns.url, 'io15', 'b');
    const sa = await openTestStore(envA);
    const flaky = flakyKv();
    const sb = await openTestStore(envB, { kv: flaky.kv });
    opened.push(sa, sb);
    const ra = replication(envA, a.svc, sa);
    let rb = replication(envB, b.svc, sb);
    await waitTag(ra, 'ready');
    await waitTag(rb, 'ready');
    const commit = (id: string) => (ra.getSnapshot().context.replicator as Replicator).commit({ ops: [put('users', id, { id })], schemaVersion: sa.store.schemaVersion });
    await commit('1');
    await waitFor(() => sb.store.get('users', '1'), 'b applied 1');
    flaky.failing = true; // b's disk starts failing
    await commit('2');
    await commit('3');
    await waitFor(() => rb.getSnapshot().status === 'done', "b's replication child ended");
    expect(reasonCode(rb)).toBe('ORDO_REPL_APPLY');
    expect(envB.records.some((r) => r.report === 'replication_halted' && r.code === 'ORDO_REPL_APPLY')).toBe(true);
    expect(envB.records.filter((r) => r.report === 'replication_malformed')).toHaveLength(0); // never skipped
    expect(sb.store.lastAppliedSeq((rb.getSnapshot().context.service as ReplicationService).stream)).toBe(1);
    // the disk recovers; the writer went on meanwhile
    flaky.failing = false;
    await commit('4');
    // the supervisor restarts the child: it re-applies from the store's recorded position
    rb = replication(envB, b.svc, sb);
    await waitTag(rb, 'ready');
    const repl = rb.getSnapshot().context.service as ReplicationService;
    await waitFor(() => repl.appliedSeq() === 4, 'b applied 4');
    expect(['1', '2', '3', '4'].map((id) => sb.store.get('users', id)?.id)).toEqual(['1', '2', '3', '4']);
    expect([...sb.applyCount.entries()].sort(([x], [y]) => x - y)).toEqual([[1, 1], [2, 1], [3, 1], [4, 1]]);
    expect(repl.health()).toMatchObject({ status: 'ok', malformed: 0 });
    await stopChild(rb);
    await stopChild(ra);
    await b.stop();
    await a.stop();
  });

  it('defect 15: a closed store ends the replication child (ORDO_REPL_APPLY, cause ORDO_STORE_CLOSED); reopened, the restarted child catches up', async () => {
    const envA = realTimeEnv();
    const envB = realTimeEnv();
    const a = await discovery(envA, ns.url, 'cl15', 'a');
    const b = await discovery(envB, ns.url, 'cl15', 'b');
    const sa = await openTestStore(envA);
    let sb = await openTestStore(envB);
    opened.push(sa, sb);
    const ra = replication(envA, a.svc, sa);
    let rb = replication(envB, b.svc, sb);
    await waitTag(ra, 'ready');
    await waitTag(rb, 'ready');
    const commit = (id: string) => (ra.getSnapshot().context.replicator as Replicator).commit({ ops: [put('orders', id, { id })], schemaVersion: sa.store.schemaVersion });
    await commit('1');
    await waitFor(() => sb.store.get('orders', '1'), 'b applied 1');
    await sb.close(); // closed under the running replicator (a store-initializer restart, a shutdown race)
    await commit('2');
    await waitFor(() => rb.getSnapshot().status === 'done', "b's replication child ended");
    expect(reasonCode(rb)).toBe('ORDO_REPL_APPLY');
    expect(((rb.getSnapshot().output as { reason: { cause?: { code?: string } } }).reason.cause)?.code).toBe('ORDO_STORE_CLOSED');
    sb = await sb.reopen();
    opened.push(sb);
    await commit('3');
    rb = replication(envB, b.svc, sb);
    await waitTag(rb, 'ready');
    await waitFor(() => (rb.getSnapshot().context.service as ReplicationService).appliedSeq() === 3, 'b applied 3');
    expect(['1', '2', '3'].map((id) => sb.store.get('orders', id)?.id)).toEqual(['1', '2', '3']);
    expect(envB.records.filter((r) => r.report === 'replication_malformed')).toHaveLength(0);
    await stopChild(rb);
    await stopChild(ra);
    await b.stop();
    await a.stop();
  });
});
