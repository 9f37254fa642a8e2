import { pino } from 'pino';
import type { Clock, TimerHandle } from '../env/clock.ts';
import type { Env, IoAdapters } from '../env/env.ts';
import type { Logger } from '../env/logger.ts';
import type { DeliveryScheduler } from '../env/scheduler.ts';
import { createIdSource } from '../env/ids.ts';
import { createTestProcess } from '../env/process.ts';
import { formatReason } from '../actors/exitReason.ts';
import { EventQueue, type SimTask, type TaskKind } from './eventQueue.ts';
import { createRandomStreams, type RandomStreams } from './streams.ts';
import { createScheduleChooser, decisionStrategyOf, type DecisionStrategy, type ScheduleChooser, type ScheduleStrategy, type Divergence } from './scheduleStrategy.ts';

/** The host's own `setImmediate`, captured before any guard can patch globals. */
const hostSetImmediate = globalThis.setImmediate;

/**
 * Lets every promise continuation and `process.nextTick` queued so far run: the host runs its
 * whole microtask queue before the next macrotask, so one `setImmediate` is a full drain.
 */
function drain(): Promise<void> {
  return new Promise<void>((resolve) => hostSetImmediate(resolve));
}

/** One observable event of a run (the trace a report, a hash and the oracles read). */
export interface TraceEvent {
  /** Virtual ms. */
  readonly t: number;
  readonly kind: string;
  readonly [field: string]: unknown;
}

/** A log record captured in simulation, with its virtual time. */
export type SimLogRecord = Record<string, unknown> & { readonly t: number; readonly level: number; readonly msg?: string | undefined };

/** Options of a {@link Simulation}. */
export interface SimulationOptions {
  /** The root seed every random stream is split from. */
  readonly seed: number;
  /** How ties between tasks due at the same instant are broken. Default `{ kind: 'random' }`. */
  readonly strategy?: ScheduleStrategy | undefined;
  /** Virtual delay of a cross-process delivery (ms), per label. Default 0. */
  readonly deliveryLatency?: ((label: string, random: () => number) => number) | undefined;
  /** Stop after this many tasks (a livelock guard). Default 2,000,000. */
  readonly maxSteps?: number | undefined;
}

/** Why {@link Simulation.run} returned. */
export type RunEnd = 'idle' | 'horizon' | 'steps' | 'stopped';

/**
 * The simulation kernel: one virtual timeline, one event queue ordered by (time, seeded
 * tie-break, sequence), one root seed split into named random streams, and an {@link Env}
 * whose clock, randomness, logger and delivery order all come from here. Between tasks the
 * host's microtask queue is drained, so promise continuations run before the next task as on
 * the real event loop — but in an order fixed by the seed.
 *
 * @example
 * import { Simulation } from 'ordo/chaos';
 *
 * const sim = new Simulation({ seed: 1 });
 * sim.clock.setTimeout(() => sim.record('tick'), 1000);
 * await sim.run(5000); // sim.now === 1000 after the tick; 'idle'
 */
export class Simulation {
  readonly streams: RandomStreams;
  readonly queue = new EventQueue();
  readonly trace: TraceEvent[] = [];
  readonly logs: SimLogRecord[] = [];
  /** The label of every task run, in order: the decision log a replay follows. */
  readonly decisions: string[] = [];
  /** The strategy {@link decisions} is recorded with: what a replay of it names (`recordedWith`). */
  readonly decisionStrategy: DecisionStrategy;
  readonly clock: Clock;
  readonly scheduler: DeliveryScheduler;
  now = 0;
  steps = 0;
  /** Pending (armed, not fired, not cleared) timers. */
  timers = 0;
  private seq = 0;
  private stopped = false;
  private readonly chooser: ScheduleChooser;
  private readonly channels = new Map<number, Array<() => void>>();
  private readonly maxSteps: number;
  private readonly latency: ((label: string) => number) | undefined;

  readonly options: SimulationOptions;

  constructor(options: SimulationOptions) {
    this.options = options;
    this.streams = createRandomStreams(options.seed);
    const strategy = options.strategy ?? { kind: 'random' };
    this.decisionStrategy = decisionStrategyOf(strategy);
    this.chooser = createScheduleChooser(strategy, this.streams.stream('schedule'));
    this.maxSteps = options.maxSteps ?? 2_000_000;
    const lat = options.deliveryLatency;
    if (lat) {
      const r = this.streams.stream('latency');
      this.latency = (label) => Math.max(0, lat(label, r.next));
    }
    this.clock = {
      now: () => this.now,
      setTimeout: (fn: (...args: unknown[]) => void, ms: number): TimerHandle => {
        this.timers++;
        return this.schedule(Number.isFinite(ms) && ms > 0 ? ms : 0, 'timer', 'timer', () => {
          this.timers--;
          fn();
        });
      },
      clearTimeout: (handle: TimerHandle | undefined): void => {
        const t = handle as SimTask | undefined;
        if (t && typeof t === 'object' && t.kind === 'timer' && !t.cancelled) {
          this.timers--;
          this.queue.cancel(t);
        }
      },
    };
    this.scheduler = {
      deliver: (channel, label, deliver) => {
        let q = this.channels.get(channel);
        if (!q) this.channels.set(channel, (q = []));
        q.push(deliver);
        const delay = this.latency ? this.latency(label) : 0;
        this.schedule(delay, 'deliver', label, () => q.shift()?.(), channel);
      },
    };
  }

  /** The divergence a replay met, if any (the first label the log expected and no task had). */
  get divergence(): Divergence | undefined {
    return this.chooser.divergence;
  }

