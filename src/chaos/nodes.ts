/**
 * The nodes of a multi-node run: each node a whole Ordo application — its own kernel and root
 * supervisor, its own Env (clock handle, random stream, ids, logger bound to `{ node, boot }`),
 * its own directories on the simulated disk (`/<node>/…`) and its own NATS client connections to
 * the run's simulated server — all on one {@link Simulation} and one seed.
 *
 * A node can be killed: everything it was doing stops at once, as when its OS process vanishes —
 * no graceful stop, no `ordo.stop`; its pending timers and deliveries never run, its logger goes
 * quiet, its NATS connections close (the server drops them: a vanished process's sockets close),
 * its database handles are abandoned (the lock goes with the process; what was acknowledged is on
 * the disk). Booted again, it is a new incarnation (`boot` + 1) of the same node on the same data.
 */
import type { Clock, TimerHandle } from '../env/clock.ts';
import type { Env } from '../env/env.ts';
import { KvError, type KvAdapter, type KvDb } from '../env/kv.ts';
import type { Logger } from '../env/logger.ts';
import type { NatsConnector } from '../env/nats.ts';
import { TransportError, type ClusterTransport } from '../env/transport.ts';
import { createIdSource } from '../env/ids.ts';
import { createTestProcess } from '../env/process.ts';
import { createKernel, type Kernel } from '../actors/kernel.ts';
import type { Pid } from '../actors/pid.ts';
import { formatReason } from '../actors/exitReason.ts';
import { startApplication, type ApplicationHandle } from '../supervisor/application.ts';
import type { SupervisorInit } from '../supervisor/types.ts';
import type { Simulation } from './simulation.ts';
import type { SimKv } from './simKv.ts';
import type { SimNats } from './simNats.ts';
import { buildTree, codeTree, type Scenario, type ScenarioContext, type TreeData } from './scenario.ts';
import type { Oracle, RunView } from './oracles.ts';

/** One incarnation of a node (a boot), as the oracles see it. */
export interface NodeBoot {
  readonly node: string;
  /** 1 for the first boot, +1 at each boot after a kill. */
  readonly boot: number;
  readonly bootAt: number;
  /** When it was killed (abruptly); undefined: it ran to the end of the run. */
  killedAt: number | undefined;
  /** Its application's orderly stop completed (only for the boot running at the run's end). */
  stopped: boolean;
  /** The tree as data, for the tree oracles (undefined: an opaque code tree). */
  tree: TreeData | undefined;
  /** Timers this boot armed and left pending (after its stop, or cancelled by its kill: 0). */
  timersLeft(): number;
}

const DEAD: TimerHandle = Object.freeze({ dead: true }) as unknown as TimerHandle;
const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

/** A logger that says nothing once `alive()` is false (a dead process logs nothing); children too. */
function quietWhenDead(l: Logger, alive: () => boolean): Logger {
  return new Proxy(l, {
    get(target, p) {
      const v = Reflect.get(target, p, target) as unknown;
      if (typeof v !== 'function') return v;
      const f = v as (...a: unknown[]) => unknown;
      if (p === 'child') return (...a: unknown[]) => quietWhenDead(f.apply(target, a) as Logger, alive);
      if (typeof p === 'string' && LEVELS.has(p)) return (...a: unknown[]) => (alive() ? f.apply(target, a) : undefined);
      return f.bind(target);
    },
  });
}

/** What every node of a run shares. */
export interface NodeDeps {
  readonly sim: Simulation;
  readonly scenario: Scenario;
  readonly kv: SimKv;
  readonly nats: SimNats;
  readonly base: Env;
  readonly index: number;
}

/** A node of a multi-node run (see the module). @internal */
export class SimNode {
  readonly name: string;
  readonly boots: NodeBoot[] = [];
  /** The application of the current boot (undefined while down). */
  app: ApplicationHandle | undefined;
  kernel: Kernel | undefined;
  /** The live process of each child name of the current boot (fault targets). */
  readonly current = new Map<string, Pid>();
  private alive = false;
  private timers = new Set<TimerHandle>();
  private clients = new Set<ClusterTransport>();
  private dbs = new Set<KvDb>();
  private readonly d: NodeDeps;

