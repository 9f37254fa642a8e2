import { assign, fromCallback, fromPromise, setup } from 'xstate';
import { CacheState } from './cacheState.ts';
import type { Cache, CacheChange, CacheLoaderInput, CacheRetrySpec } from './types.ts';

const DEFAULT_RETRY: Required<CacheRetrySpec> = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.1 };

interface Ctx {
  readonly input: CacheLoaderInput<any, any, any>;
  readonly state: CacheState<any, any, any>;
  readonly service: Cache<any, any>;
  /** Consecutive failed loads (backoff). */
  attempt: number;
  /** Why the cache is degraded or stale (health reads `context.error`). */
  error: unknown;
  /** A change arrived that the running load may have missed: load again when it is done. */
  dirty: boolean;
}

type Ev = { type: 'cache.change'; change: CacheChange<unknown, unknown> } | { type: 'ordo.stop'; reason?: unknown };

function delayFor(ctx: Ctx): number {
  const r = { ...DEFAULT_RETRY, ...ctx.input.retry };
  const base = Math.min(r.maxMs, r.initialMs * Math.pow(r.factor, Math.max(0, ctx.attempt - 1)));
  const spread = base * (1 + r.jitter * (2 * ctx.input.env.random.next() - 1));
  return Math.max(0, Math.min(r.maxMs, Math.round(spread)));
}

function applyChange(ctx: Ctx, change: CacheChange<unknown, unknown>, loading: boolean): void {
  const st = ctx.state;
  st.invalidations++;
  if (change.op === 'all' || loading) ctx.dirty = true;
  if (change.op === 'put') st.data.set(change.key, change.value);
  else if (change.op === 'delete') st.data.delete(change.key);
}

const setStatus = (status: Ctx['state']['status']) => ({ context }: { context: Ctx }) => {
  context.state.status = status;
};

/**
 * The cache-loader child: one machine per cache. Its source (the store, or any provided
 * service) comes in its input — from `deps`, so it starts only once the provider is ready.
 *
 * - `loading` → `ready` (tag `ready`; `context.service` is the {@link Cache}).
 * - A failed first load → `degraded` (tags `ready` + `degraded`, `context.error` says why):
 *   retried with backoff inside the machine — never a crash of its supervisor.
 * - Change events of the source update or drop the entry they name (the store's, replicated
 *   writes included); an `all` change or `refreshEveryMs` → `refreshing` (still serving).
 * - A failed refresh → `stale`: the old data is served, its age in `stats().ageMs`, retried
 *   with backoff.
 *
 * @example
 * import { child, service } from 'ordo';
 * import { storeInitializerMachine, type Store } from 'ordo/store';
 * import { cacheLoaderMachine, storeTableSource, type Cache } from 'ordo/cache';
 *
 * const StoreTag = service<Store>('store');
 * const UsersCacheTag = service<Cache>('users');
 * const tables = { users: { type: 'set', key: 'id', attributes: { id: { type: 'string' } } } } as const;
 * child({ id: 'store', start: { machine: storeInitializerMachine, input: ({ env }) => ({ env, dir: './data/store', tables }) }, provides: StoreTag });
 * child({
 *   id: 'users',
 *   requires: { store: StoreTag },
 *   start: { machine: cacheLoaderMachine, input: ({ env, deps }) => ({ env, name: 'users', source: deps.store, spec: storeTableSource('users') }) },
 *   provides: UsersCacheTag,
 * });
 */
