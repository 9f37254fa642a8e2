import { classifyExit } from '../actors/index.ts';
import type { RestartType } from './types.ts';

/**
 * What a supervisor does when a child exits by itself (conformance §1.5):
 * - `restart`: permanent always; transient on an abnormal reason (incl. `killed`).
 * - `keep`: transient on `normal`/`shutdown`/`{ shutdown }` — spec kept, not running.
 * - `remove`: temporary, any reason — the spec is discarded.
 * `report` says whether a `child_terminated` error report is due (OTP reports every permanent
 * exit, and abnormal exits of the others).
 */
export function decideRestart(restart: RestartType, reason: unknown): { action: 'restart' | 'keep' | 'remove'; report: boolean } {
  const abnormal = classifyExit(reason) === 'abnormal';
  switch (restart) {
    case 'permanent':
      return { action: 'restart', report: true };
    case 'transient':
      return abnormal ? { action: 'restart', report: true } : { action: 'keep', report: false };
    case 'temporary':
      return { action: 'remove', report: abnormal };
  }
}
