import type { TraceEvent, SimLogRecord } from './simulation.ts';
import type { ChildData, Scenario, TreeData } from './scenario.ts';
import type { SimKvState } from './simKv.ts';
import type { NodeBoot } from './nodes.ts';

/** Everything an oracle may look at after a run. */
export interface RunView {
  readonly scenario: Scenario;
  readonly trace: readonly TraceEvent[];
  readonly logs: readonly SimLogRecord[];
  /** The data tree, when the scenario's tree is data (code trees get the generic oracles only). */
  readonly tree: TreeData | undefined;
  /** Virtual time the orderly stop began (undefined: the tree ended before). */
  readonly stopAt: number | undefined;
  /** Timers still armed after the tree stopped. */
  readonly timersLeft: number;
  /** Whether the stop completed (the application exited). */
  readonly stopped: boolean;
  readonly kv: SimKvState;
  /** The disk's content after the run, per directory: `column\0hex(key)` → value hex. */
  readonly disk: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /**
   * A multi-node run ({@link Scenario.nodes}): every boot of every node, in node order. The
   * trace's `node.up` / `node.down` events (fields `node`, `boot`) say when each began and was
   * killed; a node's trace events and log records carry its `node` and `boot`.
   */
  readonly nodes?: readonly NodeBoot[];
  /** In a per-node view ({@link Oracle.perNode}): this boot was killed (abruptly) at this time. */
  readonly killedAt?: number;
}

/** An oracle's answer: holds, or the first violation with its virtual time. */
export type Verdict = { readonly ok: true } | { readonly ok: false; readonly t: number; readonly message: string };

/** A named check over a run. For `sometimes` invariants, `ok` means "it happened". */
export interface Oracle {
  readonly name: string;
  readonly description: string;
  /**
   * A tree oracle: in a multi-node run it is checked on each boot of each node separately (a
   * view of that application's trace, logs, tree, stop and timers); otherwise once on the run.
   */
  readonly perNode?: boolean;
  check(run: RunView): Verdict;
}

const OK: Verdict = { ok: true };
const fail = (t: number, message: string): Verdict => ({ ok: false, t, message });

interface SupervisorInfo {
  readonly label: string;
  readonly tree: TreeData;
  readonly children: readonly ChildData[];
}

/** Every supervisor of a data tree by the label its reports carry (root: the scenario name). */
function supervisors(view: RunView): SupervisorInfo[] {
  const out: SupervisorInfo[] = [];
  if (view.tree) visitSupervisors(view.scenario.name, view.tree, out);
  return out;
}

function visitSupervisors(label: string, tree: TreeData, out: SupervisorInfo[]): void {
  if (tree.opaque) return;
  out.push({ label, tree, children: tree.children });
  for (const c of tree.children) if (c.tree) visitSupervisors(c.id, c.tree, out);
}

/** Updates the running children among `names` past one trace event (a start report or spawn adds, an exit removes). */
function step(alive: Set<string>, e: TraceEvent, names: ReadonlySet<string>): void {
  const n = e['name'] as string;
  if (e.kind === 'report' && e['report'] === 'progress' && names.has(e['child'] as string)) alive.add(e['child'] as string);
  if (!names.has(n)) return;
  if (e.kind === 'spawn') alive.add(n);
  else if (e.kind === 'exit') alive.delete(n);
}

const reports = (view: RunView, sup: string): TraceEvent[] => view.trace.filter((r) => r.kind === 'report' && r['supervisor'] === sup);

function restartEligible(child: ChildData | undefined, reason: unknown): boolean {
  const restart = child?.restart ?? (child?.tree ? 'permanent' : 'permanent');
  if (restart === 'temporary') return false;
  if (restart === 'permanent') return true;
  const normal = reason === 'normal' || reason === 'shutdown' || (typeof reason === 'object' && reason !== null && 'shutdown' in reason);
  return !normal;
}

/**
 * OTP: "if more than MaxR restarts occur within MaxT seconds, the supervisor terminates all
 * the child processes and then itself". Every restart attempt (a restartable child's exit, a
 * failed restart's retry) is charged at the time the supervisor handles it; the window is
 * (t − periodMs, t]. The supervisor must give up at exactly the attempt that makes the count
 * exceed `maxRestarts`, and never earlier. (Supervisors with backoff are skipped: their
 * attempts are charged when the delay ends.)
 */
