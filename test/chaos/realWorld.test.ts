/**
 * Issue 11, deliverable 8 — the real-world tier, for what simulation cannot vouch for: three
 * Ordo node processes on a real 3-server NATS cluster (JetStream R3), one node talking to its
 * server through the TCP fault proxy. Mid-run a nats-server is killed (-9, the replication
 * stream's leader) and restarted, the proxied node's link goes through latency, a blackhole and
 * resets (a partition between the node and its server), and one node process is killed (-9)
 * and restarted on its data dir. Every write's outcome and every leadership claim go into a
 * Jepsen-style history, checked after the run (src/chaos/history.ts): no acknowledged
 * replicated write lost, one leader per term, replicas converge. Sized for CI (~1 min).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHistory, type HistoryOp } from '../../src/chaos/history.ts';
import { NatsCluster } from '../harness/natsCluster.ts';
import { startFaultProxy, type FaultProxy } from '../harness/faultProxy.ts';
import { waitFor, HARNESS_WAIT_MS } from '../harness/nats.ts';
import { OrdoNodeProcess, type NodeEvent } from '../harness/nodes.ts';

const CLUSTER = 'rw';
const STREAM = `ORDO_REPL_${CLUSTER}_main`;
/** Each node writes every INTERVAL ms: ~10 writes/s in all. Every write is checked against the stream's last sequence (conflictScope 'stream'), so a node behind a slow link loses the race to the others — at 150 ms of added latency and 20 writes/s node a starved (no commit in 60 s); the latency phase is sized below that. */
const INTERVAL = 300;

/**
 * The first line a NATS server sends on `port`; rejects naming what happened instead — refused,
 * closed before a line, or no line within 10 s (generous: one probe of a retried wait).
 */
function firstLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let text = '';
    const done = (err?: string): void => {
      clearTimeout(t);
      s.destroy();
      if (err) reject(new Error(`port ${port}: ${err}`));
      else resolve(text.split('\r\n')[0] ?? '');
    };
    const t = setTimeout(() => done(`no line within 10 s (${text.length} bytes)`), 10_000);
    s.on('data', (b) => {
      text += b.toString();
      if (text.includes('\r\n')) done();
    });
    s.on('error', (e: NodeJS.ErrnoException) => done(`${e.code ?? e.message}`));
    s.on('close', () => done(`closed before a line (${text.length} bytes)`));
  });
}
/** Resolves when `port` sends NATS INFO first; otherwise throws what it sent or what happened. */
const sendsInfo = async (port: number): Promise<true> => {
  const line = await firstLine(port);
  if (line.startsWith('INFO ')) return true;
  throw new Error(`port ${port}: first line ${JSON.stringify(line.slice(0, 80))}`);
};

interface Outcome {
  id: string;
  start: number;
  end: number;
  result: string;
}

