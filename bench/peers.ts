/**
 * Ordo against the libraries a user would otherwise pick (issue 13, `bench/peers`): the same
 * work through each one's public API, in one process, sides alternating round by round.
 *
 * - request/reply round trip: Ordo `call` · raw xstate send+subscribe · nact `query` · Effect
 *   (a fiber serving a `Queue` of requests, replies through a `Deferred`);
 * - spawn+stop: Ordo `kernel.spawn` (to ready) + kill · xstate `createActor().start().stop()` ·
 *   nact `spawn` + `stop` · Effect `forkDetach(never)` + `Fiber.interrupt`;
 * - crash → restarted and answering: Ordo one_for_one supervisor · nact `onCrash` → `reset` ·
 *   Effect `Effect.retry(Schedule.forever)` around the serving loop · raw xstate re-created by hand
 *   when its snapshot errors;
 * - boot + reverse teardown of a 4-step ordered tree whose third step fails twice before it
 *   succeeds: Ordo `startApplication` (the step's start retried by the supervisor) · Effect
 *   `Layer` + `Scope` with `Effect.retry` on a 1 ms `Schedule.spaced`, at most 2 retries · avvio
 *   (ordered plugins, the retry written in the plugin: sleep 1 ms, `onClose` LIFO). Every side
 *   waits the same 1 ms before each retry (Ordo: `startRetry` with `initialMs: 1`).
 *
 * Every side's start order and stop order are recorded and asserted, so nobody is measured doing
 * less.
 *
 * Context rows (no target) give the floor of the design — every child is an xstate actor — for
 * call, spawn+stop, restart and boot: the bare xstate cost of the same work that the kernel cannot
 * avoid (the ping as one `actor.send` + snapshot read on a started actor; `createActor().start().stop()`,
 * the xstate side; the crashed actor re-created by hand and asked once, the xstate side; the boot's
 * step machines started and stopped by hand, with the same waits),
 * Ordo over it, and it over the peers. Run: `npm run bench -- peers` or `node --import tsx bench/peers.ts`.
 */
import { createActor, setup, assign } from 'xstate';
import { pino } from 'pino';
import { Context, Deferred, Effect, Fiber, Layer, Queue, Schedule } from 'effect';
import * as nact from 'nact';
import avvio from 'avvio';
import { createKernel, createRealEnv, ordoBuild, reply, startApplication, startSupervisor, stopProcess, type Env, type Pid } from './_ordo.ts';
import { type BenchResult, isMain, load1, median, printResults } from './lib.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
/** The command that reproduces these figures (with the Ordo build they measured). */
const COMMAND = `${ordoBuild === 'dist' ? 'npm run build && ORDO_BENCH_DIST=1 ' : ''}BENCH_RUNS=${RUNS} node --import tsx bench/peers.ts`;

type Ping = { type: 'ping'; replyTo?: never } | { type: 'crash' } | { type: 'ordo.stop'; reason?: unknown };

const pingMachine = setup({ types: { context: {} as { n: number }, events: {} as Ping } }).createMachine({
  context: { n: 0 },
  initial: 'up',
  states: {
    up: {
      tags: ['ready'],
      on: {
        ping: { actions: [assign({ n: ({ context }) => context.n + 1 }), ({ event }) => reply(event.replyTo, 'pong')] },
        crash: {
          actions: () => {
            throw new Error('crash');
          },
        },
        'ordo.stop': 'done',
      },
    },
    done: { type: 'final' },
  },
});

function quietEnv(): Env {
  return createRealEnv({ logger: pino({ level: 'silent' }) });
}

/** A point in time on both clocks: wall (ms) and this process's CPU time (ms, all threads: GC's included). */
type Mark = { readonly wall: number; readonly cpu: number };
const now = (): Mark => {
  const c = process.cpuUsage();
  return { wall: performance.now(), cpu: (c.user + c.system) / 1000 };
};
/** µs per operation, on the wall clock and in CPU time (the fairer figure on a shared machine: a side descheduled by other processes is not charged). */
type PerOp = { readonly wall: number; readonly cpu: number };
/** A side of a comparison: one run of `n` operations, returning µs per operation. */
type Side = (n: number) => Promise<PerOp>;

const perOp = (t0: Mark, n: number): PerOp => {
  const t = now();
  return { wall: ((t.wall - t0.wall) * 1000) / n, cpu: ((t.cpu - t0.cpu) * 1000) / n };
};

// ---------- request/reply ----------

