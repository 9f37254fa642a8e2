/**
 * The simulated NATS's fault controls (what the contract suite cannot ask of a real server
 * without a proxy): partitions, drops, duplicates, JetStream outages, and determinism.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Simulation } from '../../src/chaos/simulation.ts';
import { SimNats } from '../../src/chaos/simNats.ts';
import { _setFaultHook } from '../../src/env/faults.ts';
import { TransportError, type ClusterTransport } from '../../src/env/transport.ts';

const enc = new TextEncoder();

async function settle<T>(sim: Simulation, p: Promise<T>, maxMs = 30_000): Promise<T> {
  let done = false;
  const r = p.then((v) => ((done = true), { ok: true as const, v }), (e: unknown) => ((done = true), { ok: false as const, e }));
  const end = sim.now + maxMs;
  while (!done && sim.now < end) await sim.run(sim.now + 1);
  const x = await r;
  if (!x.ok) throw x.e;
  return x.v;
}

const kind = (e: unknown): string => (e instanceof TransportError ? e.kind : 'untyped');

async function setup(seed = 1): Promise<{ sim: Simulation; nats: SimNats; a: ClusterTransport; b: ClusterTransport; events: string[] }> {
  const sim = new Simulation({ seed });
  const nats = new SimNats(sim);
  const events: string[] = [];
  const a = await settle(sim, nats.connector().connect({ servers: ['sim'], name: 'a', reconnectTimeWait: 100, reconnectJitter: 0 }));
  const b = await settle(sim, nats.connector().connect({ servers: ['sim'], name: 'b', reconnectTimeWait: 100, reconnectJitter: 0 }));
  a.onStatus((s) => events.push(`a:${s.type}`));
  b.onStatus((s) => events.push(`b:${s.type}`));
  return { sim, nats, a, b, events };
}

describe('simulated NATS: faults', () => {
  it('a partitioned client sees disconnect; its requests time out; the other client is unaffected; after the heal it reconnects and its buffered write lands once', async () => {
    const { sim, nats, a, b, events } = await setup();
    const kvA = await settle(sim, a.kv('p'));
    const kvB = await settle(sim, b.kv('p'));
    await settle(sim, kvA.put('k', 'v1'));
    nats.partition('a');
    expect(events).toEqual(['a:disconnect', 'a:reconnecting']);
    expect(kind(await settle(sim, kvA.get('k')).catch((e: unknown) => e))).toBe('timeout');
    expect((await settle(sim, kvB.get('k')))?.string()).toBe('v1');
    // a write sent while cut off waits in the reconnect buffer (nats.js) — and times out meanwhile
    const late = kvA.put('k', 'v2').catch((e: unknown) => e);
    nats.heal('a');
    await settle(sim, late);
    await sim.run(sim.now + 500);
    expect(events).toContain('a:reconnect');
    expect((await settle(sim, kvB.get('k')))?.string()).toBe('v2');
  });

  it('JetStream unavailable (core NATS up): JetStream requests get no responders; core request/reply still works', async () => {
    const { sim, nats, a, b } = await setup();
    b.subscribe('svc', {}, (m) => m.respond(enc.encode('pong')));
    await sim.run(sim.now + 10);
    nats.setJetStream(false);
    expect(kind(await settle(sim, a.kv('x')).catch((e: unknown) => e))).toBe('no_responders');
    expect(new TextDecoder().decode((await settle(sim, a.request('svc', enc.encode('ping'), { timeoutMs: 500 }))).data)).toBe('pong');
    nats.setJetStream(true);
    await settle(sim, a.kv('x'));
  });

  it('nats.drop loses a message (the request times out); nats.duplicate delivers a publish twice and the msg id dedupes it', async () => {
    const { sim, a } = await setup();
    await settle(sim, a.streams.add({ name: 'S', subjects: ['s.>'] }));
    let drop = false;
    let dup = false;
    const prev = _setFaultHook({ point: (n) => (n === 'nats.drop' ? drop : n === 'nats.duplicate' ? dup : false), delayMs: () => 0 });
    try {
      drop = true;
      expect(kind(await settle(sim, a.publish('s.x', enc.encode('1'), { timeoutMs: 200 })).catch((e: unknown) => e))).toBe('timeout');
      drop = false;
      dup = true;
      expect(await settle(sim, a.publish('s.x', enc.encode('2'), { msgID: 'id2' }))).toEqual({ stream: 'S', seq: 1, duplicate: false });
      await sim.run(sim.now + 10);
      dup = false;
      expect((await settle(sim, a.streams.info('S'))).state.messages).toBe(1);
      // without a msg id the duplicate is stored twice (what dedupe protects against)
      dup = true;
      await settle(sim, a.publish('s.x', enc.encode('3')));
      await sim.run(sim.now + 10);
      dup = false;
      expect((await settle(sim, a.streams.info('S'))).state.messages).toBe(3);
    } finally {
      _setFaultHook(prev);
    }
  });

  it('a subscription reaches the server one link latency later: a publish from another connection sent at once misses it, one sent after the subscriber flushed gets it', async () => {
    const { sim, a, b } = await setup();
    const got: string[] = [];
    b.subscribe('early', {}, (m) => got.push(new TextDecoder().decode(m.data)));
    a.publishCore('early', enc.encode('too soon'));
    await sim.run(sim.now + 50);
    expect(got).toEqual([]);
    await settle(sim, b.flush());
    a.publishCore('early', enc.encode('after flush'));
    await sim.run(sim.now + 50);
    expect(got).toEqual(['after flush']);
  });

  it('reconnect disabled: a partition (a reset) closes the client with a closed TransportError; a flush waiting for its PONG is rejected', async () => {
    const { sim, nats } = await setup();
    const c = await settle(sim, nats.connector().connect({ servers: ['sim'], name: 'c', reconnect: false }));
    const closed = c.closed();
    const pending = c.flush().catch((e: unknown) => e);
    nats.partition('c');
    const e = await closed;
    expect(e).toBeInstanceOf(TransportError);
    expect((e as TransportError).kind).toBe('closed');
    expect(kind(await pending)).toBe('other');
    expect(c.isClosed()).toBe(true);
  });

  it('the same seed gives the same decisions and trace; another seed may order differently', async () => {
    const run = async (seed: number): Promise<string> => {
      const { sim, a, b } = await setup(seed);
      const ka = await settle(sim, a.kv('d'));
      const kb = await settle(sim, b.kv('d'));
      const w: string[] = [];
      void (async () => {
        for await (const e of await settle(sim, ka.watch({ include: 'updates' }))) w.push(`${e.key}=${e.string()}@${e.revision}`);
      })();
      await settle(sim, Promise.all([ka.put('x', 'a'), kb.put('x', 'b'), ka.create('y', 'a').catch(() => 0), kb.create('y', 'b').catch(() => 0)]));
      await sim.run(sim.now + 50);
      return JSON.stringify({ w, d: sim.decisions });
    };
    expect(await run(9)).toBe(await run(9));
  });
});

describe('a 3-node cluster on the simulator', () => {
  it('discovery + election of 3 nodes over the simulated NATS: the same seed gives the same decisions, leader and token (a partition and a heal included)', async () => {
    const { discoveryMachine } = await import('../../src/cluster/discovery.ts');
    const { electionMachine } = await import('../../src/cluster/election.ts');
    const { createActor } = await import('xstate');
    const run = async (seed: number): Promise<string> => {
      const sim = new Simulation({ seed });
      const nats = new SimNats(sim);
      const env = sim.createEnv({ nats: nats.connector() });
      const start = (m: Parameters<typeof createActor>[0], input: unknown) => {
        const a = createActor(m, { input, clock: env.clock } as never);
        a.start();
        return a;
      };
      const leads: Array<{ isLeader(): boolean; term(): { node: string; token: number } | undefined }> = [];
      for (const n of ['n1', 'n2', 'n3']) {
        const d = start(discoveryMachine, { env, config: { cluster: 'det', nodeName: n, nats: { servers: ['nats://sim.invalid:4222'], reconnect: { waitMs: 100, jitterMs: 50 } }, heartbeatMs: 200, ttlMs: 1000 } });
        while (!d.getSnapshot().hasTag('ready')) await sim.run(sim.now + 5);
        const e = start(electionMachine, { env, cluster: d.getSnapshot().context.service, config: { leaseTtlMs: 1200 } });
        while (!e.getSnapshot().hasTag('ready')) await sim.run(sim.now + 5);
        leads.push(e.getSnapshot().context.service as (typeof leads)[number]);
      }
      await sim.run(sim.now + 3000);
      const first = leads.find((l) => l.isLeader())?.term();
      nats.partition(`ordo:${first?.node}`);
      await sim.run(sim.now + 5000);
      nats.heal();
      await sim.run(sim.now + 5000);
      const after = leads.filter((l) => l.isLeader()).map((l) => l.term());
      return JSON.stringify({ first, after, steps: sim.steps, decisions: sim.decisions.length, trace: sim.trace.length, h: createHash('sha256').update(sim.decisions.join('|')).update(JSON.stringify(sim.trace)).digest('hex') });
    };
    const one = await run(5);
    expect(await run(5)).toBe(one);
    const parsed = JSON.parse(one) as { first?: { node: string }; after: Array<{ node: string; token: number }> };
    expect(parsed.after).toHaveLength(1);
    expect(parsed.after[0]!.node).not.toBe(parsed.first?.node); // the partitioned leader lost the lease
  });
});
