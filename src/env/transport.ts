import type { NatsConnectionOf } from './nats.ts';
import { OrdoError } from '../errors.ts';

/**
 * The cluster transport: everything `src/cluster` (and the job runner's notifier) uses from
 * NATS, narrowed to one interface — KV buckets, JetStream streams (publish with msg-id dedupe
 * and expected sequences, ordered consumption), object stores, core pub/sub and request/reply,
 * the client's status events. Two implementations pass one contract suite
 * (`test/cluster/transportContract.test.ts`): the real one over nats.js
 * ({@link createRealNatsConnector}) and a simulated NATS on the simulator's clock and scheduler
 * (`src/chaos/simNats.ts`).
 *
 * Semantics are nats-server 2.9's: a KV revision is the bucket stream's sequence; a bucket's
 * TTL is its stream's `max_age` (entries vanish with **no** watch event; no per-key TTL); a
 * stream deduplicates a `Nats-Msg-Id` within its duplicate window.
 */
export interface ClusterTransport {
  /** What the server said at connect (nats.js `nc.info`). */
  readonly info: TransportServerInfo;
  /**
   * The nats.js connection underneath when this is the real transport (tools and tests that
   * need the client itself); `undefined` in simulation. `src/cluster` never uses it.
   */
  readonly nc?: NatsConnectionOf | undefined;
  /** Subscribes to the client's status events; returns the unsubscribe function. */
  onStatus(listener: (s: TransportStatus) => void): () => void;
  /**
   * Resolves when the connection is closed for good: with nothing after a clean close (by the
   * client, or the server closing the socket — an EOF, also with `reconnect: false`), else with a
   * `closed` {@link TransportError} whose `cause` is what closed it.
   */
  closed(): Promise<Error | undefined>;
  isClosed(): boolean;
  /** Flushes subscriptions and pending requests, then closes. */
  drain(): Promise<void>;
  /** Closes at once (what a vanished process looks like to the server). */
  close(): Promise<void>;
  /**
   * A round trip to the server (nats.js `flush()`, a PING answered by a PONG): resolves once the
   * server has processed everything this client sent before it — subscriptions included, so a
   * subscriber that flushed gets what any connection publishes afterwards. Use it instead of a
   * sleep before relying on a subscription. Rejects with a `closed` {@link TransportError} on a
   * closed connection, and with another one when the connection drops before the answer.
   */
  flush(): Promise<void>;
  /** The server this client talks to now (`host:port`). */
  server(): string;

  /** Rejects unless JetStream answers for this account (nats.js `jetstreamManager()` check). */
  checkJetStream(timeoutMs: number): Promise<void>;
  /** Opens a KV bucket, creating it when absent (an existing bucket keeps its configuration, as `Kvm.create` does). */
  kv(bucket: string, options?: KvBucketOptions): Promise<TransportKv>;
  /** Opens an object store bucket, creating it when absent. */
  objectStore(bucket: string, options?: ObjectStoreOptions): Promise<TransportObjectStore>;
  /** JetStream stream management. */
  readonly streams: TransportStreams;
  /** JetStream publish (a request to the stream; the ack names the sequence). */
  publish(subject: string, data: Uint8Array, options?: JsPublishOptions): Promise<PubAckInfo>;
  /** An ordered consumer on `stream` (no acks; the client re-creates it on gaps). */
  consume(stream: string, options?: ConsumeOptions): Promise<StreamConsumer>;

  /** Core NATS: subscribe (`queue`: a queue group — one member per message). */
  subscribe(subject: string, options: { queue?: string }, callback: (msg: CoreMsg) => void): { unsubscribe(): void };
  /** Core NATS publish (at most once; nothing if nobody listens). */
  publishCore(subject: string, data: Uint8Array): void;
  /** Core NATS request/reply: the first reply, or a `timeout` / `no_responders` {@link TransportError}. */
  request(subject: string, data: Uint8Array, options: { timeoutMs: number }): Promise<CoreMsg>;
}

/** The server's INFO, as far as the cluster reads it. */
export interface TransportServerInfo {
  readonly version: string;
  readonly jetstream: boolean;
  readonly maxPayload: number;
  /** The NATS cluster name; absent on a server without routes. */
  readonly cluster?: string;
  /** Client URLs of the cluster's servers currently routed. */
  readonly connectUrls?: string[];
  readonly tlsRequired?: boolean;
}

/** A client status event (nats.js `nc.status()`, the ones the cluster reacts to). */
export type TransportStatus =
  | { type: 'disconnect'; server: string }
  | { type: 'reconnecting' }
  | { type: 'reconnect'; server: string }
  | { type: 'error'; error: string }
  | { type: 'ldm'; server: string }
  | { type: 'stale' }
  | { type: 'update'; added: string[]; deleted: string[] };

