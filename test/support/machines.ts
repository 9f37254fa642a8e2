import { assign, fromPromise, setup } from 'xstate';
import { reply } from '../../src/actors/index.ts';

/**
 * A worker for tests: ready at once; `crash` throws in an action (abnormal exit with the
 * Error), `exit` reaches a final state with `event.reason`, `ping` replies `pong`,
 * `ordo.stop` stops after `stopDelayMs` (virtual ms; `Infinity` = never).
 */
export const worker = setup({
  types: {
    context: {} as { count: number; stopDelayMs: number; service: unknown },
    input: {} as { stopDelayMs?: number; service?: unknown } | undefined,
    events: {} as
      | { type: 'crash' }
      | { type: 'exit'; reason?: unknown }
      | { type: 'ping'; replyTo?: never }
      | { type: 'inc' }
      | { type: 'get'; replyTo?: never }
      | { type: 'ordo.stop'; reason: unknown },
  },
  actions: {
    boom: () => {
      throw new Error('died');
    },
  },
  delays: { stopDelay: ({ context }) => context.stopDelayMs },
}).createMachine({
  id: 'worker',
  context: ({ input }) => ({ count: 0, stopDelayMs: input?.stopDelayMs ?? 0, service: input?.service }),
  initial: 'running',
  states: {
    running: {
      tags: ['ready'],
      on: {
        crash: { actions: 'boom' },
        exit: { target: 'done', actions: assign({ count: ({ event }) => 0 * (event.type === 'exit' ? 1 : 0) }) },
        ping: { actions: ({ event }) => reply((event as { replyTo?: never }).replyTo, 'pong') },
        inc: { actions: assign({ count: ({ context }) => context.count + 1 }) },
        get: { actions: ({ context, event }) => reply((event as { replyTo?: never }).replyTo, context.count) },
        'ordo.stop': [{ guard: ({ context }) => context.stopDelayMs === 0, target: 'stopped' }, { target: 'stopping' }],
      },
    },
    stopping: {
      after: { stopDelay: 'stopped' },
    },
    stopped: { type: 'final' },
    done: {
      type: 'final',
      output: ({ event }) => ({ reason: (event as { reason?: unknown }).reason ?? 'normal' }),
    },
  },
});

/** A machine that becomes ready only after `delayMs` (virtual), or never when `Infinity`. */
export const slowStarter = setup({
  types: { input: {} as { delayMs: number }, context: {} as { delayMs: number } },
  delays: { d: ({ context }) => context.delayMs },
}).createMachine({
  context: ({ input }) => ({ delayMs: input.delayMs }),
  initial: 'booting',
  states: {
    booting: { after: { d: 'up' } },
    up: { tags: ['ready'], on: { 'ordo.stop': 'bye' } },
    bye: { type: 'final' },
  },
});

/** Fails during start: ends with an abnormal reason before it is ready. */
export const failsToStart = setup({ types: { input: {} as { reason?: unknown } | undefined } }).createMachine({
  initial: 'x',
  context: ({ input }) => ({ reason: input?.reason ?? 'init_failed' }),
  states: { x: { always: 'fail' }, fail: { type: 'final', output: ({ context }) => ({ reason: (context as { reason: unknown }).reason }) } },
});

/** Ends with `{ ignore: true }` before it is ready: OTP's `ignore` from init. */
export const ignores = setup({}).createMachine({ initial: 'x', states: { x: { type: 'final', output: { ignore: true } } } });

/** An invoked promise that rejects with no onError: a crash after readiness, driven by the clock. */
export const rejectsLater = setup({
  actors: {
    work: fromPromise(async () => {
      throw new Error('promise rejected');
    }),
  },
}).createMachine({
  initial: 'ready',
  states: {
    ready: { tags: ['ready'], on: { go: 'working' } },
    working: { tags: ['ready'], invoke: { src: 'work' } },
  },
});

/** Ready at once; on `ordo.stop` reaches a final state with `input.reason` (any exit reason on request). */
export const stopsWith = setup({ types: { input: {} as { reason: unknown }, context: {} as { reason: unknown } } }).createMachine({
  context: ({ input }) => ({ reason: input.reason }),
  initial: 'running',
  states: {
    running: { tags: ['ready'], on: { 'ordo.stop': 'done' } },
    done: { type: 'final', output: ({ context }) => ({ reason: context.reason }) },
  },
});

/** Ready at once, has no transition for `ordo.stop`: an exit signal stops it at once (a gen_server not trapping exits). */
export const plain = setup({}).createMachine({ initial: 'running', states: { running: { tags: ['ready'], on: { ping: { actions: ({ event }) => reply((event as { replyTo?: never }).replyTo, 'pong') } } } } });

/** Throws in an entry action while starting: fails to start with the Error. */
export const throwsOnStart = setup({
  actions: {
    boom: () => {
      throw new Error('init boom');
    },
  },
}).createMachine({ initial: 'x', states: { x: { entry: 'boom', tags: ['ready'] } } });

/** Answers `stopMe` calls by stopping without replying: a final state with `event.reason` (gen_server `{stop,R,S}`). */
export const stopper = setup({}).createMachine({
  initial: 'running',
  states: {
    running: { tags: ['ready'], on: { stopMe: 'done', crashMe: { actions: () => { throw new Error('crashed'); } } } },
    done: { type: 'final', output: ({ event }) => ({ reason: (event as { reason?: unknown }).reason }) },
  },
});

/** Answers `slowPing` after `input.delayMs` virtual ms (delayed transition), `ping` at once. */
export const slowReplier = setup({
  types: { input: {} as { delayMs: number }, context: {} as { delayMs: number; replyTo: unknown } },
  delays: { d: ({ context }) => context.delayMs },
}).createMachine({
  context: ({ input }) => ({ delayMs: input.delayMs, replyTo: undefined }),
  initial: 'idle',
  states: {
    idle: {
      tags: ['ready'],
      on: {
        slowPing: { target: 'busy', actions: assign({ replyTo: ({ event }) => (event as { replyTo?: unknown }).replyTo }) },
        ping: { actions: ({ event }) => reply((event as { replyTo?: never }).replyTo, 'pong') },
      },
    },
    busy: {
      tags: ['ready'],
      after: { d: { target: 'idle', actions: ({ context }) => reply(context.replyTo as never, 'late pong') } },
    },
  },
});

/**
 * A generic process for link tests: `exit` reaches a final state with `event.reason`; with
 * `trapExit` it keeps every `ordo.exit` in `context.trapped` (call `trapped` to read them).
 */
export const node = setup({
  types: { context: {} as { trapped: { from: unknown; reason: unknown }[] } },
}).createMachine({
  context: { trapped: [] },
  initial: 'running',
  states: {
    running: {
      tags: ['ready'],
      on: {
        'ordo.exit': { actions: assign({ trapped: ({ context, event }) => [...context.trapped, { from: (event as { from?: unknown }).from, reason: (event as { reason?: unknown }).reason }] }) },
        trapped: { actions: ({ context, event }) => reply((event as { replyTo?: never }).replyTo, context.trapped) },
        exit: 'done',
      },
    },
    done: { type: 'final', output: ({ event }) => ({ reason: (event as { reason?: unknown }).reason }) },
  },
});

/** Traps exits (spawn it with `trapExit: true`): the same machine as {@link node}. */
export const trapper = node;
