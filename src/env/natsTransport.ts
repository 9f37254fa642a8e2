import type { NatsConnection, Status } from '@nats-io/nats-core';
import { RequestError, TimeoutError, ClosedConnectionError, DrainingConnectionError, NoRespondersError } from '@nats-io/nats-core';
import { DeliverPolicy, JetStreamApiError, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg, type PubAck, type StoredMsg } from '@nats-io/jetstream';
import { Kvm, KvWatchInclude, type KV, type KvEntry } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import {
  TransportError,
  type ClusterTransport,
  type ConsumerStatus,
  type CoreMsg,
  type StreamConsumer,
  type StreamMsg,
  type TransportKv,
  type TransportKvEntry,
  type TransportStatus,
  type TransportStreamConfig,
  type TransportStreamInfo,
} from './transport.ts';

const NANOS = 1_000_000;

/**
 * Maps a nats.js failure onto a {@link TransportError}: a timeout, no responders (also when
 * nats.js wrapped it in `JetStreamNotEnabled` — its cause is the `RequestError`), a JetStream API
 * error with its `err_code`, a closed connection, or other. The nats.js error is the `cause`.
 */
export function toTransportError(e: unknown, subject?: string): TransportError {
  if (e instanceof TransportError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const base = { cause: e, ...(subject !== undefined ? { subject } : {}) };
  const c = e instanceof Error ? e.cause : undefined;
  if (e instanceof JetStreamApiError) return new TransportError(msg, { kind: 'api', apiCode: e.code, ...base });
  if (e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders()) || (c instanceof RequestError && c.isNoResponders()) || c instanceof NoRespondersError) {
    return new TransportError(msg, { kind: 'no_responders', ...base });
  }
  if (e instanceof TimeoutError || c instanceof TimeoutError || (e instanceof RequestError && c instanceof TimeoutError)) return new TransportError(msg, { kind: 'timeout', ...base });
  if (e instanceof ClosedConnectionError || e instanceof DrainingConnectionError) return new TransportError(msg, { kind: 'closed', ...base });
  return new TransportError(msg, { kind: 'other', ...base });
}

const wrap = async <T>(subject: string | undefined, p: () => Promise<T>): Promise<T> => {
  try {
    return await p();
  } catch (e) {
    throw toTransportError(e, subject);
  }
};

const enc = new TextEncoder();
const toBytes = (v: string | Uint8Array): Uint8Array => (typeof v === 'string' ? enc.encode(v) : v);

function toStatus(s: Status): TransportStatus | undefined {
  switch (s.type) {
    case 'disconnect':
      return { type: 'disconnect', server: s.server };
    case 'reconnecting':
      return { type: 'reconnecting' };
    case 'reconnect':
      return { type: 'reconnect', server: s.server };
    case 'error':
      return { type: 'error', error: s.error.message };
    case 'ldm':
      return { type: 'ldm', server: s.server };
    case 'staleConnection':
      return { type: 'stale' };
    case 'update':
      return { type: 'update', added: s.added ?? [], deleted: s.deleted ?? [] };
    default:
      return undefined; // ping, slowConsumer, forceReconnect, close (see `closed()`)
  }
}

const entry = (e: KvEntry): TransportKvEntry => e;
const dec = new TextDecoder();

/** A KV entry from the bucket stream's stored message (`KV-Operation` header: DEL / PURGE markers). */
function storedEntry(bucket: string, m: StoredMsg): TransportKvEntry {
  const op = m.header?.get('KV-Operation');
  return {
    key: m.subject.slice(`$KV.${bucket}.`.length),
    value: m.data,
    revision: m.seq,
    created: m.time,
    operation: op === 'DEL' ? 'DEL' : op === 'PURGE' ? 'PURGE' : 'PUT',
    string: () => dec.decode(m.data),
    json: <T>() => JSON.parse(dec.decode(m.data)) as T,
  };
}

