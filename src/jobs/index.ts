/**
 * `ordo/jobs`: an Oban-like job runner on the table store and NATS. Explicit named exports only.
 */
export type { Job, JobState, JobError, JobOutcome, JobContext, WorkerDef, UniqueOptions, UniqueField, ReplaceField, EnqueueOptions, EnqueueResult } from './types.ts';
export { JOB_STATES, FINAL_STATES } from './types.ts';
export { defineWorker } from './worker.ts';
export type { WorkerOptions } from './worker.ts';
export { obanBackoff } from './backoff.ts';
export { parseCron, lastSlot, CRON_ALIASES } from './cron.ts';
export type { CronSchedule } from './cron.ts';
export type { CronEntry } from './cronPlugin.ts';
export { cronEntry } from './cronPlugin.ts';
export { jobTables, JOB_TABLES } from './tables.ts';
export type { JobTablesOptions } from './tables.ts';
export { JobRunner } from './runner.ts';
export type { JobsHealth, JobRunnerInput } from './runner.ts';
export { validateRunnerConfig, NOTIFIERS, PEERS } from './config.ts';
export type { JobRunnerConfig, QueueConfig } from './config.ts';
export type { NotifierStatus, NotifierHealth } from './notifier.ts';
export { jobsPrometheus } from './metrics.ts';
export type { JobsMetrics, LatencySummary } from './metrics.ts';
export { JobsError, JobsConfigError, JobsUnknownModuleError, JobsUnknownWorkerError, JobsStoreError, JobsStoppedError, JobsTimeoutError, JobsBadOutcomeError, JobsBadBackoffError, JobsDrainDeadlineError, JobsCancelledError, JobsHaltedError, JobsCompletionLostError, JobsCommitIndeterminateError, JobsRunnerIdInUseError, JobsSlotsProtocolError } from './errors.ts';
export { SLOTS_PROTOCOL } from './slots.ts';
export { jobRunnerMachine, jobRunnerChild } from './machine.ts';
export type { JobRunnerMachineInput, JobRunnerChildOptions } from './machine.ts';
export { handleAdmin, serveAdmin, adminSubject, serveAdminSocket, adminSocketPath, ADMIN_SOCKET, ADMIN_ROUTE } from './admin.ts';
export type { JobsAdminRequest, JobsAdminResponse } from './admin.ts';
export { JobsBoard } from './board.ts';
