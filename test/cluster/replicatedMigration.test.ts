import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { openStore, type Migration, type Row, type Store, type TableDef } from '../../src/store/index.ts';
import { discoveryMachine, type ClusterService } from '../../src/cluster/discovery.ts';
import { electionMachine } from '../../src/cluster/election.ts';
import type { Leadership } from '../../src/cluster/leaderElection.ts';
import { replicationMachine, type ReplicationService } from '../../src/cluster/replication.ts';
import { Replicator } from '../../src/cluster/replicator.ts';
import type { ClusterError } from '../../src/cluster/errors.ts';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';
import { OrdoNodeProcess } from '../harness/nodes.ts';
import { realTimeEnv, startChild, stopChild, waitTag } from './helpers.ts';

const LEASE = 1500;
const local_only: TableDef = { key: 'id', attributes: { id: { type: 'integer' } } };
const v1: Record<string, TableDef> = {
  notes: { key: 'id', attributes: { id: { type: 'integer' }, text: { type: 'string' } }, replicated: true },
  local_only,
};
const v2: Record<string, TableDef> = {
  notes: { key: 'id', attributes: { id: { type: 'integer' }, body: { type: 'string' }, words: { type: 'integer' } }, replicated: true },
  local_only,
};

/** How many times the v2 migration's `up` ran, and on which nodes. */
interface Runs {
  on: string[];
}

const v2Migrations = (runs: Runs, node: string): Migration[] => [
  {
    version: 2,
    description: 'notes: text → body, count words',
    replicated: true,
    up(tx) {
      runs.on.push(node);
      tx.transform('notes', ({ text, ...rest }) => ({ ...rest, body: String(text), words: String(text).split(' ').length }));
    },
  },
];

const migrated = (rows: readonly Row[]): boolean => rows.length > 0 && rows.every((r) => typeof r.body === 'string' && typeof r.words === 'number' && !('text' in r));

function hash(store: Store): string {
  return createHash('sha256').update(JSON.stringify(store.snapshot(['notes']).tables)).digest('hex');
}

/** A node: store (v1 or v2 code), discovery, election, replication with the leadership. Resolves once replication is ready. */
async function node(url: string | undefined, cluster: string, name: string, o: { dir?: string; code: 'v1' | 'v2'; runs?: Runs; election?: boolean; migrationTimeoutMs?: number; waitReady?: boolean }) {
  const env = realTimeEnv();
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), `ordo-mig-${name}-`));
  const store = await openStore({ env, dir, tables: o.code === 'v1' ? v1 : v2, migrations: o.code === 'v1' ? [] : v2Migrations(o.runs!, name), deferReplicatedMigrations: true });
  const deferredAtOpen = store.deferredMigrations().map((d) => d.version);
  const d = startChild(discoveryMachine, { env, config: { cluster, nodeName: name, ...(url ? { nats: { servers: [url] } } : {}), heartbeatMs: 200, ttlMs: 1000 } }, env);
  await waitTag(d, 'ready');
  const svc = d.getSnapshot().context.service as ClusterService;
  const e = o.election === false ? undefined : startChild(electionMachine, { env, cluster: svc, config: { leaseTtlMs: LEASE } }, env);
  if (e) await waitTag(e, 'ready');
  const lead = e?.getSnapshot().context.service as Leadership | undefined;
  const r = startChild(replicationMachine, { env, cluster: svc, store, ...(lead ? { leadership: lead } : {}), config: { store: 'main', tables: ['notes'], migrationTimeoutMs: o.migrationTimeoutMs ?? 20_000 } }, env);
  // What the node's rows were at the very moment its replication child first reported ready.
  const atReady: { rows?: Row[]; deferred?: number } = {};
  const states: string[] = [];
  r.subscribe({
    next: (snap) => {
      states.push(JSON.stringify(snap.value));
      if (atReady.rows === undefined && snap.hasTag('ready')) {
        atReady.rows = store.range('notes');
        atReady.deferred = store.deferredMigrations().length;
      }
    },
    error: () => undefined,
  });
  if (o.waitReady !== false) await waitTag(r, 'ready', 30_000);
  return {
    name,
    env,
    dir,
    store,
    r,
    deferredAtOpen,
    atReady,
    states,
    repl: () => r.getSnapshot().context.service as ReplicationService,
    async stop() {
      await stopChild(r);
      if (e) await stopChild(e);
      await stopChild(d);
      await store.close();
    },
  };
}
type Node = Awaited<ReturnType<typeof node>>;

