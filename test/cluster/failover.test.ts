/**
 * Issue 14, must show: an Ordo cluster on a 3-server NATS cluster survives losing any one
 * server. Three Ordo node processes (discovery + election + replication on RocksDB) write
 * steadily while each server in turn is killed (-9: the stream leader, the meta leader, a
 * follower) and restarted, then all three are restarted one by one. Every caller's result is
 * checked against the stream at the end. Timing is measured and logged (the figures in
 * docs/cluster.md come from this file's output); generous recovery bounds are asserted only in
 * the long tier.
 *
 * In `npm test` this is one round (~1 min); `npm run test:failover` (ORDO_FAILOVER=1) runs
 * ORDO_FAILOVER_ROUNDS rounds (default 3). A victim is restarted even when its round fails, so
 * one slow recovery never leaves the next kill with two servers down.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { CLUSTER_DEFAULTS } from '../../src/cluster/config.ts';
import { decodeBatch } from '../../src/cluster/replCodec.ts';
import { NatsCluster, type ClusterMember } from '../harness/natsCluster.ts';
import { waitFor } from '../harness/nats.ts';
import { OrdoNodeProcess } from '../harness/nodes.ts';

const CLUSTER = 'fo';
const STREAM = `ORDO_REPL_${CLUSTER}_main`;
/** Each node commits one write every INTERVAL ms (3 nodes: ~15 writes/s in all). */
const INTERVAL = 200;
/** Kill rounds: one in CI, more in the long tier. */
const ROUNDS = process.env['ORDO_FAILOVER'] ? Number(process.env['ORDO_FAILOVER_ROUNDS'] ?? 3) : 1;
/** Generous recovery bounds, asserted in the long tier only (`npm test` checks the outcome, not how fast a loaded machine gets there). */
const RECOVERY_BOUND_MS = 45_000;
/**
 * Membership timing. "No false nodedown" means: no live node's heartbeat went unstored for a TTL
 * while the others could see the bucket — so with a short TTL it is also a wall-clock bound on
 * every node process (reconnect and heartbeat within TTL − one heartbeat, through every kill, on a
 * loaded 2-core machine; a process starved that long is down by the protocol). In `npm test` the
 * shipped defaults (1 s / 5 s, CLUSTER_DEFAULTS); the long tier keeps the tight 250 / 1500 ms,
 * where elections (4–9 s on 2.9) outlast the TTL on every leader kill. The rule that keeps a
 * leaderless members bucket from making everyone look down is checked on virtual time
 * (test/cluster/discovery.test.ts, "JetStream without a leader for 3 TTLs").
 */
const MEMBERSHIP = process.env['ORDO_FAILOVER'] ? { heartbeatMs: 250, ttlMs: 1500 } : { heartbeatMs: CLUSTER_DEFAULTS.heartbeatMs, ttlMs: CLUSTER_DEFAULTS.ttlMs };

interface Outcome {
  id: string;
  start: number;
  end: number;
  result: string;
}
interface Window {
  role: string;
  server: string;
  killedAt: number;
  restartedAt: number;
  /** ms from the kill until the replication stream had a leader on a running server (a new one, if the victim led it). */
  electedMs: number;
  /** ms from the kill until the JetStream meta group had a leader on a running server (a new one, if the victim led it). */
  metaElectedMs: number;
  /** ms from the kill until every node had committed a write started after it. */
  writesBackMs: number;
  /** ms from the restart until JetStream reported every replica current. */
  replicasCurrentMs: number;
  /** ms from the restart until every Ordo node had applied the whole stream. */
  nodesCaughtUpMs: number;
}

