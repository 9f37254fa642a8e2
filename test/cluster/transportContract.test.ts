/**
 * One contract for the cluster transport, run against the real adapter on a real nats-server
 * (2.9, started by test/harness/) and against the simulated NATS of src/chaos on virtual time.
 * The cases come from NATS's documented behaviour (nats.js `@nats-io/kv` / `@nats-io/jetstream`
 * 3.x and nats-server 2.9's JetStream), not from the simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRealNatsConnector } from '../../src/env/nats.ts';
import { JS_API_CODES, TransportError, type ClusterTransport, type TransportKvEntry, type TransportKvWatch } from '../../src/env/transport.ts';
import { SimNats } from '../../src/chaos/simNats.ts';
import { Simulation } from '../../src/chaos/simulation.ts';
import { NatsServer, cleanup, waitFor, HARNESS_WAIT_MS } from '../harness/nats.ts';

/** What a case needs from a side: connect, let time pass, restart the server, turn JetStream off. */
interface Side {
  connect(name: string, options?: { reconnect?: boolean }): Promise<ClusterTransport>;
  /** Lets `ms` pass (wall clock on the real server, virtual in simulation). */
  sleep(ms: number): Promise<void>;
  /** Polls `cond` until true (wall clock / virtual). */
  eventually(cond: () => boolean | Promise<boolean>, what: string, ms?: number): Promise<void>;
  /** Stops the server and starts it again with its JetStream data. */
  restart(): Promise<void>;
  /** A second server without JetStream, and a connection to it. */
  connectNoJetStream(name: string): Promise<ClusterTransport>;
  dispose(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const txt = (b: Uint8Array): string => dec.decode(b);

async function realSide(): Promise<Side> {
  const ns = await NatsServer.start();
  let noJs: NatsServer | undefined;
  const opened: ClusterTransport[] = [];
  const connect = async (url: string, name: string, o: { reconnect?: boolean } = {}): Promise<ClusterTransport> => {
    const t = await createRealNatsConnector().connect({ servers: [url], name, reconnectTimeWait: 100, reconnectJitter: 0, maxReconnectAttempts: -1, ...o });
    opened.push(t);
    return t;
  };
  return {
    connect: (name, o) => connect(ns.url, name, o),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    eventually: async (cond, what, ms = HARNESS_WAIT_MS) => void (await waitFor(async () => (await cond()) || undefined, what, ms)),
    restart: () => ns.restart(),
    connectNoJetStream: async (name) => {
      noJs ??= await NatsServer.start({ jetstream: false });
      return connect(noJs.url, name);
    },
    dispose: async () => {
      for (const t of opened) if (!t.isClosed()) await t.close();
      await cleanup(ns, noJs);
    },
  };
}

/** The simulation runs on its own ("autopilot") while the case awaits: virtual time, no wall-clock waits. */
async function simSide(): Promise<Side> {
  const sim = new Simulation({ seed: 42 });
  const nats = new SimNats(sim);
  const noJs = new SimNats(sim, { jetstream: false });
  let running = true;
  const pilot = (async () => {
    while (running) {
      await sim.run(sim.now + 1);
      await new Promise((r) => setImmediate(r));
    }
  })();
  const sleep = (ms: number): Promise<void> => new Promise((r) => sim.clock.setTimeout(() => r(), ms));
  const opts = { servers: ['sim'], reconnectTimeWait: 100, reconnectJitter: 0 };
  return {
    connect: (name, o) => nats.connector().connect({ ...opts, name, ...o }),
    sleep,
    eventually: async (cond, what, ms = 10_000) => {
      const until = sim.now + ms;
      while (!(await cond())) {
        if (sim.now > until) throw new Error(`timed out (virtual ${ms} ms) waiting for ${what}`);
        await sleep(5);
      }
    },
    restart: async () => {
      nats.restart(200);
      await sleep(200);
    },
    connectNoJetStream: (name) => noJs.connector().connect({ ...opts, name }),
    dispose: async () => {
      running = false;
      await pilot;
    },
  };
}

const apiCode = async (p: Promise<unknown>): Promise<number | string | undefined> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof TransportError ? (e.kind === 'api' ? e.apiCode : e.kind) : `untyped: ${String(e)}`),
  );

