import { createHash } from 'node:crypto';
import { createKernel } from '../actors/kernel.ts';
import type { Pid } from '../actors/pid.ts';
import { formatReason } from '../actors/exitReason.ts';
import { startApplication } from '../supervisor/application.ts';
import { _setFaultHook } from '../env/faults.ts';
import { Simulation, type TraceEvent } from './simulation.ts';
import { createSimKv } from './simKv.ts';
import { SimNats } from './simNats.ts';
import { createSimResolver } from './simResolver.ts';
import { FaultSession, type FaultCoverage } from './faultPlan.ts';
import { withGuard } from './guard.ts';
import { sample } from './distribution.ts';
import { buildTree, codeTree, validateScenario, type Scenario, type ScenarioContext, type TimelineFault, type TreeData } from './scenario.ts';
import type { SupervisorInit } from '../supervisor/types.ts';
import { formatStrategy, type ScheduleStrategy, type Divergence, type DecisionStrategy } from './scheduleStrategy.ts';
import { builtinInvariants, oracles as library, type Oracle, type RunView } from './oracles.ts';
import { SimulationBusyError, ScenarioError } from './errors.ts';
import { SimNode, nodeViews } from './nodes.ts';
import { clusterOracles } from './clusterOracles.ts';

/** Options of {@link runScenario}. */
export interface RunOptions {
  readonly seed: number;
  /** Overrides the scenario's schedule strategy. */
  readonly strategy?: ScheduleStrategy | undefined;
  /**
   * Exactly these faults and no random ones (what a minimised counterexample and its replay
   * use): timeline actions and scripted fault points.
   */
  readonly faults?: readonly TimelineFault[] | undefined;
  /** Overrides the scenario's horizon (the shrinker shortens it). */
  readonly horizonMs?: number | undefined;
  /** Follow this decision log (a replay); a divergence is reported, not thrown. */
  readonly decisions?: readonly string[] | undefined;
  /**
   * The strategy `decisions` was recorded with (the report's {@link RunReport.decisionStrategy}):
   * the replay draws its tie-break keys and is exact. Absent (a log from before the field): the
   * `random` keys, as every replay drew until the field existed.
   */
  readonly decisionStrategy?: DecisionStrategy | undefined;
  /** Run twice and compare trace hashes (madsim's determinism check). */
  readonly checkDeterminism?: boolean | undefined;
  /** The code version the report names (the CLI passes package version + git commit). */
  readonly codeVersion?: string | undefined;
  /** How the replay command names the scenario (a file path). Default: the scenario's name. */
  readonly source?: string | undefined;
  /** Extra oracles by name, beside the library. */
  readonly oracles?: Readonly<Record<string, Oracle>> | undefined;
}

/** One invariant that did not hold. */
export interface Violation {
  readonly invariant: string;
  readonly kind: 'always' | 'eventually';
  readonly t: number;
  readonly message: string;
}

/** The report of one run. */
export interface RunReport {
  readonly scenario: string;
  readonly seed: number;
  readonly codeVersion: string;
  /** `fail`: some always/eventually invariant was violated. */
  readonly outcome: 'pass' | 'fail';
  /** Whether the outcome is the scenario's `expect`. */
  readonly asExpected: boolean;
  /** The first violated invariant (earliest virtual time). */
  readonly violation: Violation | undefined;
  readonly violations: readonly Violation[];
  /** `sometimes` invariants: whether each held at some point in this run. */
  readonly sometimes: Readonly<Record<string, boolean>>;
  /** Every fault that fired, as a replayable list (timeline actions and points). */
  readonly faults: readonly TimelineFault[];
  readonly coverage: FaultCoverage;
  /** sha256 of the trace and the decision log. */
  readonly traceHash: string;
  /** With `checkDeterminism`: the second run's hash was the same. */
  readonly deterministic: boolean | undefined;
  readonly steps: number;
  readonly virtualMs: number;
  readonly divergence: Divergence | undefined;
  readonly trace: readonly TraceEvent[];
  readonly decisions: readonly string[];
  /** The strategy {@link decisions} was recorded with: pass it with the log to replay it exactly. */
  readonly decisionStrategy: DecisionStrategy;
  /** One line that replays this run. */
  readonly replay: string;
}