export const call: Record<string, Side> = {
  ordo: async (n) => {
    const kernel = createKernel(quietEnv());
    const r = await kernel.spawn(pingMachine);
    if (r.status !== 'ok') throw new Error('spawn failed');
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const res = await kernel.call(r.pid, { type: 'ping' });
      if (!res.ok || res.value !== 'pong') throw new Error('call failed');
    }
    const us = perOp(t0, n);
    kernel.exit(r.pid, 'kill');
    return us;
  },
  xstate: async (n) => {
    const actor = createActor(pingMachine).start();
    let resolve!: () => void;
    actor.subscribe(() => resolve());
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const p = new Promise<void>((r) => (resolve = r));
      actor.send({ type: 'ping' });
      await p;
    }
    const us = perOp(t0, n);
    if (actor.getSnapshot().context.n !== n) throw new Error('xstate lost pings');
    actor.stop();
    return us;
  },
  // Context, not a peer: the bare xstate cost of the same ping that the kernel cannot avoid —
  // one `actor.send` and a snapshot read on an already-started actor, synchronous, no reply
  // (the machine's `reply` gets no address). Ordo's call over this is the call protocol; this
  // over nact/Effect is the design's floor (every child is an xstate actor).
  floor: async (n) => {
    const actor = createActor(pingMachine).start();
    const t0 = now();
    for (let i = 0; i < n; i++) {
      actor.send({ type: 'ping' });
      if (actor.getSnapshot().context.n !== i + 1) throw new Error('xstate floor lost a ping');
    }
    const us = perOp(t0, n);
    actor.stop();
    return us;
  },
  nact: async (n) => {
    const system = nact.start();
    // A stateful actor: one message at a time from its mailbox, counting pings as the machine
    // does (a stateless nact actor handles messages concurrently and keeps nothing — less work)
    type M = { kind: 'ping'; sender: nact.Ref<string> } | { kind: 'count'; sender: nact.Ref<number> };
    const actor = nact.spawn(
      system,
      (state: number, msg: M) => {
        if (msg.kind === 'count') {
          nact.dispatch(msg.sender, state);
          return state;
        }
        nact.dispatch(msg.sender, 'pong');
        return state + 1;
      },
      undefined,
      { initialState: 0 },
    );
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const res = await nact.query(actor, (sender: nact.Ref<string>): M => ({ kind: 'ping', sender }), 5000);
      if (res !== 'pong') throw new Error('nact query failed');
    }
    const us = perOp(t0, n);
    if ((await nact.query(actor, (sender: nact.Ref<number>): M => ({ kind: 'count', sender }), 5000)) !== n) throw new Error('nact lost pings');
    nact.stop(system);
    return us;
  },
  effect: (n) =>
    Effect.runPromise(
      Effect.gen(function* () {
        const inbox = yield* Queue.unbounded<Deferred.Deferred<string>>();
        let served = 0; // counted, as the machine and nact's actor count
        const server = yield* Effect.forkDetach(
          Effect.forever(
            Effect.flatMap(Queue.take(inbox), (d) => {
              served++;
              return Deferred.succeed(d, 'pong');
            }),
          ),
        );
        const t0 = now();
        for (let i = 0; i < n; i++) {
          const d = yield* Deferred.make<string>();
          yield* Queue.offer(inbox, d);
          const res = yield* Deferred.await(d);
          if (res !== 'pong') throw new Error('effect reply failed');
        }
        const us = perOp(t0, n);
        if (served !== n) throw new Error('effect lost pings');
        yield* Fiber.interrupt(server);
        return us;
      }),
    ),
};

// ---------- spawn + stop ----------

export const spawnStop: Record<string, Side> = {
  ordo: async (n) => {
    const kernel = createKernel(quietEnv());
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const r = await kernel.spawn(pingMachine);
      if (r.status !== 'ok') throw new Error('spawn failed');
      kernel.exit(r.pid, 'kill');
    }
    const us = perOp(t0, n);
    if (kernel.processCount !== 0) throw new Error('ordo leaked processes');
    return us;
  },
  // (also the floor: the bare xstate cost of one process the kernel cannot avoid)
  xstate: async (n) => {
    const t0 = now();
    for (let i = 0; i < n; i++) createActor(pingMachine).start().stop();
    return perOp(t0, n);
  },
  nact: async (n) => {
    const system = nact.start();
    const t0 = now();
    // stateful, as the machine is (a context) — a stateless nact actor is less than a process
    for (let i = 0; i < n; i++) nact.stop(nact.spawn(system, (state: number) => state, undefined, { initialState: 0 }));
    const us = perOp(t0, n);
    nact.stop(system);
    return us;
  },
  effect: (n) =>
    Effect.runPromise(
      Effect.gen(function* () {
        const t0 = now();
        for (let i = 0; i < n; i++) {
          const f = yield* Effect.forkDetach(Effect.never);
          yield* Fiber.interrupt(f);
        }
        return perOp(t0, n);
      }),
    ),
};

