/**
 * The performs of this process, per store data and runner id, for the life of the process.
 *
 * - **In flight**: every perform a queue has started and not yet let go of (its outcome written
 *   and its perform ended, or the process halted). A runner of the same id started again in this
 *   process — after a drain, or after its child was *killed* (brutal kill, a shutdown timeout, a
 *   kill of the tree above: no drain ran, the old runner and its performs still run) — must not
 *   treat their rows as nobody's: its start-up reconciliation (reconcile.ts) skips them.
 * - **Left by a drain**: performs that ignored their abort. Their jobs stay `executing` under the
 *   runner (`node/incarnation`) that claimed them, holding their global slots. A single-node
 *   runner started again on the same data takes that runner id again while any of them still
 *   runs: every node's lifeline reads the rows and slots by runner id, so the job is neither
 *   rescued nor its slot dropped while its first perform runs; when that perform ends its job is
 *   given back through the store handle open on that data now (the old one may be closed).
 *
 * - **Never started**: claims under that runner id made by a commit of unknown outcome that did not
 *   show when it settled — this process started no perform for them. Reconciliation returns them
 *   with their attempt given back: nothing ran. The duty outlives the runner that made the claim:
 *   one that lands after it stopped is returned by the runner of that id running then.
 * - **Ended by a drain**: performs a drain saw end by its abort whose give-back to `available`
 *   is not proven yet. If it never commits (the store refused it), the next runner of that id
 *   returns them with their attempt given back, as the drain meant to — stopping is not the
 *   job's failure. A perform that returned an outcome whose write was refused is not one of
 *   them: it ran, so its attempt stays charged.
 * - **Late outcomes of unknown outcome**: a perform left by a drain ended and its outcome's
 *   commit may or may not have landed; the runner of that id running now (or the next) settles
 *   it (reconcile.ts), rather than leaving it to the lifeline's `rescueAfterMs`.
 * - **Holder**: the runner object holding the id now. A second start under the id of a live one
 *   is refused; one under the id of a runner that is stopping waits for its stop (its drain's
 *   give-back) before it reconciles anything.
 *
 * Keyed by the store's data identity — its key-value engine object (weakly), then its directory —
 * not by its handle (a store reopened in this process is a new handle on the same rows), nor by
 * the directory alone (a fresh simulated world with the same directory string is other data: it
 * must not inherit a runner id, which would change its random draws).
 */
import type { Store } from '../store/index.ts';
import type { Job } from './types.ts';
import type { IndeterminateCommit } from './uncertain.ts';

/** A runner object holding an id on some store data (see {@link holdId}). */
export interface IdHolder {
  /** Whether it claims, or will once its start completes: another start under its id is refused. */
  live(): boolean;
  /** Resolves once it has stopped (its drain's give-back settled). Never rejects. */
  readonly stopped: Promise<unknown>;
  /** A late outcome of this id ended `outcome` (counted in the holder's metrics). */
  lateEnded?(outcome: LateResult): void;
  /** A late outcome of unknown outcome was handed to this id ({@link lateUnsettled}): settle it now. */
  lateDue?(): void;
}

/** How the outcome of a perform a drain left running ended: written as it said, fenced (the row was no longer that attempt), or refused (the job rescued, attempt charged — a snooze uncharged). */
export type LateResult = 'written' | 'fenced' | 'refused';

/**
 * A late outcome (see {@link leftoverEnded}) whose commit's outcome is unknown, or whose charged
 * rescue was refused: the runner of this id settles it (reconcile.ts, lateOutcome.ts) — written
 * again fenced by the attempt once settled, or the job rescued with its attempt charged if that
 * is refused.
 */
export interface LateDuty {
  /** The attempt's slot token. */
  readonly token: string;
  /** The attempt, as claimed. */
  readonly job: Job;
  /** The state its outcome writes (`completed`, `retryable`, …). */
  readonly state: string;
  /** The last commit tried, when its outcome is unknown (settled first); unset: it was refused (tried again). */
  err: IndeterminateCommit | undefined;
  /** Writes the outcome again, fenced by the attempt, with the global slot given back. */
  readonly write: (store: Store) => Promise<'done' | 'fenced'>;
  /** Rescues the job, attempt charged (a snooze: uncharged), fenced, with the slot given back (the write was refused). */
  readonly rescue: (store: Store) => Promise<number>;
}

