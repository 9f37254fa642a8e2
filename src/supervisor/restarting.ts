import { report } from '../actors/index.ts';
import { backoffDelay, nextAttempt } from './backoff.ts';
import type { ChildRecord } from './childRecord.ts';
import { attempt, giveUp, type Outcome } from './parking.ts';
import { restartSet as restartSetOf } from './strategies.ts';
import type { SupervisorServer } from './supervisorServer.ts';

/**
 * Restarting (OTP's `restart/2`, conformance §1.6–1.8), in the supervisor's mailbox loop: a
 * child that exited is restarted now or after its backoff delay, each restart charged to the
 * intensity window, then the strategy applied — one child, or the set it takes with it.
 */

/** The message a failed restart attempt queues (no backoff): restart `record` again. */
export const RETRY = Symbol('retry');
/** The message a backoff timer queues: the delayed restart of `record` is due. */
export const DELAYED = Symbol('delayed');

/** Restart now, or after the backoff delay. */
export function scheduleRestart(sup: SupervisorServer, rec: ChildRecord): void | Promise<unknown> {
  const backoff = rec.spec.backoff ?? sup.flags.backoff;
  if (backoff) {
    const { clock, random } = sup.kernel.env;
    const upFor = rec.startedAt === undefined ? undefined : clock.now() - rec.startedAt;
    rec.attempt = nextAttempt(backoff, rec.attempt, upFor);
    const delay = backoffDelay(backoff, rec.attempt, random.next());
    rec.attempt++;
    rec.startedAt = undefined;
    if (delay > 0) {
      rec.restarting = true;
      rec.timer = clock.setTimeout(() => sup.proc.enqueue({ kind: 'info', message: { tag: DELAYED, record: rec } }), delay);
      return;
    }
  }
  rec.restarting = true;
  return restart(sup, rec);
}

/**
 * One restart event: charge intensity, then apply the strategy. A one_for_one (or dynamic)
 * restart whose child settles at once finishes in this turn.
 */
export function restart(sup: SupervisorServer, rec: ChildRecord): void | Promise<unknown> {
  const now = sup.kernel.env.clock.now();
  if (!sup.restarts.charge(now)) return reachedMaxIntensity(sup, rec);
  if (sup.isDynamic || sup.flags.strategy === 'one_for_one') {
    const again = startAgain(sup, rec);
    return again instanceof Promise ? again : undefined;
  }
  if (sup.stopRequested) return;
  return restartSet(sup, rec);
}

/** Intensity exceeded: give up — every child stopped, and this supervisor exits `shutdown`. */
async function reachedMaxIntensity(sup: SupervisorServer, rec: ChildRecord): Promise<void> {
  rec.restarting = false;
  sup.stopRequested = true; // giving up: nothing starts any more, and health says it is stopping
  report(sup.kernel.env.logger, 'reached_max_restart_intensity', {
    supervisor: sup.label,
    child: rec.spec.id,
    reason: rec.lastExit,
    restarts: sup.restarts.size - 1,
    maxRestarts: sup.flags.maxRestarts,
    periodMs: sup.flags.periodMs,
  });
  await sup.terminateAll();
  sup.proc.exit('shutdown');
}

/** one_for_all / rest_for_one: stop the set in reverse order, then start it again in order. */
async function restartSet(sup: SupervisorServer, rec: ChildRecord): Promise<void> {
  const set = restartSetOf(
    sup.flags.strategy,
    sup.children.map((c) => ({ id: c.spec.id, restart: c.spec.restart })),
    rec.spec.id,
  );
  for (const id of set.terminate) {
    const c = sup.find(id)!;
    await sup.stopRecord(c);
  }
  for (const id of set.remove) sup.remove(sup.find(id)!);
  for (const id of set.start) {
    const c = sup.find(id);
    if (!c) continue;
    const again = startAgain(sup, c);
    if (!(again instanceof Promise ? await again : again)) break;
  }
}

/**
 * Starts a record again as part of a restart; false when it failed (a retry is queued) or a
 * stop arrived. Parked (its provider is not ready) and waiting (`startRetry`) count as done:
 * they start by themselves later, uncharged.
 */
function startAgain(sup: SupervisorServer, rec: ChildRecord): boolean | Promise<boolean> {
  if (!sup.proc.alive) return false;
  const out = attempt(sup, rec);
  return out instanceof Promise ? out.then((o) => startedAgain(sup, rec, o)) : startedAgain(sup, rec, out);
}

/** The attempt of a restart came to `out`: counted, or its failure handled (retry queued, or given up). */
function startedAgain(sup: SupervisorServer, rec: ChildRecord, out: Outcome): boolean | Promise<boolean> {
  if (out === 'started') {
    rec.restarts++;
    return true;
  }
  if (out === 'stopped') return false;
  if (out === 'parked' || out === 'waiting') return true;
  if (out === 'ignored') {
    rec.restarting = false;
    if (sup.isDynamic || rec.spec.restart === 'temporary') sup.remove(rec);
    sup.changed(); // restarting → stopped (attempt told 'ignored' while the restart was still pending)
    return true;
  }
  const reason = out.failed;
  if (rec.spec.startRetry) return giveUp(sup, rec, reason).then(() => false); // permanent, or out of attempts: fail fast, named
  rec.lastExit = reason;
  report(sup.kernel.env.logger, 'start_error', { supervisor: sup.label, child: rec.spec.id, reason, restarts: rec.restarts });
  rec.restarting = true;
  if (rec.spec.backoff ?? sup.flags.backoff) {
    const scheduled = scheduleRestart(sup, rec);
    if (scheduled instanceof Promise) return scheduled.then(() => false);
  } else sup.proc.enqueue({ kind: 'info', message: { tag: RETRY, record: rec } });
  return false;
}