// ---------- crash → restarted and answering ----------

export const restart: Record<string, Side> = {
  ordo: async (n) => {
    const kernel = createKernel(quietEnv());
    const sup = await startSupervisor(kernel, { strategy: 'one_for_one', maxRestarts: Number(process.env.MAXR ?? 1_000_000), periodMs: Number(process.env.PERIOD ?? 1000), children: [{ id: "c", start: { machine: pingMachine, name: "svc" } }] });
    if (sup.status !== 'ok') throw new Error('sup failed');
    let onReady: ((pid: Pid) => void) | undefined;
    kernel.onLifecycle((e) => {
      if (e.type === 'ready') onReady?.(e.pid);
    });
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const ready = new Promise<Pid>((r) => (onReady = r));
      kernel.send('svc', { type: 'crash' });
      await ready;
      const res = await kernel.call('svc', { type: 'ping' });
      if (!res.ok) throw new Error('restarted child did not answer');
    }
    const us = perOp(t0, n);
    await stopProcess(kernel, sup.pid);
    return us;
  },
  xstate: async (n) => {
    // No supervision in xstate: the user re-creates the actor when its snapshot errors.
    let actor = createActor(pingMachine);
    let resolve!: () => void;
    const watch = (): void => {
      actor.subscribe({ next: () => resolve(), error: () => undefined });
    };
    actor.start();
    watch();
    const t0 = now();
    for (let i = 0; i < n; i++) {
      actor.send({ type: 'crash' });
      if (actor.getSnapshot().status !== 'error') throw new Error('xstate did not crash');
      actor = createActor(pingMachine).start();
      watch();
      const p = new Promise<void>((r) => (resolve = r));
      actor.send({ type: 'ping' });
      await p;
    }
    const us = perOp(t0, n);
    actor.stop();
    return us;
  },
  nact: async (n) => {
    const system = nact.start();
    type M = { kind: 'crash' } | { kind: 'ping'; sender: nact.Ref<string> };
    const actor = nact.spawn(
      system,
      (state: number, msg: M) => {
        if (msg.kind === 'crash') throw new Error('crash');
        nact.dispatch(msg.sender, 'pong');
        return state + 1;
      },
      'svc',
      { initialState: 0, onCrash: (_m, _e, ctx) => ctx.reset },
    );
    const t0 = now();
    for (let i = 0; i < n; i++) {
      nact.dispatch(actor, { kind: 'crash' });
      const res = await nact.query(actor, (sender: nact.Ref<string>): M => ({ kind: 'ping', sender }), 5000);
      if (res !== 'pong') throw new Error('nact did not answer after reset');
    }
    const us = perOp(t0, n);
    nact.stop(system);
    return us;
  },
  effect: (n) =>
    Effect.runPromise(
      Effect.gen(function* () {
        type M = { kind: 'crash' } | { kind: 'ping'; reply: Deferred.Deferred<string> };
        const inbox = yield* Queue.unbounded<M>();
        let served = 0;
        const serve = Effect.forever(
          Effect.flatMap(Queue.take(inbox), (m) => {
            if (m.kind === 'crash') return Effect.fail(new Error('crash'));
            served++; // counted, as the machine and nact's actor count
            return Deferred.succeed(m.reply, 'pong');
          }),
        );
        const server = yield* Effect.forkDetach(Effect.retry(serve, Schedule.forever));
        const t0 = now();
        for (let i = 0; i < n; i++) {
          yield* Queue.offer(inbox, { kind: 'crash' });
          const d = yield* Deferred.make<string>();
          yield* Queue.offer(inbox, { kind: 'ping', reply: d });
          if ((yield* Deferred.await(d)) !== 'pong') throw new Error('effect did not answer after retry');
        }
        const us = perOp(t0, n);
        if (served !== n) throw new Error('effect lost pings');
        yield* Fiber.interrupt(server);
        return us;
      }),
    ),
};

// ---------- boot + reverse teardown, step 3 fails twice ----------

const STEPS = ['config', 'store', 'cache', 'http'] as const;
const EXPECT_START = STEPS.join(',');
const EXPECT_STOP = [...STEPS].reverse().join(',');

function checkOrder(side: string, started: string[], stopped: string[]): void {
  if (started.join(',') !== EXPECT_START || stopped.join(',') !== EXPECT_STOP) throw new Error(`${side}: start ${started.join(',')} stop ${stopped.join(',')}`);
}