interface Entry {
  /** Slot tokens of the attempts whose performs run in this process (all of them, drained or not). */
  readonly live: Set<string>;
  /** Slot tokens of the attempts whose performs a drain left running. */
  readonly left: Set<string>;
  /** Slot tokens of claims of unknown outcome that landed or may have, whose performs this process never started. */
  readonly unstarted: Set<string>;
  /** Slot tokens of performs a drain saw end by its abort, whose give-back (attempt returned) is not proven. */
  readonly returning: Set<string>;
  /** Late outcomes of unknown outcome, by slot token, for the runner of this id to settle. */
  readonly late: Map<string, LateDuty>;
  /** A drain of this runner id is under way: performs that end now are {@link Entry.returning}. */
  draining: number;
  /** The runner object holding this id. */
  holder: IdHolder | undefined;
  /** The store handle the runner of this id runs on now. */
  current: Store | undefined;
}

/** engine → dir → runner id → its entry. */
const byData = new WeakMap<object, Map<string, Map<string, Entry>>>();

function runners(store: Store, create: true): Map<string, Entry>;
function runners(store: Store, create: false): Map<string, Entry> | undefined;
function runners(store: Store, create: boolean): Map<string, Entry> | undefined {
  const engine = store.engine as object;
  let dirs = byData.get(engine);
  if (!dirs) {
    if (!create) return undefined;
    byData.set(engine, (dirs = new Map()));
  }
  let m = dirs.get(store.dir);
  if (!m && create) dirs.set(store.dir, (m = new Map()));
  return m;
}

function entry(store: Store, runner: string): Entry {
  const m = runners(store, true);
  let e = m.get(runner);
  if (!e) m.set(runner, (e = { live: new Set(), left: new Set(), unstarted: new Set(), returning: new Set(), late: new Map(), draining: 0, holder: undefined, current: undefined }));
  return e;
}

function tidy(store: Store, runner: string): void {
  const m = runners(store, false);
  const e = m?.get(runner);
  if (!m || !e || e.live.size > 0 || e.left.size > 0 || e.unstarted.size > 0 || e.returning.size > 0 || e.late.size > 0 || e.draining > 0 || e.holder !== undefined || e.current !== undefined) return;
  m.delete(runner);
  if (m.size === 0) byData.get(store.engine as object)?.delete(store.dir);
}

/** A perform of `runner` (the attempt holding slot `token`) has started in this process. */
export function performStarted(store: Store, runner: string, token: string): void {
  entry(store, runner).live.add(token);
}

/**
 * The queue let go of the perform counted by {@link performStarted} (ended and settled, or
 * halted). `unattempted` false: during a drain, its job is not one to give back with the attempt
 * returned — its perform returned an outcome whose write was refused, so it ran: a runner of this
 * id reconciling it later charges the attempt.
 */
export function performEnded(store: Store, runner: string, token: string, unattempted = true): void {
  const e = runners(store, false)?.get(runner);
  if (!e || e.left.has(token)) return; // a drain's leftover: ends through leftoverEnded
  e.live.delete(token);
  if (e.draining > 0 && unattempted) e.returning.add(token);
  tidy(store, runner);
}

/** A claim of `runner` (slot `token`) may have landed by a commit of unknown outcome; no perform of it was started. */
export function claimNeverStarted(store: Store, runner: string, token: string): void {
  entry(store, runner).unstarted.add(token);
}

/** The claim counted by {@link claimNeverStarted} (or the perform counted as {@link returning}) was given back or reconciled: forgotten. */
export function claimSettled(store: Store, runner: string, token: string): void {
  const e = runners(store, false)?.get(runner);
  if (!e) return;
  const had = e.unstarted.delete(token);
  if (!e.returning.delete(token) && !had) return;
  tidy(store, runner);
}

/** The answer for a runner with nothing recorded (one shared set, not a new one per question: asked once per claimed row). */
const NONE: ReadonlySet<string> = new Set();

/** The slot tokens of `runner`'s claims this process knows it never started a perform for. */
export function claimsNeverStarted(store: Store, runner: string): ReadonlySet<string> {
  return runners(store, false)?.get(runner)?.unstarted ?? NONE;
}

/** The slot tokens of `runner`'s performs a drain saw end whose give-back is not proven (see {@link drainStarted}). */
export function returning(store: Store, runner: string): ReadonlySet<string> {
  return runners(store, false)?.get(runner)?.returning ?? NONE;
}