export const restartIntensity: Oracle = {
  name: 'restartIntensity',
  perNode: true,
  description: 'the supervisor gives up at the (maxRestarts+1)-th restart within periodMs, never before, never after',
  check(view) {
    for (const s of supervisors(view)) {
      if (s.tree.backoff || s.children.some((c) => c.backoff)) continue;
      const max = s.tree.maxRestarts ?? 1;
      const period = s.tree.periodMs ?? 5000;
      let window: number[] = [];
      for (const r of view.trace) {
        if (r.kind !== 'report') continue;
        // A restarted supervisor is a new process with an empty window (its parent's progress report).
        if (r['report'] === 'progress' && r['child'] === s.label && r['supervisor'] !== s.label) window = [];
        if (r['supervisor'] !== s.label) continue;
        const kind = r['report'];
        if (kind === 'reached_max_restart_intensity') {
          const inWindow = window.filter((x) => x > r.t - period).length;
          if (inWindow <= max) return fail(r.t, `${s.label} gave up with ${inWindow} restart(s) in the last ${period} ms (allowed ${max})`);
          window = [];
          continue;
        }
        const child = s.children.find((c) => c.id === r['child']);
        const attempt = (kind === 'child_terminated' && restartEligible(child, r['reason'])) || (kind === 'start_error' && r['restarts'] !== undefined);
        if (!attempt) continue;
        window = [...window.filter((x) => x > r.t - period), r.t];
        if (window.length > max) {
          const gaveUp = reports(view, s.label).some((x) => x['report'] === 'reached_max_restart_intensity' && x.t === r.t && x['child'] === r['child']);
          if (!gaveUp) return fail(r.t, `${s.label}: restart ${window.length} within ${period} ms (maxRestarts ${max}) but the supervisor did not give up`);
        }
      }
    }
    return OK;
  },
};


/**
 * OTP's strategies: one_for_one restarts the child alone; rest_for_one terminates the children
 * started after it (last first) and restarts it and them in start order; one_for_all does the
 * same for every other child. Temporary children are never restarted. The observed stops and
 * starts after each restartable exit must be a prefix of exactly that sequence (a prefix: a new
 * failure may interrupt it).
 */
export const restartStrategy: Oracle = {
  name: 'restartStrategy',
  perNode: true,
  description: 'each restart stopped and started exactly the children the strategy names, in order',
  check(view) {
    const trace = view.trace;
    for (const s of supervisors(view)) {
      if (s.tree.strategy === 'simple_one_for_one') continue;
      const ids = s.children.map((c) => c.id);
      const names = new Set(ids);
      const temporary = new Set(s.children.filter((c) => c.restart === 'temporary').map((c) => c.id));
      // The children among `names` running just before index i, kept up as the loop goes (one
      // pass, not a rescan of the trace's prefix at every exit).
      const alive = new Set<string>();
      for (let i = 0; i < trace.length; i++) {
        const r = trace[i]!;
        if (i > 0) step(alive, trace[i - 1]!, names);
        if (r.kind !== 'report' || r['supervisor'] !== s.label || r['report'] !== 'child_terminated') continue;
        const failed = r['child'] as string;
        if (!restartEligible(s.children.find((c) => c.id === failed), r['reason'])) continue;
        const idx = ids.indexOf(failed);
        const affected = s.tree.strategy === 'one_for_all' ? ids : s.tree.strategy === 'rest_for_one' ? ids.slice(idx) : [failed];
        const expected = [
          ...affected.filter((x) => x !== failed && alive.has(x)).reverse().map((x) => `stop ${x}`),
          ...affected.filter((x) => x === failed || !temporary.has(x)).map((x) => `start ${x}`),
        ];
        const nested = new Set(s.children.filter((c) => c.tree).map((c) => c.id));
        const seen: string[] = [];
        let interrupted = false;
        for (let j = i + 1; j < trace.length && seen.length < expected.length; j++) {
          const e = trace[j]!;
          if ((e.kind === 'phase' && e['phase'] === 'stop') || e.kind === 'fault') {
            interrupted = true; // the orderly stop, or an injected crash or kill, changes what happens next
            break;
          }
          if (e.kind === 'report' && e['supervisor'] === s.label) {
            if (e['report'] === 'progress') {
              if (nested.has(e['child'] as string)) seen.push(`start ${e['child'] as string}`); // a supervisor child has no machine lifecycle
              continue;
            }
            interrupted = true; // a new failure, a failed start or giving up ends this restart
            break;
          }
          const name = e['name'] as string;
          if (!names.has(name)) continue;
          if (e.kind === 'spawn' && !nested.has(name)) seen.push(`start ${name}`);
          else if (e.kind === 'exit' && name !== failed) {
            if (e['reason'] === 'shutdown' || e['reason'] === 'killed') seen.push(`stop ${name}`);
            else if (affected.includes(name)) {
              interrupted = true; // it died by itself meanwhile
              break;
            }
          }
        }
        for (let k = 0; k < seen.length; k++) {
          if (seen[k] !== expected[k]) return fail(r.t, `${s.label} (${s.tree.strategy}) after '${failed}' exited: expected [${expected.join(', ')}], saw [${seen.join(', ')}]`);
        }
        if (!interrupted && seen.length < expected.length && view.stopped) {
          return fail(r.t, `${s.label} (${s.tree.strategy}) after '${failed}' exited: expected [${expected.join(', ')}], saw only [${seen.join(', ')}]`);
        }
      }
    }
    return OK;
  },
};

