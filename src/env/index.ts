export type { Clock, TimerHandle } from './clock.ts';
export { createRealClock } from './clock.ts';
export type { VirtualClock } from './virtualClock.ts';
export { createVirtualClock, flushMicrotasks } from './virtualClock.ts';
export type { Random } from './random.ts';
export { createSeededRandom, createRealRandom } from './random.ts';
export type { IdSource } from './ids.ts';
export { createIdSource } from './ids.ts';
export type { Logger, LogRecord } from './logger.ts';
export { createRealLogger, createMemoryLogger, logSerializers } from './logger.ts';
export type { FsAdapter } from './fs.ts';
export { createRealFs } from './fs.ts';
export type { ProcessAdapter } from './process.ts';
export { createRealProcess, createTestProcess } from './process.ts';
export type { Env, IoAdapters, RealEnvOptions, TestEnv } from './env.ts';
export { createRealEnv, createTestEnv } from './env.ts';
export type { NatsClientTypes, NatsConnectionOf, NatsConnector, NatsConnectOptions } from './nats.ts';
export { createRealNatsConnector } from './nats.ts';
export type {
  ClusterTransport,
  TransportServerInfo,
  TransportStatus,
  TransportErrorKind,
  KvBucketOptions,
  TransportKv,
  TransportKvEntry,
  TransportKvWatch,
  KvWatchInclude,
  ObjectStoreOptions,
  TransportObjectStore,
  TransportStreamConfig,
  TransportStreamInfo,
  TransportStreams,
  JsPublishOptions,
  PubAckInfo,
  StreamMsg,
  ConsumeOptions,
  ConsumerStatus,
  StreamConsumer,
  CoreMsg,
} from './transport.ts';
export { TransportError, isTransportError, isWrongLastSequence, JS_API_CODES } from './transport.ts';
export type { KvAdapter, KvDb, KvIterator, KvOp, KvOpenOptions, KvRange, KvErrorKind, KvWriting } from './kv.ts';
export { KvError, KvOptionsError } from './kv.ts';
export { createRocksKv } from './rocksdb.ts';
export type { HttpAdapter, HttpRequest, HttpResponse, HttpServerHandle, HttpListenOptions, HttpRequestOptions } from './http.ts';
export { createRealHttp, SocketPathError } from './http.ts';
export type { DeliveryScheduler } from './scheduler.ts';
export { faults } from './faults.ts';
export type { FaultHook } from './faults.ts';
export type { Resolver, ResolveResult } from './resolver.ts';
export { createRealResolver } from './resolver.ts';
