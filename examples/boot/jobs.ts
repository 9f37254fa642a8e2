/**
 * The reference tree's job runner: one queue and a sample worker on a schedule. Every minute
 * (cron, on the leader only; the last fire time is stored, so a leader change neither
 * double-fires nor skips) `bux_snapshot` sums the BUX balances and records the sum — written in
 * the same store transaction that completes the job, so a snapshot is recorded exactly once
 * even if the node is killed mid-job and the job is rescued.
 */
import type { ChildSpec } from 'ordo';
import type { TableDef } from 'ordo/store';
import { JobsBoard, adminSocketPath, cronEntry, defineWorker, jobRunnerChild, jobTables } from 'ordo/jobs';

/** The runner's tables plus the sample worker's, replicated in cluster mode. */
export function bootJobTables(replicated: boolean): Record<string, TableDef> {
  return {
    ...jobTables({ replicated }),
    bux_snapshots: {
      key: 'at',
      attributes: { at: { type: 'number' }, users: { type: 'integer' }, total: { type: 'integer' } },
      replicated,
    },
  };
}

/** The sample worker: a snapshot of the BUX table, stored with the job's completion. */
export const buxSnapshot = defineWorker<{ table: string }>({
  name: 'bux_snapshot',
  queue: 'maintenance',
  maxAttempts: 5,
  timeoutMs: 30_000,
  unique: { periodMs: 50_000 },
  perform: (args, { job }) => ({
    ok: true,
    effects: (tx) => {
      let users = 0;
      let total = 0;
      tx.fold(args.table, (_, r) => {
        users++;
        total += (r['bux_balance'] as number) ?? 0;
        return undefined;
      }, undefined);
      tx.put('bux_snapshots', { at: (job.meta['cronAt'] as number | undefined) ?? job.scheduledAt, users, total });
    },
  }),
});

/**
 * The runner child for the reference tree (cluster mode: NATS notifier and admin, election
 * peer); `ordo jobs` reaches it locally on `<dataDir>/ordo-jobs.sock` in both modes.
 */
export function bootJobs(board: JobsBoard, clustered: boolean, dataDir: string): ChildSpec[] {
  return [
    jobRunnerChild({
      config: {
        workers: [buxSnapshot],
        queues: { maintenance: 2 },
        crontab: [cronEntry({ name: 'bux-snapshot', expression: '* * * * *', worker: buxSnapshot, args: { table: 'user_bux_points' } })],
        pruner: { maxAgeMs: 3_600_000 },
        notifier: clustered ? 'nats' : 'local',
        adminSocket: adminSocketPath(dataDir),
      },
      deps: { store: 'store', cluster: 'cluster', leader: 'leader', after: ['replication'] },
      select: board.track,
    }),
  ];
}

export { JobsBoard };
