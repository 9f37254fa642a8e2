/**
 * The floor of the chaos bench (bench/chaos.ts): the bench tree's work done with as little
 * engine as possible — what xstate itself costs for it. The same five children (the library's
 * `simChildMachine`, the same inputs drawn from the same distributions), booted in order each
 * after the previous is ready, crashed by the same nemesis (exponential, mean 15 s, until the heal
 * phase at 45 s), restarted as rest_for_one restarts (the later children stopped in reverse order,
 * then the crashed one and the later ones started again in order), and stopped in reverse order
 * at the end; the store child opens and closes its database through a stub whose settling comes
 * 1–3 ms later on the clock, as the simulated KV's does.
 *
 * What the engine does and the floor does not: no kernel (pids, links, registry, exit signals),
 * no supervisor or application (specs, reports, intensity, start timeouts), no logger, no trace,
 * no decision log or trace hash, no oracles, no fault points (the bench's `actor.start.slow` /
 * `kv.open.slow` delays), no determinism guard; time is a binary heap of plain timers and a
 * task's promise continuations are let run by one `await` per task instead of a macrotask turn.
 * The seeds are the floor's own (a crash schedule per seed like the engine's, not the same
 * crashes): the bench prints incarnations per run of both so the work can be compared.
 *
 * {@link runRuntimeFloor} is the second rung: the same work through Ordo's runtime — kernel,
 * root supervisor (rest_for_one, intensity 5 in 5 s) and application, the crashes as
 * `kernel.exit(pid, { fault: 'crash' })`, the stop as `app.stop()` — on the same timer heap with
 * a silent logger and direct delivery (no scheduler: production's path), still without the
 * simulation (trace, decision log, seeded delivery order, log capture, fault points, guard,
 * oracles, trace hash). Engine − runtime floor is the chaos engine's own cost; runtime floor −
 * floor is the runtime's over bare xstate.
 */
import { createActor, type AnyActorRef } from 'xstate';
import { pino } from 'pino';
import type { simChildMachine, SimChildInput } from '../src/chaos/library.ts';
import type { Clock, TimerHandle } from '../src/env/clock.ts';
import type { Env } from '../src/env/env.ts';
import type { KvDb } from '../src/env/kv.ts';
import { createSeededRandom } from '../src/env/random.ts';
import type { createKernel } from '../src/actors/kernel.ts';
import type { startApplication } from '../src/supervisor/application.ts';
import type { ChildSpec } from '../src/supervisor/types.ts';
import type { createIdSource } from '../src/env/ids.ts';
import type { createTestProcess } from '../src/env/process.ts';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A binary min-heap of timers by (time, insertion order): the least clock xstate can run on. */
class FloorClock implements Clock {
  time = 0;
  private seq = 0;
  private readonly heap: Timer[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): TimerHandle {
    const t: Timer = { at: this.time + (ms > 0 ? ms : 0), seq: this.seq++, fn, cancelled: false };
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
    return t as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) (handle as unknown as Timer).cancelled = true;
  }

  /** Removes and returns the next live timer. */
  pop(): Timer | undefined {
    const h = this.heap;
    for (;;) {
      if (h.length === 0) return undefined;
      const top = h[0]!;
      const last = h.pop()!;
      if (h.length > 0) {
        h[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < h.length && earlier(h[l]!, h[m]!)) m = l;
          if (r < h.length && earlier(h[r]!, h[m]!)) m = r;
          if (m === i) break;
          [h[i], h[m]] = [h[m]!, h[i]!];
          i = m;
        }
      }
      if (!top.cancelled) return top;
    }
  }
}

function earlier(a: Timer, b: Timer): boolean {
  return a.at !== b.at ? a.at < b.at : a.seq < b.seq;
}