let busy = false;
/** The supervisor library and the cluster oracles: what a scenario may name without passing its own. */
const knownOracles: Readonly<Record<string, Oracle>> = { ...library, ...clusterOracles };
const DEFAULT_EPOCH = Date.UTC(2026, 0, 1);

/**
 * Runs `scenario` once on virtual time with `seed`: starts its tree in a {@link Simulation},
 * runs the chaos phase then the heal phase, stops the tree in order, and checks every
 * invariant on the trace. Same (code, scenario, seed, options) → same trace hash.
 *
 * @example
 * import { restForOneService, runScenario } from 'ordo/chaos';
 *
 * const report = await runScenario(restForOneService, { seed: 42, checkDeterminism: true });
 * if (report.outcome === 'fail') console.error(report.violation, report.replay);
 */
export async function runScenario(scenario: Scenario, options: RunOptions): Promise<RunReport> {
  validateScenario(scenario);
  const first = await runOnce(scenario, options);
  if (!options.checkDeterminism) return first;
  const second = await runOnce(scenario, options);
  return { ...first, deterministic: second.traceHash === first.traceHash };
}

async function runOnce(s: Scenario, o: RunOptions): Promise<RunReport> {
  if (busy) throw new SimulationBusyError();
  busy = true;
  const previousHook = _setFaultHook(undefined);
  try {
    return await execute(s, o);
  } finally {
    _setFaultHook(previousHook);
    busy = false;
  }
}