export const cacheLoaderMachine = setup({
  types: {
    input: {} as CacheLoaderInput<any, any, any>,
    context: {} as Ctx,
    events: {} as Ev,
  },
  actors: {
    load: fromPromise<Iterable<readonly [unknown, unknown]>, Ctx['state']>(async ({ input }) => input.spec.load(input.source)),
    changes: fromCallback<Ev, Ctx['state']>(({ sendBack, input }) => input.spec.subscribe?.(input.source, (change) => sendBack({ type: 'cache.change', change }))),
  },
  delays: {
    retry: ({ context }) => delayFor(context),
    every: ({ context }) => context.input.refreshEveryMs ?? 2 ** 31 - 1,
  },
  guards: {
    dirty: ({ context }) => context.dirty,
  },
  actions: {
    // the data lives in the state object (not in xstate's context): replacing it is the load's effect
    loadDone: ({ context, event }) => {
      context.state.replace((event as unknown as { output: Iterable<readonly [unknown, unknown]> }).output);
      context.state.lastError = undefined;
    },
    loadFailed: ({ context, event }) => {
      context.state.lastError = (event as unknown as { error: unknown }).error;
    },
    resetAttempt: assign({ attempt: 0, error: undefined }),
    countFailure: assign({ attempt: ({ context }) => context.attempt + 1, error: ({ event }) => (event as unknown as { error: unknown }).error }),
  },
}).createMachine({
  id: 'cacheLoader',
  context: ({ input }) => {
    const state = new CacheState(input.env, input.name, input.source, input.spec);
    return { input, state, service: state.service(), attempt: 0, error: undefined, dirty: false };
  },
  invoke: { src: 'changes', input: ({ context }) => context.state },
  initial: 'loading',
  on: { 'ordo.stop': '.stopped' },
  states: {
    loading: {
      tags: ['loading'],
      entry: [setStatus('loading'), assign({ dirty: false })],
      on: { 'cache.change': { actions: ({ context, event }) => applyChange(context, event.change, true) } },
      invoke: { src: 'load', input: ({ context }) => context.state, onDone: { target: 'ready', actions: ['loadDone', 'resetAttempt'] }, onError: { target: 'degraded', actions: ['loadFailed', 'countFailure'] } },
    },
    degraded: {
      tags: ['ready', 'degraded'],
      entry: setStatus('degraded'),
      on: { 'cache.change': { actions: ({ context, event }) => applyChange(context, event.change, true) } },
      initial: 'waiting',
      states: {
        waiting: { after: { retry: 'loading' } },
        loading: {
          entry: assign({ dirty: false }),
          invoke: { src: 'load', input: ({ context }) => context.state, onDone: { target: '#cacheLoader.ready', actions: ['loadDone', 'resetAttempt'] }, onError: { target: 'waiting', actions: ['loadFailed', 'countFailure'] } },
        },
      },
    },
    ready: {
      tags: ['ready'],
      entry: setStatus('ready'),
      always: { guard: 'dirty', target: 'refreshing' },
      on: { 'cache.change': [{ guard: ({ event }) => event.change.op === 'all', target: 'refreshing', actions: ({ context }) => context.state.invalidations++ }, { actions: ({ context, event }) => applyChange(context, event.change, false) }] },
      after: { every: 'refreshing' },
    },
    refreshing: {
      tags: ['ready'],
      entry: [setStatus('refreshing'), assign({ dirty: false })],
      on: { 'cache.change': { actions: ({ context, event }) => applyChange(context, event.change, true) } },
      invoke: { src: 'load', input: ({ context }) => context.state, onDone: { target: 'ready', actions: ['loadDone', 'resetAttempt'] }, onError: { target: 'stale', actions: ['loadFailed', 'countFailure'] } },
    },
    stale: {
      tags: ['ready', 'degraded'],
      entry: setStatus('stale'),
      on: { 'cache.change': { actions: ({ context, event }) => applyChange(context, event.change, true) } },
      initial: 'waiting',
      states: {
        waiting: { after: { retry: 'loading' } },
        loading: {
          entry: assign({ dirty: false }),
          invoke: { src: 'load', input: ({ context }) => context.state, onDone: { target: '#cacheLoader.ready', actions: ['loadDone', 'resetAttempt'] }, onError: { target: 'waiting', actions: ['loadFailed', 'countFailure'] } },
        },
      },
    },
    stopped: { type: 'final' },
  },
});