/** The JetStream API's "wrong last sequence" (a create whose key exists, an update of a stale revision). */
const WRONG_LAST_SEQUENCE = 10071;

/**
 * Reads and creates go to the **stream leader**, never to a replica: nats.js's `get` (and the
 * delete-marker fallback inside its `create`) use a direct get, which nats-server 2.9 lets any
 * replica answer — and replicas of one R3 bucket can hold different entries at the same
 * revision (a create at the moment its key expires is stored by the replicas that had expired
 * it and refused by the others; docs/cluster.md, *Leases on nats-server 2.9*). A revision read
 * from a replica is then not the one the leader checks an update against.
 */
function kvAdapter(kv: KV, bucket: string, jsm: () => Promise<JetStreamManager>): TransportKv {
  const stream = `KV_${bucket}`;
  const get = async (key: string): Promise<TransportKvEntry | null> => {
    let m: StoredMsg | null;
    try {
      m = await (await jsm()).streams.getMessage(stream, { last_by_subj: `$KV.${bucket}.${key}` });
    } catch (e) {
      if (e instanceof JetStreamApiError && e.code === 10037) return null; // no message
      throw e;
    }
    return m ? storedEntry(bucket, m) : null;
  };
  return {
    get: (key) => wrap(key, () => get(key)),
    put: (key, value) => wrap(key, () => kv.put(key, toBytes(value))),
    create: (key, value) =>
      wrap(key, async () => {
        try {
          return await kv.put(key, toBytes(value), { previousSeq: 0 });
        } catch (e) {
          if (!(e instanceof JetStreamApiError) || e.code !== WRONG_LAST_SEQUENCE) throw e;
          // the key exists: a delete / purge marker counts as absent (as nats.js's create does)
          const cur = await get(key);
          if (cur && cur.operation !== 'PUT') return kv.update(key, toBytes(value), cur.revision);
          throw e;
        }
      }),
    update: (key, value, revision) => wrap(key, () => kv.update(key, toBytes(value), revision)),
    delete: (key, o) => wrap(key, () => kv.delete(key, o?.previousRevision ? { previousSeq: o.previousRevision } : undefined)),
    purge: (key) => wrap(key, () => kv.purge(key)),
    keys: () => wrap(undefined, async () => {
      const out: string[] = [];
      for await (const k of await kv.keys()) out.push(k);
      return out;
    }),
    watch: (o) => wrap(o.key, async () => {
      const include = o.include === 'history' ? KvWatchInclude.AllHistory : o.include === 'updates' ? KvWatchInclude.UpdatesOnly : KvWatchInclude.LastValue;
      const it = await kv.watch({ ...(o.key !== undefined ? { key: o.key } : {}), include });
      return {
        stop: () => it.stop(),
        async *[Symbol.asyncIterator]() {
          for await (const e of it) yield entry(e);
        },
      };
    }),
  };
}

const infoOf = (i: { config: { name: string; subjects?: string[]; max_msgs?: number; max_age?: number; duplicate_window?: number; num_replicas?: number }; state: { first_seq: number; last_seq: number; messages: number } }): TransportStreamInfo => ({
  config: {
    name: i.config.name,
    subjects: i.config.subjects ?? [],
    maxMsgs: i.config.max_msgs ?? -1,
    maxAgeMs: (i.config.max_age ?? 0) / NANOS,
    duplicateWindowMs: (i.config.duplicate_window ?? 0) / NANOS,
    replicas: i.config.num_replicas ?? 1,
  },
  state: { firstSeq: i.state.first_seq, lastSeq: i.state.last_seq, messages: i.state.messages },
});

const toNatsConfig = (c: Partial<TransportStreamConfig>): Record<string, unknown> => {
  const o: Record<string, unknown> = {};
  if (c.name !== undefined) o['name'] = c.name;
  if (c.subjects !== undefined) o['subjects'] = c.subjects;
  if (c.maxMsgs !== undefined) o['max_msgs'] = c.maxMsgs;
  if (c.maxAgeMs !== undefined) o['max_age'] = c.maxAgeMs * NANOS;
  if (c.duplicateWindowMs !== undefined) o['duplicate_window'] = c.duplicateWindowMs * NANOS;
  if (c.replicas !== undefined) o['num_replicas'] = c.replicas;
  return o;
};