  /** Queues `run` at `now + delayMs`; returns the task (cancel it with {@link cancel}). */
  schedule(delayMs: number, kind: TaskKind, label: string, run: () => void, channel = -1): SimTask {
    const at = this.now + delayMs;
    const task: SimTask = { at, key: this.chooser.key(), seq: this.seq++, kind, label, channel, run, cancelled: false };
    this.queue.push(task);
    return task;
  }

  cancel(task: SimTask): void {
    this.queue.cancel(task);
  }

  /** Appends an event to the trace at the current virtual time. */
  record(kind: string, fields: Record<string, unknown> = {}): void {
    this.trace.push({ t: this.now, kind, ...fields });
  }

  /** Ends the current {@link run} after the task in progress. */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves after the host has run every continuation queued so far (no virtual time passes). */
  flush(): Promise<void> {
    return drain();
  }

  /**
   * Runs tasks in order until none is due at or before `untilMs` (time then stands at
   * `untilMs`), the queue is empty, {@link stop} was called, or the step limit is reached.
   */
  async run(untilMs: number): Promise<RunEnd> {
    this.stopped = false;
    await drain();
    for (;;) {
      if (this.stopped) return 'stopped';
      const next = this.queue.peek();
      if (!next) return 'idle';
      if (next.at > untilMs) {
        if (untilMs > this.now) this.now = untilMs;
        return 'horizon';
      }
      const task = this.chooser.pick(this.queue, this.steps);
      task.cancelled = true; // out of the queue: a late clearTimeout is a no-op
      if (task.at > this.now) this.now = task.at;
      this.decisions.push(task.label);
      this.steps++;
      try {
        task.run();
      } catch (e) {
        this.record('uncaught', { label: task.label, error: formatReason(e) });
      }
      await drain();
      if (this.steps >= this.maxSteps) return 'steps';
    }
  }

  /**
   * An {@link Env} on this simulation: its clock, the `env.random` stream, a logger that keeps
   * every record (with virtual time) in {@link logs}, counter ids, a test process adapter and
   * this scheduler for deliveries. `io` adds simulated adapters (the runner passes its KV).
   */
  createEnv(io: Partial<IoAdapters> = {}): Env {
    return {
      clock: this.clock,
      random: this.streams.stream('env.random'),
      logger: createSimLogger(this),
      ids: createIdSource(),
      io: { fs: io.fs ?? unavailableFs(), process: createTestProcess(), ...io },
      scheduler: this.scheduler,
    };
  }
}

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

let sink: Simulation | undefined;
let shared: Logger | undefined;

/**
 * The simulation's logger: one pino instance per thread whose `logMethod` hook captures each
 * record as an object (nothing is serialised) into the running simulation's `logs` — runs are
 * sequential per thread, so a shared instance costs nothing per run. Reports also go to the
 * trace, in order with the lifecycle events.
 */
function createSimLogger(sim: Simulation): Logger {
  sink = sim;
  shared ??= pino(
    {
      level: 'trace',
      base: null, // no pid/hostname (pino: null = no base bindings)
      timestamp: false,
      hooks: {
        logMethod(args, _method, level) {
          const target = sink;
          if (!target) return;
          const first = args[0] as unknown;
          const obj = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : {};
          const msg = typeof first === 'string' ? first : (args[1] as string | undefined);
          const self = this as unknown as Logger;
          // Object.assign and stores, not an object literal starting with a spread: V8 (Node 20)
          // clones such a literal on a megamorphic slow path, ~1.5 µs per record against ~0.1 µs;
          // the same own keys in the same order (bindings, the record's fields, t, level, msg).
          const record: Record<string, unknown> = Object.assign({}, self === shared ? undefined : bindingsOf(self), obj);
          record['t'] = target.now;
          record['level'] = typeof level === 'number' ? level : (LEVELS[String(level)] ?? 30);
          record['msg'] = msg;
          target.logs.push(record as SimLogRecord);
          if (typeof obj['report'] === 'string') {
            const event: Record<string, unknown> = Object.assign({}, record);
            event['kind'] = 'report';
            target.trace.push(event as unknown as TraceEvent);
          }
        },
      },
    },
    { write: () => undefined },
  );
  return shared;
}

/** A child logger's bindings by its serialised chindings (pino's `bindings()` parses them on every call). */
const parsedBindings = new Map<string, Record<string, unknown>>();
const CHINDINGS = pino.symbols.chindingsSym;

/** `logger.bindings()`, parsed once per distinct set of bindings (read-only: records spread it). */
function bindingsOf(logger: Logger): Record<string, unknown> {
  const key = (logger as unknown as Record<symbol, unknown>)[CHINDINGS];
  if (typeof key !== 'string') return logger.bindings();
  let b = parsedBindings.get(key);
  if (b === undefined) {
    if (parsedBindings.size >= 4096) parsedBindings.clear(); // bounded: bindings that name ephemeral things
    parsedBindings.set(key, (b = logger.bindings()));
  }
  return b;
}

/** The file system in simulation when a scenario gives none: every call is refused, named. */
function unavailableFs(): IoAdapters['fs'] {
  const refuse = (op: string) => async (): Promise<never> => {
    throw new Error(`fs.${op}: no file system in this simulation (give the scenario an io.fs adapter)`);
  };
  return {
    readFile: refuse('readFile'),
    writeFile: refuse('writeFile'),
    writeFileAtomic: refuse('writeFileAtomic'),
    appendFile: refuse('appendFile'),
    mkdir: refuse('mkdir'),
    rm: refuse('rm'),
    rename: refuse('rename'),
    readdir: refuse('readdir'),
    stat: refuse('stat'),
    exists: refuse('exists'),
    du: refuse('du'),
    mkdtemp: refuse('mkdtemp'),
  };
}