async function execute(s: Scenario, o: RunOptions): Promise<RunReport> {
  const horizon = o.horizonMs ?? s.horizonMs;
  const healAt = Math.min(horizon, s.healAtMs ?? Math.round(s.horizonMs * 0.75));
  const delivery = s.latency?.deliveryMs;
  const io = s.latency?.ioMs;
  const sim = new Simulation({
    seed: o.seed,
    strategy: o.decisions ? { kind: 'replay', log: o.decisions, recordedWith: o.decisionStrategy } : (o.strategy ?? s.strategy),
    deliveryLatency: delivery === undefined ? undefined : (_label, next) => sample(delivery, next, 'latency.deliveryMs'),
  });
  const kv = createSimKv(sim, io === undefined ? {} : { latencyMs: (_op, next) => sample(io, next, 'latency.ioMs') });
  const nats = new SimNats(sim);
  const env = sim.createEnv({ kv, resolver: createSimResolver(sim, { records: s.dns ?? {} }), nats: nats.connector() });
  const kernel = createKernel(env);
  /** A multi-node run: one application per node (src/chaos/nodes.ts); the single application below is not started. */
  const cluster = s.nodes?.map((n, index) => new SimNode(n.name, { sim, scenario: s, kv, nats, base: env, index }));
  const nodeOf = (name: string | undefined): SimNode | undefined => cluster?.find((n) => n.name === name);
  const names = new Map<number, string>();
  /** The live process of each child name (also unregistered ones), for fault targets. */
  const current = new Map<string, Pid>();
  /** Child ids by pid, told by the tree's instrumented inputs as each machine is spawned. */
  const told = new Map<number, string>();
  const named = (pid: Pid, id: string): void => void told.set(pid.id, id);
  kernel.onLifecycle((ev) => {
    const id = ev.pid.id;
    if (ev.type === 'state') {
      if (names.has(id)) return;
      const live = kernel.lookup(ev.pid); // its name only (processInfo would describe its state too)
      const name = (live?.alive ? live.name : undefined) ?? told.get(id) ?? String(ev.pid);
      names.set(id, name);
      current.set(name, ev.pid);
      sim.record('spawn', { name, pid: String(ev.pid) });
    } else if (ev.type === 'ready') sim.record('ready', { name: names.get(id) ?? String(ev.pid) });
    else {
      // A supervisor has no machine lifecycle: its name comes from its parent's progress report.
      const name = names.get(id) ?? nameFromReports(sim, String(ev.pid));
      if (name === undefined) return;
      if (current.get(name) === ev.pid) current.delete(name);
      sim.record('exit', { name, reason: formatReason(ev.reason) });
    }
  });
  const scripted = o.faults !== undefined;
  const timeline = o.faults ?? s.faults?.timeline ?? [];
  const session = new FaultSession({
    random: sim.streams.stream('faults'),
    now: () => sim.now,
    plan: scripted ? undefined : s.faults?.random,
    script: timeline.flatMap((f) => (f.action === 'point' ? [{ at: f.at, name: f.name, subject: f.subject, delayMs: f.delayMs }] : [])),
    onFire: (f) => sim.record('fault', Object.assign<Record<string, unknown>, object>({}, f)), // not `{ ...f }`: a leading spread is V8's slow clone path
  });
  const fired: TimelineFault[] = [];
  const nemesis = scripted ? undefined : s.faults?.random?.crashes;
  const actions: TimelineFault[] = [...timeline];
  if (nemesis && nemesis.children.length > 0 && nemesis.meanIntervalMs > 0) {
    const r = sim.streams.stream('nemesis');
    for (let t = -Math.log(1 - r.next()) * nemesis.meanIntervalMs; t < healAt; t += -Math.log(1 - r.next()) * nemesis.meanIntervalMs) {
      const child = nemesis.children[r.int(nemesis.children.length)]!;
      const action = r.next() < (nemesis.kill ?? 0) ? 'kill' : 'crash';
      actions.push(cluster ? { at: Math.round(t), action, child, node: cluster[r.int(cluster.length)]!.name } : { at: Math.round(t), action, child });
    }
  }
  for (const f of actions) {
    if (f.action === 'point') continue;
    if (f.action === 'partition' || f.action === 'heal' || f.action === 'nats-restart') {
      const net = f;
      const byNode = net.action !== 'nats-restart' ? net.node : undefined;
      const subject = net.action === 'nats-restart' ? 'server' : (byNode ?? net.client ?? '*');
      sim.schedule(net.at, 'fault', `fault:${net.action}:${subject}`, () => {
        fired.push({ ...net, at: sim.now });
        sim.record('fault', { name: net.action, subject, ...(byNode !== undefined ? { node: byNode } : {}) });
        if (net.action === 'nats-restart') nats.restart(net.downMs, net.jetstreamDelayMs ?? 0);
        else if (byNode !== undefined) (net.action === 'partition' ? nats.partitionNode(byNode) : nats.healNode(byNode));
        else if (net.action === 'partition') nats.partition(net.client ?? '*');
        else nats.heal(net.client);
      });
      continue;
    }
    if (f.action === 'node-kill' || f.action === 'node-restart') {
      const nf = f;
      sim.schedule(nf.at, 'fault', `fault:${nf.action}:${nf.node}`, () => {
        const node = nodeOf(nf.node);
        if (!node?.up) return;
        fired.push({ ...nf, at: sim.now });
        sim.record('fault', { name: nf.action, subject: nf.node, node: nf.node });
        node.kill();
        if (nf.action === 'node-restart') sim.schedule(nf.downMs ?? 0, 'fault', `fault:node-boot:${nf.node}`, () => void (stopAt === undefined && !node.up && node.boot()));
      });
      continue;
    }
    const proc = f as Extract<TimelineFault, { action: 'crash' | 'kill' }>;
    sim.schedule(proc.at, 'fault', `fault:${proc.action}:${proc.node === undefined ? '' : `${proc.node}/`}${proc.child}`, () => {
      const node = proc.node === undefined ? undefined : nodeOf(proc.node);
      const k = node ? node.kernel : kernel;
      const pid = node ? node.current.get(proc.child) ?? k?.whereis(proc.child) : current.get(proc.child) ?? kernel.whereis(proc.child);
      if (!k || !pid || !k.isAlive(pid)) return;
      fired.push({ at: sim.now, action: proc.action, child: proc.child, ...(proc.node !== undefined ? { node: proc.node } : {}) });
      sim.record('fault', { name: proc.action, subject: proc.child, ...(proc.node !== undefined ? { node: proc.node } : {}) });
      k.exit(pid, proc.action === 'kill' ? 'kill' : { fault: 'crash' });
    });
  }
  const ctx: ScenarioContext = {
    env,
    kernel,
    probe: (kind, fields) => sim.record(kind, fields),
    random: (name) => sim.streams.stream(`user.${name}`).next,
    nats,
  };
  const ambient = sim.streams.stream('ambient');
  const epoch = s.epochMs ?? DEFAULT_EPOCH;
  let stopAt: number | undefined;
  let codeData: TreeData | undefined;
  let stopped = false;
  await withGuard(
    {
      epochNow: () => epoch + sim.now,
      monoNow: () => sim.now,
      random: () => ambient.next(),
      setTimer: (fn, ms) => sim.clock.setTimeout(fn, ms),
      clearTimer: (h) => sim.clock.clearTimeout(h),
      note: (use) => sim.record('ambient', Object.assign<Record<string, unknown>, object>({}, use)),
      policy: s.ambient ?? 'report',
    },
    async () => {
      _setFaultHook(session);
      if (cluster) {
        for (const n of cluster) n.boot();
        await sim.run(healAt);
        session.chaos = false;
        sim.record('phase', { phase: 'heal' });
        await sim.run(horizon);
        stopAt = sim.now;
        sim.record('phase', { phase: 'stop' });
        void Promise.all(cluster.map((n) => n.stop(30_000))).then(() => {
          stopped = true;
          sim.stop();
        });
        await sim.run(horizon + 60_000);
        await sim.flush();
        _setFaultHook(undefined);
        return;
      }
      let tree: SupervisorInit;
      if (typeof s.tree === 'function') ({ tree, data: codeData } = codeTree(s.tree, ctx, named));
      else tree = buildTree(s.tree, sim, ctx, { abandon: (db) => kv.abandon(db), named });
      const app = startApplication({ name: s.name, tree, env, kernel, handleSignals: false, ...(s.version !== undefined ? { version: s.version } : {}) });
      let ended = false;
      void app.exited.then(() => {
        ended = true;
      });
      app.ready.catch(() => undefined);
      await sim.run(healAt);
      session.chaos = false;
      sim.record('phase', { phase: 'heal' });
      if (!ended) await sim.run(horizon);
      if (!ended) {
        stopAt = sim.now;
        sim.record('phase', { phase: 'stop' });
        void app.stop({ deadlineMs: 30_000 }).then(() => {
          stopped = true;
          sim.stop();
        });
        await sim.run(horizon + 60_000);
        await sim.flush();
      } else stopped = true;
      _setFaultHook(undefined);
    },
  );
  const disk = new Map<string, Map<string, string>>();
  for (const dir of kv.state.acked.keys()) disk.set(dir, await kv.snapshot(dir));
  const view: RunView = {
    scenario: s,
    trace: sim.trace,
    logs: sim.logs,
    tree: cluster ? undefined : typeof s.tree === 'function' ? codeData : s.tree,
    stopAt,
    timersLeft: sim.timers,
    stopped,
    kv: kv.state,
    disk,
    ...(cluster ? { nodes: cluster.flatMap((n) => n.boots) } : {}),
  };
  /** Tree oracles in a multi-node run: checked on every boot of every node. */
  const perNode = cluster ? nodeViews(view, cluster) : undefined;
  const all = o.oracles ? { ...knownOracles, ...o.oracles } : knownOracles;
  const violations: Violation[] = [];
  const sometimes: Record<string, boolean> = {};
  const specs = [...builtinInvariants.map((n) => ({ kind: 'always' as const, oracle: n, name: n })), ...s.invariants];
  for (const inv of specs) {
    const oracle = all[inv.oracle];
    if (!oracle) throw new ScenarioError(s.name, 'invariants', inv.oracle, `unknown oracle (known: ${Object.keys(all).join(', ')})`);
    const name = inv.name ?? inv.oracle;
    const verdicts = perNode && oracle.perNode ? perNode.map((x) => ({ label: x.label, v: oracle.check(x.view) })) : [{ label: '', v: oracle.check(view) }];
    if (inv.kind === 'sometimes') sometimes[name] = perNode && oracle.perNode ? verdicts.some((x) => x.v.ok) : verdicts[0]!.v.ok;
    else for (const { label, v } of verdicts) if (!v.ok) violations.push({ invariant: name, kind: inv.kind, t: v.t, message: label + v.message });
  }
  violations.sort((a, b) => a.t - b.t);
  const faults: TimelineFault[] = [
    ...fired,
    ...session.fired.map((f): TimelineFault => ({ at: f.t, action: 'point', name: f.name, ...(f.subject !== undefined ? { subject: f.subject } : {}), ...(f.delayMs ? { delayMs: f.delayMs } : {}) })),
  ].sort((a, b) => a.at - b.at);
  const outcome = violations.length > 0 ? 'fail' : 'pass';
  return {
    scenario: s.name,
    seed: o.seed,
    codeVersion: o.codeVersion ?? 'unknown',
    outcome,
    asExpected: outcome === (s.expect ?? 'pass'),
    violation: violations[0],
    violations,
    sometimes,
    faults,
    coverage: session.coverage,
    traceHash: hashTrace(sim.trace, sim.decisions),
    deterministic: undefined,
    steps: sim.steps,
    virtualMs: sim.now,
    divergence: sim.divergence,
    trace: sim.trace,
    decisions: sim.decisions,
    decisionStrategy: sim.decisionStrategy,
    replay: replayCommand(o.source ?? s.name, o.seed, o),
  };
}

