import type { StartResult } from '../actors/index.ts';
import { StartExitError, StartExitResult, StartTimeoutError, report, reporting } from '../actors/index.ts';
import { backoffDelay } from './backoff.ts';
import type { ChildRecord } from './childRecord.ts';
import { FailedToStartChildError, MissingDependencyError } from './errors.ts';
import { isPermanentReason } from './permanent.ts';
import type { SupervisorServer } from './supervisorServer.ts';

/**
 * Waiting and parking (beyond OTP: dependencies are Ordo's), in the supervisor's mailbox loop:
 * one start attempt of a child — parked while a provider it requires is not ready, waiting
 * for its `startRetry` after a failed attempt — resuming the parked ones, and failing fast.
 */

/** The message a `startRetry` timer queues: try `record` again. */
export const START_RETRY = Symbol('startRetry');
/** The message an ancestor's provider queues when it becomes ready: parked children get their turn. */
export const RESUME = Symbol('resume');

/** What one start attempt came to. */
export type Outcome = 'started' | 'ignored' | 'parked' | 'waiting' | 'stopped' | { readonly failed: unknown };

/**
 * One start attempt of `rec`: parked if a service it requires has a provider that is not
 * ready; else started. A failed attempt with `startRetry` (and a reason not permanent) waits
 * for its retry — not charged to intensity; any other failure is returned to the caller,
 * which applies OTP's rules.
 */
export function attempt(sup: SupervisorServer, rec: ChildRecord): Outcome | Promise<Outcome> {
  if (sup.stopRequested || !sup.proc.alive) return 'stopped';
  const deps = sup.services.resolve(rec);
  if (deps.status !== 'ok') {
    if (deps.status === 'missing') return { failed: new MissingDependencyError(rec.spec.id, deps.service) };
    park(sup, rec, deps.service);
    return 'parked';
  }
  rec.parkedOn = undefined;
  rec.starting = true;
  // One clock read for an attempt that settles while it runs: no time passes within a turn on
  // the virtual clock, and on the real one the start and its outcome are microseconds apart.
  const at = sup.kernel.env.clock.now();
  rec.since = at;
  sup.inflight++;
  sup.changed();
  let res: StartResult | Promise<StartResult>;
  try {
    res = sup.startRecord(rec, deps.deps, at);
  } catch (e) {
    startEnded(sup, rec);
    throw e;
  }
  // A start that settled at once (a machine ready, ignored or failed while it was spawned) is
  // judged in this turn: no promise, and a restart finishes in the same turn.
  if (!(res instanceof Promise)) return judged(sup, rec, res, at);
  return res.then(
    (r) => judged(sup, rec, r),
    (e: unknown) => {
      startEnded(sup, rec);
      throw e;
    },
  );
}

/** The attempt is no longer in flight. */
function startEnded(sup: SupervisorServer, rec: ChildRecord): void {
  rec.starting = false;
  sup.inflight--;
}

/** What a settled start attempt of `rec` comes to (OTP's rules, startRetry's wait). */
function judged(sup: SupervisorServer, rec: ChildRecord, res: StartResult, at?: number): Outcome {
  startEnded(sup, rec);
  if (res.status === 'ok') return 'started';
  rec.since = at ?? sup.kernel.env.clock.now();
  // No longer starting: the change is told here (readiness waits on it), as every other phase change is.
  if (sup.stopRequested) {
    sup.changed();
    return 'stopped';
  }
  if (res.status === 'ignore') {
    sup.changed();
    return 'ignored';
  }
  // An exit before ready (the common failed start) comes as a StartExitResult: its
  // StartExitError is built only when something reads it — the failure returned, a report
  // written, an `isPermanent` asked — not for a start retried with nothing logged.
  const exited = res instanceof StartExitResult ? res : undefined;
  const reason = exited !== undefined ? undefined : res.status === 'already_started' ? { alreadyStarted: res.pid } : res.error;
  rec.attempts++;
  // Health shows what went wrong in the child, not the wrapper that says it exited before ready.
  rec.lastError = exited !== undefined ? exited.reason : reason instanceof StartExitError ? reason.reason : reason instanceof StartTimeoutError && reason.cause !== undefined ? reason.cause : reason;
  sup.changed();
  const retry = rec.spec.startRetry;
  // (without `isPermanent`, the walk from the result is the walk from its error: neither is
  // marked permanent, and both lead on to the same `reason`)
  const permanent = retry !== undefined && (exited !== undefined && retry.isPermanent === undefined ? isPermanentReason(exited) : isPermanentReason(exited?.error ?? reason, retry.isPermanent));
  if (!retry || permanent || (retry.maxAttempts !== undefined && rec.attempts >= retry.maxAttempts)) {
    // Marked before returning: observers that run before the caller resumes must not see a
    // settled child. Without startRetry the caller queues OTP's retry (`restarting`); with it,
    // the supervisor gives up (fail fast), so nothing more may start.
    rec.restarting = true;
    if (retry && sup.proc.ready) sup.stopRequested = true;
    return { failed: exited !== undefined ? exited.error : reason };
  }
  const delay = backoffDelay(retry, rec.attempts - 1, sup.kernel.env.random.next());
  rec.waiting = true;
  rec.restarting = true; // OTP's `restarting` slot: a retry is pending
  const logger = sup.kernel.env.logger;
  if (reporting(logger, 'start_retry')) report(logger, 'start_retry', { supervisor: sup.label, child: rec.spec.id, reason: exited !== undefined ? exited.error : reason, attempts: rec.attempts, delayMs: delay });
  rec.timer = sup.kernel.env.clock.setTimeout(() => sup.proc.enqueue({ kind: 'info', message: { tag: START_RETRY, record: rec } }), delay);
  return 'waiting';
}

