import type { Env } from '../env/env.ts';
import type { ClusterConnection } from '../cluster/index.ts';

/**
 * The notifier's own health — never a database feature (seed step 3: Oban's Postgres notifier
 * needed LISTEN/NOTIFY, which the pooler did not support):
 * - `clustered`: NATS pub/sub is connected; other nodes hear this node's notifications;
 * - `solitary`: in-process (single node); every notification is delivered;
 * - `isolated`: NATS is configured but unreachable; notifications are dropped and producers
 *   fall back to polling, jobs keep running locally.
 */
export type NotifierStatus = 'clustered' | 'solitary' | 'isolated';

/** Health as reported in the runner's health. */
export interface NotifierHealth {
  readonly status: NotifierStatus;
  readonly since: number;
  readonly kind: 'nats' | 'local';
}

/** Channels the runner uses: new jobs of a queue, and control signals (pause, cancel…). */
export type NotifierChannel = 'insert' | 'signal';

/** A control signal, delivered to every node (`node` set: that node only). */
export type JobSignal =
  | { readonly type: 'pause' | 'resume'; readonly queue: string; readonly node?: string }
  | { readonly type: 'scale'; readonly queue: string; readonly limit: number; readonly node?: string }
  | { readonly type: 'cancel'; readonly id: string };

/** What a notification carries. */
export type NotifierPayload = { readonly queue: string } | JobSignal;

/** A notifier: best-effort fan-out. It never throws into its caller; losses are covered by polling. */
export interface Notifier {
  readonly kind: 'nats' | 'local';
  health(): NotifierHealth;
  publish(channel: NotifierChannel, payload: NotifierPayload): void;
  subscribe(channel: NotifierChannel, listener: (payload: NotifierPayload) => void): () => void;
  onHealth(listener: (h: NotifierHealth) => void): () => void;
  close(): Promise<void>;
}

type Listeners = Map<NotifierChannel, Set<(p: NotifierPayload) => void>>;

function deliver(env: Env, ls: Listeners, channel: NotifierChannel, payload: NotifierPayload): void {
  for (const l of ls.get(channel) ?? []) {
    try {
      l(payload);
    } catch (err) {
      env.logger.error({ report: 'jobs_notifier', err }, 'notifier listener threw');
    }
  }
}

function addListener(ls: Listeners, channel: NotifierChannel, l: (p: NotifierPayload) => void): () => void {
  let s = ls.get(channel);
  if (!s) ls.set(channel, (s = new Set()));
  s.add(l);
  return () => s.delete(l);
}

/** The in-process notifier (single node): health `solitary`, delivery on the next microtask. */
export function createLocalNotifier(env: Env): Notifier {
  const ls: Listeners = new Map();
  const since = env.clock.now();
  return {
    kind: 'local',
    health: () => ({ status: 'solitary', since, kind: 'local' }),
    publish: (channel, payload) => queueMicrotask(() => deliver(env, ls, channel, payload)),
    subscribe: (channel, l) => addListener(ls, channel, l),
    onHealth: () => () => undefined,
    close: async () => void ls.clear(),
  };
}

/**
 * The NATS notifier (cluster mode): core pub/sub on `ordo.jobs.<cluster>.<channel>`, plain
 * messages (no JetStream, no database). Follows the connection's status: `isolated` while it is
 * disconnected or reconnecting, `clustered` again after the reconnect (nats.js re-subscribes).
 */
export function createNatsNotifier(env: Env, conn: ClusterConnection, cluster: string): Notifier {
  const ls: Listeners = new Map();
  const healthLs = new Set<(h: NotifierHealth) => void>();
  const subject = (c: NotifierChannel): string => `ordo.jobs.${cluster}.${c}`;
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  let health: NotifierHealth = { status: conn.state() === 'connected' ? 'clustered' : 'isolated', since: env.clock.now(), kind: 'nats' };
  const set = (status: NotifierStatus): void => {
    if (status === health.status) return;
    health = { status, since: env.clock.now(), kind: 'nats' };
    env.logger.info({ report: 'jobs_notifier', status }, `job notifier ${status}`);
    for (const l of healthLs) l(health);
  };
  const offConn = conn.on((e) => {
    if (e.type === 'nats.disconnect' || e.type === 'nats.reconnecting' || e.type === 'nats.close') set('isolated');
    else if (e.type === 'nats.reconnect') set('clustered');
  });
  const subs = (['insert', 'signal'] as const).map((channel) =>
    conn.transport.subscribe(subject(channel), {}, (msg) => {
      let payload: NotifierPayload;
      try {
        payload = JSON.parse(dec.decode(msg.data)) as NotifierPayload;
      } catch (e) {
        env.logger.warn({ report: 'jobs_notifier', err: e }, 'malformed notification skipped');
        return;
      }
      deliver(env, ls, channel, payload);
    }),
  );
  return {
    kind: 'nats',
    health: () => health,
    publish: (channel, payload) => {
      if (health.status !== 'clustered') return; // pollers cover it; never block or throw
      try {
        conn.transport.publishCore(subject(channel), enc.encode(JSON.stringify(payload)));
      } catch (err) {
        env.logger.warn({ report: 'jobs_notifier', err }, 'publish failed; producers poll');
      }
    },
    subscribe: (channel, l) => addListener(ls, channel, l),
    onHealth: (l) => {
      healthLs.add(l);
      return () => healthLs.delete(l);
    },
    close: async () => {
      offConn();
      for (const s of subs) s.unsubscribe();
      ls.clear();
      healthLs.clear();
    },
  };
}
