import { TransportError, entryTime, isWrongLastSequence, type KvWatchInclude, type StreamMsg, type TransportKv, type TransportKvEntry, type TransportKvWatch } from '../env/transport.ts';
import type { SimStoredMsg } from './simNatsStreams.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (v: string | Uint8Array): Uint8Array => (typeof v === 'string' ? enc.encode(v) : v);

/** What the KV client needs from a simulated connection (JetStream requests, as nats.js's `Bucket` uses them). */
export interface SimKvDeps {
  publish(subject: string, data: Uint8Array, headers: ReadonlyMap<string, string>, expectLastSubjectSeq: number | undefined, timeoutMs: number): Promise<number>;
  last(stream: string, subject: string, timeoutMs: number): Promise<SimStoredMsg | null>;
  lastPerSubject(stream: string, filter: string, timeoutMs: number): Promise<SimStoredMsg[]>;
  watch(stream: string, filter: string, include: KvWatchInclude, timeoutMs: number): Promise<{ messages: AsyncIterable<StreamMsg & { time: number; header(name: string): string | undefined }>; stop(): void }>;
}

/** A KV entry from a stored message (`KV-Operation` header: DEL / PURGE markers). */
export function kvEntry(bucket: string, m: { subject: string; data: Uint8Array; seq: number; time: number; header(name: string): string | undefined }): TransportKvEntry {
  const op = m.header('KV-Operation');
  const key = m.subject.slice(`$KV.${bucket}.`.length);
  const value = m.data;
  return {
    key,
    value,
    revision: m.seq,
    created: entryTime(m.time),
    operation: op === 'DEL' ? 'DEL' : op === 'PURGE' ? 'PURGE' : 'PUT',
    string: () => dec.decode(value),
    json: <T>() => JSON.parse(dec.decode(value)) as T,
  };
}

const header = (m: SimStoredMsg) => (name: string): string | undefined => m.headers.get(name);

function validKey(key: string): void {
  if (key === '' || key.startsWith('.') || key.endsWith('.') || key.includes('..') || !/^[-/=.\w]+$/.test(key)) {
    throw new TransportError(`invalid key: ${key}`, { kind: 'other', subject: key });
  }
}

/**
 * A KV bucket over the simulated JetStream, with the client logic of nats.js's `Bucket`
 * (`@nats-io/kv` 3.x): `create` is a publish expecting the key's last sequence 0, retried once
 * with the revision of a delete / purge marker; `update` expects the given revision; `delete`
 * and `purge` publish markers (`KV-Operation`, purge with `Nats-Rollup: sub`); `get` is the last
 * message on the key's subject; `keys` skips markers; a watch is an ordered consumer
 * (last per subject, all, or new only).
 */
export function simKvBucket(bucket: string, timeoutMs: number, d: SimKvDeps): TransportKv {
  const stream = `KV_${bucket}`;
  const subj = (key: string): string => `$KV.${bucket}.${key}`;
  const put = (key: string, data: Uint8Array, h: ReadonlyMap<string, string>, expect: number | undefined): Promise<number> => {
    validKey(key);
    return d.publish(subj(key), data, h, expect, timeoutMs);
  };
  const get = async (key: string): Promise<TransportKvEntry | null> => {
    validKey(key);
    const m = await d.last(stream, subj(key), timeoutMs);
    return m ? kvEntry(bucket, { ...m, header: header(m) }) : null;
  };
  const none = new Map<string, string>();
  return {
    get,
    put: (key, value) => put(key, bytes(value), none, undefined),
    async create(key, value) {
      try {
        return await put(key, bytes(value), none, 0);
      } catch (e) {
        if (!isWrongLastSequence(e)) throw e;
        const cur = await get(key);
        if (cur && cur.operation !== 'PUT') return put(key, bytes(value), none, cur.revision);
        throw e;
      }
    },
    update(key, value, revision) {
      if (revision <= 0) return Promise.reject(new TransportError('version must be greater than 0', { kind: 'other', subject: key }));
      return put(key, bytes(value), none, revision);
    },
    async delete(key, o) {
      await put(key, new Uint8Array(0), new Map([['KV-Operation', 'DEL']]), o?.previousRevision ? o.previousRevision : undefined);
    },
    async purge(key) {
      await put(key, new Uint8Array(0), new Map([['KV-Operation', 'PURGE'], ['Nats-Rollup', 'sub']]), undefined);
    },
    async keys() {
      const last = await d.lastPerSubject(stream, `$KV.${bucket}.>`, timeoutMs);
      return last.filter((m) => m.headers.get('KV-Operation') === undefined).map((m) => m.subject.slice(`$KV.${bucket}.`.length));
    },
    async watch(o): Promise<TransportKvWatch> {
      if (o.key !== undefined) validKey(o.key);
      const w = await d.watch(stream, o.key !== undefined ? subj(o.key) : `$KV.${bucket}.>`, o.include, timeoutMs);
      return {
        stop: () => w.stop(),
        async *[Symbol.asyncIterator]() {
          for await (const m of w.messages) yield kvEntry(bucket, m);
        },
      };
    },
  };
}