  constructor(name: string, deps: NodeDeps) {
    this.name = name;
    this.d = deps;
  }

  get up(): boolean {
    return this.alive;
  }

  /** Boots a new incarnation: a fresh kernel and application on the node's data. */
  boot(): void {
    const { sim, scenario: s } = this.d;
    const boot = this.boots.length + 1;
    this.alive = true;
    const timers = (this.timers = new Set());
    this.clients = new Set();
    this.dbs = new Set();
    this.current.clear();
    const live = (): boolean => this.alive && this.boots.length === boot;
    const timersOf = timers;
    const rec: NodeBoot = { node: this.name, boot, bootAt: sim.now, killedAt: undefined, stopped: false, tree: undefined, timersLeft: () => timersOf.size };
    this.boots.push(rec);
    const env = this.env(boot, live, timers);
    const kernel = (this.kernel = createKernel(env));
    const tag = { node: this.name, boot };
    const names = new Map<number, string>();
    const told = new Map<number, string>();
    const named = (pid: Pid, id: string): void => void told.set(pid.id, id);
    kernel.onLifecycle((ev) => {
      if (!live()) return;
      const id = ev.pid.id;
      if (ev.type === 'state') {
        if (names.has(id)) return;
        const name = kernel.processInfo(ev.pid)?.name ?? told.get(id) ?? String(ev.pid);
        names.set(id, name);
        this.current.set(name, ev.pid);
        sim.record('spawn', { name, pid: String(ev.pid), ...tag });
      } else if (ev.type === 'ready') sim.record('ready', { name: names.get(id) ?? String(ev.pid), ...tag });
      else {
        const name = names.get(id) ?? supervisorName(sim, String(ev.pid), this.name, boot);
        if (name === undefined) return;
        if (this.current.get(name) === ev.pid) this.current.delete(name);
        sim.record('exit', { name, reason: formatReason(ev.reason), ...tag });
      }
    });
    const ctx: ScenarioContext = {
      env,
      kernel,
      node: this.name,
      probe: (kind, fields) => (live() ? sim.record(kind, Object.assign({}, fields, tag)) : undefined), // not a leading spread: V8's slow clone path
      random: (stream) => sim.streams.stream(`node.${this.name}.user.${stream}`).next,
      nats: this.d.nats,
    };
    let tree: SupervisorInit;
    let data: TreeData | undefined;
    if (typeof s.tree === 'function') ({ tree, data } = codeTree(s.tree, ctx, named));
    else {
      tree = buildTree(s.tree, sim, ctx, { abandon: (db) => db && this.abandon(db), named, streamPrefix: `${this.name}.` });
      data = s.tree;
    }
    rec.tree = data;
    sim.record('node.up', tag);
    const app = (this.app = startApplication({ name: s.name, tree, env, kernel, handleSignals: false, ...(s.version !== undefined ? { version: s.version } : {}) }));
    app.ready.catch(() => undefined);
    void app.exited.then(() => {
      if (live() && this.app === app) sim.record('node.exited', tag);
    });
  }

  /** Kills the current incarnation at once (see the module). */
  kill(): void {
    if (!this.alive) return;
    const { sim } = this.d;
    const b = this.boots[this.boots.length - 1]!;
    this.alive = false;
    b.killedAt = sim.now;
    for (const t of this.timers) sim.clock.clearTimeout(t);
    this.timers.clear();
    for (const c of this.clients) void c.close();
    this.clients.clear();
    for (const db of this.dbs) this.d.kv.abandon(db);
    this.dbs.clear();
    this.app = undefined;
    this.kernel = undefined;
    this.current.clear();
    sim.record('node.down', { node: this.name, boot: b.boot });
  }

  /** The orderly stop of the current incarnation at the end of the run. */
  async stop(deadlineMs: number): Promise<void> {
    const app = this.app;
    if (!app || !this.alive) return;
    await app.stop({ deadlineMs });
    const b = this.boots[this.boots.length - 1]!;
    if (this.app === app) b.stopped = true;
  }

  private abandon(db: KvDb): void {
    this.dbs.delete(db);
    this.d.kv.abandon(db);
  }

