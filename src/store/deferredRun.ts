/**
 * Running deferred replicated migrations on an open store (`Store.runDeferredMigrations`), and
 * the atomic commit of rows together with the meta records saying which migrations they carry
 * out. The pure bookkeeping is in `deferredMigrations.ts`. @internal
 */
import type { KvOp } from '../env/kv.ts';
import type { CommitOp } from './types.ts';
import type { Store } from './store.ts';
import { adoptMigrated, deferredToRun, migratedState, runUps } from './deferredMigrations.ts';

/** Writes `ops` with the meta records saying `versions` are applied (history, deferred list), atomically. @internal */
export async function commitMigrated(store: Store, ops: readonly CommitOp[], versions: readonly number[], extra: readonly KvOp[] = [], applied?: { stream: string; seq: number }): Promise<void> {
  const s = store.state;
  const next = migratedState(s, versions, s.env.clock.now());
  await store.commits.enqueue({ ops, extra: [...extra, ...next.ops], ...(applied ? { applied } : {}) });
  adoptMigrated(s, next);
}

/** Runs the deferred migrations' `up` in one transaction after a backup (see `Store.runDeferredMigrations`). @internal */
export async function runDeferred(store: Store): Promise<'ran' | 'none'> {
  const s = store.state;
  if (s.deferred.length === 0) return 'none';
  deferredToRun(s);
  const at = s.env.clock.now();
  await s.env.io.fs.mkdir(s.backupDir, { recursive: true });
  await store.backup(`${s.backupDir}/pre-migration-deferred-v${s.deferred.map((d) => d.version).join('-')}-${Math.floor(at)}.ndjson`);
  let versions: number[] = [];
  await store.transaction(async (tx) => {
    versions = [];
    // re-read on every run: a batch applied meanwhile may have done them
    const ms = deferredToRun(s);
    if (ms.length === 0) return;
    const replicated = [...s.tables.values()].map((m) => m.def).filter((d) => d.replicated);
    await runUps(tx, ms, replicated);
    versions = ms.map((m) => m.version);
    tx.migrations = versions;
  });
  if (versions.length === 0) return 'none';
  s.env.logger.info({ report: 'store_migrated', dir: s.dir, schemaVersion: s.schemaVersion, migrations: versions, deferred: true }, 'deferred migrations applied');
  return 'ran';
}
