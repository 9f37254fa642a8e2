import { assign, fromCallback, fromPromise, setup } from 'xstate';
import type { OpenStoreOptions } from './openStore.ts';
import { StoreOpening } from './openStore.ts';
import type { Store } from './store.ts';
import { StoreError, StoreIoError, StoreMissingDirError } from './errors.ts';
import type { StoreFailedError } from './errors.ts';
import { validateOpenOptions } from './openOptions.ts';

/** Input of the store-initializer child: {@link OpenStoreOptions} (env, dir, tables, migrations, expectExisting, deferReplicatedMigrations…), passed to the opener as is. */
export type StoreInitializerInput = OpenStoreOptions;

/** Mutable per-incarnation handles, so a stop in the middle of a phase can still close the database. */
interface Control {
  opening?: StoreOpening | undefined;
  inflight?: Promise<unknown> | undefined;
}

/** Context of the store-initializer machine; `service` is the open store once `ready`. */
export interface StoreInitializerContext {
  readonly input: StoreInitializerInput;
  readonly ctl: Control;
  readonly service: Store | undefined;
  readonly reason: StoreError | undefined;
}

/** Events the initializer accepts: the child protocol's stop, and the open store's failure (sent by its watcher). */
export type StoreInitializerEvent = { type: 'ordo.stop'; reason?: unknown } | { type: 'store.failed'; error: StoreFailedError };

/**
 * The owner token the initializer opens with (see `OpenStoreOptions.owner`): `input.owner`, else
 * one derived from the directory, so a restarted initializer of the same child reclaims the
 * handle its crashed predecessor leaked — and nobody else's.
 */
export function initializerOwner(input: StoreInitializerInput): unknown {
  return input.owner ?? `ordo.storeInitializer:${input.dir}`;
}

function track<T>(ctl: Control, p: Promise<T>): Promise<T> {
  ctl.inflight = p;
  return p;
}

function asStoreError(err: unknown, dir: string): StoreError {
  return err instanceof StoreError ? err : new StoreIoError(dir, 'initialise', { cause: err });
}

/**
 * The store-initializer child (Mnesia's `MnesiaInitializer`, without its failure modes):
 * `checking` (the data directory exists when `expectExisting` is set) → `opening` (RocksDB,
 * catalog, schema comparison) → `migrating` → `loading` (rows into RAM) → `ready` (tag
 * `ready`; `context.service` is the {@link Store}) → on `ordo.stop`, `closing` (releases the
 * LOCK) → final.
 *
 * On failure it reaches the final state `failed` with output `{ reason }` (a typed
 * `StoreError`: missing directory, locked, schema refused, newer schema…), which the
 * supervisor treats as a crash. It never creates an empty store under `expectExisting`.
 * A restarted initializer first closes a handle its crashed predecessor left open in this
 * process (it opens with {@link initializerOwner}'s token; nobody else's handle is touched).
 * When the open store fails (`ORDO_STORE_FAILED`: a write to disk failed, e.g. a full disk),
 * the initializer closes it and ends with that reason, so the supervisor restarts it cleanly
 * (reopening once the disk has room again).
 *
 * Gotcha: the supervisor must stop dependents before this child (reverse start order), so the
 * store is never closed under them.
 *
 * @example
 * import { createTestEnv } from 'ordo';
 * import { storeInitializerMachine } from 'ordo/store';
 * import { createActor } from 'xstate';
 *
 * const env = createTestEnv();
 * const tables = { users: { type: 'set', key: 'id', attributes: { id: { type: 'string' } } } } as const;
 * const actor = createActor(storeInitializerMachine, { input: { env, dir: './data/store', tables }, clock: env.clock });
 * actor.start();
 * await new Promise<void>((ok) => actor.subscribe((s) => s.hasTag('ready') && ok())); // the store is open: context.service
 * actor.send({ type: 'ordo.stop' });
 * await new Promise<void>((ok) => actor.subscribe({ complete: ok })); // closed
 */