function nameFromReports(sim: Simulation, pid: string): string | undefined {
  for (let i = sim.trace.length - 1; i >= 0; i--) {
    const r = sim.trace[i]!;
    if (r['report'] === 'progress' && r['pid'] === pid) return r['child'] as string;
  }
  return undefined;
}

/** sha256 over the trace (reports included) and the decision log. */
function hashTrace(trace: readonly TraceEvent[], decisions: readonly string[]): string {
  const h = createHash('sha256');
  h.update(trace.map(safeJson).join('\n'));
  h.update('\n\n');
  h.update(decisions.join('\n'));
  return h.digest('hex');
}

const replacer = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? String(v) : v instanceof Error ? { name: v.name, message: v.message } : v);

/** @internal One trace event's JSON as the trace hash reads it (`"(unserialisable)"` when it has none). */
export function safeJson(x: unknown): string {
  try {
    // Most trace events are records of primitives, plain objects and arrays (an exit's formatted
    // reason is one): stringified without the replacer — the same text, as it only rewrites
    // bigints and errors, which such a record has not; a replacer call per value is most of the
    // cost of stringifying.
    return plainJson(x, 0) ? JSON.stringify(x) : JSON.stringify(x, replacer);
  } catch {
    return '"(unserialisable)"';
  }
}

