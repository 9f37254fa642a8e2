import type { TransportKv as KV } from '../env/transport.ts';
import { createWithReplicas, reconcileReplicas } from './replicas.ts';
import type { Env } from '../env/env.ts';
import type { ClusterService } from './discovery.ts';
import { ReplMigrationError } from './errors.ts';
import type { LeaderTerm, Leadership } from './leaderElection.ts';

/** The schema version record of a replicated store. */
export interface SchemaRecord {
  version: number;
  /** The node that ran the migration and its fencing token. */
  by: string;
  token: number;
}

/** Options of {@link coordinateMigration}. */
export interface MigrationGateOptions {
  env: Env;
  cluster: ClusterService;
  leadership: Leadership;
  /** The replicated store's name. */
  store: string;
  /** The schema version this node's code needs. */
  toVersion: number;
  /**
   * Runs the migration (on the leader only), e.g. rewriting records through the replicated
   * store so every node applies the result in stream order. Must be idempotent: if the leader
   * dies half-way, the next leader runs it again.
   */
  migrate: (term: LeaderTerm) => Promise<void>;
  /** How long a follower waits for the leader (default 60 s). */
  timeoutMs?: number;
  /** Abandons the wait (the caller stopped): rejects at once, releasing the watch and the timer. */
  signal?: AbortSignal;
}

/** Bucket of schema records. */
export const schemaBucket = (cluster: string): string => `ordo_schema_${cluster}`;

async function retry<T>(attempts: number, fn: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts) throw e;
    }
  }
}

const read = async (kv: KV, key: string): Promise<{ rec: SchemaRecord | undefined; rev: number }> => {
  const e = await kv.get(key);
  if (!e || e.operation !== 'PUT') return { rec: undefined, rev: e?.revision ?? 0 };
  return { rec: e.json<SchemaRecord>(), rev: e.revision };
};

/**
 * Runs a schema migration of replicated tables **once, on the leader**; every other node
 * waits until the recorded version reaches `toVersion` (or becomes leader itself, when the
 * previous one died, and runs it). The version record is written with a revision check, and
 * only if this node still holds the same leader term after migrating (fencing).
 *
 * Membership does not gate it: a dead node never blocks a schema change.
 *
 * @returns `'migrated'` (this node ran it), `'already'` (the version was there), `'waited'`.
 * @example
 * // no-run: needs a cluster (test/cluster/schemaGate.test.ts runs it against a nats-server)
 * import { coordinateMigration, type MigrationGateOptions } from 'ordo/cluster';
 *
 * declare const gate: Pick<MigrationGateOptions, 'env' | 'cluster' | 'leadership'>; // the Env, the discovery and election services
 * declare function addDefaults(): Promise<void>;
 * await coordinateMigration({ ...gate, store: 'main', toVersion: 3, migrate: () => addDefaults() });
 */
export async function coordinateMigration(o: MigrationGateOptions): Promise<'migrated' | 'already' | 'waited'> {
  const conn = o.cluster.connection;
  const err = (msg: string, cause?: unknown): ReplMigrationError => new ReplMigrationError(msg, { node: o.cluster.self, value: o.toVersion, cause });
  if (o.signal?.aborted) throw err(`abandoned the migration of ${o.store} to v${o.toVersion}: cancelled`);
  if (!conn) {
    await o.migrate({ node: o.cluster.self, incarnation: o.cluster.incarnation, token: 1 });
    return 'migrated';
  }
  // Opening the bucket and the first read are retried: a JetStream API call can time out under
  // load (2.9 answers stream creation slowly when several nodes race to create it).
  const { kv, first } = await retry(3, async () => {
    const bucket = schemaBucket(o.cluster.cluster);
    const replicas = o.cluster.replicas ?? 1;
    const kv = await createWithReplicas(`KV_${bucket}`, replicas, () => conn.transport.kv(bucket, { history: 5, replicas }), { node: o.cluster.self });
    await reconcileReplicas(conn.transport, `KV_${bucket}`, replicas, o.cluster.replicasExplicit ?? false, o.env.logger, { node: o.cluster.self });
    return { kv, first: await read(kv, o.store) };
  });
  if ((first.rec?.version ?? 0) >= o.toVersion) return 'already';

  let ranHere = false;
  const tryLead = async (): Promise<'migrated' | 'already' | undefined> => {
    const term = o.leadership.term();
    if (!term) return undefined;
    const cur = await read(kv, o.store);
    if ((cur.rec?.version ?? 0) >= o.toVersion) return 'already';
    await o.migrate(term);
    ranHere = true;
    const now = o.leadership.term();
    if (!now || now.token !== term.token) throw err(`lost leadership while migrating ${o.store} to v${o.toVersion}; the next leader re-runs it`);
    const rec: SchemaRecord = { version: o.toVersion, by: o.cluster.self, token: term.token };
    try {
      if (cur.rev > 0) await kv.update(o.store, JSON.stringify(rec), cur.rev);
      else await kv.create(o.store, JSON.stringify(rec));
    } catch (e) {
      const again = await read(kv, o.store);
      if ((again.rec?.version ?? 0) >= o.toVersion) return 'already';
      throw err(`could not record schema v${o.toVersion} of ${o.store}`, e);
    }
    return 'migrated';
  };

  const led = await tryLead();
  if (led) return led;
  // Follower: watch the record; take over if we become leader meanwhile.
  const watch = await kv.watch({ key: o.store, include: 'last' });
  return new Promise((resolve, reject) => {
    let done = false;
    let clearTimer: () => void = () => undefined;
    const onAbort = (): void => finish(() => reject(err(`abandoned waiting for the migration of ${o.store} to v${o.toVersion}: cancelled`)));
    const finish = (f: () => void): void => {
      if (done) return;
      done = true;
      clearTimer();
      offLeader();
      o.signal?.removeEventListener('abort', onAbort);
      watch.stop();
      f();
    };
    const offLeader = o.leadership.on('leader', () => {
      tryLead().then(
        (r) => r && finish(() => resolve(r)),
        (e: unknown) => finish(() => reject(e)),
      );
    });
    void (async () => {
      for await (const e of watch) {
        if (e.operation !== 'PUT') continue;
        const rec = e.json<SchemaRecord>();
        if (rec.version >= o.toVersion) return finish(() => resolve(ranHere ? 'migrated' : 'waited'));
      }
    })().catch((e: unknown) => finish(() => reject(err(`the schema record watch of ${o.store} failed`, e))));
    const timer = o.env.clock.setTimeout(
      () => finish(() => reject(err(`timed out waiting for the leader to migrate ${o.store} to v${o.toVersion}`))),
      o.timeoutMs ?? 60_000,
    );
    const clear = (): void => o.env.clock.clearTimeout(timer);
    clearTimer = clear;
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