/** No child used a dependency before its provider was ready (the child protocol's promise). */
export const depsReady: Oracle = {
  name: 'depsReady',
  perNode: true,
  description: 'no child used a dependency before its provider was ready',
  check(view) {
    // 'starting': spawned, not yet ready; 'ready'; 'down': exited after being ready (a stale
    // service, legal: the supervisor learns of the exit and restarts the dependents).
    const state = new Map<string, 'starting' | 'ready' | 'down'>();
    const provider = new Map<string, string>();
    for (const s of supervisors(view)) for (const c of s.children) if (c.provides) provider.set(c.provides, c.id);
    for (const e of view.trace) {
      const n = e['name'] as string;
      if (e.kind === 'spawn') state.set(n, 'starting');
      else if (e.kind === 'ready') state.set(n, 'ready');
      else if (e.kind === 'exit') state.set(n, state.get(n) === 'starting' ? 'down' : 'down');
      else if (e.kind === 'dep.use') {
        const dep = e['dep'] as string;
        const p = provider.get(dep) ?? dep;
        const st = state.get(p);
        if (!e['provided']) return fail(e.t, `${e['child'] as string} started with no '${dep}' service (provider '${p}' ${st ?? 'never started'})`);
        if (st === 'starting' || st === undefined) return fail(e.t, `${e['child'] as string} used '${dep}' while its provider '${p}' was ${st === 'starting' ? 'still starting' : 'never started'}`);
      }
    }
    return OK;
  },
};

/** OTP: at shutdown a supervisor terminates its children in reverse start order. */
export const reverseStop: Oracle = {
  name: 'reverseStop',
  perNode: true,
  description: 'the orderly stop ended every supervisor’s children in reverse start order',
  check(view) {
    if (view.stopAt === undefined) return OK;
    for (const s of supervisors(view)) {
      const ids = s.children.map((c) => c.id);
      let last = Infinity;
      let lastName = '';
      const ready = new Set<string>();
      for (const e of view.trace) {
        const n = e['name'] as string;
        if (e.kind === 'spawn') ready.delete(n);
        else if (e.kind === 'ready') ready.add(n);
        else if (e.kind === 'report' && e['report'] === 'progress') ready.add(e['child'] as string);
        if (e.t < view.stopAt || e.kind !== 'exit') continue;
        // A child still starting when the stop came is abandoned, not stopped in order.
        if (!ready.has(n)) continue;
        // A child that crashed by itself during the stop is not part of the stop's order.
        if (e['reason'] !== 'shutdown' && e['reason'] !== 'killed') continue;
        const i = ids.indexOf(e['name'] as string);
        if (i < 0) continue;
        if (i > last) return fail(e.t, `${s.label}: '${e['name'] as string}' stopped after '${lastName}' (start order ${ids.join(', ')})`);
        last = i;
        lastName = e['name'] as string;
      }
    }
    return OK;
  },
};

/** A database directory is never opened while an earlier handle on it is still open. */
export const handleClosedBeforeReopen: Oracle = {
  name: 'handleClosedBeforeReopen',
  description: 'a child’s old database handle closed before its replacement opened',
  check(view) {
    for (const e of view.trace) {
      if (e.kind === 'kv.open' && (e['othersOpen'] as number) > 0) return fail(e.t, `${e['dir'] as string} opened while ${e['othersOpen'] as number} earlier handle(s) were still open`);
    }
    return OK;
  },
};

/** After the tree stopped, no timer it armed is still pending. */
export const noTimersAfterStop: Oracle = {
  name: 'noTimersAfterStop',
  perNode: true,
  description: 'no timer left armed after the tree stopped',
  check(view) {
    if (!view.stopped) return OK;
    return view.timersLeft === 0 ? OK : fail(view.stopAt ?? 0, `${view.timersLeft} timer(s) still armed after the tree stopped`);
  },
};

