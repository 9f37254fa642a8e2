/**
 * A user's own tree, written with nothing but Ordo and xstate — the tree docs/chaos.md runs on
 * the chaos engine. `db` opens a key-value database through the Env (RocksDB in production, the
 * simulated disk in a chaos run) and provides it; `orders` needs it and writes an order a second;
 * `notifier` needs `orders`. The root is rest_for_one: a crashed `db` restarts everything after it.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { SupervisorSpec } from 'ordo';
import type { Env, KvDb } from 'ordo/env';

const dbMachine = setup({
  types: { input: {} as { env: Env; dir: string }, context: {} as { env: Env; dir: string; service: KvDb | undefined } },
  actors: {
    open: fromPromise<KvDb, { env: Env; dir: string }>(({ input }) => input.env.io.kv!.open(input.dir, { columns: ['orders'], createIfMissing: true })),
    close: fromPromise<void, { db: KvDb | undefined }>(async ({ input }) => input.db?.close()),
  },
}).createMachine({
  context: ({ input }) => ({ ...input, service: undefined }),
  initial: 'opening',
  states: {
    opening: { invoke: { src: 'open', input: ({ context }) => context, onDone: { target: 'open', actions: assign({ service: ({ event }) => event.output }) }, onError: 'failed' } },
    open: { tags: ['ready'], on: { 'ordo.stop': 'closing' } },
    closing: { invoke: { src: 'close', input: ({ context }) => ({ db: context.service }), onDone: 'closed', onError: 'closed' } },
    closed: { type: 'final' },
    failed: { type: 'final', output: ({ event }) => ({ reason: (event as { error?: unknown }).error }) },
  },
});

const ordersMachine = setup({
  types: { input: {} as { db: KvDb }, context: {} as { db: KvDb; n: number; service: { placed: () => number } } },
  actors: {
    write: fromPromise<void, { db: KvDb; n: number }>(({ input }) => input.db.write([{ type: 'put', column: 'orders', key: Buffer.from(`order-${input.n}`), value: Buffer.from('{}') }], { sync: true })),
  },
}).createMachine({
  context: ({ input }) => {
    const ctx = { db: input.db, n: 0, service: { placed: () => ctx.n } };
    return ctx;
  },
  initial: 'idle',
  states: {
    idle: { tags: ['ready'], after: { 1000: 'placing' }, on: { 'ordo.stop': 'done' } },
    // A failed write is not handled: the child crashes and its supervisor restarts it.
    placing: { tags: ['ready'], invoke: { src: 'write', input: ({ context }) => context, onDone: { target: 'idle', actions: assign({ n: ({ context }) => context.n + 1 }) } }, on: { 'ordo.stop': 'done' } },
    done: { type: 'final' },
  },
});

const notifierMachine = setup({}).createMachine({ initial: 'up', states: { up: { tags: ['ready'], on: { 'ordo.stop': 'done' } }, done: { type: 'final' } } });

/** The orders service's tree, for a data directory. */
export function ordersTree(env: Env, dir: string): SupervisorSpec {
  return {
    strategy: 'rest_for_one',
    maxRestarts: 5,
    periodMs: 10_000,
    children: [
      { id: 'db', provides: 'db', start: { machine: dbMachine, input: { env, dir } } },
      { id: 'orders', requires: ['db'], provides: 'orders', start: { machine: ordersMachine, input: ({ deps }: { deps: { db: KvDb } }) => ({ db: deps.db }) } },
      { id: 'notifier', requires: ['orders'], start: { machine: notifierMachine } },
    ],
  };
}