/** What a transport call failed with, classified the way the cluster branches on it. */
export type TransportErrorKind =
  /** No answer within the request timeout (the request may have been processed). */
  | 'timeout'
  /** Nobody subscribed to the subject (no stream leader, JetStream down, no server for it). */
  | 'no_responders'
  /** The server (JetStream) refused it with an API error: see `apiCode`. */
  | 'api'
  /** The connection is closed or draining: nothing was sent. */
  | 'closed'
  /** Anything else (a bad argument, a codec failure…). */
  | 'other';

/** JetStream API error codes (`err_code`) the cluster branches on. */
export const JS_API_CODES = {
  streamNotFound: 10059,
  noMessageFound: 10037,
  wrongLastSequence: 10071,
  /** 2.10+: the expected last sequence is not known to the stream. */
  wrongLastSequenceUnknown: 10164,
  insufficientResources: 10023,
  noSuitablePeers: 10005,
  replicasNotSupported: 10074,
  streamNameInUse: 10058,
} as const;

/** A failed transport call. `kind` says what happened; `apiCode` is JetStream's `err_code`. */
export class TransportError extends OrdoError {
  readonly code = 'ORDO_TRANSPORT' as const;
  readonly kind: TransportErrorKind;
  /** JetStream's `err_code` when `kind` is `api` (see {@link JS_API_CODES}). */
  readonly apiCode: number | undefined;
  /** The subject or stream the call was about. */
  readonly subject: string | undefined;
  constructor(message: string, details: { kind: TransportErrorKind; apiCode?: number; subject?: string; cause?: unknown }) {
    super(message, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.kind = details.kind;
    this.apiCode = details.apiCode;
    this.subject = details.subject;
  }
}

/** A JetStream "wrong last sequence" refusal: the expectation of a publish (or a KV create / update) did not hold. */
export function isWrongLastSequence(e: unknown): e is TransportError {
  return e instanceof TransportError && e.kind === 'api' && (e.apiCode === JS_API_CODES.wrongLastSequence || e.apiCode === JS_API_CODES.wrongLastSequenceUnknown);
}

/** The `created` Date of an entry stored at `ms` (server time): a conversion, not a clock read. */
export function entryTime(ms: number): Date {
  return new Date(ms);
}

/** True when `e` is a {@link TransportError} of `kind` (and `apiCode`, when given). */
export function isTransportError(e: unknown, kind?: TransportErrorKind, apiCode?: number): e is TransportError {
  return e instanceof TransportError && (kind === undefined || e.kind === kind) && (apiCode === undefined || e.apiCode === apiCode);
}

/** Options of a KV bucket when it is created. */
export interface KvBucketOptions {
  /** Bucket TTL (the stream's `max_age`): an entry older than this vanishes, with no watch event on 2.9. 0: none. */
  ttlMs?: number;
  /** Values kept per key (`max_msgs_per_subject`), default 1. */
  history?: number;
  replicas?: number;
  /** Timeout of each request on this bucket. */
  timeoutMs?: number;
}

/** One KV entry (a value, or a delete / purge marker). */
export interface TransportKvEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /** The bucket stream's sequence of this entry. */
  readonly revision: number;
  /** The server's timestamp of the entry. */
  readonly created: Date;
  readonly operation: 'PUT' | 'DEL' | 'PURGE';
  string(): string;
  json<T>(): T;
}

/** What a KV watch delivers first (nats.js `KvWatchInclude`). */
export type KvWatchInclude = 'last' | 'history' | 'updates';

/** A running KV watch: entries in revision order until stopped. */
export interface TransportKvWatch extends AsyncIterable<TransportKvEntry> {
  stop(): void;
}

/** A KV bucket (nats.js `KV`, narrowed). Revisions are the bucket stream's sequences. */
export interface TransportKv {
  /** The latest entry of `key` (a delete marker included), or null. */
  get(key: string): Promise<TransportKvEntry | null>;
  put(key: string, value: string | Uint8Array): Promise<number>;
  /** Creates `key` only if it has no value (absent, deleted or purged); else an `api` error `wrongLastSequence`. */
  create(key: string, value: string | Uint8Array): Promise<number>;
  /** Writes only if `key`'s latest revision is `revision`; else an `api` error `wrongLastSequence`. */
  update(key: string, value: string | Uint8Array, revision: number): Promise<number>;
  /** Puts a delete marker (checked against `previousRevision` when given and > 0). */
  delete(key: string, options?: { previousRevision?: number }): Promise<void>;
  /** Removes every revision of `key`, leaving one purge marker. */
  purge(key: string): Promise<void>;
  /** Keys whose latest entry is a value. */
  keys(): Promise<string[]>;
  /** Watches one key or all (`key` absent). */
  watch(options: { key?: string; include: KvWatchInclude }): Promise<TransportKvWatch>;
}

