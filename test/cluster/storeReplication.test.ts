import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { openStore, type Store, type TableDef, type Migration } from '../../src/store/index.ts';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { replicationMachine, type ReplicationService } from '../../src/cluster/replication.ts';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';

const tables: Record<string, TableDef> = {
  accounts: { key: 'id', attributes: { id: { type: 'string' }, balance: { type: 'integer', default: 0 } }, replicated: true },
  notes: { key: 'id', attributes: { id: { type: 'integer' }, text: { type: 'string' } }, replicated: true },
  local_only: { key: 'id', attributes: { id: { type: 'integer' } } },
  local_counter: { key: 'id', attributes: { id: { type: 'string' }, n: { type: 'integer', default: 0 } } },
};
const REPLICATED = ['accounts', 'notes'];

async function node(url: string, cluster: string, name: string, opts: { dir?: string; migrations?: Migration[]; maxMsgs?: number } = {}) {
  const env = realTimeEnv();
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), `ordo-repl-${name}-`));
  const store = await openStore({ env, dir, tables, migrations: opts.migrations ?? [] });
  const d = startChild(discoveryMachine, { env, config: { cluster, nodeName: name, nats: { servers: [url] }, heartbeatMs: 200, ttlMs: 1000 } }, env);
  await waitTag(d, 'ready');
  const svc = d.getSnapshot().context.service as ClusterService;
  const r = startChild(replicationMachine, { env, cluster: svc, store, config: { store: 'main', tables: REPLICATED, ...(opts.maxMsgs ? { maxMsgs: opts.maxMsgs } : {}) } }, env);
  await waitTag(r, 'ready');
  return {
    env,
    dir,
    store,
    svc,
    r,
    repl: r.getSnapshot().context.service as ReplicationService,
    async stop() {
      await stopChild(r);
      await stopChild(d);
      await store.close();
    },
  };
}

function hash(store: Store): string {
  const h = createHash('sha256');
  for (const t of REPLICATED) h.update(JSON.stringify(store.snapshot([t]).tables));
  return h.digest('hex');
}