/** One note, through replication (the store handles lost races itself). */
async function put(store: Store, id: number, text: string): Promise<void> {
  await store.transaction((t) => void t.put('notes', { id, text }));
}

/** Three v1 nodes write notes through replication; `c` stops before the last writes (it catches up later). Returns the data dirs. */
async function v1Cluster(url: string, cluster: string): Promise<Record<string, string>> {
  const nodes: Node[] = [];
  for (const n of ['a', 'b', 'c']) nodes.push(await node(url, cluster, n, { code: 'v1' }));
  const [a, b, c] = nodes as [Node, Node, Node];
  for (let i = 1; i <= 6; i++) await put(nodes[i % 3]!.store, i, `note number ${i}`);
  await waitFor(() => c.repl().appliedSeq() === 6, 'c applied 6');
  await c.stop();
  for (let i = 7; i <= 9; i++) await put((i % 2 ? a : b).store, i, `late note ${i}`);
  for (const n of [a, b]) await waitFor(() => n.repl().appliedSeq() === 9, 'applied 9');
  await a.stop();
  await b.stop();
  return { a: a.dir, b: b.dir, c: c.dir };
}

function expectMigratedCluster(nodes: readonly Node[], runs: Runs): void {
  expect(runs.on).toHaveLength(1); // once, cluster-wide
  const ranOn = runs.on[0]!;
  for (const n of nodes) {
    expect(n.deferredAtOpen).toEqual([2]);
    expect(n.store.deferredMigrations()).toEqual([]);
    expect(n.store.schemaHistory().map((h) => h.version)).toContain(2);
    expect(n.store.count('notes')).toBe(9);
    expect(migrated(n.store.range('notes'))).toBe(true);
    // ready only once its own store had applied the migration batch
    expect(n.atReady.deferred).toBe(0);
    expect(migrated(n.atReady.rows ?? [])).toBe(true);
    expect(n.states.some((s) => s.includes('migrating'))).toBe(true);
    expect(n.repl().health()).toMatchObject({ status: 'ok', malformed: 0 });
    // the leader ran it; the others waited for it, or (slow to start) applied its batch while catching up
    const outcome = n.env.records.find((r) => r.report === 'replication_migrated')?.outcome;
    if (n.name === ranOn) expect(outcome).toBe('migrated');
    else expect([undefined, 'waited', 'already']).toContain(outcome);
  }
  expect(new Set(nodes.map((n) => hash(n.store))).size).toBe(1);
  expect(nodes[0]!.store.get('notes', 8)).toEqual({ id: 8, body: 'late note 8', words: 3 });
}