describe('real-world tier: 3 Ordo nodes on a 3-server NATS cluster, a server killed, a partition through the proxy, a node killed', () => {
  let c: NatsCluster;
  let proxy: FaultProxy;
  const dirs = new Map<string, string>();
  /** Every process ever started (a killed one keeps its events: its outcomes and leadership claims). */
  const procs: OrdoNodeProcess[] = [];
  const live = new Map<string, OrdoNodeProcess>();

  const spawn = (name: string, servers: string[], idPrefix: string): OrdoNodeProcess => {
    let dataDir = dirs.get(name);
    if (!dataDir) dirs.set(name, (dataDir = mkdtempSync(join(tmpdir(), `ordo-realworld-${name}-`))));
    const p = OrdoNodeProcess.spawn('loadNode.ts', name, { cluster: CLUSTER, servers, dataDir, idPrefix });
    procs.push(p);
    live.set(name, p);
    return p;
  };
  const ready = async (p: OrdoNodeProcess): Promise<void> => {
    await p.waitEvent((e) => e.ev === 'ready', 'ready', 60_000);
    await p.request({ cmd: 'load', intervalMs: INTERVAL });
  };
  /** Ok outcomes so far, over every process of `name`. */
  const oks = (name: string): number => procs.filter((p) => p.name === name).reduce((n, p) => n + p.events.filter((e) => e.ev === 'outcome' && e.result === 'ok').length, 0);
  /** Waits until every node acknowledged more writes than it had at the call. */
  const progress = async (what: string): Promise<void> => {
    const before = new Map([...live.keys()].map((n) => [n, oks(n)]));
    for (const n of live.keys()) await waitFor(() => oks(n) > before.get(n)! + 2, `${n} acknowledges writes ${what}`, 60_000, 50);
  };

  // Every wait of the setup names its hop and has its own generous deadline; the hook's timeout
  // is above their sum (SETUP_MS), so a slow hop fails with its own name, never as "hook timed out".
  const READY_MS = 60_000;
  const SETUP_MS = 2 * HARNESS_WAIT_MS /* cluster: servers, meta leader */ + 2 * HARNESS_WAIT_MS /* INFO: n1, proxy */ + READY_MS + 2 * HARNESS_WAIT_MS /* stream current, load */ + 30_000;
  beforeAll(async () => {
    c = await NatsCluster.start();
    const n1 = c.server('n1');
    // node a reaches the cluster only through the proxy in front of n1 (it learns the others
    // from the cluster's INFO, as a real client does, and fails over to them when cut off)
    proxy = await startFaultProxy({ targetPort: n1.server.port, seed: 11 });
    // the path node a will use answers before a is started (a failure here names the hop: n1
    // itself, or the proxy in front of it — not a minute of node a's retries)
    await waitFor(() => sendsInfo(n1.server.port), `n1 (port ${n1.server.port}, ${n1.server.running ? 'running' : 'exited'}) sends INFO`, HARNESS_WAIT_MS, 100);
    await waitFor(() => sendsInfo(proxy.port), `n1's INFO through the proxy (port ${proxy.port} → ${n1.server.port})`, HARNESS_WAIT_MS, 100);
    const a = spawn('a', [proxy.url], 'a');
    const b = spawn('b', [c.server('n2').url, c.server('n3').url], 'b');
    const cc = spawn('c', [c.server('n3').url, c.server('n2').url], 'c');
    // the three start together: one deadline for all (a process that exits fails its wait at once)
    await Promise.all([a, b, cc].map((p) => p.waitEvent((e) => e.ev === 'ready', `ready (servers ${p === a ? `${proxy.url}, the proxy in front of n1` : 'n2, n3'})`, READY_MS)));
    await c.waitStreamCurrent(STREAM, HARNESS_WAIT_MS);
    await Promise.all([a, b, cc].map((p) => p.request({ cmd: 'load', intervalMs: INTERVAL })));
  }, SETUP_MS);
  afterAll(async () => {
    const logs = process.env['ORDO_TEST_LOGS'];
    if (logs) for (const [i, p] of procs.entries()) writeFileSync(join(logs, `realworld-${p.name}-${i}.log`), p.stderr);
    for (const p of live.values()) await p.stop().catch(() => p.kill());
    for (const p of procs) await p.kill();
    await proxy?.close();
    await c?.dispose();
    for (const d of dirs.values()) rmSync(d, { recursive: true, force: true });
  });

  it('runs the faults; afterwards the history holds: no acknowledged write lost, one leader per term, replicas converge', async () => {
    await progress('under steady load');

    // 1. a partition between node a and its server: latency, then a blackhole, then resets
    expect(proxy.connections(), 'a is connected through the proxy').toBeGreaterThan(0);
    proxy.setMode({ kind: 'latency', ms: 25 });
    await progress('with 25 ms of latency on a');
    const dropped = proxy.discarded();
    proxy.setMode({ kind: 'blackhole' });
    await waitFor(() => proxy.discarded() > dropped, 'a\'s bytes meet the blackhole', HARNESS_WAIT_MS, 20);
    // b and c keep committing while a is cut off
    const aBefore = oks('a');
    for (const n of ['b', 'c']) {
      const before = oks(n);
      await waitFor(() => oks(n) > before + 5, `${n} commits during the partition`, 60_000, 50);
    }
    console.log(`[realworld] partition: a cut off (blackhole) while b and c committed; ${proxy.discarded()} bytes discarded`);
    proxy.setMode({ kind: 'reset' });
    await waitFor(() => proxy.connections() === 0, 'a\'s proxied connections reset', HARNESS_WAIT_MS, 20);
    proxy.setMode({ kind: 'pass' });
    await waitFor(() => oks('a') > aBefore + 2, 'a commits again after the partition', 90_000, 50);

    // 2. kill -9 of a server mid-run — the stream's leader unless that is a's own (proxied) server n1 — and restart it
    const leader = await c.waitStreamLeader(STREAM);
    const victim = c.server(leader !== 'n1' ? leader : 'n2');
    console.log(`[realworld] kill -9 of ${victim.name} (stream leader: ${leader})`);
    await victim.server.kill();
    try {
      await progress(`with ${victim.name}${victim.name === leader ? ' (the stream leader)' : ''} killed`);
    } finally {
      await victim.server.restart();
    }
    await c.waitStreamCurrent(STREAM, 60_000);
    await c.waitMetaCurrent(60_000);

    // 3. kill -9 of a node process, restarted on its data dir (its in-flight write: unknown)
    const killed = live.get('c')!;
    await killed.kill();
    const restarted = spawn('c', [c.server('n3').url, c.server('n2').url], 'c2');
    await ready(restarted);
    await progress('after node c was killed and restarted');

    // the run ends: stop writing, let every replica catch up, read every replica
    const results = await Promise.all([...live.values()].map((p) => p.request({ cmd: 'unload' }, 60_000)));
    expect(results.length).toBe(3);
    const lastSeq = await waitFor(async () => (await c.placement(STREAM)) && (await fetchLastSeq()), 'stream last sequence', 30_000, 100);
    for (const p of live.values()) await waitFor(async () => ((await p.request({ cmd: 'applied' })).applied as number) >= lastSeq, `${p.name} applied ${lastSeq}`, 60_000, 100);

    const history: HistoryOp[] = [];
    const tally: Record<string, number> = {};
    // a write's place in time: its process's place in `procs` (processes of one name run one after
    // the other: c is killed before c2 starts), then its place in that process's events (its
    // writes are sequential) — an order needing no clock, not the fixtures' Date.now() compared
    // across processes (a step of the wall clock would reorder them); only writes to one key are
    // ordered, and a key is written by processes of one name only
    const order = (proc: number, i: number): number => proc * 1_000_000 + i;
    for (const [pi, p] of procs.entries()) {
      for (const [i, e] of p.events.entries()) {
        if (e.ev === 'outcome') {
          const o = e as unknown as NodeEvent & Outcome;
          tally[o.result] = (tally[o.result] ?? 0) + 1;
          const outcome = o.result === 'ok' ? 'ok' : o.result === 'ORDO_REPL_INDETERMINATE' ? 'info' : 'fail';
          // the write's own row, and the node's sequentially overwritten `-last` row
          history.push({ type: 'write', outcome, node: p.name, key: o.id, value: o.id, at: order(pi, i) });
          history.push({ type: 'write', outcome, node: p.name, key: `${p.name}-last`, value: o.id, at: order(pi, i) });
        } else if (e.ev === 'leader') history.push({ type: 'leader', node: p.name, term: e.token as number, at: order(pi, i) });
      }
    }
    const replicas: Record<string, Map<string, string>> = {};
    for (const p of live.values()) {
      const rows = (await p.request({ cmd: 'dump' }, 30_000)).rows as Array<{ id: string; last: string }>;
      replicas[p.name] = new Map(rows.map((r) => [r.id, r.last ? r.last : r.id]));
    }
    const verdict = checkHistory(history, replicas);
    // and no write the caller was told failed is in the stream (only an unknown outcome may be)
    const failedButCommitted = history.filter((h) => h.type === 'write' && h.outcome === 'fail' && h.key === h.value && Object.values(replicas).some((r) => r.has(h.key)));
    expect(failedButCommitted).toEqual([]);
    console.log(`[realworld] outcomes: ${JSON.stringify(tally)}; leadership claims: ${history.filter((h) => h.type === 'leader').length}; rows per replica: ${JSON.stringify(Object.fromEntries(Object.entries(replicas).map(([k, v]) => [k, v.size])))}`);
    expect(verdict.lostWrites).toEqual([]);
    expect(verdict.splitTerms).toEqual([]);
    expect(verdict.divergent).toEqual([]);
    expect(verdict.ok).toBe(true);
    // the run did exercise the faults: writes acknowledged on every node, some leadership
    for (const n of ['a', 'b', 'c']) expect(oks(n), n).toBeGreaterThan(10);
    expect(history.some((h) => h.type === 'leader')).toBe(true);
  }, 300_000);

  async function fetchLastSeq(): Promise<number> {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: c.urls });
    try {
      return (await (await jetstreamManager(nc)).streams.info(STREAM)).state.last_seq;
    } finally {
      await nc.close();
    }
  }
});
