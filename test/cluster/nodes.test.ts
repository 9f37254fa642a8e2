import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';
import { OrdoNodeProcess, type NodeEvent } from '../harness/nodes.ts';

const HB = 200;
const TTL = 1000;
const LEASE = 1500;

describe('Ordo nodes as processes against a real nats-server', () => {
  let ns: NatsServer;
  const procs: OrdoNodeProcess[] = [];
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(async () => {
    for (const p of procs) await p.kill();
    await cleanup(ns);
  });
  const spawn = (name: string, cluster: string, extra: Record<string, unknown> = {}): OrdoNodeProcess => {
    const p = OrdoNodeProcess.spawn('node.ts', name, { cluster, servers: [ns.url], heartbeatMs: HB, ttlMs: TTL, leaseTtlMs: LEASE, ...extra });
    procs.push(p);
    return p;
  };

  it('3 nodes join and see each other; kill -9 one → the others report it down (reason timeout; how fast: discovery.test.ts on virtual time)', async () => {
    const nodes = ['n1', 'n2', 'n3'].map((n) => spawn(n, 'k9'));
    for (const n of nodes) await n.waitEvent((e) => e.ev === 'ready', 'ready');
    for (const n of nodes) {
      await waitFor(async () => ((await n.request({ cmd: 'members' })).members as string[]).length === 3, `${n.name} sees 3`);
    }
    const victim = nodes[2]!;
    // "after the kill" by each survivor's own event order, not by comparing Date.now() across
    // processes (a step of the wall clock would move one against the other): right before the
    // kill each survivor answers that n3 is a member; its nodedown must come after that answer
    const marks: number[] = [];
    for (const n of nodes.slice(0, 2)) {
      expect((await n.request({ cmd: 'members' })).members, `${n.name} before the kill`).toContain('n3');
      marks.push(n.events.length);
    }
    await victim.kill();
    const downs: NodeEvent[] = [];
    // how fast (TTL + one heartbeat) is asserted on virtual time in discovery.test.ts; here: real
    // processes, kill -9, the outcome — a deadline of the harness's, not of TTL, on a loaded machine
    for (const n of nodes.slice(0, 2)) downs.push(await n.waitEvent((e) => e.ev === 'nodedown' && e.member === 'n3', 'nodedown n3'));
    for (const [i, d] of downs.entries()) {
      expect(d.reason).toBe('timeout');
      expect(nodes[i]!.events.indexOf(d), `${nodes[i]!.name}: nodedown n3 after its answer before the kill`).toBeGreaterThanOrEqual(marks[i]!);
    }
    expect((await nodes[0]!.request({ cmd: 'members' })).members).toEqual(['n1', 'n2']);
    // graceful stop of another: immediate nodedown 'left'
    expect(await nodes[1]!.stop()).toBe(0);
    const left = await nodes[0]!.waitEvent((e) => e.ev === 'nodedown' && e.member === 'n2', 'nodedown n2');
    expect(left.reason).toBe('left');
    await nodes[0]!.stop();
  });

  it('one leader at a time; kill -9 the leader → a single new leader with a higher fencing token (how fast: election.test.ts on virtual time)', async () => {
    const nodes = ['e1', 'e2', 'e3'].map((n) => spawn(n, 'el', { election: true }));
    for (const n of nodes) await n.waitEvent((e) => e.ev === 'ready', 'ready');
    const leaders = (): OrdoNodeProcess[] =>
      nodes.filter((n) => {
        const last = n.events.filter((e) => e.ev === 'leader' || e.ev === 'follower').at(-1);
        return n.alive && last?.ev === 'leader';
      });
    await waitFor(() => leaders().length === 1, 'one leader');
    // "never two at once" over several renewals, and failover timing, are checked step by step on
    // virtual time (election.test.ts); here: the same with real processes and kill -9
    const old = leaders()[0]!;
    const oldToken = old.events.filter((e) => e.ev === 'leader').at(-1)!.token as number;
    // "a new leader after the kill" by event order (see above), not Date.now() across processes:
    // each survivor's events up to a reply right before the kill are in, the mark is after them
    const marks = new Map<OrdoNodeProcess, number>();
    for (const n of nodes.filter((x) => x !== old)) {
      await n.request({ cmd: 'members' });
      marks.set(n, n.events.length);
    }
    await old.kill();
    const next = await waitFor(() => (leaders().length === 1 ? leaders()[0] : undefined), 'new leader');
    const ev = next.events.filter((e) => e.ev === 'leader').at(-1)!;
    expect(next.events.indexOf(ev), `${next.name}: its leader event comes after the kill`).toBeGreaterThanOrEqual(marks.get(next)!);
    expect(ev.token as number).toBeGreaterThan(oldToken);
    expect(leaders()).toHaveLength(1);
    for (const n of nodes) if (n.alive) await n.stop();
  });
});

describe('replicating node processes (RocksDB stores) against a real nats-server', () => {
  let ns: NatsServer;
  const procs: OrdoNodeProcess[] = [];
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(async () => {
    for (const p of procs) await p.kill();
    await cleanup(ns);
  });
  const spawn = (name: string, extra: Record<string, unknown> = {}): OrdoNodeProcess => {
    const dataDir = mkdtempSync(join(tmpdir(), `ordo-proc-${name}-`));
    const p = OrdoNodeProcess.spawn('replNode.ts', name, { cluster: 'rp', servers: [ns.url], dataDir, ...extra });
    procs.push(p);
    return p;
  };

  it('3 processes incrementing shared counters concurrently converge to identical tables (content hashes), no lost update', async () => {
    const nodes = ['r1', 'r2', 'r3'].map((n) => spawn(n, { schemaVersion: 2 }));
    for (const n of nodes) await n.waitEvent((e) => e.ev === 'ready', 'ready', 30_000);
    const replies = await Promise.all(nodes.map((n) => n.request({ cmd: 'write', count: 40, keys: 3 }, 60_000)));
    for (const r of replies) expect(r.error).toBeUndefined();
    const hashes = await waitFor(async () => {
      const hs = await Promise.all(nodes.map((n) => n.request({ cmd: 'hash' })));
      return hs.every((h) => h.applied === 120) ? hs : undefined;
    }, 'all applied 120');
    expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
    expect(hashes.map((h) => h.sum)).toEqual([120, 120, 120]); // every increment counted once

    // a node started with an older schema refuses the newer records, and says so: its
    // replication child never becomes ready, it ends naming the reason
    const old = spawn('r-old', { schemaVersion: 1 });
    const ended = await old.waitEvent((e) => e.ev === 'replication_ended' || e.ev === 'ready', 'replication ended', 30_000);
    expect(ended).toMatchObject({ ev: 'replication_ended', reason: 'ORDO_REPL_NEWER_SCHEMA', applied: 0 });
    expect(old.alive).toBe(true); // the process is not taken down by it
    for (const n of [...nodes, old]) expect(await n.stop()).toBe(0);
  });
});
