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
export function decideRestart(restart: RestartType, reason: unknown): RestartDecision {
  switch (restart) {
    case 'permanent':
      return RESTART;
    case 'transient':
      return classifyExit(reason) === 'abnormal' ? RESTART : KEEP;
    case 'temporary':
      return classifyExit(reason) === 'abnormal' ? REMOVE_REPORTED : REMOVE;
  }
}

/** What {@link decideRestart} decided (one frozen object per outcome: nothing is allocated per exit). */
export type RestartDecision = { readonly action: 'restart' | 'keep' | 'remove'; readonly report: boolean };
const RESTART: RestartDecision = Object.freeze({ action: 'restart', report: true });
const KEEP: RestartDecision = Object.freeze({ action: 'keep', report: false });
const REMOVE: RestartDecision = Object.freeze({ action: 'remove', report: false });
const REMOVE_REPORTED: RestartDecision = Object.freeze({ action: 'remove', report: true });