/** The bench tree's children: id, start delay range, stop delay, whether it owns the database. */
const CHILDREN: ReadonlyArray<{ id: string; start: readonly [number, number]; stopMs: number; kv: boolean }> = [
  { id: 'store', start: [5, 20], stopMs: 2, kv: true },
  { id: 'cache', start: [1, 5], stopMs: 0, kv: false },
  { id: 'api', start: [1, 1], stopMs: 0, kv: false },
  { id: 'jobs', start: [1, 1], stopMs: 0, kv: false },
  { id: 'metrics', start: [1, 1], stopMs: 0, kv: false },
];
const HEAL_AT = 45_000;
const MEAN_CRASH_MS = 15_000;

/** What one floor run did. */
export interface FloorRun {
  /** Actors created (starts and restarts). */
  readonly incarnations: number;
  /** Timers fired (the floor's tasks). */
  readonly tasks: number;
}

/** One run of the floor with `seed`, of `machine` (the library child of the build the bench runs). */
export async function runFloor(seed: number, machine: typeof simChildMachine): Promise<FloorRun> {
  const clock = new FloorClock();
  const random = createSeededRandom(seed);
  const draw = random.next;
  const io = (): number => Math.round(1 + draw() * 2);
  const settleLater = <T>(value: T): Promise<T> => new Promise<T>((resolve) => clock.setTimeout(() => resolve(value), io()));
  const db = { close: () => settleLater(undefined) } as unknown as KvDb;
  const env = { clock, io: { kv: { open: () => settleLater(db) } } } as unknown as Env;
  const probe = (): void => undefined;
  const live: Array<AnyActorRef | undefined> = CHILDREN.map(() => undefined);
  let incarnations = 0;
  /** Index of the next child to start (-1: none: the tree is up, or stopping). */
  let booting = -1;
  /** Children still to stop, last first, then `then`. */
  let stopping: { order: number[]; then: () => void } | undefined;
  const deps = { store: { provider: 'store' } };

  const start = (i: number): void => {
    const c = CHILDREN[i]!;
    const input: SimChildInput = {
      id: c.id,
      env,
      probe,
      startMs: Math.round(c.start[0] + draw() * (c.start[1] - c.start[0])),
      stopMs: c.stopMs,
      crashAfterMs: undefined,
      deps: i === 1 ? deps : {},
      kvDir: c.kv ? '/data/bench' : undefined,
    };
    const actor = createActor(machine, { clock, input });
    incarnations++;
    live[i] = actor;
    let ready = false;
    actor.subscribe((s) => {
      if (!ready && s.status === 'active' && s.hasTag('ready')) {
        ready = true;
        if (booting === i) {
          booting = i + 1 < CHILDREN.length ? i + 1 : -1;
          if (booting !== -1) start(booting);
        }
      } else if (s.status === 'done') {
        live[i] = undefined;
        if (stopping && stopping.order[0] === i) {
          stopping.order.shift();
          stopNext();
        }
      }
    });
    actor.start();
  };
  const stopNext = (): void => {
    const s = stopping!;
    while (s.order.length > 0 && live[s.order[0]!] === undefined) s.order.shift();
    if (s.order.length === 0) {
      stopping = undefined;
      s.then();
      return;
    }
    live[s.order[0]!]!.send({ type: 'ordo.stop', reason: 'shutdown' });
  };
  /** Stops children `from`..end in reverse order, then calls `then`. */
  const stopFrom = (from: number, then: () => void): void => {
    const order: number[] = [];
    for (let i = CHILDREN.length - 1; i >= from; i--) order.push(i);
    stopping = { order, then };
    stopNext();
  };

  // The nemesis: crashes of a worker (not the store) until the heal phase.
  for (let t = -Math.log(1 - draw()) * MEAN_CRASH_MS; t < HEAL_AT; t += -Math.log(1 - draw()) * MEAN_CRASH_MS) {
    const victim = 1 + Math.floor(draw() * (CHILDREN.length - 1));
    clock.setTimeout(() => {
      if (live[victim] === undefined || booting !== -1 || stopping) return;
      stopFrom(victim, () => {
        booting = victim;
        start(victim);
      });
    }, Math.round(t));
  }
  booting = 0;
  start(0);
  let ended = false;
  let tasks = 0;
  const loop = async (): Promise<void> => {
    for (;;) {
      const t = clock.pop();
      if (t === undefined) return;
      if (t.at > clock.time) clock.time = t.at;
      tasks++;
      t.fn();
      await null; // the task's promise continuations (the database's settling) run before the next task
    }
  };
  await loop();
  stopFrom(0, () => void (ended = true));
  await loop();
  if (!ended || live.some((a) => a !== undefined)) throw new Error(`floor run ${seed} did not stop every child`);
  return { incarnations, tasks };
}

