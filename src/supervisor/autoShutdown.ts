import type { AutoShutdown } from './types.ts';

/**
 * Whether a supervisor shuts itself down after a *significant* child exited by itself and
 * was not restarted (conformance §1.9). `stillActive` counts significant children that are
 * running or restarting, after the exit.
 */
export function shouldAutoShutdown(mode: AutoShutdown, exitedWasSignificant: boolean, significantStillActive: number): boolean {
  if (!exitedWasSignificant || mode === 'never') return false;
  if (mode === 'any_significant') return true;
  return significantStillActive === 0;
}
