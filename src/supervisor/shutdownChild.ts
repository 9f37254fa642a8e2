import type { Kernel, Pid } from '../actors/index.ts';
import { isShutdownTuple, report } from '../actors/index.ts';
import type { RestartType, Shutdown } from './types.ts';
import { __chaosBugs } from '../env/testBugs.ts';

/**
 * OTP's `shutdown/1` for one child (conformance §1.10): monitor — not link, so a child that
 * unlinked itself cannot hang the supervisor — then `'shutdown'` and wait up to `shutdownMs`,
 * then `'kill'`; `'brutal'` kills at once; `'infinity'` waits forever. An unexpected exit
 * reason (including `killed` after a timeout) is reported as `shutdown_error` and changes
 * nothing else. `undefined` when the child was down by the time the stop was sent (it stopped
 * at once: nothing to wait for, no timer armed), else a promise that resolves once it is down.
 */
export function shutdownChild(
  kernel: Kernel,
  self: Pid,
  child: { id: string; pid: Pid; shutdownMs: Shutdown; restart: RestartType },
  supervisorLabel: string,
): void | Promise<void> {
  const { pid, shutdownMs } = child;
  // The link stays until the child is down (OTP unlinks and flushes the EXIT only then): if
  // the supervisor is killed while it waits, the link still takes the child with it. The
  // child's own EXIT reaches the supervisor as a message it ignores (the record is forgotten).
  let timer: unknown;
  let down = false;
  let resolve: (() => void) | undefined;
  kernel.monitor(pid, (reason) => {
    down = true;
    if (timer !== undefined) kernel.env.clock.clearTimeout(timer);
    kernel.unlink(self, pid);
    if (!expected(reason, shutdownMs, child.restart)) {
      report(kernel.env.logger, 'shutdown_error', { supervisor: supervisorLabel, child: child.id, pid: String(pid), reason, shutdownMs });
    }
    resolve?.();
  });
  if (shutdownMs === 'brutal') {
    kernel.exit(pid, 'kill', self);
  } else {
    kernel.exit(pid, 'shutdown', self);
    // __chaosBugs.shutdownNoWait (test-only): treats the child as down once the stop is sent.
    if (__chaosBugs.shutdownNoWait) return;
    // A child that stops at once is already down here: arm no kill timer (it would hold a
    // real event loop open for shutdownMs after the tree is gone).
    if (typeof shutdownMs === 'number' && !down) timer = kernel.env.clock.setTimeout(() => kernel.exit(pid, 'kill', self), shutdownMs);
  }
  if (down) return;
  return new Promise<void>((r) => (resolve = r));
}

function expected(reason: unknown, shutdownMs: Shutdown, restart: RestartType): boolean {
  if (reason === 'noproc') return true; // already gone: nothing to report
  if (shutdownMs === 'brutal') {
    if (reason === 'killed') return true;
    if (restart !== 'permanent' && (reason === 'normal' || reason === 'shutdown' || isShutdownTuple(reason))) return true;
    return false;
  }
  if (reason === 'shutdown') return true;
  if (restart !== 'permanent' && (reason === 'normal' || isShutdownTuple(reason))) return true;
  return false;
}

