import { assign, enqueueActions, fromCallback, setup } from 'xstate';
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

/** The events of {@link simChildMachine}: the kernel's stop, its own timers and its database's settlings. */
type SimChildEvent =
  | { type: 'ordo.stop'; reason?: unknown }
  | { type: 'crash' }
  | { type: 'write' }
  | { type: 'started' }
  | { type: 'opened'; db: KvDb }
  | { type: 'openFailed'; error: unknown }
  | { type: 'written' }
  | { type: 'writeFailed'; error: unknown }
  | { type: 'closed' };

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

/**
 * The chaos library's generic child: uses its dependencies as it starts (each use goes to the
 * trace, so an oracle can check the provider was ready), becomes ready after `startMs`
 * (opening its database first when it has `kvDir`), may crash after `crashAfterMs`, writes
 * synced keys every `writeEveryMs`, and on `ordo.stop` takes `stopMs` and closes its database
 * before it ends. Its service is `{ provider: id }`.
 */
export const simChildMachine = setup({
  types: { input: {} as SimChildInput, context: {} as Ctx, events: {} as SimChildEvent },
  actors: {
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
     * Booting: records each dependency use and arms the start delay (a delayed `started` on the
     * Env's clock, which the kernel's scheduler cancels if the actor is stopped). A start at once
     * arms nothing (booting's eventless transitions take it).
     */
    arm: enqueueActions(({ context, enqueue }) => {
      const { input } = context;
      for (const name in input.deps) input.probe('dep.use', { child: input.id, dep: name, provided: input.deps[name] !== undefined });
      if (input.startMs > 0) enqueue.raise({ type: 'started' }, { id: 'start', delay: input.startMs });
    }),
    /**
     * Opening the database (entering `opening`): its settling comes back as `opened` or
     * `openFailed`. Left before it settles (a stop, a kill): nobody owns the handle, closed.
     */
    openDb: ({ context, self }) => {
      const { input } = context;
      const kv = input.env.io.kv;
      let opening: Promise<KvDb>;
      try {
        opening = kv ? kv.open(input.kvDir!, { columns: ['data'], createIfMissing: true }) : Promise.reject(new Error('no kv adapter in this env'));
      } catch (e) {
        opening = Promise.reject(e);
      }
      opening.then(
        (db) => {
          const snap = self.getSnapshot();
          if (snap.status === 'active' && snap.value === 'opening') self.send({ type: 'opened', db });
          else db.close().catch(() => undefined); // stopped while opening
        },
        (error: unknown) => {
          if (self.getSnapshot().status === 'active') self.send({ type: 'openFailed', error });
        },
      );
    },
    /** Closing the database after the stop delay: `closed` when it settled either way. */
    closeDb: ({ context, self }) => {
      const done = (): void => {
        if (self.getSnapshot().status === 'active') self.send({ type: 'closed' });
      };
      let closing: Promise<void>;
      try {
        closing = context.db!.close();
      } catch (e) {
        closing = Promise.reject(e);
      }
      closing.then(done, done);
    },
    /**
     * One synced write (entering `writing`): its settling comes back as `written` or
     * `writeFailed`, which only `writing` takes — a write still in flight when the child left it
     * (a stop) is let settle and its outcome dropped, as the invoked promise actor's was.
     */
    writeDb: ({ context, self }) => {
      const { input, writes: n } = context;
      let writing: Promise<void>;
      try {
        writing = context.db!.write([{ type: 'put', column: 'data', key: Buffer.from(`${input.id}:${n}`), value: Buffer.from(String(n)) }], { sync: true });
      } catch (e) {
        writing = Promise.reject(e);
      }
      writing.then(
        () => {
          if (self.getSnapshot().status === 'active') self.send({ type: 'written' });
        },
        (error: unknown) => {
          if (self.getSnapshot().status === 'active') self.send({ type: 'writeFailed', error });
        },
      );
    },
    provide: assign({ db: undefined, service: ({ context }) => ({ provider: context.input.id }) }),
    opened: assign({ db: ({ event }) => (event as { db?: KvDb }).db, service: ({ context }) => ({ provider: context.input.id }) }),
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
    /** Boots by opening a database (after the start delay); otherwise booting is only a delay. */
    opensDb: ({ context }) => context.input.kvDir !== undefined,
    /** Opens a database at once (no start delay). */
    opensDbAtOnce: ({ context }) => context.input.kvDir !== undefined && !(context.input.startMs > 0),
    startsAtOnce: ({ context }) => !(context.input.startMs > 0),
    /** A start at once of a child with timers. */
    timedAtOnce: ({ context }) => !(context.input.startMs > 0) && context.input.crashAfterMs !== undefined,
    /** Stopping without a database to close is only a delay (no invoked actor). */
    holdsDb: ({ context }) => context.db !== undefined,
    stopsAtOnce: ({ context }) => !(context.input.stopMs > 0),
    /** Holds a database and stops at once: straight to closing it. */
    closesAtOnce: ({ context }) => context.db !== undefined && !(context.input.stopMs > 0),
    // Timers only when there is something to time: an idle child arms none (xstate's own
    // delayed events would arm one per `after` even when its guard is false).
    timed: ({ context }) => context.input.crashAfterMs !== undefined,
    /** Opened a database (the `opened` event's, not yet in context): timed when it crashes or writes. */
    timedWithDb: ({ context, event }) => context.input.crashAfterMs !== undefined || ((event as { db?: unknown }).db !== undefined && (context.input.writeEveryMs ?? 0) > 0),
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
    // Booting is a delayed `started`, and a database child's opening and closing are actions
    // whose promises report back as events: no invoked promise actor per incarnation (each is a
    // whole actor and an AbortController per start).
    booting: {
      entry: 'arm',
      always: [
        { guard: 'opensDbAtOnce', target: 'opening' },
        { guard: 'timedAtOnce', target: 'running.timed', actions: 'provide' },
        { guard: 'startsAtOnce', target: 'quiet', actions: 'provide' },
      ],
      on: {
        started: [
          { guard: 'opensDb', target: 'opening' },
          { guard: 'timed', target: 'running.timed', actions: 'provide' },
          { target: 'quiet', actions: 'provide' },
        ],
        'ordo.stop': 'stopped',
      },
    },
    opening: {
      entry: 'openDb',
      on: {
        opened: [
          { guard: 'timedWithDb', target: 'running.timed', actions: 'opened' },
          { target: 'quiet', actions: 'opened' },
        ],
        openFailed: 'failed',
        'ordo.stop': 'stopped',
      },
    },
    /** Running with nothing to time (no crash due, no writes). */
    quiet: {
      tags: ['ready'],
      on: {
        'ordo.stop': [
          { guard: 'closesAtOnce', target: 'releasing' },
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
              entry: 'writeDb',
              on: {
                written: { target: 'idle', actions: assign({ writes: ({ context }) => context.writes + 1 }) },
                writeFailed: { actions: 'crash' },
              },
            },
          },
        },
      },
      on: {
        'ordo.stop': [
          { guard: 'closesAtOnce', target: 'releasing' },
          { guard: 'holdsDb', target: 'closing' },
          { guard: 'stopsAtOnce', target: 'stopped' },
          { target: 'stopping' },
        ],
      },
    },
    stopping: { after: { stopMs: 'stopped' } },
    /** The stop delay, then the database is closed (a kill in between leaves it open, as before). */
    closing: { after: { stopMs: 'releasing' } },
    releasing: { entry: 'closeDb', on: { closed: 'stopped' } },
    stopped: { type: 'final' },
    failed: { type: 'final', output: ({ event }) => ({ reason: (event as { error?: unknown }).error ?? 'boot_failed' }) },
  },
});