/**
 * Whether `x` is an object whose values are, to `depth` 4, JSON primitives (no bigint), plain
 * objects or arrays: no error, no class instance, no `toJSON`. A cycle or a deeper value gives
 * false (the replacer's path, which stringifies it as before or fails the same way).
 */
function plainJson(x: unknown, depth: number): boolean {
  if (typeof x !== 'object' || x === null || depth > 4) return false;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) if (!plainValue(x[i], depth)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) return false;
  if ('toJSON' in x) return false;
  for (const k in x) if (!plainValue((x as Record<string, unknown>)[k], depth)) return false;
  return true;
}

function plainValue(v: unknown, depth: number): boolean {
  return typeof v === 'object' ? v === null || plainJson(v, depth + 1) : typeof v !== 'bigint';
}

/**
 * The one-line command that replays a run: with `--strategy` when the run's schedule strategy
 * was given as an option (not the scenario's own), in the form {@link formatStrategy} writes.
 */
export function replayCommand(source: string, seed: number, o: Pick<RunOptions, 'faults' | 'horizonMs' | 'strategy'> = {}): string {
  const parts = ['ordo chaos replay', JSON.stringify(source).length === source.length + 2 && /^[\w./-]+$/.test(source) ? source : `'${source}'`, `--seed ${seed}`];
  if (o.strategy !== undefined && o.strategy.kind !== 'replay') parts.push(`--strategy ${formatStrategy(o.strategy)}`);
  if (o.horizonMs !== undefined) parts.push(`--horizon ${o.horizonMs}`);
  if (o.faults !== undefined) parts.push(`--faults '${JSON.stringify(o.faults)}'`);
  return parts.join(' ');
}