describe('Ordo on a 3-server NATS cluster survives losing any one server', () => {
  let c: NatsCluster;
  let nc: NatsConnection;
  let nodes: OrdoNodeProcess[] = [];
  const dirs: string[] = [];
  const windows: Window[] = [];

  beforeAll(async () => {
    c = await NatsCluster.start();
    nc = await connect({ servers: c.urls, reconnectTimeWait: 100 });
    nodes = ['a', 'b', 'c'].map((name) => {
      const dataDir = mkdtempSync(join(tmpdir(), `ordo-failover-${name}-`));
      dirs.push(dataDir);
      return OrdoNodeProcess.spawn('loadNode.ts', name, { cluster: CLUSTER, servers: c.urls, dataDir, ...MEMBERSHIP });
    });
    for (const n of nodes) expect((await n.waitEvent((e) => e.ev === 'ready', 'ready', 60_000)).replicas).toBe(3);
    await c.waitStreamCurrent(STREAM);
    await c.waitMetaCurrent();
    for (const n of nodes) await n.request({ cmd: 'load', intervalMs: INTERVAL });
  });
  afterAll(async () => {
    // ORDO_TEST_LOGS=<dir>: keep each node's log for a look at the timeline
    const logs = process.env['ORDO_TEST_LOGS'];
    if (logs) for (const n of nodes) writeFileSync(join(logs, `failover-${n.name}.log`), n.stderr);
    for (const n of nodes) await n.stop().catch(() => n.kill());
    await nc?.close().catch(() => undefined);
    await c?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A node's writes so far: `count` ended (its writes are sequential: the next one is write `count`), `last` the latest. */
  const progress = async (n: OrdoNodeProcess): Promise<{ count: number; last?: Outcome }> => {
    const r = await n.request({ cmd: 'progress' });
    return { count: r.count as number, ...(r.last ? { last: r.last as Outcome } : {}) };
  };
  /**
   * Waits until every node committed a write it started after the kill; returns when (test
   * clock). "After" by each node's own write order, not by comparing its Date.now() with ours (a
   * step of the wall clock would move one against the other): asked right after the kill, a node
   * had ended `count` writes; write `count` may have started before the kill, write `count + 1`
   * started after the answer.
   */
  const writesBackAfterKill = async (): Promise<number> => {
    const marks = new Map<OrdoNodeProcess, number>();
    for (const n of nodes) marks.set(n, (await progress(n)).count);
    for (const n of nodes) {
      await waitFor(async () => {
        const { count, last } = await progress(n);
        return count - 1 > marks.get(n)! && last?.result === 'ok';
      }, `${n.name} commits a write started after the kill`, 60_000, 100);
    }
    return performance.now();
  };
  const streamLast = (): Promise<number> =>
    waitFor(async () => ({ s: (await (await jetstreamManager(nc, { timeout: 2000 })).streams.info(STREAM)).state.last_seq }), 'stream info', 30_000, 100).then((r) => r.s);
  /** Waits until every node applied at least the stream's last sequence at the call. */
  const nodesCaughtUp = async (): Promise<void> => {
    const last = await streamLast();
    for (const n of nodes) await waitFor(async () => ((await n.request({ cmd: 'applied' })).applied as number) >= last, `${n.name} applied ${last}`, 60_000, 100);
  };

  /** Kills (or stops) `victim`, waits for writes on every node, restarts it, waits for catch-up. */
  async function lose(role: string, victim: ClusterMember, how: 'kill' | 'stop'): Promise<Window> {
    const ledStream = (await c.streamLeader(STREAM)) === victim.name;
    const ledMeta = (await c.metaLeader()) === victim.name;
    // the windows are measured on this process's monotonic clock (logged; bounded in the long tier only)
    const killedAt = performance.now();
    const ms = (from: number, to: number): number => Math.round(to - from);
    await (how === 'kill' ? victim.server.kill() : victim.server.stop());
    try {
      const elected = c.waitStreamLeader(STREAM, RECOVERY_BOUND_MS, ledStream ? victim.name : undefined).then(() => performance.now());
      elected.catch(() => undefined); // awaited below; a failure here is reported by the wait for writes
      const metaElected = c.waitMetaLeader(RECOVERY_BOUND_MS, ledMeta ? victim.name : undefined).then(() => performance.now());
      metaElected.catch(() => undefined);
      const back = await writesBackAfterKill();
      const electedAt = await elected;
      const metaAt = await metaElected;
      console.log(`[failover] ${role} (${victim.name}): stream leader after ${ms(killedAt, electedAt)} ms, meta leader after ${ms(killedAt, metaAt)} ms, writes back after ${ms(killedAt, back)} ms (${ms(Math.max(electedAt, metaAt), back)} ms after the later election); restarting`);
      await victim.server.restart();
      const restartedAt = performance.now();
      await c.waitStreamCurrent(STREAM, 60_000);
      const current = performance.now();
      // the next kill must not find the meta group still catching up (that would be two servers down)
      await c.waitMetaCurrent(60_000);
      console.log(`[failover] ${role} (${victim.name}): replicas and meta group current ${ms(restartedAt, performance.now())} ms after the restart`);
      await nodesCaughtUp();
      const w: Window = { role, server: victim.name, killedAt, restartedAt, electedMs: ms(killedAt, electedAt), metaElectedMs: ms(killedAt, metaAt), writesBackMs: ms(killedAt, back), replicasCurrentMs: ms(restartedAt, current), nodesCaughtUpMs: ms(restartedAt, performance.now()) };
      windows.push(w);
      console.log(`[failover] ${role} (${victim.name}, ${how}): writes back on every node after ${w.writesBackMs} ms (stream leader after ${w.electedMs} ms); after restart, replicas current in ${w.replicasCurrentMs} ms, nodes caught up in ${w.nodesCaughtUpMs} ms`);
      // how fast is measured and logged; asserted only in the long tier (ORDO_FAILOVER=1, a
      // measurement run): in `npm test` the outcome is what is checked — the writes came back
      // and every node caught up, each wait a generous deadline — not the speed of a loaded machine
      if (process.env['ORDO_FAILOVER']) {
        expect(w.writesBackMs).toBeLessThan(RECOVERY_BOUND_MS);
        expect(w.nodesCaughtUpMs).toBeLessThan(RECOVERY_BOUND_MS);
      }
      return w;
    } finally {
      // never leave the next kill with two servers down
      if (!victim.server.running) {
        await victim.server.restart();
        await c.waitMetaCurrent(60_000).catch(() => undefined);
      }
    }
  }

  for (let round = 1; round <= ROUNDS; round++) {
    const r = ROUNDS > 1 ? ` (round ${round})` : '';
    it(`kill -9 of the replication stream leader${r}`, async () => {
      await lose('stream leader', c.server(await c.waitStreamLeader(STREAM)), 'kill');
    }, 150_000);

    it(`kill -9 of the JetStream meta leader${r}`, async () => {
      await lose('meta leader', c.server(await c.waitMetaLeader()), 'kill');
    }, 150_000);

    it(`kill -9 of a follower (neither stream nor meta leader)${r}`, async () => {
      const sl = await c.waitStreamLeader(STREAM);
      const ml = await c.waitMetaLeader();
      const victim = c.members.find((m) => m.name !== sl && m.name !== ml) ?? c.members.find((m) => m.name !== sl)!;
      await lose('follower', victim, 'kill');
    }, 150_000);

    for (const i of [0, 1, 2]) {
      it(`rolling restart of all three servers: n${i + 1}${r}`, async () => {
        await lose('rolling restart', c.server(i), 'stop');
      }, 150_000);
    }
  }

  it('no acknowledged write lost, none reported failed that was committed, none stored twice; no false nodedown; one leader per term', async () => {
    const results = await Promise.all(nodes.map((n) => n.request({ cmd: 'unload' }, 60_000)));
    await nodesCaughtUp();
    // every message in the stream, by the row it wrote
    const inStream = new Map<string, number>();
    const last = await streamLast();
    const consumer = await jetstream(nc).consumers.get(STREAM, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      const d = decodeBatch(m.data, new Set(['writes']));
      if (d.ok) for (const op of d.batch.ops) inStream.set(String(op.key), (inStream.get(String(op.key)) ?? 0) + 1);
      if (m.info.streamSequence >= last) break;
    }
    await messages.close();
    const tally: Record<string, number> = {};
    const wrong: string[] = [];
    for (const [i, r] of results.entries()) {
      for (const o of r.outcomes as Outcome[]) {
        tally[o.result] = (tally[o.result] ?? 0) + 1;
        const n = inStream.get(o.id) ?? 0;
        if (n > 1) wrong.push(`${o.id} stored ${n} times`);
        if (o.result === 'ok' && n !== 1) wrong.push(`${o.id} acknowledged but not in the stream`);
        if (o.result !== 'ok' && o.result !== 'ORDO_REPL_INDETERMINATE' && n !== 0) wrong.push(`${o.id} reported ${o.result} but committed`);
      }
      expect((r.outcomes as Outcome[]).length, nodes[i]!.name).toBeGreaterThan(20);
    }
    console.log(`[failover] outcomes: ${JSON.stringify(tally)}; stream messages: ${last}`);
    console.log(`[failover] windows: ${JSON.stringify(windows.map(({ role, server, electedMs, metaElectedMs, writesBackMs, replicasCurrentMs, nodesCaughtUpMs }) => ({ role, server, electedMs, metaElectedMs, writesBackMs, replicasCurrentMs, nodesCaughtUpMs })))}`);
    // every kill of the round was measured (a failed one would be missing here)
    expect(windows).toHaveLength(6 * ROUNDS);
    expect(wrong).toEqual([]);
    // no process died: nobody may have been reported down (on a failure, each node's longest
    // event-loop stall says whether one was starved past the TTL — down by the protocol)
    const stalls = results.map((r, i) => `${nodes[i]!.name} ${String(r.maxStallMs)} ms`).join(', ');
    console.log(`[failover] membership ${MEMBERSHIP.heartbeatMs} / ${MEMBERSHIP.ttlMs} ms; longest event-loop stall per node: ${stalls}`);
    const downs = nodes.flatMap((n) => n.events.filter((e) => e.ev === 'nodedown').map((e) => `${n.name} saw ${String(e.member)} down (${String(e.reason)})`));
    expect(downs, `TTL ${MEMBERSHIP.ttlMs} ms; longest stalls: ${stalls}`).toEqual([]);
    // one leader per term: a fencing token belongs to one node
    const holders = new Map<number, Set<string>>();
    for (const n of nodes) for (const e of n.events.filter((x) => x.ev === 'leader')) holders.set(e.token as number, (holders.get(e.token as number) ?? new Set()).add(n.name));
    expect(holders.size).toBeGreaterThan(0);
    // on a violation, say who claimed what when (leader/follower events of every node, in time order)
    const claims = nodes.flatMap((n) => n.events.filter((e) => e.ev === 'leader' || e.ev === 'follower').map((e) => `${e.t} ${n.name} ${e.ev} ${String(e.token ?? e.why)}`)).sort();
    for (const [token, who] of holders) expect([...who], `term ${token}; claims: ${claims.join(' | ')}`).toHaveLength(1);
    // and the three stores agree
    const applied = await Promise.all(nodes.map((n) => n.request({ cmd: 'applied' })));
    expect(new Set(applied.map((a) => a.rows)).size).toBe(1);
  }, 120_000);
});