/** What the runtime floor loads from the build the bench runs. */
export interface RuntimeParts {
  readonly machine: typeof simChildMachine;
  readonly createKernel: typeof createKernel;
  readonly startApplication: typeof startApplication;
  readonly createIdSource: typeof createIdSource;
  readonly createTestProcess: typeof createTestProcess;
}

/** One logger for every runtime-floor run: level silent (a record is one level check). */
let silent: Env['logger'] | undefined;

/** One run of the runtime floor with `seed` (see the module's summary). */
export async function runRuntimeFloor(seed: number, parts: RuntimeParts): Promise<FloorRun> {
  const clock = new FloorClock();
  const random = createSeededRandom(seed);
  const draw = random.next;
  const io = (): number => Math.round(1 + draw() * 2);
  const settleLater = <T>(value: T): Promise<T> => new Promise<T>((resolve) => clock.setTimeout(() => resolve(value), io()));
  const db = { close: () => settleLater(undefined) } as unknown as KvDb;
  silent ??= pino({ level: 'silent' });
  const env: Env = {
    clock,
    random,
    logger: silent,
    ids: parts.createIdSource(),
    io: { fs: undefined as never, process: parts.createTestProcess(), kv: { open: () => settleLater(db), exists: async () => true } },
  };
  const kernel = parts.createKernel(env);
  const probe = (): void => undefined;
  let incarnations = 0;
  const children = CHILDREN.map((c, i): ChildSpec => ({
    id: c.id,
    ...(c.kv ? { provides: 'store' } : {}),
    ...(i === 1 ? { requires: ['store'] } : {}),
    start: {
      machine: parts.machine,
      name: c.id,
      input: (sc: { deps: Readonly<Record<string, unknown>> }): SimChildInput => {
        incarnations++;
        return { id: c.id, env, probe, startMs: Math.round(c.start[0] + draw() * (c.start[1] - c.start[0])), stopMs: c.stopMs, crashAfterMs: undefined, deps: sc.deps, kvDir: c.kv ? '/data/bench' : undefined };
      },
    },
  }));
  const app = parts.startApplication({ name: 'floor', tree: { strategy: 'rest_for_one', maxRestarts: 5, periodMs: 5000, children }, env, kernel, handleSignals: false });
  app.ready.catch(() => undefined);
  for (let t = -Math.log(1 - draw()) * MEAN_CRASH_MS; t < HEAL_AT; t += -Math.log(1 - draw()) * MEAN_CRASH_MS) {
    const victim = CHILDREN[1 + Math.floor(draw() * (CHILDREN.length - 1))]!.id;
    clock.setTimeout(() => {
      const pid = kernel.whereis(victim);
      if (pid !== undefined && kernel.isAlive(pid)) kernel.exit(pid, { fault: 'crash' });
    }, Math.round(t));
  }
  let tasks = 0;
  const loop = async (): Promise<void> => {
    await new Promise<void>((resolve) => setImmediate(resolve)); // the application's boot continuations
    for (;;) {
      const t = clock.pop();
      if (t === undefined) return;
      if (t.at > clock.time) clock.time = t.at;
      tasks++;
      t.fn();
      // a task's continuations may be chains (a start result awaited by the supervisor, then its
      // next start): one macrotask turn runs them all, as the engine's drain does
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  await loop();
  let stopped = false;
  void app.stop({ deadlineMs: 30_000 }).then(() => void (stopped = true));
  await loop();
  if (!stopped) throw new Error(`runtime floor run ${seed} did not stop`);
  return { incarnations, tasks };
}