/**
 * A drain of `runner` starts: a perform that ends from now on is counted as {@link returning}
 * until the returned function is called with a test of which tokens are still not given back
 * (the others are forgotten).
 */
export function drainStarted(store: Store, runner: string): (stillOut: (token: string) => boolean) => void {
  const e = entry(store, runner);
  e.draining++;
  let done = false;
  return (stillOut) => {
    if (done) return;
    done = true;
    e.draining = Math.max(0, e.draining - 1);
    for (const t of e.returning) if (!stillOut(t)) e.returning.delete(t);
    tidy(store, runner);
  };
}

/** The runner object holding `runner`'s id on `store`'s data, if any. */
export function holderOf(store: Store, runner: string): IdHolder | undefined {
  return runners(store, false)?.get(runner)?.holder;
}

/** `h` holds `runner`'s id on `store`'s data from now on, until the returned function is called. */
export function holdId(store: Store, runner: string, h: IdHolder): () => void {
  const e = entry(store, runner);
  e.holder = h;
  return () => {
    const now = runners(store, false)?.get(runner);
    if (now?.holder !== h) return;
    now.holder = undefined;
    tidy(store, runner);
  };
}

/** A perform of `runner` (the attempt holding slot `token`) outlived its drain. */
export function leftoverStarted(store: Store, runner: string, token: string): void {
  const e = entry(store, runner);
  e.live.add(token);
  e.left.add(token);
}

/**
 * A perform counted by {@link leftoverStarted} has ended. Returns the store handle to give its
 * job back through: the one a runner of that id runs on now, else `store`.
 */
export function leftoverEnded(store: Store, runner: string, token: string): Store {
  const e = runners(store, false)?.get(runner);
  if (!e) return store;
  e.left.delete(token);
  e.live.delete(token);
  const now = e.current ?? store;
  tidy(store, runner);
  return now;
}

/** How many performs of `runner` left by a drain still run. */
export function leftoversOf(store: Store, runner: string): number {
  return runners(store, false)?.get(runner)?.left.size ?? 0;
}

/** The slot tokens of `runner`'s attempts whose performs run in this process (drained or not). */
export function performsInFlight(store: Store, runner: string): ReadonlySet<string> {
  return runners(store, false)?.get(runner)?.live ?? new Set();
}

/** A runner id of node `name` on `store`'s data whose left performs still run and that no live runner holds, if any. */
export function runnerWithLeftovers(store: Store, name: string): string | undefined {
  for (const [runner, e] of runners(store, false) ?? []) if (e.left.size > 0 && runner.startsWith(`${name}/`) && !e.holder?.live()) return runner;
  return undefined;
}

/** The runner `runner` runs on `store` from now on (until the returned function is called). */
export function runsOn(store: Store, runner: string): () => void {
  entry(store, runner).current = store;
  return () => {
    const e = runners(store, false)?.get(runner);
    if (e?.current === store) e.current = undefined;
    tidy(store, runner);
  };
}

/** Hands late outcome `d` of `runner` to the runner of that id (now, or the next one to start there). */
export function lateUnsettled(store: Store, runner: string, d: LateDuty): void {
  const e = entry(store, runner);
  e.late.set(d.token, d);
  e.holder?.lateDue?.();
}

/** The late outcomes of `runner` left to settle. */
export function lateDuties(store: Store, runner: string): readonly LateDuty[] {
  return [...(runners(store, false)?.get(runner)?.late.values() ?? [])];
}

/** Late outcome `token` of `runner` is settled: forgotten. */
export function lateSettled(store: Store, runner: string, token: string): void {
  runners(store, false)?.get(runner)?.late.delete(token);
  tidy(store, runner);
}

/** A late outcome of `runner` ended as `result`: counted by the runner holding the id now, else by `fallback`. */
export function lateCounted(store: Store, runner: string, result: LateResult, fallback?: (r: LateResult) => void): void {
  const h = runners(store, false)?.get(runner)?.holder;
  if (h?.lateEnded) h.lateEnded(result);
  else fallback?.(result);
}

/** Simulation only: the process died (`kill -9`) — its performs with it. */
export function leftoversGone(store: Store, runner: string): void {
  const e = runners(store, false)?.get(runner);
  if (!e) return;
  e.live.clear();
  e.left.clear();
  e.unstarted.clear();
  e.returning.clear();
  e.late.clear();
  e.draining = 0;
  e.holder = undefined;
  tidy(store, runner);
}