/** Every acknowledged write is on the disk after the run, with its last acknowledged value. */
export const noAckedWriteLost: Oracle = {
  name: 'noAckedWriteLost',
  description: 'no acknowledged write lost',
  check(view) {
    for (const [dir, acked] of view.kv.acked) {
      const disk = view.disk.get(dir);
      for (const [key, value] of acked) {
        const got = disk?.get(key);
        if (got !== value) return fail(view.stopAt ?? 0, `${dir}: acknowledged ${key.replace('\u0000', '/')} = ${value ?? '(deleted)'} but the disk has ${got ?? 'nothing'}`);
      }
    }
    return OK;
  },
};

/** No code (outside libraries) read the wall clock, ambient randomness or real timers. */
export const determinism: Oracle = {
  name: 'determinism',
  description: 'no ambient clock, randomness, timer or real I/O used by code in the run',
  check(view) {
    const e = view.trace.find((x) => x.kind === 'ambient' && !x['library']);
    return e ? fail(e.t, `${e['api'] as string} called at ${e['site'] as string}`) : OK;
  },
};

/** Nothing escaped as an uncaught exception or an unhandled rejection. */
export const noUncaught: Oracle = {
  name: 'noUncaught',
  description: 'no uncaught exception or unhandled rejection',
  check(view) {
    const e = view.trace.find((x) => x.kind === 'uncaught');
    return e ? fail(e.t, `uncaught in ${e['label'] as string}: ${JSON.stringify(e['error'])}`) : OK;
  },
};

/** At the end of the heal phase every permanent child of the root is running (unless the root gave up). */
export const treeUp: Oracle = {
  name: 'treeUp',
  perNode: true,
  description: 'after healing, every permanent child of the root is running',
  check(view) {
    const t = view.stopAt;
    if (view.killedAt !== undefined) return OK; // a boot killed on purpose is not running at the end
    if (t === undefined || !view.tree) return t === undefined ? fail(view.scenario.horizonMs, 'the tree was not running at the end of the heal phase') : OK;
    const ready = new Map<string, boolean>();
    for (const e of view.trace) {
      if (e.t > t) break;
      if (e.kind === 'ready') ready.set(e['name'] as string, true);
      else if (e.kind === 'exit' || e.kind === 'spawn') ready.set(e['name'] as string, false);
    }
    for (const c of view.tree.children) {
      if ((c.restart ?? 'permanent') !== 'permanent' || c.tree) continue;
      if (!ready.get(c.id)) return fail(t, `'${c.id}' is not running at the end of the heal phase`);
    }
    return OK;
  },
};

/** Sometimes-oracles: coverage of interesting behaviour. */
export const restarted: Oracle = {
  name: 'restarted',
  description: 'some child was restarted',
  check: (view) => {
    // a progress report of a child with a child_terminated report at or before its time (anywhere in the trace)
    const firstExit = new Map<unknown, number>();
    for (const y of view.trace) {
      if (y['report'] !== 'child_terminated') continue;
      const seen = firstExit.get(y['child']);
      if (seen === undefined || y.t < seen) firstExit.set(y['child'], y.t);
    }
    const r = view.trace.find((x) => x['report'] === 'progress' && (firstExit.get(x['child']) ?? Infinity) <= x.t);
    return r ? OK : fail(0, 'no restart happened');
  },
};
export const gaveUp: Oracle = {
  name: 'gaveUp',
  description: 'some supervisor reached its restart intensity',
  check: (view) => (view.trace.some((x) => x['report'] === 'reached_max_restart_intensity') ? OK : fail(0, 'no supervisor gave up')),
};
export const faultFired: Oracle = {
  name: 'faultFired',
  description: 'some fault fired',
  check: (view) => (view.trace.some((x) => x.kind === 'fault') ? OK : fail(0, 'no fault fired')),
};

/** The oracle library by name (scenarios name oracles; users may add their own). */
export const oracles: Readonly<Record<string, Oracle>> = {
  restartIntensity,
  restartStrategy,
  depsReady,
  reverseStop,
  handleClosedBeforeReopen,
  noTimersAfterStop,
  noAckedWriteLost,
  determinism,
  noUncaught,
  treeUp,
  restarted,
  gaveUp,
  faultFired,
};

/** Checked in every run whether or not a scenario names them. */
export const builtinInvariants = ['determinism', 'noUncaught'] as const;
