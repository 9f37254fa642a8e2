import type { Logger } from '../env/index.ts';
import { formatReason } from './exitReason.ts';

/** The kinds of SASL-style report Ordo emits. */
export type ReportKind =
  | 'progress'
  | 'child_terminated'
  | 'start_error'
  | 'shutdown_error'
  | 'reached_max_restart_intensity'
  | 'crash_report'
  | 'auto_shutdown'
  | 'application_started'
  | 'application_exited'
  | 'start_retry'
  | 'child_parked';

/**
 * The fields of a report. Keys are fixed so logs can be queried: `report`, `supervisor`,
 * `child`, `pid`, `reason`, `restarts`, plus kind-specific extras.
 */
export interface ReportFields {
  supervisor?: string | undefined;
  child?: string | undefined;
  pid?: string | undefined;
  reason?: unknown | undefined;
  restarts?: number | undefined;
  [extra: string]: unknown;
}

const LEVEL: Record<ReportKind, 'info' | 'warn' | 'error'> = {
  progress: 'info',
  child_terminated: 'error',
  start_error: 'error',
  shutdown_error: 'error',
  reached_max_restart_intensity: 'error',
  crash_report: 'error',
  auto_shutdown: 'info',
  application_started: 'info',
  application_exited: 'info',
  start_retry: 'warn',
  child_parked: 'info',
};

/**
 * The one report path: every supervisor, kernel and application report goes through here,
 * as a pino record with `report: kind` and the fixed keys.
 *
 * @example
 * import { createTestEnv } from 'ordo';
 * import { report } from './report.ts';
 *
 * const env = createTestEnv();
 * report(env.logger, 'child_terminated', { supervisor: 'root', child: 'db', reason: 'died', restarts: 1 });
 * console.log(env.records[0]); // { level: 50, report: 'child_terminated', supervisor: 'root', child: 'db', … }
 */
export function report(logger: Logger, kind: ReportKind, fields: ReportFields, level: 'info' | 'warn' | 'error' = LEVEL[kind]): void {
  if (!logger.isLevelEnabled(level)) return;
  const record: Record<string, unknown> = { report: kind, ...fields };
  if ('reason' in fields) record['reason'] = formatReason(fields.reason);
  logger[level](record, kind);
}

/**
 * @internal Whether `report(logger, kind, …)` would write anything: lets a hot path (a crash, a
 * restart, a child started) skip building a report's fields when its level is off.
 */
export function reporting(logger: Logger, kind: ReportKind, level: 'info' | 'warn' | 'error' = LEVEL[kind]): boolean {
  return logger.isLevelEnabled(level);
}
