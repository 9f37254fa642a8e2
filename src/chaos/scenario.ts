import type { Env } from '../env/env.ts';
import type { KvDb } from '../env/kv.ts';
import type { Kernel } from '../actors/kernel.ts';
import type { Pid } from '../actors/pid.ts';
import { validateChildSpec } from '../supervisor/validate.ts';
import type { InputContext } from '../supervisor/types.ts';
import type { BackoffSpec, ChildSpec, RestartType, Shutdown, Strategy, SupervisorInit, SupervisorSpec } from '../supervisor/types.ts';
import { supervisor } from '../supervisor/supervisor.ts';
import type { Distribution } from './distribution.ts';
import { sample } from './distribution.ts';
import type { RandomFaults } from './faultPlan.ts';
import type { ScheduleStrategy } from './scheduleStrategy.ts';
import type { Simulation } from './simulation.ts';
import { simChildMachine, type SimChildInput } from './library.ts';
import { ScenarioError } from './errors.ts';
import type { SimNats } from './simNats.ts';

/** A child of a data tree: the library child ({@link simChildMachine}) or a nested supervisor. */
export interface ChildData {
  readonly id: string;
  readonly restart?: RestartType | undefined;
  readonly shutdownMs?: Shutdown | undefined;
  readonly startTimeoutMs?: number | undefined;
  readonly provides?: string | undefined;
  readonly requires?: readonly string[] | undefined;
  readonly backoff?: BackoffSpec | undefined;
  /** Time from start to ready, drawn at every (re)start. */
  readonly startMs?: Distribution | undefined;
  /** Time a stop takes. */
  readonly stopMs?: Distribution | undefined;
  /** Crash this long after each ready (drawn per incarnation); absent: never by itself. */
  readonly crashAfterMs?: Distribution | undefined;
  /** Own a database in this simulated directory (opened at start, closed at stop). */
  readonly kvDir?: string | undefined;
  readonly writeEveryMs?: number | undefined;
  /** A nested supervisor instead of a worker. */
  readonly tree?: TreeData | undefined;
  /**
   * Register the process under its id (default true). Unregistered children are still named
   * by id in traces and fault targets; only the kernel's registry does not know them (so two
   * incarnations can overlap, as unnamed children do in real trees).
   */
  readonly register?: boolean | undefined;
}

/** A supervisor tree as data. */
export interface TreeData {
  readonly strategy: Strategy;
  /** Structure not known (a nested supervisor inside a tree given as code): oracles skip it. */
  readonly opaque?: boolean | undefined;
  readonly maxRestarts?: number | undefined;
  readonly periodMs?: number | undefined;
  readonly backoff?: BackoffSpec | undefined;
  readonly children: readonly ChildData[];
}

/** What a tree given as code receives: the simulation's Env and kernel, and a trace probe. */
export interface ScenarioContext {
  readonly env: Env;
  readonly kernel: Kernel;
  readonly probe: (kind: string, fields: Record<string, unknown>) => void;
  /** A named random stream of this run (independent of every other stream). */
  random(stream: string): () => number;
  /** The node this tree is built for, in a multi-node run ({@link Scenario.nodes}); undefined otherwise. */
  readonly node?: string | undefined;
  /**
   * The run's simulated NATS server (`env.io.nats` connects to it): cluster children configured
   * with any NATS URL run over it; its fault controls (partition, restart…) are the network nemesis.
   */
  readonly nats: SimNats;
}

/**
 * A scripted action at a virtual time (a nemesis step). `child` is a child's name (in a
 * multi-node run, of the node `node` names). Network steps act on the run's simulated NATS
 * ({@link ScenarioContext.nats}): `partition` / `heal` one client — its connect name `client`
 * (`ordo:<nodeName>` for Ordo's cluster children), or every client a node opened (`node`);
 * `heal` with neither heals all — and `nats-restart` (the server down `downMs`, JetStream back
 * `jetstreamDelayMs` later). Node steps (multi-node runs): `node-kill` stops a node's whole
 * application abruptly (no graceful stop: its process vanished) and `node-restart` does the same
 * and boots it again `downMs` later on the same data.
 */
