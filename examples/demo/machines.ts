/**
 * The demo's own children. The cluster and the store are Ordo's real children
 * (`discoveryMachine`, `storeInitializerMachine`); these are the app's: a leaderboard cache
 * that loads from the store's `bux_balance` index once the store is ready, a job ticker that
 * awards BUX in store transactions and crashes once on purpose, and an HTTP front.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { Env } from 'ordo';
import type { Store } from 'ordo/store';

/** The seed's table (`000_…`): BUX points per user, leaderboard by `bux_balance` index. */
export const demoTables = {
  user_bux_points: {
    type: 'ordered_set' as const,
    key: 'user_id',
    attributes: {
      user_id: { type: 'integer' as const },
      bux_balance: { type: 'integer' as const, default: 0 },
      updated_at: { type: 'number' as const, default: 0 },
    },
    indexes: ['bux_balance'],
    replicated: true,
  },
};

/** Reads the top `n` users by `bux_balance`: an index range, never a sort of the table. */
export function topUsers(store: Store, n: number): { user_id: number; bux_balance: number }[] {
  return store.indexRange('user_bux_points', 'bux_balance', undefined, undefined, { limit: n, reverse: true }) as never;
}

export interface Leaderboard {
  top(): { user_id: number; bux_balance: number }[];
  refreshes(): number;
}

/** Leaderboard cache: loads from the store (given in its input, only once the store is ready), refreshes on change. */
export const leaderboardCache = setup({
  types: {
    input: {} as { store: Store; size: number },
    context: {} as { store: Store; size: number; top: { user_id: number; bux_balance: number }[]; refreshes: number; service: Leaderboard; unsubscribe?: () => void },
    events: {} as { type: 'changed' } | { type: 'ordo.stop'; reason?: unknown },
  },
  actors: {
    load: fromPromise(async ({ input }: { input: { store: Store; size: number } }) => topUsers(input.store, input.size)),
  },
}).createMachine({
  id: 'leaderboard',
  context: ({ input, self }) => {
    const ctx = {
      store: input.store,
      size: input.size,
      top: [] as { user_id: number; bux_balance: number }[],
      refreshes: 0,
      service: { top: () => ctx.top, refreshes: () => ctx.refreshes },
      unsubscribe: input.store.subscribe('user_bux_points', () => self.send({ type: 'changed' })),
    };
    return ctx;
  },
  initial: 'loading',
  states: {
    loading: {
      invoke: {
        src: 'load',
        input: ({ context }) => ({ store: context.store, size: context.size }),
        onDone: { target: 'serving', actions: assign(({ context, event }) => { context.top = event.output; return { refreshes: context.refreshes + 1 }; }) },
      },
    },
    serving: {
      tags: ['ready'],
      on: {
        changed: { actions: assign(({ context }) => { context.top = topUsers(context.store, context.size); return { refreshes: context.refreshes + 1 }; }) },
      },
    },
    stopped: { type: 'final', entry: ({ context }) => context.unsubscribe?.() },
  },
  on: { 'ordo.stop': '.stopped' },
});

/** Awards BUX to a random user every `everyMs` in a store transaction; crashes once on tick `crashAt`. */
export const jobTicker = setup({
  types: {
    input: {} as { env: Env; store: Store; everyMs: number; crashAt: number; crashed: { done: boolean } },
    context: {} as { env: Env; store: Store; everyMs: number; ticks: number; crashAt: number; crashed: { done: boolean } },
  },
  delays: { every: ({ context }) => context.everyMs },
  guards: { crashNow: ({ context }) => !context.crashed.done && context.ticks + 1 >= context.crashAt },
  actions: {
    injectCrash: ({ context }) => {
      context.crashed.done = true;
      throw new Error('injected crash: ticker hit a bad job');
    },
  },
  actors: {
    award: fromPromise(async ({ input }: { input: { env: Env; store: Store } }) => {
      const userId = 1 + input.env.random.int(50);
      await input.store.transaction((tx) => {
        const row = tx.get('user_bux_points', userId) as { bux_balance?: number } | undefined;
        tx.put('user_bux_points', { user_id: userId, bux_balance: (row?.bux_balance ?? 0) + 1 + input.env.random.int(10), updated_at: input.env.clock.now() });
      });
    }),
  },
}).createMachine({
  id: 'ticker',
  context: ({ input }) => ({ ...input, ticks: 0 }),
  initial: 'idle',
  states: {
    idle: {
      tags: ['ready'],
      after: { every: [{ guard: 'crashNow', actions: 'injectCrash' }, { target: 'working' }] },
    },
    working: {
      tags: ['ready'],
      invoke: { src: 'award', input: ({ context }) => ({ env: context.env, store: context.store }), onDone: { target: 'idle', actions: assign({ ticks: ({ context }) => context.ticks + 1 }) } },
    },
    stopped: { type: 'final' },
  },
  on: { 'ordo.stop': '.stopped' },
});

/** A stand-in HTTP front: ready once the leaderboard it serves is. */
export const httpFront = setup({ types: { input: {} as { leaderboard: Leaderboard }, context: {} as { service: { leaderboard: Leaderboard } } } }).createMachine({
  id: 'http',
  context: ({ input }) => ({ service: { leaderboard: input.leaderboard } }),
  initial: 'listening',
  states: { listening: { tags: ['ready'], on: { 'ordo.stop': 'closed' } }, closed: { type: 'final' } },
});