  /** The Env of boot `boot`: the run's clock, scheduler, logger and adapters, each dead once `live()` is false. */
  private env(boot: number, live: () => boolean, timers: Set<TimerHandle>): Env {
    const { sim, base, kv, nats } = this.d;
    const inner = sim.clock;
    const timerLabel = `${this.name}/timer`;
    const clock: Clock = {
      now: inner.now,
      setTimeout: (fn, ms) => {
        if (!live()) return DEAD;
        // as the simulation's own clock does, with the node in the label: a replay tells apart
        // the nodes' timers due at the same instant (three nodes boot with the same periods)
        sim.timers++;
        const h: TimerHandle = sim.schedule(Number.isFinite(ms) && ms > 0 ? ms : 0, 'timer', timerLabel, () => {
          sim.timers--;
          timers.delete(h);
          fn();
        });
        timers.add(h);
        return h;
      },
      clearTimeout: (h) => {
        if (h !== undefined && timers.delete(h)) inner.clearTimeout(h);
      },
    };
    // Channels apart per node and boot: a new kernel's pids start again at 1.
    const offset = (this.d.index * 1024 + boot) * 2 ** 32;
    const prefix = `${this.name}/`;
    const scheduler = base.scheduler!;
    const at = (dir: string): string => `/${this.name}${dir.startsWith('/') ? '' : '/'}${dir}`;
    const disk: KvAdapter = {
      exists: (dir) => kv.exists(at(dir)),
      open: async (dir, o) => {
        const db = await kv.open(at(dir), o);
        if (!live()) {
          kv.abandon(db);
          throw new KvError('closed', `node ${this.name} is gone`, at(dir));
        }
        this.dbs.add(db);
        return db;
      },
    };
    const connector: NatsConnector = {
      connect: async (o) => {
        const t = await nats.connector(this.name).connect(o);
        if (!live()) {
          await t.close();
          throw new TransportError(`node ${this.name} is gone`, { kind: 'closed' });
        }
        this.clients.add(t);
        return t;
      },
    };
    return {
      clock,
      random: sim.streams.stream(`node.${this.name}.env.random`),
      logger: quietWhenDead(base.logger.child({ node: this.name, boot }), live),
      ids: createIdSource(),
      io: { ...base.io, process: createTestProcess(), kv: disk, nats: connector },
      scheduler: {
        deliver: (channel, label, deliver) => {
          if (live()) scheduler.deliver(channel + offset, prefix + label, () => void (live() && deliver()));
        },
      },
    };
  }
}

/** A supervisor's name from its parent's progress report in this node's boot. */
function supervisorName(sim: Simulation, pid: string, node: string, boot: number): string | undefined {
  for (let i = sim.trace.length - 1; i >= 0; i--) {
    const r = sim.trace[i]!;
    if (r['report'] === 'progress' && r['pid'] === pid && r['node'] === node && r['boot'] === boot) return r['child'] as string;
  }
  return undefined;
}

/**
 * One view per boot of every node, for the tree oracles ({@link Oracle.perNode}): that boot's
 * trace events and log records (plus the run's phase events and the faults aimed at the node or
 * at nobody), its tree, the run's stop time if it was still running then, its own stop and timers.
 */
export function nodeViews(run: RunView, nodes: readonly SimNode[]): Array<{ label: string; view: RunView }> {
  const out: Array<{ label: string; view: RunView }> = [];
  for (const n of nodes) {
    for (const b of n.boots) {
      const mine = (e: Record<string, unknown>): boolean => e['node'] === b.node && e['boot'] === b.boot;
      const trace = run.trace.filter((e) => mine(e) || (e.kind === 'phase' && e['node'] === undefined) || (e.kind === 'fault' && (e['node'] === undefined || e['node'] === b.node)));
      const view: RunView = {
        ...run,
        trace,
        logs: run.logs.filter(mine),
        tree: b.tree,
        stopAt: b.killedAt === undefined ? run.stopAt : undefined,
        stopped: b.stopped,
        timersLeft: b.timersLeft(),
        ...(b.killedAt !== undefined ? { killedAt: b.killedAt } : {}),
      };
      out.push({ label: `[${b.node} boot ${b.boot}] `, view });
    }
  }
  return out;
}
