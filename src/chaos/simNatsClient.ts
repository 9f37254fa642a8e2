/** The simulated NATS's client connection (see {@link SimNats}). */
import type { NatsConnectOptions } from '../env/nats.ts';
import { faults } from '../env/faults.ts';
import type { TimerHandle } from '../env/clock.ts';
import {
  TransportError,
  type ClusterTransport,
  type ConsumerStatus,
  type CoreMsg,
  type JsPublishOptions,
  type KvWatchInclude,
  type PubAckInfo,
  type StreamConsumer,
  type StreamMsg,
  type TransportObjectStore,
  type TransportServerInfo,
  type TransportStatus,
} from '../env/transport.ts';
import type { Random } from '../env/random.ts';
import { subjectMatches, type SimStoredMsg, type SimStream } from './simNatsStreams.ts';
import { simKvBucket } from './simNatsKv.ts';
import { Pipe } from './simNatsPipe.ts';
import type { Link, ServerPush, SimNats } from './simNats.ts';

const NO_HEADERS = new Map<string, string>();
const dec = new TextDecoder();

const toStreamMsg = (m: SimStoredMsg): StreamMsg & { time: number; header(name: string): string | undefined } => ({
  subject: m.subject,
  data: m.data,
  seq: m.seq,
  time: m.time,
  headers: m.headers.size === 0 ? undefined : { get: (k) => m.headers.get(k) ?? '', has: (k) => m.headers.has(k) },
  header: (k) => m.headers.get(k),
});

/** A simulated client connection: the {@link ClusterTransport} a node uses. @internal */
export class SimClient implements ClusterTransport {
  readonly info: TransportServerInfo;
  readonly nc = undefined;
  /** Core subscriptions; `live` once the server has the SUB (a round trip: {@link flush}). */
  readonly subs = new Map<number, { subject: string; queue: string | undefined; live: boolean; cb: (m: CoreMsg) => void }>();
  readonly streams: ClusterTransport['streams'];
  private state: 'connected' | 'disconnected' | 'closed' = 'connected';
  /** Messages sent while disconnected (nats.js's reconnect buffer), flushed on reconnect. */
  private outbox: Array<() => void> = [];
  private readonly upLink: Link = { at: 0, queue: [] };
  private readonly downLink: Link = { at: 0, queue: [] };
  private readonly listeners = new Set<(s: TransportStatus) => void>();
  private readonly onClosed: Array<(e: Error | undefined) => void> = [];
  /** Flushes waiting for their PONG. */
  private readonly pongs = new Set<(e: TransportError | undefined) => void>();
  /** Client side of each push: resumed (re-created at its next sequence) on reconnect. */
  private readonly consumers = new Set<{ resume(): void; lost(): void; end(): void }>();
  private subId = 0;
  private epoch = 0;
  private reconnectTimer: TimerHandle | undefined;

  readonly srv: SimNats;
  readonly name: string;
  private readonly opts: NatsConnectOptions;
  private readonly rnd: Random;
  /** The node that opened it (multi-node runs). */
  readonly owner: string | undefined;
  constructor(server: SimNats, name: string, opts: NatsConnectOptions, rnd: Random, owner?: string) {
    this.srv = server;
    this.name = name;
    this.owner = owner;
    this.opts = opts;
    this.rnd = rnd;
    this.info = server.info;
    const req = this.jsRequest.bind(this);
    const js = server.js;
    this.streams = {
      add: (c) => req('stream.add', 5000, () => {
        const s = js.add(c);
        server.watchStream(s);
        return s.info(this.now());
      }),
      info: (s) => req('stream.info', 5000, () => js.get(s).info(this.now())),
      update: (s, p) => req('stream.update', 5000, () => js.update(s, p).info(this.now())),
      lastBySubject: (s, subject) => req('stream.msg.get', 5000, () => {
        const m = js.get(s).lastOn(subject, this.now());
        return m ? toStreamMsg(m) : null;
      }),
    };
  }

  private now(): number {
    return this.srv.sim.now;
  }

  /** @internal Reachable and connected: the server routes to it. */
  connectedToServer(): boolean {
    return this.state === 'connected' && this.srv.reachable(this.name, this.owner);
  }

