import { assign, enqueueActions, fromCallback, fromPromise, setup } from 'xstate';
import type { Env } from '../env/env.ts';
import type { KvDb } from '../env/kv.ts';

/** What a library child reports into the run's trace. */
export type Probe = (kind: string, fields: Record<string, unknown>) => void;

/** Input of {@link simChildMachine}, built by the tree builder at every (re)start. */
export interface SimChildInput {
  readonly id: string;
  readonly env: Env;
  readonly probe: Probe;
  /** Virtual ms from start to ready. */
  readonly startMs: number;
  /** Virtual ms the stop takes (after `ordo.stop`). */
  readonly stopMs: number;
  /** Crash this long after becoming ready (undefined: never). */
  readonly crashAfterMs: number | undefined;
  /** Services this child requires, as the supervisor handed them over. */
  readonly deps: Readonly<Record<string, unknown>>;
  /** Own a key-value database in this directory (opened at start, closed at stop). */
  readonly kvDir?: string | undefined;
  /** With `kvDir`: write one synced key every this many ms. */
  readonly writeEveryMs?: number | undefined;
  /** Called with the database when the child crashes (the simulated OS releases the lock). */
  readonly abandon?: ((db: KvDb | undefined) => void) | undefined;
}

interface Ctx {
  readonly input: SimChildInput;
  /** The armed timers of the `timers` actor: a crash clears them itself (xstate leaves an errored actor's invoked children running). */
  readonly armed: { crash?: unknown; tick?: unknown };
  db: KvDb | undefined;
  writes: number;
  service: unknown;
}

function disarm(env: Env, armed: Ctx['armed']): void {
  env.clock.clearTimeout(armed.crash);
  env.clock.clearTimeout(armed.tick);
  armed.crash = armed.tick = undefined;
}

/** Waits `ms` on the Env's clock; an abort (the invoking state was left) clears the timer. */
function sleep(env: Env, ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const t = env.clock.setTimeout(() => resolve(), ms);
    signal.addEventListener('abort', () => env.clock.clearTimeout(t), { once: true });
  });
}

/**
 * The chaos library's generic child: uses its dependencies as it starts (each use goes to the
 * trace, so an oracle can check the provider was ready), becomes ready after `startMs`
 * (opening its database first when it has `kvDir`), may crash after `crashAfterMs`, writes
 * synced keys every `writeEveryMs`, and on `ordo.stop` takes `stopMs` and closes its database
 * before it ends. Its service is `{ provider: id }`.
 */