describe('replication end to end with the real Store (RocksDB)', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(() => cleanup(ns));

  it('3 nodes incrementing the same counters concurrently: no lost update, identical tables, local tables stay local', async () => {
    const nodes = [];
    for (const n of ['a', 'b', 'c']) nodes.push(await node(ns.url, 'e2e', n));
    const PER_NODE = 30;
    await Promise.all(
      nodes.map(async (n) => {
        for (let i = 0; i < PER_NODE; i++) {
          const id = `acct-${i % 3}`;
          await n.store.transaction((t) => {
            const cur = t.get('accounts', id);
            t.put('accounts', { id, balance: ((cur?.balance as number | undefined) ?? 0) + 1 });
          });
        }
        await n.store.transaction((t) => void t.put('local_only', { id: 1 }));
      }),
    );
    const last = Math.max(...nodes.map((n) => n.repl.appliedSeq()));
    expect(last).toBe(3 * PER_NODE); // one message per committed batch
    for (const n of nodes) await waitFor(() => n.repl.appliedSeq() === last, 'all applied');
    for (const n of nodes) {
      const rows = n.store.snapshot(['accounts']).tables.accounts!;
      expect(rows.reduce((s, r) => s + (r.balance as number), 0)).toBe(3 * PER_NODE);
      expect(n.store.lastAppliedSeq(n.repl.stream)).toBe(last);
      expect(n.repl.health()).toMatchObject({ status: 'ok', malformed: 0 });
    }
    expect(new Set(nodes.map((n) => hash(n.store))).size).toBe(1);
    for (const n of nodes) await n.stop();
  });

  it('Store.transaction handles lost races itself: blind writes are re-submitted without re-running fn, a read-modify-write whose read changed runs again', async () => {
    const a = await node(ns.url, 'e2e-race', 'a');
    const b = await node(ns.url, 'e2e-race', 'b');
    await a.store.transaction((t) => void t.put('accounts', { id: 'x', balance: 0 }));
    await waitFor(() => b.repl.appliedSeq() === 1, 'b applied 1');
    // blind writes on different keys, same stream position: one loses the race, fn still runs once each
    const runs = { a: 0, b: 0 };
    await Promise.all([
      a.store.transaction((t) => void (runs.a++, t.put('notes', { id: 1, text: 'from a' }))),
      b.store.transaction((t) => void (runs.b++, t.put('notes', { id: 2, text: 'from b' }))),
    ]);
    expect(runs).toEqual({ a: 1, b: 1 });
    expect(a.repl.health().conflicts + b.repl.health().conflicts).toBe(1);
    // read-modify-writes of one row at the same position: the loser's read is stale, so it re-runs
    const before = a.repl.health().conflicts + b.repl.health().conflicts;
    const rmw = { a: 0, b: 0 };
    const incr = (n: typeof a, who: 'a' | 'b') =>
      n.store.transaction((t) => {
        rmw[who]++;
        const cur = t.get('accounts', 'x');
        t.put('accounts', { id: 'x', balance: (cur!.balance as number) + 1 });
      });
    for (const n of [a, b]) await waitFor(() => n.repl.appliedSeq() === 3, 'applied 3');
    await Promise.all([incr(a, 'a'), incr(b, 'b')]);
    expect(rmw.a + rmw.b).toBe(3);
    expect(a.repl.health().conflicts + b.repl.health().conflicts).toBe(before + 1);
    for (const n of [a, b]) await waitFor(() => n.repl.appliedSeq() === 5, 'applied 5');
    for (const n of [a, b]) expect(n.store.get('accounts', 'x')).toEqual({ id: 'x', balance: 2 });
    expect(hash(a.store)).toBe(hash(b.store));
    await a.stop();
    await b.stop();
  });

  it('a transaction over replicated and local tables: atomic on the writer, local rows stay on the writer, and the same node re-applies them from the stream', async () => {
    const a = await node(ns.url, 'e2e-mix', 'a');
    const b = await node(ns.url, 'e2e-mix', 'b');
    await a.store.transaction((t) => {
      t.put('notes', { id: 1, text: 'shared' });
      t.put('local_only', { id: 7 });
    });
    expect(a.store.get('local_only', 7)).toEqual({ id: 7 });
    await waitFor(() => b.repl.appliedSeq() === 1, 'b applied 1');
    expect(b.store.get('notes', 1)).toEqual({ id: 1, text: 'shared' });
    expect(b.store.get('local_only', 7)).toBeUndefined();
    await a.stop();
    // node a again, its disk lost: rebuilt from the stream, its own local writes included
    const a2 = await node(ns.url, 'e2e-mix', 'a');
    expect(a2.store.get('notes', 1)).toEqual({ id: 1, text: 'shared' });
    expect(a2.store.get('local_only', 7)).toEqual({ id: 7 });
    const c = await node(ns.url, 'e2e-mix', 'c');
    expect(c.store.get('local_only', 7)).toBeUndefined();
    expect(hash(c.store)).toBe(hash(a2.store));
    for (const n of [a2, b, c]) await n.stop();
  });

  it("a mixed transaction's local writes count as pending while it is in flight: a local transaction on the same key cannot slip in (no lost update)", async () => {
    const a = await node(ns.url, 'e2e-mixpend', 'a');
    const incr = (t: Parameters<Parameters<Store['transaction']>[0]>[0]): void => {
      const c = t.get('local_counter', 'k');
      t.put('local_counter', { id: 'k', n: ((c?.n as number | undefined) ?? 0) + 1 });
    };
    for (let i = 1; i <= 10; i++) {
      const mixed = a.store.transaction((t) => {
        incr(t);
        t.put('notes', { id: i, text: `mixed ${i}` });
      });
      // the local-only one starts while the mixed one is publishing
      await new Promise((r) => setImmediate(r));
      await Promise.all([mixed, a.store.transaction(incr)]);
    }
    expect(a.store.get('local_counter', 'k')).toEqual({ id: 'k', n: 20 });
    await a.stop();
  });

  it('a restarted node (same data dir) catches up from the sequence recorded in its store', async () => {
    const a = await node(ns.url, 'e2e-r', 'a');
    let b = await node(ns.url, 'e2e-r', 'b');
    await a.store.transaction((t) => void t.put('notes', { id: 1, text: 'one' }));
    await waitFor(() => b.repl.appliedSeq() === 1, 'b applied 1');
    const bDir = b.dir;
    await b.stop();
    for (let i = 2; i <= 5; i++) await a.store.transaction((t) => void t.put('notes', { id: i, text: `n${i}` }));
    b = await node(ns.url, 'e2e-r', 'b', { dir: bDir });
    expect(b.repl.appliedSeq()).toBe(5);
    expect(b.store.lastAppliedSeq(b.repl.stream)).toBe(5);
    expect(hash(b.store)).toBe(hash(a.store));
    await a.stop();
    await b.stop();
  });

  it('a node whose code has an older schema refuses newer records: its replication child ends with ORDO_REPL_NEWER_SCHEMA', async () => {
    const v2: Migration[] = [{ version: 2, description: 'v2', up: () => undefined }];
    const a = await node(ns.url, 'e2e-s', 'a', { migrations: v2 });
    const old = await node(ns.url, 'e2e-s', 'old');
    await a.store.transaction((t) => void t.put('notes', { id: 1, text: 'from v2' }));
    await waitFor(() => old.r.getSnapshot().status === 'done', 'old replication child ended');
    expect((old.r.getSnapshot().output as { reason: { code: string } }).reason.code).toBe('ORDO_REPL_NEWER_SCHEMA');
    expect(old.store.snapshot(['notes']).tables.notes).toEqual([]);
    expect(old.env.records.some((r) => r.report === 'replication_halted' && r.code === 'ORDO_REPL_NEWER_SCHEMA')).toBe(true);
    await a.stop();
    await old.stop();
  });

  it("a snapshot larger than the server's max_payload travels through the object store, chunked", async () => {
    const small = await NatsServer.start({ maxPayload: 32 * 1024 });
    try {
      const a = await node(small.url, 'big', 'a', { maxMsgs: 3 });
      const text = 'y'.repeat(2000);
      for (let i = 1; i <= 60; i++) await a.store.transaction((t) => void t.put('notes', { id: i, text: `${i}${text}` }));
      expect(JSON.stringify(a.store.snapshot(['notes'])).length).toBeGreaterThan(3 * 32 * 1024);
      const c = await node(small.url, 'big', 'c', { maxMsgs: 3 });
      expect(c.env.records.some((r) => r.report === 'replication_snapshot_loaded')).toBe(true);
      expect(a.env.records.some((r) => r.report === 'replication_snapshot_served' && (r.bytes as number) > 32 * 1024)).toBe(true);
      expect(c.repl.appliedSeq()).toBe(60);
      expect(hash(c.store)).toBe(hash(a.store));
      await a.stop();
      await c.stop();
    } finally {
      await cleanup(small);
    }
  });

  it('a new node whose next sequence the stream no longer holds catches up from a peer Store snapshot', async () => {
    const a = await node(ns.url, 'e2e-snap', 'a', { maxMsgs: 3 });
    for (let i = 1; i <= 10; i++) await a.store.transaction((t) => void t.put('notes', { id: i, text: `n${i}` }));
    await a.store.transaction((t) => void t.put('accounts', { id: 'x', balance: 7 }));
    const c = await node(ns.url, 'e2e-snap', 'c', { maxMsgs: 3 });
    expect(c.env.records.some((r) => r.report === 'replication_snapshot_loaded')).toBe(true);
    expect(c.repl.appliedSeq()).toBe(11);
    expect(c.store.lastAppliedSeq(c.repl.stream)).toBe(11);
    expect(hash(c.store)).toBe(hash(a.store));
    // and it keeps applying from there
    await a.store.transaction((t) => void t.put('notes', { id: 99, text: 'after' }));
    await waitFor(() => c.repl.appliedSeq() === 12, 'c applied 12');
    expect(hash(c.store)).toBe(hash(a.store));
    await a.stop();
    await c.stop();
  });
});
