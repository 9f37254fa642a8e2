/**
 * The runner against real RocksDB and a real nats-server, nodes as separate processes
 * (test/harness/nodes.ts): kill -9 mid-job → rescued and completed once, effects once; 1,000
 * jobs over 3 nodes → each completed once; a NATS outage → degraded, in-flight jobs run on,
 * recovered, nothing lost.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsServer, waitFor, HARNESS_WAIT_MS } from '../harness/nats.ts';
import { OrdoNodeProcess, type NodeEvent } from '../harness/nodes.ts';
import { main } from '../../src/cli/main.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'jobNode.ts');
let ns: NatsServer | undefined;
let nodes: OrdoNodeProcess[] = [];
let dir: string | undefined;
let clusterName = '';

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.kill()));
  nodes = [];
  await ns?.dispose();
  ns = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function cluster(n: number, extra: Record<string, unknown> = {}): Promise<OrdoNodeProcess[]> {
  ns = await NatsServer.start();
  dir = mkdtempSync(join(tmpdir(), 'ordo-jobs-'));
  const c = `jobs${Math.floor(Math.random() * 1e6)}`;
  clusterName = c;
  const names = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  for (const name of names) {
    const node = OrdoNodeProcess.spawn(FIXTURE, name, { cluster: c, servers: [ns.url], dataDir: join(dir, name), ...extra });
    nodes.push(node);
    await node.waitEvent((e) => e.ev === 'ready', 'ready', 30_000);
  }
  return nodes;
}

type Stats = NodeEvent & { states: Record<string, number>; effects: Array<[string, number]>; performed: string[]; health: { status: string; notifier: { status: string } } };
const stats = async (n: OrdoNodeProcess): Promise<Stats> => (await n.request({ cmd: 'stats' }, 30_000)) as Stats;

describe('job runner on real RocksDB and nats-server', () => {
  it('kill -9 of the node running a job: rescued, completed exactly once, its effects applied once', async () => {
    const [a, b] = await cluster(2);
    const { ids } = (await a!.request({ cmd: 'enqueue', count: 1, ms: 2500 })) as NodeEvent & { ids: string[] };
    const id = ids[0]!;
    const perform = await waitFor(() => [a!, b!].find((n) => n.events.some((e) => e.ev === 'perform' && e.id === id)), 'a node starts the job');
    const survivor = perform === a ? b! : a!;
    await perform.kill();
    await survivor.waitEvent((e) => e.ev === 'perform' && e.id === id && e.attempt === 2, 'the rescued job runs again on the survivor', 30_000);
    const done = await waitFor(async () => {
      const s = await stats(survivor);
      return s.states['completed'] === 1 ? s : undefined;
    }, 'the job completes', 30_000, 200);
    expect(done.effects).toEqual([[id, 1]]);
    const job = ((await survivor.request({ cmd: 'job', job: id })) as NodeEvent & { job: { attempt: number; errors: Array<{ error: string }> } }).job;
    expect(job.attempt).toBe(2);
    expect(job.errors[0]!.error).toMatch(/lifeline/);
  }, 120_000);

  it('1,000 jobs over 3 node processes: each completed exactly once', async () => {
    const ns3 = await cluster(3, { limit: 20 });
    await Promise.all(ns3.map((n) => n.request({ cmd: 'enqueue', count: 334, ms: 5 }, 60_000)));
    const total = 3 * 334;
    const all = await waitFor(async () => {
      const s = await Promise.all(ns3.map(stats));
      return s.every((x) => x.states['completed'] === total) ? s : undefined;
    }, 'every job completed on every node', 120_000, 500);
    const performed = all.flatMap((s) => s.performed);
    expect(performed.length).toBe(total);
    expect(new Set(performed).size).toBe(total);
    for (const s of all) {
      expect(s.effects.length).toBe(total);
      expect(s.effects.every(([, n]) => n === 1)).toBe(true);
    }
    // the work was shared
    expect(all.filter((s) => s.performed.length > 0).length).toBeGreaterThan(1);
  }, 240_000);

  it('a global limit of 3 over 3 node processes (local limit 5 each): never more than 3 performs at once, all completed once', async () => {
    const ns3 = await cluster(3, { limit: 5, globalLimit: 3 });
    await Promise.all(ns3.map((n) => n.request({ cmd: 'enqueue', count: 8, ms: 300 }, 60_000)));
    const all = await waitFor(async () => {
      const s = await Promise.all(ns3.map(stats));
      return s.every((x) => x.states['completed'] === 24) ? s : undefined;
    }, 'every job completed on every node', 120_000, 300);
    expect(new Set(all.flatMap((s) => s.performed)).size).toBe(24);
    expect(all.flatMap((s) => s.performed).length).toBe(24);
    // overlap of [start, end] of every perform, from the nodes' own event times (one machine, one clock)
    const edges = ns3.flatMap((n) => n.events.filter((e) => e.ev === 'perform' || e.ev === 'performed').map((e) => ({ t: e.t as number, d: e.ev === 'perform' ? 1 : -1 })));
    edges.sort((a, b) => a.t - b.t || b.d - a.d); // strict: a start before an end at the same millisecond
    let now = 0;
    let max = 0;
    for (const e of edges) max = Math.max(max, (now += e.d));
    expect(max).toBeLessThanOrEqual(3);
    expect(max).toBeGreaterThan(1); // the limit is shared, not one node at a time
    expect(all.filter((s) => s.performed.length > 0).length).toBeGreaterThan(1);
  }, 180_000);

  it('a NATS outage: the notifier reports isolated and the runner degraded, in-flight jobs run on, all recover', async () => {
    const [a, b] = await cluster(2, { limit: 5 });
    await a!.request({ cmd: 'enqueue', count: 10, ms: 3000 });
    await waitFor(() => a!.events.filter((e) => e.ev === 'perform').length + b!.events.filter((e) => e.ev === 'perform').length >= 8, 'jobs started');
    await ns!.stop();
    const during = await waitFor(async () => {
      const s = await stats(a!);
      return s.health.notifier.status === 'isolated' ? s : undefined;
    }, 'notifier isolated', HARNESS_WAIT_MS, 200);
    expect(during.health.status).toBe('degraded');
    expect(a!.alive && b!.alive).toBe(true);
    // the running performs finish while NATS is down (their outcomes wait for the stream)
    await waitFor(async () => ((await stats(a!)).performed.length + (await stats(b!)).performed.length >= 8 ? true : undefined), 'in-flight jobs finish during the outage', HARNESS_WAIT_MS, 200);
    await ns!.restart();
    const after = await waitFor(async () => {
      const s = await Promise.all([stats(a!), stats(b!)]);
      return s.every((x) => x.states['completed'] === 10 && x.health.status === 'ok' && x.health.notifier.status === 'clustered') ? s : undefined;
    }, 'all completed and healthy again', 60_000, 300);
    for (const s of after) expect(s.effects.every(([, n]) => n === 1) && s.effects.length === 10).toBe(true);
    const performed = after.flatMap((s) => s.performed);
    expect(new Set(performed).size).toBe(10);
  }, 180_000);

  it('ordo jobs list | cancel | pause | resume | retry against running nodes over NATS', async () => {
    const [a, b] = await cluster(2, { limit: 2 });
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), isTTY: false, vars: {} };
    const cli = (...args: string[]) => main(['jobs', ...args, '--nats', ns!.url, '--cluster', clusterName], {}, io);
    const { ids } = (await a!.request({ cmd: 'enqueue', count: 1, ms: 60_000 })) as NodeEvent & { ids: string[] };
    const id = ids[0]!;
    await waitFor(() => [a!, b!].some((n) => n.events.some((e) => e.ev === 'perform' && e.id === id)) || undefined, 'the job runs');
    expect(await cli('list', '--state', 'executing')).toBe(0);
    expect(out.join('')).toContain(id);
    expect(await cli('cancel', id)).toBe(0);
    expect(out.join('')).toMatch(/was executing/);
    const cancelled = await waitFor(async () => {
      const j = ((await a!.request({ cmd: 'job', job: id })) as NodeEvent & { job: { state: string } }).job;
      return j.state === 'cancelled' ? j : undefined;
    }, 'cancelled', HARNESS_WAIT_MS, 100);
    expect(cancelled.state).toBe('cancelled');
    expect(await cli('retry', id)).toBe(0);
    expect(await cli('pause', 'default')).toBe(0);
    await waitFor(async () => ((await stats(b!)).health as unknown as { queues: { default: { paused: boolean } } }).queues.default.paused || undefined, 'paused on the other node', HARNESS_WAIT_MS, 100);
    expect(await cli('resume', 'default')).toBe(0);
    expect(await cli('cancel', 'no-such-job')).toBe(1);
    expect(err.join('')).toMatch(/not_found/);
  }, 120_000);
});