  /** @internal Sends to the server (buffered while disconnected; lost on arrival if cut off). */
  up(label: string, fn: () => void, duplicate = false): void {
    if (this.state === 'closed') return;
    const go = (): void => {
      if (faults.point('nats.drop', this.name)) return;
      const epoch = this.epoch;
      const arrive = (): void => {
        if (epoch === this.epoch && this.connectedToServer()) fn();
      };
      this.srv.send(this.upLink, this.name, `nats:${this.name}>${label}`, arrive);
      if (duplicate && faults.point('nats.duplicate', this.name)) this.srv.send(this.upLink, this.name, `nats:${this.name}>${label}:dup`, arrive);
    };
    if (this.state === 'disconnected') this.outbox.push(go);
    else go();
  }

  /** @internal Sends from the server to this client (lost if the connection dropped meanwhile). */
  down(label: string, fn: () => void): void {
    if (!this.connectedToServer()) return;
    const epoch = this.epoch;
    this.srv.send(this.downLink, this.name, `nats:${this.name}<${label}`, () => {
      if (epoch === this.epoch && this.state === 'connected') fn();
    });
  }

  /**
   * @internal The connection dropped: `eof` (the server closed it: a restart) or `reset` (a
   * partition). Disconnect, then reconnect attempts; with `reconnect: false` closed at once, as
   * nats.js does — `closed()` resolves with nothing after an EOF (checked on a real 2.9 server)
   * and with a `closed` {@link TransportError} after a reset.
   */
  lost(how: 'eof' | 'reset'): void {
    if (this.state !== 'connected') return;
    this.state = 'disconnected';
    this.epoch++;
    for (const s of this.subs.values()) s.live = false;
    for (const p of this.srv.pushes) if (p.client === this) p.active = false;
    for (const c of this.consumers) c.lost();
    this.emit({ type: 'disconnect', server: 'sim:4222' });
    // nats.js rejects the PONGs it waits for when the connection drops (RequestError "connection disconnected")
    this.settlePongs(new TransportError('connection disconnected', { kind: 'other', subject: this.name }));
    if (this.opts.reconnect === false) {
      return this.finish(how === 'eof' ? undefined : new TransportError(`connection to sim:4222 lost (${how}); reconnect disabled`, { kind: 'closed', subject: this.name }));
    }
    this.emit({ type: 'reconnecting' });
    this.scheduleReconnect();
  }

  private settlePongs(e: TransportError | undefined): void {
    const waiting = [...this.pongs];
    this.pongs.clear();
    for (const p of waiting) p(e);
  }

