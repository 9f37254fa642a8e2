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
      return OrdoNodeProcess.spawn('loadNode.ts', name, { cluster: CLUSTER, servers: c.urls, dataDir });
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

  const progress = async (n: OrdoNodeProcess): Promise<{ lastOkStart?: number }> => {
    const r = await n.request({ cmd: 'progress' });
    const last = r.last as Outcome | undefined;
    return { ...(last && last.result === 'ok' ? { lastOkStart: last.start } : {}) };
  };
  /** Waits until every node committed a write it started after `t`; returns when. */
  const writesBackAfter = async (t: number): Promise<number> => {
    for (const n of nodes) await waitFor(async () => ((await progress(n)).lastOkStart ?? 0) > t, `${n.name} commits again`, 60_000, 100);
    return Date.now();
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
    const killedAt = Date.now();
    await (how === 'kill' ? victim.server.kill() : victim.server.stop());
    try {
      const elected = c.waitStreamLeader(STREAM, RECOVERY_BOUND_MS, ledStream ? victim.name : undefined).then(() => Date.now());
      elected.catch(() => undefined); // awaited below; a failure here is reported by the wait for writes
      const metaElected = c.waitMetaLeader(RECOVERY_BOUND_MS, ledMeta ? victim.name : undefined).then(() => Date.now());
      metaElected.catch(() => undefined);
      const back = await writesBackAfter(killedAt);
      const electedAt = await elected;
      const metaAt = await metaElected;
      console.log(`[failover] ${role} (${victim.name}): stream leader after ${electedAt - killedAt} ms, meta leader after ${metaAt - killedAt} ms, writes back after ${back - killedAt} ms (${back - Math.max(electedAt, metaAt)} ms after the later election); restarting`);
      await victim.server.restart();
      const restartedAt = Date.now();
      await c.waitStreamCurrent(STREAM, 60_000);
      const current = Date.now();
      // the next kill must not find the meta group still catching up (that would be two servers down)
      await c.waitMetaCurrent(60_000);
      console.log(`[failover] ${role} (${victim.name}): replicas and meta group current ${Date.now() - restartedAt} ms after the restart`);
      await nodesCaughtUp();
      const w: Window = { role, server: victim.name, killedAt, restartedAt, electedMs: electedAt - killedAt, metaElectedMs: metaAt - killedAt, writesBackMs: back - killedAt, replicasCurrentMs: current - restartedAt, nodesCaughtUpMs: Date.now() - restartedAt };
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
    // no process died: nobody may have been reported down
    const downs = nodes.flatMap((n) => n.events.filter((e) => e.ev === 'nodedown').map((e) => `${n.name} saw ${String(e.member)} down (${String(e.reason)})`));
    expect(downs).toEqual([]);
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