export type TimelineFault =
  | { readonly at: number; readonly action: 'crash' | 'kill'; readonly child: string; readonly node?: string }
  | { readonly at: number; readonly action: 'point'; readonly name: string; readonly subject?: string; readonly delayMs?: number }
  | { readonly at: number; readonly action: 'partition' | 'heal'; readonly client?: string; readonly node?: string }
  | { readonly at: number; readonly action: 'nats-restart'; readonly downMs: number; readonly jetstreamDelayMs?: number }
  | { readonly at: number; readonly action: 'node-kill'; readonly node: string }
  | { readonly at: number; readonly action: 'node-restart'; readonly node: string; readonly downMs?: number };

/** Which oracle an invariant checks, and how. See `oracles.ts` for the library. */
export interface InvariantSpec {
  /** `always`: must hold at every point; `eventually`: must hold at the end of the heal phase; `sometimes`: must hold at some point in some run (coverage). */
  readonly kind: 'always' | 'eventually' | 'sometimes';
  readonly oracle: string;
  /** Defaults to the oracle's name. */
  readonly name?: string;
}

/**
 * A chaos scenario — data only (JSON-serialisable) except `tree`, which may also be code
 * (a function of the run's {@link ScenarioContext} returning a supervisor init), so users and
 * incident replays run their own trees.
 *
 * A run: start the tree; the chaos phase (random faults from `faults.random`, the `timeline`)
 * until `healAtMs`; the heal phase (no new random faults) until `horizonMs`; then an orderly
 * stop. Invariants are checked on the trace; `expect` says what outcome is a pass.
 */
export interface Scenario {
  readonly name: string;
  readonly description?: string;
  readonly tree: TreeData | ((ctx: ScenarioContext) => SupervisorInit);
  /**
   * The nodes of a cluster run: each one boots its own application of `tree` (its own kernel and
   * root supervisor, Env, directories `/<node>/…` on the simulated disk and NATS connections; a
   * code tree is called once per node and boot with {@link ScenarioContext.node}), all on one
   * simulation and seed. Absent: one application, as before. Tree oracles are checked per node
   * and boot; trace events and log records of a node carry `node` and `boot`.
   */
  readonly nodes?: readonly { readonly name: string }[];
  readonly horizonMs: number;
  /** Default: 3/4 of the horizon. */
  readonly healAtMs?: number;
  readonly strategy?: ScheduleStrategy;
  readonly latency?: { readonly deliveryMs?: Distribution; readonly ioMs?: Distribution };
  readonly faults?: { readonly random?: RandomFaults; readonly timeline?: readonly TimelineFault[] };
  readonly invariants: readonly InvariantSpec[];
  /** `pass` (default): no invariant is violated; `fail`: some invariant must be violated (a bug demo). */
  readonly expect?: 'pass' | 'fail';
  /** The simulated DNS zone (`env.io.resolver`): host → addresses; unlisted hosts are NXDOMAIN. */
  readonly dns?: Readonly<Record<string, readonly string[]>>;
  /** Virtual epoch of `Date` in the run (default 2026-01-01T00:00:00Z). */
  readonly epochMs?: number;
  /** What ambient use of the wall clock (`Date.now` etc.) in code does: noted as a violation (`report`, default) or thrown (`throw`). */
  readonly ambient?: 'report' | 'throw';
  /** The code version the application reports (`startApplication`'s `version`). */
  readonly version?: string;
}