export const storeInitializerMachine = setup({
  types: {
    input: {} as StoreInitializerInput,
    context: {} as StoreInitializerContext,
    events: {} as StoreInitializerEvent,
    output: {} as { reason?: unknown },
  },
  actors: {
    check: fromPromise<void, StoreInitializerInput>(async ({ input }) => {
      validateOpenOptions(input);
      const kv = input.kv ?? input.env.io.kv;
      if (input.expectExisting && kv && !(await kv.exists(input.dir))) throw new StoreMissingDirError(input.dir);
    }),
    open: fromPromise<StoreOpening, { input: StoreInitializerInput; ctl: Control }>(async ({ input }) => {
      const opening = await track(input.ctl, StoreOpening.begin({ ...input.input, owner: initializerOwner(input.input) }));
      input.ctl.opening = opening;
      return opening;
    }),
    migrate: fromPromise<void, { ctl: Control }>(async ({ input }) => {
      await track(input.ctl, input.ctl.opening!.migrate());
    }),
    load: fromPromise<Store, { ctl: Control }>(async ({ input }) => track(input.ctl, input.ctl.opening!.load())),
    // a store that failed (a write to disk failed) refuses writes until reopened: crash cleanly
    watchFailure: fromCallback<StoreInitializerEvent, { store: Store }>(({ input, sendBack }) => input.store.onFailure((error) => sendBack({ type: 'store.failed', error }))),
    close: fromPromise<void, { ctl: Control }>(async ({ input }) => {
      // never close under a phase still running (a migration cannot be cancelled); its own
      // failure has already been routed to `failing` with its reason, so only its end matters
      const inflight = input.ctl.inflight;
      if (inflight) await inflight.then(
        () => undefined,
        () => undefined,
      );
      await input.ctl.opening?.store.close();
    }),
  },
}).createMachine({
  id: 'storeInitializer',
  context: ({ input }) => ({ input, ctl: {}, service: undefined, reason: undefined }),
  initial: 'checking',
  states: {
    checking: {
      on: { 'ordo.stop': 'closing' },
      invoke: {
        src: 'check',
        input: ({ context }) => context.input,
        onDone: 'opening',
        onError: { target: 'failing', actions: assign({ reason: ({ context, event }) => asStoreError(event.error, context.input.dir) }) },
      },
    },
    opening: {
      on: { 'ordo.stop': 'closing' },
      invoke: {
        src: 'open',
        input: ({ context }) => ({ input: context.input, ctl: context.ctl }),
        onDone: 'migrating',
        onError: { target: 'failing', actions: assign({ reason: ({ context, event }) => asStoreError(event.error, context.input.dir) }) },
      },
    },
    migrating: {
      on: { 'ordo.stop': 'closing' },
      invoke: {
        src: 'migrate',
        input: ({ context }) => ({ ctl: context.ctl }),
        onDone: 'loading',
        onError: { target: 'failing', actions: assign({ reason: ({ context, event }) => asStoreError(event.error, context.input.dir) }) },
      },
    },
    loading: {
      on: { 'ordo.stop': 'closing' },
      invoke: {
        src: 'load',
        input: ({ context }) => ({ ctl: context.ctl }),
        onDone: { target: 'ready', actions: assign({ service: ({ event }) => event.output }) },
        onError: { target: 'failing', actions: assign({ reason: ({ context, event }) => asStoreError(event.error, context.input.dir) }) },
      },
    },
    ready: {
      tags: ['ready'],
      invoke: { src: 'watchFailure', input: ({ context }) => ({ store: context.service! }) },
      on: {
        'ordo.stop': 'closing',
        'store.failed': { target: 'failing', actions: assign({ reason: ({ event }) => event.error }) },
      },
    },
    closing: {
      invoke: {
        src: 'close',
        input: ({ context }) => ({ ctl: context.ctl }),
        onDone: 'closed',
        onError: { target: 'failed', actions: assign({ reason: ({ context, event }) => asStoreError(event.error, context.input.dir) }) },
      },
    },
    closed: { type: 'final' },
    failing: {
      // release the LOCK of a half-opened store before reporting the crash
      invoke: {
        src: 'close',
        input: ({ context }) => ({ ctl: { opening: context.ctl.opening } }),
        onDone: 'failed',
        onError: 'failed',
      },
    },
    failed: { type: 'final' },
  },
  output: ({ context }) => (context.reason ? { reason: context.reason } : {}),
});

/**
 * The store-initializer as a child-spec-ready pair: the machine and its input.
 *
 * @example
 * import { child, createTestEnv } from 'ordo';
 * import { createStoreInitializer } from 'ordo/store';
 *
 * const tables = { users: { type: 'set', key: 'id', attributes: { id: { type: 'string' } } } } as const;
 * const { machine, input } = createStoreInitializer({ env: createTestEnv(), dir: './data/store', tables, expectExisting: true });
 * child({ id: 'store', start: { machine, input } });
 */
export function createStoreInitializer(input: StoreInitializerInput): { machine: typeof storeInitializerMachine; input: StoreInitializerInput } {
  return { machine: storeInitializerMachine, input };
}