describe('replicated migrations through the replication child', () => {
  let ns: NatsServer;
  const procs: OrdoNodeProcess[] = [];
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(async () => {
    for (const p of procs) await p.kill();
    await cleanup(ns);
  });

  it('3 nodes restarted with v2 code: the migration runs once, on the leader; followers are ready only after applying its batch; identical content', async () => {
    const dirs = await v1Cluster(ns.url, 'rmig');
    const runs: Runs = { on: [] };
    const nodes = await Promise.all(['a', 'b', 'c'].map((n) => node(ns.url, 'rmig', n, { dir: dirs[n]!, code: 'v2', runs })));
    expectMigratedCluster(nodes, runs);
    // the batch went through the stream: 9 notes + 1 migration batch
    for (const n of nodes) expect(n.repl().appliedSeq()).toBe(10);
    // a restart at the same version does nothing
    const a = nodes[0]!;
    await a.stop();
    const again = await node(ns.url, 'rmig', 'a', { dir: a.dir, code: 'v2', runs });
    expect(again.deferredAtOpen).toEqual([]);
    expect(runs.on).toHaveLength(1);
    expect(hash(again.store)).toBe(hash(nodes[1]!.store));
    for (const n of [again, ...nodes.slice(1)]) await n.stop();
  });

  it('a dead node never blocks it: the lease holder is killed (kill -9) before the restart; the migration still runs once', async () => {
    const dirs = await v1Cluster(ns.url, 'rmig-dead');
    const d = OrdoNodeProcess.spawn('node.ts', 'd', { cluster: 'rmig-dead', servers: [ns.url], heartbeatMs: 200, ttlMs: 1000, leaseTtlMs: LEASE, election: true });
    procs.push(d);
    await d.waitEvent((e) => e.ev === 'leader', 'd leads');
    await d.kill(); // its lease and member key stay until they expire
    const runs: Runs = { on: [] };
    const nodes = await Promise.all(['a', 'b', 'c'].map((n) => node(ns.url, 'rmig-dead', n, { dir: dirs[n]!, code: 'v2', runs })));
    expectMigratedCluster(nodes, runs);
    expect(['a', 'b', 'c']).toContain(runs.on[0]);
    for (const n of nodes) await n.stop();
  });

  it('the leader committed the migration batch but died before recording the version: the next leader records it without running up again', async () => {
    const dirs = await v1Cluster(ns.url, 'rmig-half');
    const runs: Runs = { on: [] };
    // node a by hand: leader, replicator started, but no replication child (so no gate)
    const env = realTimeEnv();
    const store = await openStore({ env, dir: dirs.a!, tables: v2, migrations: v2Migrations(runs, 'a'), deferReplicatedMigrations: true });
    const d = startChild(discoveryMachine, { env, config: { cluster: 'rmig-half', nodeName: 'a', nats: { servers: [ns.url] }, heartbeatMs: 200, ttlMs: 1000 } }, env);
    await waitTag(d, 'ready');
    const svc = d.getSnapshot().context.service as ClusterService;
    const e = startChild(electionMachine, { env, cluster: svc, config: { leaseTtlMs: LEASE } }, env);
    await waitTag(e, 'ready');
    const lead = e.getSnapshot().context.service as Leadership;
    await waitFor(() => lead.isLeader(), 'a leads');
    const replicator = new Replicator(env, svc.connection!, store, { cluster: 'rmig-half', store: 'main', node: 'a', incarnation: svc.incarnation, tables: ['notes'] });
    await replicator.start();
    const others = await Promise.all(['b', 'c'].map((n) => node(ns.url, 'rmig-half', n, { dir: dirs[n]!, code: 'v2', runs, waitReady: false })));
    for (const n of others) await waitFor(() => n.env.records.some((r) => r.report === 'replication_migration_pending'), `${n.name} waits in the gate`);
    expect(await store.runDeferredMigrations()).toBe('ran');
    // b and c apply the batch, but the version is not recorded: they keep waiting
    for (const n of others) await waitFor(() => n.store.deferredMigrations().length === 0, `${n.name} applied the batch`);
    // no fixed wait: `atReady` records the first moment each child was ready, so "never ready
    // until the version is recorded" is checked over the whole window, up to the leader's death
    for (const n of others) expect(n.atReady.rows, `${n.name} was ready before the version was recorded`).toBeUndefined();
    // a "dies" here: its lease goes, the version was never recorded
    await replicator.stop();
    await stopChild(e);
    for (const n of others) await waitTag(n.r, 'ready');
    expect(runs.on).toEqual(['a']);
    const outcomes = others.map((n) => n.env.records.find((r) => r.report === 'replication_migrated'));
    expect(outcomes.map((r) => [r?.outcome, r?.ran]).sort()).toEqual([
      ['migrated', 'none'], // the next leader found nothing to run and recorded the version
      ['waited', undefined],
    ]);
    for (const n of others) {
      expect(migrated(n.atReady.rows ?? [])).toBe(true);
      expect(n.store.schemaHistory().map((h) => h.version)).toContain(2);
      expect(hash(n.store)).toBe(hash(store));
    }
    for (const n of others) await n.stop();
    await stopChild(d);
    await store.close();
  });

  it('deferred migrations with a NATS connection but no leadership: the child ends with ORDO_CLUSTER_CONFIG as its reason (a start failure, no retry loop), nothing migrated', async () => {
    const dirs = await v1Cluster(ns.url, 'rmig-noleader');
    const runs: Runs = { on: [] };
    const a = await node(ns.url, 'rmig-noleader', 'a', { dir: dirs.a!, code: 'v2', runs, election: false, waitReady: false });
    await waitFor(() => a.r.getSnapshot().status === 'done', 'replication child ended');
    expect(a.r.getSnapshot().value).toBe('failed');
    expect((a.r.getSnapshot().output as { reason: ClusterError }).reason.code).toBe('ORDO_CLUSTER_CONFIG');
    expect(a.states.filter((x) => x.includes('retrying'))).toEqual([]);
    expect(runs.on).toEqual([]);
    expect(a.store.deferredMigrations().map((d) => d.version)).toEqual([2]);
    await a.stop();
  });

  it('stopping a node that waits for the leader to migrate abandons the wait at once: no timer or watch left behind', async () => {
    const cluster = 'rmig-stopwait';
    // a v1 node holds the lease and never migrates; b (v2 code, migration deferred) waits for it
    const a = await node(ns.url, cluster, 'a', { code: 'v1' });
    await put(a.store, 1, 'one note');
    const pending = new Map<unknown, number>();
    const env = realTimeEnv();
    const clock = env.clock;
    const tracked: typeof env = {
      ...env,
      clock: {
        now: () => clock.now(),
        setTimeout: (fn: (...args: unknown[]) => void, ms: number) => {
          const h: unknown = clock.setTimeout((...args: unknown[]) => (pending.delete(h), fn(...args)), ms);
          pending.set(h, ms);
          return h;
        },
        clearTimeout: (h: unknown) => (pending.delete(h), clock.clearTimeout(h)),
      } as typeof env.clock,
    };
    const runs: Runs = { on: [] };
    // b's store holds v1 data; its v2 code defers the replicated migration
    const dir = mkdtempSync(join(tmpdir(), 'ordo-mig-wait-'));
    await (await openStore({ env: tracked, dir, tables: v1 })).close();
    const s2 = await openStore({ env: tracked, dir, tables: v2, migrations: v2Migrations(runs, 'b'), deferReplicatedMigrations: true });
    expect(s2.deferredMigrations().map((m) => m.version)).toEqual([2]);
    const d = startChild(discoveryMachine, { env: tracked, config: { cluster, nodeName: 'b', nats: { servers: [ns.url] }, heartbeatMs: 200, ttlMs: 1000 } }, tracked);
    await waitTag(d, 'ready');
    const svc = d.getSnapshot().context.service as ClusterService;
    const e = startChild(electionMachine, { env: tracked, cluster: svc, config: { leaseTtlMs: LEASE } }, tracked);
    await waitTag(e, 'ready');
    const r = startChild(replicationMachine, { env: tracked, cluster: svc, store: s2, leadership: e.getSnapshot().context.service as Leadership, config: { store: 'main', tables: ['notes'], migrationTimeoutMs: 60_000 } }, tracked);
    await waitFor(() => tracked.records.some((x) => x.report === 'replication_migration_pending'), 'b waits for the leader');
    expect(r.getSnapshot().hasTag('migrating')).toBe(true);
    await stopChild(r);
    await stopChild(e);
    await stopChild(d);
    // once the stops returned, a timer still pending is at most a short one about to fire, which
    // then is gone: a timer left behind is either long (the wait's 60 s timeout, caught here) or
    // re-armed (heartbeats, lease renewals: never all gone, caught below). The bound is on the
    // timers' delays, not on how fast a loaded machine gets to run them.
    expect([...pending.values()].filter((ms) => ms >= 2000)).toEqual([]);
    await waitFor(() => pending.size === 0, 'every timer of node b released', 30_000);
    expect(runs.on).toEqual([]);
    await s2.close();
    await a.stop();
  });

  it('single-node mode (no NATS): the replication child runs the deferred migration locally', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ordo-mig-solo-'));
    const env = realTimeEnv();
    const s1 = await openStore({ env, dir, tables: v1 });
    await s1.dirtyPutMany('notes', [
      { id: 1, text: 'a b' },
      { id: 2, text: 'c' },
    ]);
    await s1.close();
    const runs: Runs = { on: [] };
    const solo = await node(undefined, 'rmig-solo', 'solo', { dir, code: 'v2', runs, election: false });
    expect(solo.deferredAtOpen).toEqual([2]);
    expect(runs.on).toEqual(['solo']);
    expect(solo.store.deferredMigrations()).toEqual([]);
    expect(solo.store.schemaHistory().map((h) => h.version)).toContain(2);
    expect(solo.store.range('notes')).toEqual([
      { id: 1, body: 'a b', words: 2 },
      { id: 2, body: 'c', words: 1 },
    ]);
    expect(migrated(solo.atReady.rows ?? [])).toBe(true);
    await solo.stop();
  });
});
