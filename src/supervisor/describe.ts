import { formatReason } from '../actors/index.ts';
import type { ChildRecord } from './childRecord.ts';
import type { Kernel } from '../actors/index.ts';

/** Where a child stands in its supervisor. */
export type ChildPhase = 'running' | 'starting' | 'waiting' | 'parked' | 'restarting' | 'pending' | 'stopped';

/** @internal One child as `describe()` reports it (what `health()` turns into {@link ChildHealth}). */
export interface ChildDescription {
  id: string | undefined;
  pid: string | undefined;
  type: 'worker' | 'supervisor';
  state: unknown;
  phase: ChildPhase;
  restarts: number;
  lastExit: unknown;
  attempts: number;
  lastError: unknown;
  since: number | undefined;
  waitingFor?: string;
  degraded?: boolean;
  error?: unknown;
}

/** @internal */
export function phaseOf(r: ChildRecord): ChildPhase {
  if (r.pid) return 'running';
  if (r.starting) return 'starting';
  if (r.waiting) return 'waiting';
  if (r.parkedOn !== undefined) return 'parked';
  if (r.restarting) return 'restarting';
  return r.tried ? 'stopped' : 'pending';
}

/** @internal The children of a supervisor as health and `ordo tree` show them. */
export function describeChildren(
  sup: { kernel: Kernel; label: string; flags: { strategy: string; maxRestarts: number; periodMs: number }; isDynamic: boolean; restarts: { restarts: number[] } },
  recs: readonly ChildRecord[],
  stopping = false,
): unknown {
  const since = sup.kernel.env.clock.now() - sup.flags.periodMs;
  return {
    supervisor: sup.label,
    strategy: sup.flags.strategy,
    ...(stopping ? { stopping: true } : {}),
    // restarts inside the intensity window now: how close the supervisor is to giving up
    intensity: { used: sup.restarts.restarts.filter((t) => t > since).length, maxRestarts: sup.flags.maxRestarts, periodMs: sup.flags.periodMs },
    children: recs.map((r): ChildDescription => {
      const info = r.pid ? sup.kernel.processInfo(r.pid) : undefined;
      const d: ChildDescription = {
        id: sup.isDynamic ? undefined : r.spec.id,
        pid: r.restarting ? 'restarting' : r.pid ? String(r.pid) : undefined,
        type: r.spec.type,
        state: info?.state,
        phase: phaseOf(r),
        restarts: r.restarts,
        lastExit: r.lastExit === undefined ? undefined : formatReason(r.lastExit),
        attempts: r.attempts,
        lastError: r.lastError === undefined ? undefined : formatReason(r.lastError),
        since: r.since,
      };
      if (r.parkedOn !== undefined) d.waitingFor = r.parkedOn;
      if (info?.degraded) d.degraded = true;
      if (info?.error !== undefined) d.error = formatReason(info.error);
      return d;
    }),
  };
}