/** What one boot recorded; the Ordo steps' machines are defined once and write here. */
let bootLog = { started: [] as string[], stopped: [] as string[], attempts: new Map<string, number>() };

/** Step machine: counts its start attempts; the `cache` step fails its first two. */
function stepMachine(id: string) {
  return setup({ types: { context: {} as { service: string }, events: {} as { type: 'ordo.stop'; reason?: unknown } } }).createMachine({
    context: { service: id },
    initial: 'init',
    states: {
      init: {
        always: [
          {
            guard: () => {
              const a = (bootLog.attempts.get(id) ?? 0) + 1;
              bootLog.attempts.set(id, a);
              return id === 'cache' && a <= 2;
            },
            target: 'failed',
          },
          { target: 'up', actions: () => bootLog.started.push(id) },
        ],
      },
      failed: { type: 'final', output: { reason: 'not yet' } },
      up: { tags: ['ready'], on: { 'ordo.stop': { target: 'done', actions: () => bootLog.stopped.push(id) } } },
      done: { type: 'final' },
    },
  });
}
const stepMachines = STEPS.map((id) => stepMachine(id));

export const boot: Record<string, Side> = {
  ordo: async (n) => {
    const env = quietEnv();
    const t0 = now();
    for (let i = 0; i < n; i++) {
      bootLog = { started: [], stopped: [], attempts: new Map() };
      const app = startApplication({
        name: 'bench',
        env,
        handleSignals: false,
        tree: {
          strategy: 'rest_for_one',
          maxRestarts: 3,
          periodMs: 5000,
          // each step provides a service the next requires: the order is the dependency chain
          // (a step that needs nothing from a retrying one would start in its turn)
          children: STEPS.map((id, i) => ({
            id,
            start: { machine: stepMachines[i]! },
            provides: id,
            ...(i > 0 ? { requires: [STEPS[i - 1]!] } : {}),
            startRetry: { initialMs: 1, maxMs: 1, factor: 1, jitter: 0 },
          })),
        },
      });
      await app.ready;
      const exit = await app.stop();
      if (exit.code !== 0) throw new Error('ordo stop failed');
      checkOrder('ordo', bootLog.started, bootLog.stopped);
    }
    return perOp(t0, n);
  },
  // Context, not a peer: the floor of the design — the same step machines as bare xstate
  // actors, started in order by hand (a failed start: a new actor after the same 1 ms wait), and
  // stopped in reverse with the same `ordo.stop` — no supervisor, no application.
  floor: async (n) => {
    const t0 = now();
    for (let i = 0; i < n; i++) {
      bootLog = { started: [], stopped: [], attempts: new Map() };
      const up = [];
      for (const machine of stepMachines) {
        for (;;) {
          const actor = createActor(machine).start();
          const s = actor.getSnapshot();
          if (s.status === 'active' && s.hasTag('ready')) {
            up.push(actor);
            break;
          }
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      for (let k = up.length - 1; k >= 0; k--) up[k]!.send({ type: 'ordo.stop' });
      checkOrder('xstate floor', bootLog.started, bootLog.stopped);
    }
    return perOp(t0, n);
  },
  effect: async (n) => {
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const started: string[] = [];
      const stopped: string[] = [];
      let attempts = 0;
      const step = <I extends string>(tag: Context.Service<I, string>, id: string, fail: boolean) =>
        Layer.effect(
          tag,
          Effect.acquireRelease(
            Effect.suspend(() => {
              if (fail && ++attempts <= 2) return Effect.fail(new Error('not yet'));
              started.push(id);
              return Effect.succeed(id);
            }).pipe(fail ? Effect.retry({ schedule: Schedule.spaced('1 millis'), times: 2 }) : (e) => e),
            () => Effect.sync(() => stopped.push(id)),
          ),
        );
      // `a.pipe(Layer.provideMerge(b))` builds b first and a after it: written from the last
      // step outwards, the chain builds config → store → cache → http (checked below).
      const layer = step(HttpTag, 'http', false).pipe(
        Layer.provideMerge(step(CacheTag, 'cache', true)),
        Layer.provideMerge(step(StoreTag, 'store', false)),
        Layer.provideMerge(step(ConfigTag, 'config', false)),
      );
      await Effect.runPromise(Effect.scoped(Layer.build(layer)));
      checkOrder('effect', started, stopped);
    }
    return perOp(t0, n);
  },
  avvio: async (n) => {
    const t0 = now();
    for (let i = 0; i < n; i++) {
      const started: string[] = [];
      const stopped: string[] = [];
      const app = avvio({}, { autostart: false });
      let attempts = 0;
      for (const id of STEPS) {
        app.use(async (server: { onClose(fn: () => void | Promise<void>): void }) => {
          // avvio has no retry: the user writes it in the plugin.
          while (id === 'cache' && ++attempts <= 2) await new Promise((r) => setTimeout(r, 1));
          started.push(id);
          server.onClose(() => {
            stopped.push(id);
          });
        });
      }
      await app.ready();
      await new Promise<void>((resolve, reject) => app.close((err?: Error) => (err ? reject(err) : resolve())));
      checkOrder('avvio', started, stopped);
    }
    return perOp(t0, n);
  },
};

const ConfigTag = Context.Service<'config', string>('config');
const StoreTag = Context.Service<'store', string>('store');
const CacheTag = Context.Service<'cache', string>('cache');
const HttpTag = Context.Service<'http', string>('http');

/**
 * Runs each side `RUNS` times after one warm-up each, alternating sides round by round (the
 * order rotates every round, so no side always runs right after GC-heavy work), and reports
 * Ordo's median against each peer's median as the median of per-round ratios — on the wall
 * clock, and in CPU time (rows marked "CPU time").
 */
export async function compare(name: string, sides: Record<string, Side>, n: number, target: string, floor?: string): Promise<BenchResult[]> {
  const names = Object.keys(sides);
  for (const s of names) await sides[s]!(Math.max(1, n >> 2));
  const runs = new Map<string, PerOp[]>(names.map((s) => [s, []]));
  const loads: number[] = [];
  for (let round = 0; round < RUNS; round++) {
    for (let k = 0; k < names.length; k++) {
      const s = names[(round + k) % names.length]!;
      runs.get(s)!.push(await sides[s]!(n));
    }
    loads.push(load1());
  }
  const out: BenchResult[] = [];
  const peers = names.filter((s) => s !== 'ordo' && s !== 'floor');
  for (const clock of ['wall', 'cpu'] as const) {
    const label = clock === 'cpu' ? `${name} (CPU time)` : name;
    const who_ = (side: string): string => (side === 'ordo' ? 'Ordo' : side === 'floor' ? 'xstate floor' : side === 'xstate' && floor === 'xstate' ? 'xstate floor (the xstate side)' : side);
    const row = (who: string, of: string): BenchResult => {
      const mine = runs.get(who)!.map((r) => r[clock]);
      const theirs = runs.get(of)!.map((r) => r[clock]);
      const ratios = mine.map((o, i) => o / theirs[i]!);
      return { name: `${label}: ${who_(who)} vs ${who_(of)}`, value: median(mine) * 1000, unit: 'ns/op', baseline: { name: of, value: median(theirs) * 1000 }, ratio: median(ratios), runs: ratios, warmups: 1, loadavg: median(loads), command: COMMAND };
    };
    for (const peer of peers) {
      const r = row('ordo', peer);
      r.target = target;
      r.met = r.ratio! < 1;
      out.push(r);
    }
    if (floor !== undefined) {
      // context rows, no target: what Ordo adds over the floor, and the floor against each peer
      const context = (r: BenchResult): BenchResult => ((r.name += ' (context: the bare xstate cost the kernel cannot avoid)'), r);
      if (floor === 'floor') out.push(context(row('ordo', floor)));
      for (const peer of peers.filter((p) => p !== 'xstate')) out.push(context(row(floor, peer)));
    }
  }
  return out;
}


/** The figures, by the name `BENCH_ONLY` picks them with (`BENCH_ONLY=call,restart`: just those; default all). */
const FIGURES: readonly (readonly [string, string, Record<string, Side>, number, string, string?])[] = [
  // the side that is the bare xstate floor, last: context rows for it (no target)
  ['call', 'request/reply round trip', call, 20_000, 'ahead of every peer (< 1×)', 'floor'],
  ['spawn', 'spawn+stop', spawnStop, 5_000, 'ahead of every peer (< 1×)', 'xstate'],
  ['restart', 'crash → restarted and answering', restart, 2_000, 'ahead of every peer (< 1×)', 'xstate'],
  ['boot', 'boot + reverse teardown, 4 ordered steps, one fails twice', boot, 300, 'ahead of Effect and avvio (< 1×)', 'floor'],
];

export async function run(): Promise<BenchResult[]> {
  const only = process.env['BENCH_ONLY']?.split(',');
  const out: BenchResult[] = [];
  for (const [key, name, sides, n, target, floor] of FIGURES) if (!only || only.includes(key)) out.push(...(await compare(name, sides, n, target, floor)));
  return out;
}

if (isMain(import.meta.url)) {
  printResults(`Peers (Ordo from ${ordoBuild}/)`, await run());
}