  private scheduleReconnect(): void {
    const wait = (this.opts.reconnectTimeWait ?? 2000) + Math.floor(this.rnd.next() * (this.opts.reconnectJitter ?? 100));
    this.reconnectTimer = this.srv.sim.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.state !== 'disconnected') return;
      if (!this.srv.reachable(this.name, this.owner)) return this.scheduleReconnect();
      this.state = 'connected';
      // nats.js sends every subscription first thing on a new connection
      for (const s of this.subs.values()) s.live = true;
      // a flush asked for while disconnected is rejected at the next dial (nats.js resets its outbound)
      this.settlePongs(new TransportError('connection disconnected', { kind: 'other', subject: this.name }));
      this.emit({ type: 'reconnect', server: 'sim:4222' });
      const out = this.outbox;
      this.outbox = [];
      for (const go of out) go();
      for (const c of this.consumers) c.resume();
    }, wait);
  }

  private emit(s: TransportStatus): void {
    this.srv.sim.record('nats.status', { client: this.name, status: s.type });
    for (const l of [...this.listeners]) l(s);
  }

  private finish(e: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.epoch++;
    this.srv.sim.clock.clearTimeout(this.reconnectTimer);
    this.srv.clients.delete(this);
    for (const p of [...this.srv.pushes]) if (p.client === this) this.srv.pushes.delete(p);
    for (const c of [...this.consumers]) c.end();
    this.subs.clear();
    this.outbox = [];
    this.settlePongs(new TransportError('connection closed', { kind: 'closed', subject: this.name }));
    for (const r of this.onClosed.splice(0)) r(e);
  }

  onStatus(l: (s: TransportStatus) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  closed(): Promise<Error | undefined> {
    if (this.state === 'closed') return Promise.resolve(undefined);
    return new Promise((r) => this.onClosed.push(r));
  }
  isClosed(): boolean {
    return this.state === 'closed';
  }
  async drain(): Promise<void> {
    this.finish(undefined);
  }
  async close(): Promise<void> {
    this.finish(undefined);
  }
  /**
   * A PING/PONG round trip (nats.js `flush()`): the PING goes up behind everything this client
   * sent before (in order on its link: subscriptions included), the PONG comes down behind
   * everything the server sent it before. Rejected `closed` when the connection is closed,
   * `other` when it drops first.
   */
  flush(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new TransportError('connection closed', { kind: 'closed', subject: this.name }));
    return new Promise<void>((resolve, reject) => {
      const settle = (e: TransportError | undefined): void => (e ? reject(e) : resolve());
      this.pongs.add(settle);
      this.up('ping', () =>
        this.down('pong', () => {
          if (this.pongs.delete(settle)) settle(undefined);
        }),
      );
    });
  }
  /**
   * A request to the server answered by `work` on arrival (an error it throws is the answer);
   * times out after `timeoutMs` (also when the connection is down: the request waits in the
   * reconnect buffer). JetStream requests get no responders while JetStream is unavailable.
   */
  private call<T>(label: string, timeoutMs: number, work: () => T, opts: { jetstream: boolean; duplicate?: boolean }): Promise<T> {
    if (this.state === 'closed') return Promise.reject(new TransportError('connection closed', { kind: 'closed', subject: label }));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = this.srv.sim.clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new TransportError(`request ${label} timed out after ${timeoutMs} ms`, { kind: 'timeout', subject: label }));
      }, timeoutMs);
      const answer = (r: { ok: true; v: T } | { ok: false; e: unknown }): void =>
        this.down(`re:${label}`, () => {
          if (settled) return;
          settled = true;
          this.srv.sim.clock.clearTimeout(timer);
          if (r.ok) resolve(r.v);
          else reject(r.e);
        });
      this.up(label, () => {
        if (opts.jetstream && !this.srv.jetstreamReady) return answer({ ok: false, e: new TransportError(`no responders for ${label} (JetStream unavailable)`, { kind: 'no_responders', subject: label }) });
        try {
          answer({ ok: true, v: work() });
        } catch (e) {
          answer({ ok: false, e });
        }
      }, opts.duplicate ?? false);
    });
  }

  private jsRequest<T>(label: string, timeoutMs: number, work: () => T): Promise<T> {
    return this.call(label, timeoutMs, work, { jetstream: true });
  }

  server(): string {
    return 'sim:4222';
  }

  checkJetStream(timeoutMs: number): Promise<void> {
    if (!this.info.jetstream) return Promise.reject(new TransportError('JetStream not enabled', { kind: 'no_responders' }));
    return this.jsRequest('$JS.API.INFO', timeoutMs, () => undefined);
  }

  private ensureStream(name: string, subjects: string[], maxAgeMs: number, replicas: number, extras: { maxMsgsPerSubject?: number; allowRollup?: boolean }): SimStream {
    const js = this.srv.js;
    const have = js.streams.get(name);
    if (have) return have;
    const s = js.add({ name, subjects, maxAgeMs, replicas, maxMsgs: -1, duplicateWindowMs: maxAgeMs > 0 ? Math.min(maxAgeMs, 120_000) : 120_000 }, extras);
    this.srv.watchStream(s);
    return s;
  }

  async kv(bucket: string, o: { ttlMs?: number; history?: number; replicas?: number; timeoutMs?: number } = {}): ReturnType<ClusterTransport['kv']> {
    const timeoutMs = o.timeoutMs ?? 2000;
    await this.jsRequest(`kv.create:${bucket}`, timeoutMs, () => this.ensureStream(`KV_${bucket}`, [`$KV.${bucket}.>`], o.ttlMs ?? 0, o.replicas ?? 1, { maxMsgsPerSubject: o.history ?? 1, allowRollup: true }));
    return simKvBucket(bucket, timeoutMs, {
      publish: async (subject, data, headers, expect, t) =>
        (await this.publishWith(subject, data, headers, expect === undefined ? {} : { expect: { lastSubjectSequence: expect } }, t)).seq,
      last: (stream, subject, t) => this.jsRequest('kv.get', t, () => this.srv.js.get(stream).lastOn(subject, this.now()) ?? null),
      lastPerSubject: (stream, filter, t) =>
        this.jsRequest('kv.keys', t, () => {
          const by = new Map<string, SimStoredMsg>();
          for (const m of this.srv.js.get(stream).from(0, this.now())) if (subjectMatches(filter, m.subject)) by.set(m.subject, m);
          return [...by.values()].sort((a, b) => a.seq - b.seq);
        }),
      watch: (stream, filter, include, t) => this.push(stream, filter, include, t),
    });
  }

  async objectStore(bucket: string, o: { ttlMs?: number; replicas?: number } = {}): Promise<TransportObjectStore> {
    const ttl = o.ttlMs ?? 0;
    await this.jsRequest(`obj.create:${bucket}`, 5000, () => this.ensureStream(`OBJ_${bucket}`, [`$O.${bucket}.>`], ttl, o.replicas ?? 1, {}));
    const blobs = (): Map<string, { data: Uint8Array; time: number }> => {
      let b = this.srv.blobs.get(bucket);
      if (!b) this.srv.blobs.set(bucket, (b = new Map()));
      for (const [k, v] of b) if (ttl > 0 && v.time + ttl <= this.now()) b.delete(k);
      return b;
    };
    return {
      putBlob: (name, data) => this.jsRequest(`obj.put:${bucket}`, 5000, () => void blobs().set(name, { data: data.slice(), time: this.now() })),
      getBlob: (name) => this.jsRequest(`obj.get:${bucket}`, 5000, () => blobs().get(name)?.data.slice() ?? null),
      delete: (name) => this.jsRequest(`obj.del:${bucket}`, 5000, () => void blobs().delete(name)),
    };
  }

  private publishWith(subject: string, data: Uint8Array, headers: ReadonlyMap<string, string>, o: JsPublishOptions, timeoutMs: number): Promise<PubAckInfo> {
    if (data.length > this.info.maxPayload) return Promise.reject(new TransportError('MAX_PAYLOAD_EXCEEDED', { kind: 'other', subject }));
    return this.call(`pub:${subject}`, timeoutMs, () => {
      const s = this.srv.js.capturing(subject);
      if (!s) throw new TransportError(`no responders for ${subject} (no stream)`, { kind: 'no_responders', subject });
      return s.store(subject, data, headers, o, this.now());
    }, { jetstream: true, duplicate: true });
  }

  publish(subject: string, data: Uint8Array, o: JsPublishOptions = {}): Promise<PubAckInfo> {
    return this.publishWith(subject, data, NO_HEADERS, o, o.timeoutMs ?? 5000);
  }

  /** A server push of `stream`'s messages matching `filter`, resumed at its next sequence after a reconnect. */
  private async push(stream: string, filter: string, include: KvWatchInclude | 'all' | { startSeq: number }, timeoutMs: number): Promise<{ messages: Pipe<ReturnType<typeof toStreamMsg>>; stop(): void; missed: Pipe<ConsumerStatus>; heartbeatMs: number }> {
    const pipe = new Pipe<ReturnType<typeof toStreamMsg>>();
    const missed = new Pipe<ConsumerStatus>();
    let next = 0;
    let sp: ServerPush | undefined;
    const deliver = (m: SimStoredMsg): void =>
      this.down(`push:${stream}`, () => {
        if (m.seq < next) return; // an ordered consumer drops what it has seen
        next = m.seq + 1;
        pipe.push(toStreamMsg(m));
      });
    const open = (from: number | undefined): SimStoredMsg[] => {
      const s = this.srv.js.get(stream);
      const now = this.now();
      let backlog: SimStoredMsg[];
      if (from !== undefined) backlog = s.from(from, now);
      else if (include === 'last') {
        const by = new Map<string, SimStoredMsg>();
        for (const m of s.from(0, now)) if (subjectMatches(filter, m.subject)) by.set(m.subject, m);
        backlog = [...by.values()].sort((a, b) => a.seq - b.seq);
      } else if (include === 'updates') backlog = [];
      else if (typeof include === 'object') backlog = s.from(include.startSeq, now);
      else backlog = s.from(0, now);
      backlog = backlog.filter((m) => subjectMatches(filter, m.subject));
      if (sp) this.srv.pushes.delete(sp);
      sp = { client: this, stream: s, filter, cursor: s.lastSeq + 1, active: true, deliver };
      this.srv.pushes.add(sp);
      for (const m of backlog) deliver(m);
      return backlog;
    };
    await this.jsRequest(`consumer.create:${stream}`, timeoutMs, () => void open(undefined));
    let stopped = false;
    const handle = {
      lost: () => undefined,
      resume: () => {
        if (stopped) return;
        // nats.js's ordered consumer re-creates itself at the next sequence it expects
        void this.jsRequest(`consumer.create:${stream}`, timeoutMs, () => void open(next)).catch(() => undefined);
      },
      end: () => {
        stopped = true;
        pipe.end();
        missed.end();
      },
    };
    this.consumers.add(handle);
    return {
      messages: pipe,
      missed,
      heartbeatMs: 0,
      stop: () => {
        stopped = true;
        this.consumers.delete(handle);
        if (sp) this.srv.pushes.delete(sp);
        pipe.end();
        missed.end();
      },
    };
  }

  async consume(stream: string, o: { startSeq?: number; maxMessages?: number; expiresMs?: number } = {}): Promise<StreamConsumer> {
    const p = await this.push(stream, '>', o.startSeq !== undefined ? { startSeq: o.startSeq } : 'all', 5000);
    // Heartbeats every half of the pull expiry: missed while the connection or JetStream is down.
    const hb = Math.max(1, Math.floor((o.expiresMs ?? 30_000) / 2));
    let missed = 0;
    let timer: TimerHandle | undefined;
    const tick = (): void => {
      timer = this.srv.sim.clock.setTimeout(() => {
        if (p.messages.ended) return;
        if (!this.connectedToServer() || !this.srv.jetstreamReady) p.missed.push({ type: 'heartbeats_missed', count: ++missed });
        else missed = 0;
        tick();
      }, hb);
    };
    tick();
    const close = async (): Promise<void> => {
      this.srv.sim.clock.clearTimeout(timer);
      p.stop();
    };
    return {
      status: () => p.missed,
      close,
      [Symbol.asyncIterator]: () => p.messages[Symbol.asyncIterator](),
    };
  }

  subscribe(subject: string, o: { queue?: string }, cb: (m: CoreMsg) => void): { unsubscribe(): void } {
    const id = ++this.subId;
    const sub = { subject, queue: o.queue, live: false, cb: (m: CoreMsg): void => void (this.subs.get(id) === sub && cb(m)) };
    this.subs.set(id, sub);
    // the SUB reaches the server after the latency (in order with what follows on the link)
    this.up(`sub:${subject}`, () => void (sub.live = this.subs.get(id) === sub));
    return { unsubscribe: () => void this.subs.delete(id) };
  }

  publishCore(subject: string, data: Uint8Array): void {
    if (this.state === 'closed') throw new TransportError('connection closed', { kind: 'closed', subject });
    this.up(`pub:${subject}`, () => void this.srv.route(subject, data, undefined));
  }

  request(subject: string, data: Uint8Array, o: { timeoutMs: number }): Promise<CoreMsg> {
    if (this.state === 'closed') return Promise.reject(new TransportError('connection closed', { kind: 'closed', subject }));
    return new Promise<CoreMsg>((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void): void => {
        if (settled) return;
        settled = true;
        this.srv.sim.clock.clearTimeout(timer);
        f();
      };
      const timer = this.srv.sim.clock.setTimeout(() => settle(() => reject(new TransportError(`request ${subject} timed out after ${o.timeoutMs} ms`, { kind: 'timeout', subject }))), o.timeoutMs);
      this.up(`req:${subject}`, () => {
        const n = this.srv.route(subject, data, (d) =>
          this.down(`reply:${subject}`, () => settle(() => resolve({ subject, data: d, json: <T>() => JSON.parse(dec.decode(d)) as T, respond: () => false }))),
        );
        if (n === 0) this.down(`re:${subject}`, () => settle(() => reject(new TransportError(`no responders for ${subject}`, { kind: 'no_responders', subject }))));
      });
    });
  }
}