const storedMsg = (m: StoredMsg): StreamMsg => ({ subject: m.subject, data: m.data, seq: m.seq, headers: m.header });
const jsMsg = (m: JsMsg): StreamMsg => ({ subject: m.subject, data: m.data, seq: m.info.streamSequence, headers: m.headers });

/**
 * The real {@link ClusterTransport} over a nats.js connection. Every failure is a
 * {@link TransportError} (see {@link toTransportError}).
 *
 * @example
 * // no-run: needs a nats-server
 * import { connect } from '@nats-io/transport-node';
 * import { natsTransport } from './natsTransport.ts';
 *
 * const servers = ['nats://127.0.0.1:4222'];
 * const t = natsTransport(await connect({ servers }));
 * const kv = await t.kv('members', { ttlMs: 10_000 });
 * console.log(kv);
 * await t.close();
 */
export function natsTransport(nc: NatsConnection): ClusterTransport {
  const js = new Map<number, JetStreamClient>();
  const jsFor = (timeout = 5000): JetStreamClient => {
    let c = js.get(timeout);
    if (!c) js.set(timeout, (c = jetstream(nc, { timeout })));
    return c;
  };
  let jsmP: Promise<JetStreamManager> | undefined;
  const jsm = (): Promise<JetStreamManager> => {
    jsmP ??= jetstreamManager(nc, { checkAPI: false });
    return jsmP;
  };
  const jsms = new Map<number, Promise<JetStreamManager>>();
  /** A manager whose requests time out after `timeout` (a bucket's reads keep the bucket's timeout). */
  const jsmFor = (timeout = 5000): Promise<JetStreamManager> => {
    let m = jsms.get(timeout);
    if (!m) jsms.set(timeout, (m = jetstreamManager(nc, { timeout, checkAPI: false })));
    return m;
  };
  const listeners = new Set<(s: TransportStatus) => void>();
  void (async () => {
    for await (const s of nc.status()) {
      const t = toStatus(s);
      if (t) for (const l of [...listeners]) l(t);
    }
  })();
  const info = nc.info;
  return {
    nc,
    info: {
      version: info?.version ?? '',
      jetstream: info?.jetstream === true,
      maxPayload: info?.max_payload ?? 1024 * 1024,
      ...(info?.cluster !== undefined ? { cluster: info.cluster } : {}),
      ...(info?.connect_urls !== undefined ? { connectUrls: info.connect_urls } : {}),
      ...(info?.tls_required !== undefined ? { tlsRequired: info.tls_required } : {}),
    },
    onStatus(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    // nats.js resolves with nothing after a clean close (an EOF from the server included), else
    // with the socket's or the protocol's error: a `closed` TransportError carrying it
    closed: () => nc.closed().then((e) => (e ? new TransportError(`connection closed: ${e.message}`, { kind: 'closed', cause: e }) : undefined)),
    isClosed: () => nc.isClosed(),
    drain: () => nc.drain(),
    close: () => nc.close(),
    flush: () => wrap(undefined, () => nc.flush()),
    server: () => nc.getServer(),
    checkJetStream: (timeoutMs) => wrap(undefined, async () => void (await jetstreamManager(nc, { timeout: timeoutMs }))),
    kv: (bucket, o = {}) =>
      wrap(`KV_${bucket}`, async () => {
        const kvm = new Kvm(jsFor(o.timeoutMs));
        return kvAdapter(await kvm.create(bucket, { history: o.history ?? 1, replicas: o.replicas ?? 1, ...(o.ttlMs ? { ttl: o.ttlMs } : {}), ...(o.timeoutMs ? { timeout: o.timeoutMs } : {}) }), bucket, () => jsmFor(o.timeoutMs));
      }),
    objectStore: (bucket, o = {}) =>
      wrap(`OBJ_${bucket}`, async () => {
        const os = await new Objm(jsFor()).create(bucket, { replicas: o.replicas ?? 1, ...(o.ttlMs ? { ttl: o.ttlMs * NANOS } : {}) });
        return {
          putBlob: (name, data, po) => wrap(name, async () => void (await os.putBlob({ name, ...(po?.maxChunkSize ? { options: { max_chunk_size: po.maxChunkSize } } : {}) }, data))),
          getBlob: (name) => wrap(name, () => os.getBlob(name)),
          delete: (name) => wrap(name, async () => void (await os.delete(name))),
        };
      }),
    streams: {
      add: (c) => wrap(c.name, async () => infoOf(await (await jsm()).streams.add(toNatsConfig(c) as { name: string }))),
      info: (s) => wrap(s, async () => infoOf(await (await jsm()).streams.info(s))),
      update: (s, p) => wrap(s, async () => infoOf(await (await jsm()).streams.update(s, toNatsConfig(p)))),
      lastBySubject: (s, subject) =>
        wrap(s, async () => {
          try {
            const m = await (await jsm()).streams.getMessage(s, { last_by_subj: subject });
            return m ? storedMsg(m) : null;
          } catch (e) {
            if (e instanceof JetStreamApiError && e.code === 10037) return null;
            throw e;
          }
        }),
    },
    publish: (subject, data, o = {}) =>
      wrap(subject, async () => {
        const opts: Record<string, unknown> = {};
        if (o.msgID !== undefined) opts['msgID'] = o.msgID;
        if (o.expect) opts['expect'] = { ...o.expect };
        const ack: PubAck = await jsFor(o.timeoutMs).publish(subject, data, opts);
        return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
      }),
    consume: (stream, o = {}) =>
      wrap(stream, async () => {
        const start = o.startSeq ?? 1;
        const consumer = await jsFor(o.timeoutMs).consumers.get(stream, start > 1 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start } : { deliver_policy: DeliverPolicy.All });
        const messages = await consumer.consume({ max_messages: o.maxMessages ?? 512, ...(o.expiresMs ? { expires: o.expiresMs } : {}) });
        const sc: StreamConsumer = {
          async *status(): AsyncIterable<ConsumerStatus> {
            for await (const s of messages.status()) {
              yield s.type === 'heartbeats_missed' ? { type: 'heartbeats_missed', count: s.count } : { type: 'other', name: s.type };
            }
          },
          close: async () => void (await messages.close()),
          check: async () => void (await consumer.info()),
          // nats.js asks for idle heartbeats at half the pull expiry (30 s pulls: 15 s)
          heartbeatMs: (o.expiresMs ?? 30_000) / 2,
          name: async () => (await consumer.info(true).catch(() => undefined))?.name,
          async *[Symbol.asyncIterator]() {
            for await (const m of messages) yield jsMsg(m);
          },
        };
        return sc;
      }),
    subscribe(subject, o, callback) {
      const sub = nc.subscribe(subject, {
        ...(o.queue !== undefined ? { queue: o.queue } : {}),
        callback: (err, m) => {
          if (err) return;
          callback({ subject: m.subject, data: m.data, json: <T>() => m.json<T>(), respond: (d) => m.respond(d) });
        },
      });
      return { unsubscribe: () => sub.unsubscribe() };
    },
    publishCore(subject, data) {
      try {
        nc.publish(subject, data);
      } catch (e) {
        throw toTransportError(e, subject);
      }
    },
    request: (subject, data, o) =>
      wrap(subject, async () => {
        const m = await nc.request(subject, data, { timeout: o.timeoutMs });
        const r: CoreMsg = { subject: m.subject, data: m.data, json: <T>() => m.json<T>(), respond: () => false };
        return r;
      }),
  };
}