/** Object store bucket options. */
export interface ObjectStoreOptions {
  ttlMs?: number;
  replicas?: number;
}

/** An object store bucket (nats.js `ObjectStore`, narrowed to blobs). */
export interface TransportObjectStore {
  putBlob(name: string, data: Uint8Array, options?: { maxChunkSize?: number }): Promise<void>;
  /** The object's bytes, or null when there is none. */
  getBlob(name: string): Promise<Uint8Array | null>;
  delete(name: string): Promise<void>;
}

/** A stream's configuration (the fields the cluster sets). */
export interface TransportStreamConfig {
  name: string;
  subjects: string[];
  /** -1: unlimited. */
  maxMsgs?: number;
  /** 0: unlimited. */
  maxAgeMs?: number;
  duplicateWindowMs?: number;
  replicas?: number;
}

/** `streams.info` answer. */
export interface TransportStreamInfo {
  config: Required<TransportStreamConfig>;
  state: { firstSeq: number; lastSeq: number; messages: number };
}

/** Stream management (nats.js `jsm.streams`, narrowed). */
export interface TransportStreams {
  add(config: TransportStreamConfig): Promise<TransportStreamInfo>;
  /** An `api` error `streamNotFound` when it does not exist. */
  info(stream: string): Promise<TransportStreamInfo>;
  update(stream: string, patch: Partial<Omit<TransportStreamConfig, 'name'>>): Promise<TransportStreamInfo>;
  /** The last message on `subject` (wildcards allowed) in `stream`, or null. */
  lastBySubject(stream: string, subject: string): Promise<StreamMsg | null>;
}

/** Options of a JetStream publish. */
export interface JsPublishOptions {
  /** `Nats-Msg-Id`: a second publish with it inside the duplicate window is acked as a duplicate, not stored. */
  msgID?: string;
  expect?: {
    /** `Nats-Expected-Last-Sequence`. */
    lastSequence?: number;
    /** `Nats-Expected-Last-Subject-Sequence` (of the published subject, or of `lastSubjectSequenceSubject` on 2.11+). */
    lastSubjectSequence?: number;
    lastSubjectSequenceSubject?: string;
  };
  timeoutMs?: number;
}

/** A publish ack. */
export interface PubAckInfo {
  stream: string;
  seq: number;
  /** The msg id was seen inside the duplicate window: nothing new was stored. */
  duplicate: boolean;
}

/** A message read from a stream. */
export interface StreamMsg {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly seq: number;
  /** Message headers (nats.js `MsgHdrs`: `get` gives '' for an absent header). */
  readonly headers: { get(name: string): string; has(name: string): boolean } | undefined;
}

/** Where an ordered consumer starts. */
export interface ConsumeOptions {
  /** First sequence to deliver; absent: the whole stream. */
  startSeq?: number;
  maxMessages?: number;
  /** Pull expiry (the server heartbeats every half of it). */
  expiresMs?: number;
  /** Request timeout of creating the consumer and of {@link StreamConsumer.check} (default: the transport's). */
  timeoutMs?: number;
}

/** A consumer's status (nats.js `ConsumerMessages.status()`, the one the cluster reacts to). */
export type ConsumerStatus = { type: 'heartbeats_missed'; count: number } | { type: 'other'; name: string };

/** An ordered consumer: messages in stream order. */
export interface StreamConsumer extends AsyncIterable<StreamMsg> {
  /** Status events; `{ type: 'other', name: 'heartbeat' }` is the server's idle heartbeat (a sign of life). */
  status(): AsyncIterable<ConsumerStatus>;
  close(): Promise<void>;
  /** Asks the server for this consumer; rejects when it is gone or does not answer in time (optional: a transport without it is not checked). */
  check?(): Promise<void>;
  /** The consumer's server-side name, once created (optional; for tests and logs). */
  name?(): Promise<string | undefined>;
  /** Set when the server heartbeats an idle pull (every this many ms): a consumer silent for longer is suspect. */
  readonly heartbeatMs?: number;
}

/** A core NATS message. */
export interface CoreMsg {
  readonly subject: string;
  readonly data: Uint8Array;
  json<T>(): T;
  /** Replies to a request (false when the message has no reply subject). */
  respond(data: Uint8Array): boolean;
}
