import type { Kernel, Pid } from '../actors/index.ts';
import { isShutdownTuple, report } from '../actors/index.ts';
import type { RestartType, Shutdown } from './types.ts';
import { __chaosBugs } from '../env/testBugs.ts';

/**
 * OTP's `shutdown/1` for one child (conformance §1.10): monitor — not link, so a child that
 * unlinked itself cannot hang the supervisor — then `'shutdown'` and wait up to `shutdownMs`,
 * then `'kill'` (a child down by the time the signal returns is read from its process: no
 * monitor is made for it); `'brutal'` kills at once; `'infinity'` waits forever. An unexpected exit
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
  const signal = shutdownMs === 'brutal' ? 'kill' : 'shutdown';
  // The link stays until the child is down (OTP unlinks and flushes the EXIT only then): if
  // the supervisor is killed while it waits, the link still takes the child with it. The
  // child's own EXIT reaches the supervisor as a message it ignores (the record is forgotten).
  // Delivered at once (no scheduler): a child that stops in the turn of its signal is down when
  // `exit` returns — its reason is read from it, no monitor made for it (nor a kill timer armed:
  // it would hold a real event loop open for shutdownMs after the tree is gone).
  const proc = kernel.env.scheduler === undefined ? kernel.lookup(pid) : undefined;
  const sentNow = proc !== undefined && proc.alive;
  if (sentNow) {
    kernel.exit(pid, signal, self);
    if (!proc.alive) {
      childDown(kernel, self, child, supervisorLabel, proc.exitReason);
      return;
    }
  }
  let timer: unknown;
  let resolve: (() => void) | undefined;
  let isDown = false;
  kernel.monitor(pid, (reason) => {
    isDown = true;
    if (timer !== undefined) kernel.env.clock.clearTimeout(timer);
    childDown(kernel, self, child, supervisorLabel, reason);
    resolve?.();
  });
  if (!sentNow) kernel.exit(pid, signal, self);
  if (shutdownMs !== 'brutal') {
    // __chaosBugs.shutdownNoWait (test-only): treats the child as down once the stop is sent.
    if (__chaosBugs.shutdownNoWait) return;
    if (typeof shutdownMs === 'number' && !isDown) timer = kernel.env.clock.setTimeout(() => kernel.exit(pid, 'kill', self), shutdownMs);
  }
  if (isDown) return;
  return new Promise<void>((r) => (resolve = r));
}

/** The child is down with `reason`: the link goes, and an unexpected reason is reported. */
function childDown(kernel: Kernel, self: Pid, child: { id: string; pid: Pid; shutdownMs: Shutdown; restart: RestartType }, supervisorLabel: string, reason: unknown): void {
  kernel.unlink(self, child.pid);
  if (!expected(reason, child.shutdownMs, child.restart)) {
    report(kernel.env.logger, 'shutdown_error', { supervisor: supervisorLabel, child: child.id, pid: String(child.pid), reason, shutdownMs: child.shutdownMs });
  }
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

