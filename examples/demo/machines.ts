/**
 * The demo tree's children: small xstate machines that boot like real services do — a config
 * loader, a store, a cache loader that needs the store, a ticking job worker that crashes once
 * on purpose, and an HTTP front. Later issues swap these for Ordo's real children.
 */
import { assign, setup } from 'xstate';

/** Becomes ready after `bootMs`, provides `service`, stops on `ordo.stop`. */
export const service = setup({
  types: {
    input: {} as { bootMs: number; service?: unknown },
    context: {} as { bootMs: number; service: unknown },
  },
  delays: { boot: ({ context }) => context.bootMs },
}).createMachine({
  id: 'service',
  context: ({ input }) => ({ bootMs: input.bootMs, service: input.service }),
  initial: 'booting',
  states: {
    booting: { after: { boot: 'ready' } },
    ready: { tags: ['ready'], on: { 'ordo.stop': 'closing' } },
    closing: { after: { 10: 'closed' } },
    closed: { type: 'final' },
  },
});

/** A cache loader: requires the store (its input has it), loads, then serves. */
export const cacheLoader = setup({
  types: {
    input: {} as { store: { name: string } },
    context: {} as { store: { name: string }; entries: number; service: { entries: () => number } },
  },
}).createMachine({
  id: 'cache',
  context: ({ input }) => {
    const ctx = { store: input.store, entries: 0, service: { entries: () => ctx.entries } };
    return ctx;
  },
  initial: 'loading',
  states: {
    loading: { after: { 150: { target: 'serving', actions: assign({ entries: 128 }) } } },
    serving: { tags: ['ready'], on: { 'ordo.stop': 'stopped' } },
    stopped: { type: 'final' },
  },
});

/** Ticks every `everyMs`; on tick `crashAt` it throws (an injected crash) — once per boot of the demo. */
export const ticker = setup({
  types: {
    input: {} as { everyMs: number; crashAt: number; crashed: { done: boolean } },
    context: {} as { everyMs: number; ticks: number; crashAt: number; crashed: { done: boolean } },
  },
  delays: { every: ({ context }) => context.everyMs },
  guards: { crashNow: ({ context }) => !context.crashed.done && context.ticks + 1 >= context.crashAt },
  actions: {
    injectCrash: ({ context }) => {
      context.crashed.done = true;
      throw new Error('injected crash: ticker hit a bad job');
    },
  },
}).createMachine({
  id: 'ticker',
  context: ({ input }) => ({ ...input, ticks: 0 }),
  initial: 'idle',
  states: {
    idle: {
      tags: ['ready'],
      after: { every: [{ guard: 'crashNow', actions: 'injectCrash' }, { target: 'working', actions: assign({ ticks: ({ context }) => context.ticks + 1 }) }] },
      on: { 'ordo.stop': 'stopped' },
    },
    working: { tags: ['ready'], after: { 50: 'idle' }, on: { 'ordo.stop': 'stopped' } },
    stopped: { type: 'final' },
  },
});