/** Checks a scenario's shape; throws {@link ScenarioError} naming the first bad field. */
export function validateScenario(s: Scenario): void {
  const bad = (field: string, value: unknown, message: string): never => {
    throw new ScenarioError(s?.name, field, value, message);
  };
  if (typeof s !== 'object' || s === null) bad('scenario', s, 'must be an object');
  if (typeof s.name !== 'string' || s.name === '') bad('name', s.name, 'must be a non-empty string');
  if (!(typeof s.horizonMs === 'number' && s.horizonMs > 0)) bad('horizonMs', s.horizonMs, 'must be a number > 0');
  if (s.healAtMs !== undefined && !(s.healAtMs >= 0 && s.healAtMs <= s.horizonMs)) bad('healAtMs', s.healAtMs, 'must lie in [0, horizonMs]');
  const nodeNames = new Set<string>();
  if (s.nodes !== undefined) {
    if (!Array.isArray(s.nodes) || s.nodes.length === 0) bad('nodes', s.nodes, 'must be a non-empty array of { name }');
    for (const [i, n] of s.nodes.entries()) {
      if (typeof n?.name !== 'string' || !/^[\w.-]+$/.test(n.name)) bad(`nodes[${i}].name`, n?.name, 'must be a non-empty name of letters, digits, _ . -');
      if (nodeNames.has(n.name)) bad(`nodes[${i}].name`, n.name, 'duplicate node name');
      nodeNames.add(n.name);
    }
  }
  if (!Array.isArray(s.invariants)) bad('invariants', s.invariants, 'must be an array');
  if (typeof s.tree !== 'function') validateTree(s.tree, 'tree', bad);
  for (const [i, f] of (s.faults?.timeline ?? []).entries()) {
    if (!(f.at >= 0)) bad(`faults.timeline[${i}].at`, f.at, 'must be a number ≥ 0');
    if (!['crash', 'kill', 'point', 'partition', 'heal', 'nats-restart', 'node-kill', 'node-restart'].includes(f.action)) {
      bad(`faults.timeline[${i}].action`, f.action, "must be 'crash', 'kill', 'point', 'partition', 'heal', 'nats-restart', 'node-kill' or 'node-restart'");
    }
    const node = (f as { node?: unknown }).node;
    if (node !== undefined && !nodeNames.has(node as string)) bad(`faults.timeline[${i}].node`, node, s.nodes ? `unknown node (nodes: ${[...nodeNames].join(', ')})` : 'names a node, but the scenario has no nodes');
    if ((f.action === 'node-kill' || f.action === 'node-restart') && node === undefined) bad(`faults.timeline[${i}].node`, node, 'must name the node');
    if (f.action === 'node-restart' && f.downMs !== undefined && !(f.downMs >= 0)) bad(`faults.timeline[${i}].downMs`, f.downMs, 'must be a number ≥ 0');
    if (f.action === 'partition' && typeof f.client !== 'string' && node === undefined) bad(`faults.timeline[${i}].client`, f.client, 'must name the client (its connect name, ordo:<node>) or the node');
    if (f.action === 'nats-restart' && !(f.downMs >= 0)) bad(`faults.timeline[${i}].downMs`, f.downMs, 'must be a number ≥ 0');
  }
}

function validateTree(t: TreeData, path: string, bad: (f: string, v: unknown, m: string) => never): void {
  if (typeof t !== 'object' || t === null || !Array.isArray(t.children)) bad(path, t, 'must be { strategy, children: [...] }');
  const ids = new Set<string>();
  t.children.forEach((c, i) => {
    if (typeof c.id !== 'string' || c.id === '') bad(`${path}.children[${i}].id`, c.id, 'must be a non-empty string');
    if (ids.has(c.id)) bad(`${path}.children[${i}].id`, c.id, 'duplicate child id');
    ids.add(c.id);
    if (c.tree) validateTree(c.tree, `${path}.children[${i}].tree`, bad);
  });
}

/**
 * The supervisor spec of a data tree. Every child is registered under its id (fault subjects
 * and timeline targets name it); durations are drawn from the stream `child.<id>` at each start.
 */