export const simChildMachine = setup({
  types: { input: {} as SimChildInput, context: {} as Ctx, events: {} as { type: 'ordo.stop'; reason?: unknown } | { type: 'crash' } | { type: 'write' } | { type: 'started' } },
  actors: {
    boot: fromPromise<KvDb | undefined, SimChildInput>(async ({ input, signal }) => {
      for (const [name, value] of Object.entries(input.deps)) input.probe('dep.use', { child: input.id, dep: name, provided: value !== undefined });
      await sleep(input.env, input.startMs, signal);
      if (signal.aborted) return undefined;
      if (input.kvDir === undefined) return undefined;
      const kv = input.env.io.kv;
      if (!kv) throw new Error('no kv adapter in this env');
      const db = await kv.open(input.kvDir, { columns: ['data'], createIfMissing: true });
      if (signal.aborted) {
        await db.close(); // stopped while opening: nobody owns this handle
        return undefined;
      }
      return db;
    }),
    write: fromPromise<void, { db: KvDb; n: number; id: string }>(async ({ input }) => {
      await input.db.write([{ type: 'put', column: 'data', key: Buffer.from(`${input.id}:${input.n}`), value: Buffer.from(String(input.n)) }], { sync: true });
    }),
    halt: fromPromise<void, { db: KvDb | undefined; env: Env; stopMs: number }>(async ({ input, signal }) => {
      await sleep(input.env, input.stopMs, signal);
      await input.db?.close();
    }),
    /** The child's own timers, on the Env's clock (a crash after `crashAfterMs`, a write every `writeEveryMs`). */
    timers: fromCallback<{ type: 'crash' } | { type: 'write' }, { env: Env; crashAfterMs: number | undefined; writeEveryMs: number | undefined; armed: Ctx['armed'] }>(({ input, sendBack }) => {
      const { clock } = input.env;
      const armed = input.armed;
      if (input.crashAfterMs !== undefined) armed.crash = clock.setTimeout(() => sendBack({ type: 'crash' }), input.crashAfterMs);
      const every = input.writeEveryMs;
      const arm = (): void => {
        armed.tick = clock.setTimeout(() => {
          arm();
          sendBack({ type: 'write' });
        }, every!);
      };
      if (every !== undefined && every > 0) arm();
      return () => disarm(input.env, armed);
    }),
  },
  actions: {
    /**
     * Booting without a database: records each dependency use and arms the start delay (a delayed
     * `started` on the Env's clock, which the kernel's scheduler cancels if the actor is stopped).
     * A start at once arms nothing (booting's eventless transition takes it); a database child's
     * boot actor does both itself.
     */
    arm: enqueueActions(({ context, enqueue }) => {
      const { input } = context;
      if (input.kvDir !== undefined) return;
      for (const name in input.deps) input.probe('dep.use', { child: input.id, dep: name, provided: input.deps[name] !== undefined });
      if (input.startMs > 0) enqueue.raise({ type: 'started' }, { id: 'start', delay: input.startMs });
    }),
    provide: assign({ db: undefined, service: ({ context }) => ({ provider: context.input.id }) }),
    opened: assign({ db: ({ event }) => (event as { output?: KvDb }).output, service: ({ context }) => ({ provider: context.input.id }) }),
    crash: ({ context }) => {
      disarm(context.input.env, context.armed);
      context.input.abandon?.(context.db);
      throw new Error(`${context.input.id} crashed (simulated)`);
    },
  },
  delays: {
    stopMs: ({ context }) => context.input.stopMs,
  },
  guards: {
    /** Boots by opening a database (an invoked promise); otherwise booting is only a delay. */
    opensDb: ({ context }) => context.input.kvDir !== undefined,
    startsAtOnce: ({ context }) => !(context.input.startMs > 0),
    /** A start at once of a child with timers. */
    timedAtOnce: ({ context }) => !(context.input.startMs > 0) && context.input.crashAfterMs !== undefined,
    /** Stopping without a database to close is only a delay (no invoked actor). */
    holdsDb: ({ context }) => context.db !== undefined,
    stopsAtOnce: ({ context }) => !(context.input.stopMs > 0),
    // Timers only when there is something to time: an idle child arms none (xstate's own
    // delayed events would arm one per `after` even when its guard is false).
    timed: ({ context }) => context.input.crashAfterMs !== undefined,
    /** Opened a database (the boot actor's output, not yet in context): timed when it crashes or writes. */
    timedWithDb: ({ context, event }) => context.input.crashAfterMs !== undefined || ((event as { output?: unknown }).output !== undefined && (context.input.writeEveryMs ?? 0) > 0),
  },
}).createMachine({
  id: 'simChild',
  context: ({ input }) => ({ input, armed: {}, db: undefined, writes: 0, service: undefined }),
  initial: 'booting',
  on: { crash: { actions: 'crash' } },
  // Flat where a run spends its steps: every xstate step builds Sets and arrays over the active
  // state nodes and their ancestors, so each nesting level costs every incarnation (a start, its
  // readiness and its stop: 48 → 35 µs of xstate CPU per incarnation against the nested form).
  // Only the timed run is nested, `running.timed` (its timers actor spans `idle` and
  // `writing`); a crash report names the state it crashed in, `{ running: { timed: 'idle' } }`.
  states: {
    // Without a database, booting is a delayed `started` (no invoked promise actor per
    // incarnation: each one is a whole actor and an AbortController per start).
    booting: {
      entry: 'arm',
      always: [
        { guard: 'opensDb', target: 'opening' },
        { guard: 'timedAtOnce', target: 'running.timed', actions: 'provide' },
        { guard: 'startsAtOnce', target: 'quiet', actions: 'provide' },
      ],
      on: {
        started: [
          { guard: 'timed', target: 'running.timed', actions: 'provide' },
          { target: 'quiet', actions: 'provide' },
        ],
        'ordo.stop': 'stopped',
      },
    },
    opening: {
      invoke: {
        src: 'boot',
        input: ({ context }) => context.input,
        onDone: [
          { guard: 'timedWithDb', target: 'running.timed', actions: 'opened' },
          { target: 'quiet', actions: 'opened' },
        ],
        onError: { target: 'failed' },
      },
      on: { 'ordo.stop': 'stopped' },
    },
    /** Running with nothing to time (no crash due, no writes). */
    quiet: {
      tags: ['ready'],
      on: {
        'ordo.stop': [
          { guard: 'holdsDb', target: 'closing' },
          { guard: 'stopsAtOnce', target: 'stopped' },
          { target: 'stopping' },
        ],
      },
    },
    running: {
      tags: ['ready'],
      initial: 'timed',
      states: {
        timed: {
          invoke: {
            src: 'timers',
            input: ({ context }) => ({ env: context.input.env, crashAfterMs: context.input.crashAfterMs, writeEveryMs: context.db ? context.input.writeEveryMs : undefined, armed: context.armed }),
          },
          initial: 'idle',
          states: {
            idle: { on: { write: 'writing' } },
            writing: {
              invoke: {
                src: 'write',
                input: ({ context }) => ({ db: context.db!, n: context.writes, id: context.input.id }),
                onDone: { target: 'idle', actions: assign({ writes: ({ context }) => context.writes + 1 }) },
                onError: { actions: 'crash' },
              },
            },
          },
        },
      },
      on: {
        'ordo.stop': [
          { guard: 'holdsDb', target: 'closing' },
          { guard: 'stopsAtOnce', target: 'stopped' },
          { target: 'stopping' },
        ],
      },
    },
    stopping: { after: { stopMs: 'stopped' } },
    closing: {
      invoke: {
        src: 'halt',
        input: ({ context }) => ({ db: context.db, env: context.input.env, stopMs: context.input.stopMs }),
        onDone: 'stopped',
        onError: 'stopped',
      },
    },
    stopped: { type: 'final' },
    failed: { type: 'final', output: ({ event }) => ({ reason: (event as { error?: unknown }).error ?? 'boot_failed' }) },
  },
});