/** Collects a watch's entries as `op key=value@rev`. */
function collect(w: TransportKvWatch): { seen: string[]; entries: TransportKvEntry[] } {
  const seen: string[] = [];
  const entries: TransportKvEntry[] = [];
  void (async () => {
    for await (const e of w) {
      entries.push(e);
      seen.push(`${e.operation} ${e.key}${e.operation === 'PUT' ? `=${e.string()}` : ''}`);
    }
  })();
  return { seen, entries };
}

let uniq = 0;
const name = (p: string): string => `${p}${++uniq}`;

function contract(label: string, make: () => Promise<Side>): void {
  describe(`cluster transport contract: ${label}`, () => {
    let side: Side;
    let t: ClusterTransport;
    beforeAll(async () => {
      side = await make();
      t = await side.connect('contract');
    });
    afterAll(async () => {
      await side.dispose();
    });

    it('server info: version 2.x, JetStream on, a max payload', () => {
      expect(t.info.version).toMatch(/^2\.\d+\.\d+/);
      expect(t.info.jetstream).toBe(true);
      expect(t.info.maxPayload).toBeGreaterThan(0);
    });

    it('KV: revisions are the bucket stream sequence (shared across keys); get of an absent key is null', async () => {
      const kv = await t.kv(name('rev'));
      expect(await kv.get('nope')).toBeNull();
      const r1 = await kv.put('a', 'one');
      const r2 = await kv.put('b', 'two');
      const r3 = await kv.put('a', 'three');
      expect([r1, r2, r3]).toEqual([1, 2, 3]);
      const e = await kv.get('a');
      expect(e?.string()).toBe('three');
      expect(e?.revision).toBe(3);
      expect(e?.operation).toBe('PUT');
      expect(e?.created).toBeInstanceOf(Date);
      expect((await kv.keys()).sort()).toEqual(['a', 'b']);
    });

    it('KV create is create-if-absent (wrong last sequence otherwise), and succeeds again after a delete or purge', async () => {
      const kv = await t.kv(name('cre'));
      const r = await kv.create('lease', 'me');
      expect(await apiCode(kv.create('lease', 'you'))).toBe(JS_API_CODES.wrongLastSequence);
      await kv.delete('lease');
      const d = await kv.get('lease');
      expect(d?.operation).toBe('DEL');
      expect(d?.revision).toBe(r + 1);
      expect(await kv.create('lease', 'you')).toBe(r + 2);
      await kv.purge('lease');
      expect((await kv.get('lease'))?.operation).toBe('PURGE');
      expect(await kv.keys()).toEqual([]);
      expect(await apiCode(kv.create('lease', 'again'))).toBe('resolved');
    });

    it('KV update and delete check the revision: a stale one is refused with wrong last sequence', async () => {
      const kv = await t.kv(name('cas'));
      const r1 = await kv.create('k', 'v1');
      const r2 = await kv.update('k', 'v2', r1);
      expect(r2).toBeGreaterThan(r1);
      expect(await apiCode(kv.update('k', 'v3', r1))).toBe(JS_API_CODES.wrongLastSequence);
      expect((await kv.get('k'))?.string()).toBe('v2');
      expect(await apiCode(kv.delete('k', { previousRevision: r1 }))).toBe(JS_API_CODES.wrongLastSequence);
      await kv.delete('k', { previousRevision: r2 });
      expect((await kv.get('k'))?.operation).toBe('DEL');
      const err = await kv.update('k', 'x', 999).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransportError);
      expect((err as TransportError).message).toMatch(/wrong last sequence/);
    });

    it('KV history: a history watch gives the last `history` values of a key; purge leaves only its marker', async () => {
      const kv = await t.kv(name('hist'), { history: 3 });
      for (const v of ['1', '2', '3', '4', '5']) await kv.put('h', v);
      const w = await kv.watch({ key: 'h', include: 'history' });
      const c = collect(w);
      await side.eventually(() => c.seen.length >= 3, 'history');
      expect(c.seen).toEqual(['PUT h=3', 'PUT h=4', 'PUT h=5']);
      await kv.purge('h');
      await side.eventually(() => c.seen.length >= 4, 'purge event');
      expect(c.seen[3]).toBe('PURGE h');
      w.stop();
      const w2 = await kv.watch({ key: 'h', include: 'history' });
      const c2 = collect(w2);
      await side.eventually(() => c2.seen.length >= 1, 'history after purge');
      await kv.put('h', 'after');
      await side.eventually(() => c2.seen.length >= 2, 'a put after purge');
      expect(c2.seen).toEqual(['PURGE h', 'PUT h=after']);
      w2.stop();
    });

    it('KV watch: "last" gives each key\'s latest entry (delete markers too) then updates in order; "updates" only new writes; a key filter only that key', async () => {
      const kv = await t.kv(name('watch'));
      await kv.put('a', '1');
      await kv.put('b', '1');
      await kv.put('a', '2');
      await kv.put('c', '1');
      await kv.delete('c');
      const all = collect(await kv.watch({ include: 'last' }));
      const upd = collect(await kv.watch({ include: 'updates' }));
      const onlyB = collect(await kv.watch({ key: 'b', include: 'last' }));
      await side.eventually(() => all.seen.length >= 3 && onlyB.seen.length >= 1, 'initial values').catch((e: unknown) => {
        throw new Error(`${String(e)}: ${JSON.stringify({ all: all.seen, onlyB: onlyB.seen })}`);
      });
      await kv.put('b', '2');
      await kv.put('a', '3');
      await side.eventually(() => all.seen.length >= 5 && upd.seen.length >= 2 && onlyB.seen.length >= 2, 'updates').catch((e: unknown) => {
        throw new Error(`${String(e)}: ${JSON.stringify({ all: all.seen, upd: upd.seen, onlyB: onlyB.seen })}`);
      });
      expect(all.seen).toEqual(['PUT b=1', 'PUT a=2', 'DEL c', 'PUT b=2', 'PUT a=3']);
      expect(all.entries.map((e) => e.revision)).toEqual([...all.entries.map((e) => e.revision)].sort((x, y) => x - y));
      expect(upd.seen).toEqual(['PUT b=2', 'PUT a=3']);
      expect(onlyB.seen).toEqual(['PUT b=1', 'PUT b=2']);
    });

    it('KV bucket TTL (2.9: max_age, no per-key TTL): an entry not rewritten vanishes with no watch event; rewriting keeps it', async () => {
      const bucket = name('ttl');
      // 5 s, not 2: the proof needs the first rewrite round (200 ms sleep, put, get) within one
      // TTL of the watch seeing both puts, and the last rewrite and two reads within one TTL —
      // bounds on a real server's answers on a loaded machine, so the TTL is generous
      const TTL = 5000;
      const kv = await t.kv(bucket, { ttlMs: TTL });
      const w = collect(await kv.watch({ include: 'updates' }));
      // 'kept' is written first, then 'gone'; 'kept' is rewritten every 200 ms until 'gone' has
      // expired. Were the TTL counted from a key's first write, 'kept' (the older) would be gone
      // too by then; it is there with its last value. No bound on how fast a loaded machine gets
      // there: only the last rewrite and the two reads after it must fall within one TTL.
      await kv.put('kept', '0');
      await kv.put('gone', 'x');
      await side.eventually(() => w.seen.length >= 2, 'two puts');
      let rewrites = 0;
      let kept: string | undefined;
      await side.eventually(async () => {
        await side.sleep(200);
        await kv.put('kept', String(++rewrites));
        if ((await kv.get('gone')) !== null) return false;
        kept = (await kv.get('kept'))?.string();
        return true;
      }, "'gone' expired", 30_000);
      expect(kept).toBe(String(rewrites));
      expect(rewrites).toBeGreaterThan(1);
      // a barrier write: the watch delivers in order, so anything the expiry emitted would come before it
      await kv.put('barrier', 'b');
      await side.eventually(() => w.seen.includes('PUT barrier=b'), 'barrier');
      expect(w.seen.filter((s) => s.includes('gone'))).toEqual(['PUT gone=x']);
      expect(w.seen.every((s) => s.startsWith('PUT'))).toBe(true);
      // opening the existing bucket with other options keeps its configuration
      await t.kv(bucket, { ttlMs: 60_000 });
      expect((await t.streams.info(`KV_${bucket}`)).config.maxAgeMs).toBe(TTL);
    });

    it('streams: add is idempotent for the same config; info of a missing stream is stream-not-found; an empty stream is at 0/0', async () => {
      const s = name('S');
      const cfg = { name: s, subjects: [`${s}.>`], maxMsgs: -1, maxAgeMs: 0, duplicateWindowMs: 60_000 };
      const i = await t.streams.add(cfg);
      expect(i.state).toEqual({ firstSeq: 0, lastSeq: 0, messages: 0 });
      await t.streams.add(cfg);
      expect(await apiCode(t.streams.info(name('missing')))).toBe(JS_API_CODES.streamNotFound);
      expect(await apiCode(t.streams.add({ name: name('R'), subjects: [`${name('r')}.x`], replicas: 3 }))).toBe(JS_API_CODES.replicasNotSupported);
      expect(await apiCode(t.publish(`${name('nostream')}.x`, enc.encode('x')))).toBe('no_responders');
    });

    it('stream publish: sequences, Nats-Msg-Id dedupe within the window (acked as a duplicate of the first), expectations refused with wrong last sequence', async () => {
      const s = name('P');
      await t.streams.add({ name: s, subjects: [`${s}.>`], duplicateWindowMs: 60_000 });
      const a1 = await t.publish(`${s}.a`, enc.encode('1'), { msgID: 'm1' });
      const dup = await t.publish(`${s}.a`, enc.encode('1 again'), { msgID: 'm1' });
      expect(a1).toEqual({ stream: s, seq: 1, duplicate: false });
      expect(dup).toEqual({ stream: s, seq: 1, duplicate: true });
      expect((await t.streams.info(s)).state.messages).toBe(1);
      await t.publish(`${s}.b`, enc.encode('2'), { expect: { lastSequence: 1 } });
      const wrong = await t.publish(`${s}.b`, enc.encode('3'), { expect: { lastSequence: 1 } }).catch((e: unknown) => e as TransportError);
      expect(wrong).toBeInstanceOf(TransportError);
      expect((wrong as TransportError).apiCode).toBe(JS_API_CODES.wrongLastSequence);
      expect((wrong as TransportError).message).toMatch(/wrong last sequence: 2/);
      await t.publish(`${s}.a`, enc.encode('3'), { expect: { lastSubjectSequence: 1 } });
      expect(await apiCode(t.publish(`${s}.a`, enc.encode('4'), { expect: { lastSubjectSequence: 1 } }))).toBe(JS_API_CODES.wrongLastSequence);
      // a duplicate is acked before any expectation is checked
      expect(await t.publish(`${s}.a`, enc.encode('1'), { msgID: 'm1', expect: { lastSequence: 0 } })).toEqual({ stream: s, seq: 1, duplicate: true });
      expect((await t.streams.lastBySubject(s, `${s}.a`))?.seq).toBe(3);
      expect((await t.streams.lastBySubject(s, `${s}.>`))?.seq).toBe(3);
      expect(await t.streams.lastBySubject(s, `${s}.zzz`)).toBeNull();
      const m = await t.streams.lastBySubject(s, `${s}.b`);
      expect(m && txt(m.data)).toBe('2');
    });

    it('stream limits: max_msgs drops the oldest (first sequence moves); update changes a limit', async () => {
      const s = name('L');
      await t.streams.add({ name: s, subjects: [`${s}.>`], maxMsgs: 3 });
      for (let i = 1; i <= 5; i++) await t.publish(`${s}.x`, enc.encode(String(i)));
      expect((await t.streams.info(s)).state).toEqual({ firstSeq: 3, lastSeq: 5, messages: 3 });
      const u = await t.streams.update(s, { maxMsgs: 10 });
      expect(u.config.maxMsgs).toBe(10);
    });

    it('ordered consumer: every message in order from the start or from a sequence, then new ones; the msg id header is on the message', async () => {
      const s = name('C');
      await t.streams.add({ name: s, subjects: [`${s}.>`] });
      for (let i = 1; i <= 3; i++) await t.publish(`${s}.x`, enc.encode(String(i)), { msgID: `id${i}` });
      const read = async (startSeq: number | undefined, n: number, publishMore: boolean): Promise<string[]> => {
        const c = await t.consume(s, { ...(startSeq !== undefined ? { startSeq } : {}), expiresMs: 2000 });
        const out: string[] = [];
        const done = (async () => {
          for await (const m of c) {
            out.push(`${m.seq}:${txt(m.data)}:${m.headers?.get('Nats-Msg-Id') ?? ''}`);
            if (out.length >= n) break;
          }
        })();
        if (publishMore) await t.publish(`${s}.x`, enc.encode('4'), { msgID: 'id4' });
        await side.eventually(() => out.length >= n, 'messages');
        await done;
        await c.close();
        return out;
      };
      expect(await read(undefined, 3, false)).toEqual(['1:1:id1', '2:2:id2', '3:3:id3']);
      expect(await read(2, 3, true)).toEqual(['2:2:id2', '3:3:id3', '4:4:id4']);
    });

    it('object store: a blob larger than a chunk round-trips; absent or deleted is null', async () => {
      const os = await t.objectStore(name('obj'), { ttlMs: 60_000 });
      const big = new Uint8Array(300_000).map((_, i) => i % 251);
      await os.putBlob('snap', big, { maxChunkSize: 64 * 1024 });
      expect(await os.getBlob('snap')).toEqual(big);
      expect(await os.getBlob('none')).toBeNull();
      await os.delete('snap');
      expect(await os.getBlob('snap')).toBeNull();
    });

    it('core: a queue group answers a request once; no subscriber is no responders; a silent one times out; plain subscribers each get a publish', async () => {
      const other = await side.connect('contract-peer');
      const subj = name('svc');
      const answered: string[] = [];
      const subs = ['x', 'y'].map((who) =>
        other.subscribe(subj, { queue: 'q' }, (m) => {
          answered.push(who);
          m.respond(enc.encode(`${who}:${txt(m.data)}`));
        }),
      );
      await other.flush(); // the subscriptions reached the server
      const r = await t.request(subj, enc.encode('hi'), { timeoutMs: 2000 });
      expect(txt(r.data)).toMatch(/^[xy]:hi$/);
      expect(answered).toHaveLength(1);
      expect(await apiCode(t.request(name('nobody'), enc.encode(''), { timeoutMs: 2000 }))).toBe('no_responders');
      const silent = name('silent');
      const s3 = other.subscribe(silent, {}, () => undefined);
      await other.flush();
      expect(await apiCode(t.request(silent, enc.encode(''), { timeoutMs: 300 }))).toBe('timeout');
      const fan = name('fan');
      const got: string[] = [];
      const f1 = other.subscribe(fan, {}, (m) => got.push(`1:${txt(m.data)}`));
      const f2 = t.subscribe(fan, {}, (m) => got.push(`2:${txt(m.data)}`));
      await Promise.all([other.flush(), t.flush()]);
      t.publishCore(fan, enc.encode('n'));
      await side.eventually(() => got.length >= 2, 'fan-out');
      expect(got.sort()).toEqual(['1:n', '2:n']);
      for (const s of [...subs, s3, f1, f2]) s.unsubscribe();
      await other.close();
      expect(other.isClosed()).toBe(true);
    });

    it('flush: a round trip — a subscriber that flushed gets a publish sent from another connection right after, and none after it unsubscribed and flushed; refused "closed" once closed', async () => {
      const sub = await side.connect('flusher');
      const subj = name('fl');
      const got: string[] = [];
      const s1 = sub.subscribe(subj, {}, (m) => got.push(txt(m.data)));
      await sub.flush();
      t.publishCore(subj, enc.encode('one'));
      await t.flush();
      // what the server routed before the subscriber's next PONG is delivered before it
      await sub.flush();
      expect(got).toEqual(['one']);
      s1.unsubscribe();
      await sub.flush();
      t.publishCore(subj, enc.encode('two'));
      await t.flush();
      await sub.flush();
      expect(got).toEqual(['one']);
      await sub.close();
      expect(await apiCode(sub.flush())).toBe('closed');
    });

    it('reconnect disabled: a server restart closes the client — disconnect, no reconnect, closed() with no error (an EOF), every later call refused "closed"', async () => {
      const c = await side.connect('once', { reconnect: false });
      const events: string[] = [];
      c.onStatus((s) => events.push(s.type));
      const closed = c.closed();
      await side.restart();
      expect(await closed).toBeUndefined();
      expect(c.isClosed()).toBe(true);
      expect(events).toContain('disconnect');
      expect(events).not.toContain('reconnect');
      const thrown = ((): unknown => {
        try {
          c.publishCore('x', enc.encode(''));
          return 'no throw';
        } catch (e) {
          return e;
        }
      })();
      expect(thrown instanceof TransportError && thrown.kind).toBe('closed');
      expect(await apiCode(c.request('x', enc.encode(''), { timeoutMs: 500 }))).toBe('closed');
      expect(await apiCode(c.kv(name('gone')))).toBe('closed');
      expect(await apiCode(c.flush())).toBe('closed');
    });

    it('a server restart: the client reports disconnect then reconnect; JetStream data survives; a watch resumes with what was written after', async () => {
      const c = await side.connect('restarter');
      const events: string[] = [];
      c.onStatus((s) => events.push(s.type));
      const kv = await c.kv(name('rs'));
      await kv.put('k', 'before');
      const w = collect(await kv.watch({ include: 'last' }));
      await side.eventually(() => w.seen.length >= 1, 'initial');
      await side.restart();
      await side.eventually(() => events.includes('reconnect'), 'reconnect', 30_000);
      expect(events.indexOf('disconnect')).toBeGreaterThanOrEqual(0);
      expect(events.indexOf('disconnect')).toBeLessThan(events.indexOf('reconnect'));
      await side.eventually(async () => (await kv.get('k').catch(() => null))?.string() === 'before', 'data after restart', 30_000);
      await side.eventually(async () => (await kv.put('k', 'after').then(() => true, () => false)), 'a put after restart', 30_000);
      await side.eventually(() => w.seen.includes('PUT k=after'), 'watch resumed', 30_000);
      expect(w.seen[0]).toBe('PUT k=before');
      await c.close();
    });

    it('JetStream disabled: the check and a bucket are refused with a typed transport error', async () => {
      const c = await side.connectNoJetStream('nojs');
      expect(c.info.jetstream).toBe(false);
      const e1 = await c.checkJetStream(1000).catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(TransportError);
      const e2 = await c.kv(name('nojs'), { timeoutMs: 1000 }).catch((e: unknown) => e);
      expect(e2).toBeInstanceOf(TransportError);
      await c.close();
    });
  });
}

contract('real nats-server', realSide);
contract('simulated NATS', simSide);