function park(sup: SupervisorServer, rec: ChildRecord, service: string): void {
  const first = rec.parkedOn !== service;
  rec.parkedOn = service;
  rec.restarting = false;
  rec.since = sup.kernel.env.clock.now();
  if (first) {
    const logger = sup.kernel.env.logger;
    if (reporting(logger, 'child_parked')) report(logger, 'child_parked', { supervisor: sup.label, child: rec.spec.id, waitingFor: service });
    // A provider of an ancestor's: ask to be told when it is ready. Own providers resume us by themselves.
    sup.services.watchAncestor(service, () => sup.proc.enqueue({ kind: 'info', message: RESUME }));
  }
  sup.changed();
}

/**
 * Starts the parked children whose providers are ready now, in start order: in this turn while
 * each start settles at once (`undefined`), else a promise that resolves once the rest have.
 */
export function resumeParked(sup: SupervisorServer): void | Promise<void> {
  const recs = sup.isDynamic ? [...sup.dynamic.values()] : sup.children.slice();
  return resumeFrom(sup, recs, 0);
}

/** `resumeParked` from `recs[i]` on. */
function resumeFrom(sup: SupervisorServer, recs: readonly ChildRecord[], i: number): void | Promise<void> {
  for (; i < recs.length; i++) {
    const rec = recs[i]!;
    if (rec.parkedOn === undefined || rec.pid || !sup.owns(rec)) continue;
    if (sup.lookup(rec.parkedOn).status !== 'ready') continue;
    const o = attempt(sup, rec);
    if (o instanceof Promise) {
      const next = i + 1;
      return o.then((out) => {
        const step = resumed(sup, rec, out);
        return step === NEXT ? resumeFrom(sup, recs, next) : step;
      });
    }
    const step = resumed(sup, rec, o);
    if (step !== NEXT) return step;
  }
}

const NEXT = Symbol('next');

/** What a parked child's start attempt comes to: on to the next, done (a stop), or failing fast. */
function resumed(sup: SupervisorServer, rec: ChildRecord, out: Outcome): typeof NEXT | void | Promise<void> {
  if (out === 'stopped') return;
  if (out === 'ignored' && (sup.isDynamic || rec.spec.restart === 'temporary')) sup.remove(rec);
  if (typeof out === 'object') return giveUp(sup, rec, out.failed);
  return NEXT;
}

/**
 * A start that cannot succeed by waiting (permanent reason, attempts exhausted, missing
 * service): fail fast, named — every child stopped in reverse order, then this supervisor
 * exits. A promise, resolved once it has exited.
 */
export function giveUp(sup: SupervisorServer, rec: ChildRecord, reason: unknown): Promise<void> {
  report(sup.kernel.env.logger, 'start_error', { supervisor: sup.label, child: rec.spec.id, reason, attempts: rec.attempts });
  sup.stopRequested = true;
  const exit = (): void => sup.proc.exit({ shutdown: new FailedToStartChildError(rec.spec.id, reason, sup.label) });
  const stopping = sup.terminateAll();
  if (stopping !== undefined) return stopping.then(exit);
  exit();
  return Promise.resolve();
}