export function buildTree(
  tree: TreeData,
  sim: Simulation,
  ctx: ScenarioContext,
  hooks: { abandon?: (db: KvDb | undefined) => void; named?: (pid: Pid, id: string) => void; /** Random streams `child.<prefix><id>` (a node's own). */ streamPrefix?: string } = {},
): SupervisorSpec {
  const { abandon, named } = hooks;
  const prefix = hooks.streamPrefix ?? '';
  return {
    strategy: tree.strategy,
    maxRestarts: tree.maxRestarts,
    periodMs: tree.periodMs,
    backoff: tree.backoff,
    children: tree.children.map((c): ChildSpec => {
      if (c.tree) {
        const nested = c.tree;
        return supervisor(c.id, () => buildTree(nested, sim, ctx, hooks), { restart: c.restart, name: c.id });
      }
      const draw = sim.streams.stream(`child.${prefix}${c.id}`).next;
      return {
        id: c.id,
        restart: c.restart,
        shutdownMs: c.shutdownMs,
        startTimeoutMs: c.startTimeoutMs,
        provides: c.provides,
        requires: c.requires,
        backoff: c.backoff,
        start: {
          machine: simChildMachine,
          name: c.register === false ? undefined : c.id,
          input: (sc: { deps: Readonly<Record<string, unknown>>; self: Pid }): SimChildInput => (named?.(sc.self, c.id), {
            id: c.id,
            env: ctx.env,
            probe: ctx.probe,
            startMs: sample(c.startMs, draw, `${c.id}.startMs`),
            stopMs: sample(c.stopMs, draw, `${c.id}.stopMs`),
            crashAfterMs: c.crashAfterMs === undefined ? undefined : Math.max(1, sample(c.crashAfterMs, draw, `${c.id}.crashAfterMs`)),
            deps: sc.deps,
            kvDir: c.kvDir,
            writeEveryMs: c.writeEveryMs,
            abandon,
          }),
        },
      };
    }),
  };
}

/**
 * The supervisor spec one boot of a code tree starts, and the structure the oracles check: a
 * spec function as it is (no structure known), a spec instrumented by {@link instrumentTree}.
 */
export function codeTree(
  make: (ctx: ScenarioContext) => SupervisorInit,
  ctx: ScenarioContext,
  named: (pid: Pid, id: string) => void,
): { tree: SupervisorInit; data: TreeData | undefined } {
  const init = make(ctx);
  if (typeof init === 'function') return { tree: init, data: undefined };
  const instrumented = instrumentTree(init, { named, probe: ctx.probe });
  return { tree: instrumented.spec, data: instrumented.tree };
}

/**
 * A tree given as code, instrumented for the oracles: every machine child names its pid with its
 * id as it is spawned, and records each dependency it is handed (`dep.use`); the returned
 * {@link TreeData} describes the structure the oracles check (a nested supervisor is opaque).
 */
export function instrumentTree(
  spec: SupervisorSpec,
  hooks: { named: (pid: Pid, id: string) => void; probe: (kind: string, fields: Record<string, unknown>) => void },
): { spec: SupervisorSpec; tree: TreeData } {
  const children: ChildData[] = [];
  const wrapped = spec.children.map((c): ChildSpec => {
    const v = validateChildSpec(c, spec.autoShutdown ?? 'never');
    const norm = v.ok ? v.value : undefined;
    children.push({
      id: c.id,
      restart: norm?.restart,
      provides: norm?.provides?.name,
      requires: norm?.requires.map((r) => r.service),
      backoff: norm?.backoff,
      ...(c.type === 'supervisor' ? { tree: { strategy: 'one_for_one', opaque: true, children: [] } } : {}),
    });
    const start = c.start;
    if (typeof start === 'function' || !norm) return c;
    const original = start.input;
    return {
      ...c,
      start: {
        ...start,
        input: (ictx: InputContext) => {
          hooks.named(ictx.self, c.id);
          for (const r of norm.requires) hooks.probe('dep.use', { child: c.id, dep: r.service, provided: ictx.deps[r.as] !== undefined });
          return typeof original === 'function' ? (original as (x: InputContext) => unknown)(ictx) : original;
        },
      },
    };
  });
  const tree: TreeData = { strategy: spec.strategy ?? 'one_for_one', maxRestarts: spec.maxRestarts, periodMs: spec.periodMs, backoff: spec.backoff, children };
  return { spec: { ...spec, children: wrapped }, tree };
}
