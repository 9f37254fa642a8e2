/**
 * From `000_…` ("The Danger: Dead Nodes and Data Loss"): a field is added to
 * `bux_booster_games`; Mnesia refuses to transform a table that has a copy on a node that is
 * offline — here `blockster@machine-abc`, the name a machine had before a deploy changed it —
 * and the initializer falls back to delete-and-recreate: every row of the table is gone.
 */
import { fromPromise, setup } from 'xstate';
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { Oracle } from '../../../src/chaos/oracles.ts';
import type { SupervisorInit } from '../../../src/supervisor/index.ts';
import type { Env } from '../../../src/env/index.ts';
import { openStore } from '../../../src/store/openStore.ts';
import { storeInitializerMachine } from '../../../src/store/initializerMachine.ts';
import type { Store, TableDef } from '../../../src/store/index.ts';
import type { IncidentStep } from '../../../src/chaos/incidents.ts';
import { createMemoryFs } from '../../../src/chaos/memoryFs.ts';

const DIR = '/data/mnesia';
const ROWS = 300;
const DEAD_NODE = 'blockster@machine-abc';

const gamesV1: TableDef = {
  type: 'set',
  key: 'game_id',
  attributes: { game_id: { type: 'string' }, user_id: { type: 'string' }, wager: { type: 'integer' }, created_at: { type: 'integer' } },
};
/** The new release adds the provably-fair fields at the end (null for old games). */
const gamesV2: TableDef = { ...gamesV1, attributes: { ...gamesV1.attributes, server_seed: { type: 'string', nullable: true }, nonce: { type: 'integer', default: 0 } } };

interface Ctx {
  readonly env: Env;
  readonly probe: ScenarioContext['probe'];
}
const count = (store: Store, probe: ScenarioContext['probe'], when: string): void => probe('rows', { when, table: 'bux_booster_games', count: store.count('bux_booster_games') });

/** The release before: writes the games, records the count, closes (its machine is replaced by the deploy). */
const previousReleaseMachine = setup({
  types: { input: {} as Ctx, context: {} as { input: Ctx; service: 'seeded' } },
  actors: {
    seed: fromPromise<void, Ctx>(async ({ input }) => {
      const store = await openStore({ env: input.env, dir: DIR, tables: { bux_booster_games: gamesV1 } });
      await store.dirtyPutMany('bux_booster_games', Array.from({ length: ROWS }, (_, i) => ({ game_id: `game-${i}`, user_id: `user-${i % 40}`, wager: 10 + (i % 7), created_at: 1_740_000_000_000 + i })));
      count(store, input.probe, 'before');
      await store.close();
    }),
  },
}).createMachine({
  context: ({ input }) => ({ input, service: 'seeded' }),
  initial: 'seeding',
  states: {
    seeding: { invoke: { src: 'seed', input: ({ context }) => context.input, onDone: 'up' } },
    up: { tags: ['ready'], on: { 'ordo.stop': 'done' } },
    done: { type: 'final' },
  },
});

/**
 * As deployed: MnesiaInitializer's migration. `transform_table` fails with
 * `{:not_active, …}` because a copy lives on a node that will never return; the fallback
 * deletes the table and recreates it empty.
 */
const mnesiaMigrationMachine = setup({
  types: { input: {} as Ctx, context: {} as { input: Ctx; service: 'migrated' } },
  actors: {
    migrate: fromPromise<void, Ctx>(async ({ input }) => {
      const store = await openStore({ env: input.env, dir: DIR });
      input.probe('mnesia', { transform: 'aborted', reason: `{:not_active, "All replicas on diskfull nodes are not active", [${DEAD_NODE}]}` });
      // delete_and_recreate_table/2: "THIS LOSES ALL DATA IN THAT TABLE"
      for (const key of store.keys('bux_booster_games')) await store.dirtyDelete('bux_booster_games', key);
      input.probe('mnesia', { fallback: 'delete_and_recreate_table', table: 'bux_booster_games' });
      count(store, input.probe, 'after');
      await store.close();
    }),
  },
}).createMachine({
  context: ({ input }) => ({ input, service: 'migrated' }),
  initial: 'migrating',
  states: {
    migrating: { invoke: { src: 'migrate', input: ({ context }) => context.input, onDone: 'up' } },
    up: { tags: ['ready'], on: { 'ordo.stop': 'done' } },
    done: { type: 'final' },
  },
});

/** After the Ordo store initializer: count what the migrated table holds. */
const counterMachine = setup({
  types: { input: {} as { store: Store; probe: ScenarioContext['probe'] }, context: {} as { store: Store; probe: ScenarioContext['probe'] } },
  actions: { count: ({ context }) => count(context.store, context.probe, 'after') },
}).createMachine({
  context: ({ input }) => input,
  initial: 'up',
  states: { up: { tags: ['ready'], entry: 'count', on: { 'ordo.stop': 'done' } }, done: { type: 'final' } },
});

function tree(ctx: ScenarioContext, ordo: boolean): SupervisorInit {
  // the store's pre-migration backup needs a file system: an in-memory one on the run's clock
  const env: Env = { ...ctx.env, io: { ...ctx.env.io, fs: createMemoryFs(() => ctx.env.clock.now()) } };
  const c: Ctx = { env, probe: ctx.probe };
  return {
    strategy: 'rest_for_one',
    maxRestarts: 3,
    periodMs: 5000,
    children: [
      { id: 'previous_release', provides: 'seeded', start: { machine: previousReleaseMachine, input: c } },
      ordo
        ? { id: 'store', requires: ['seeded'], provides: 'store', start: { machine: storeInitializerMachine, input: { env, dir: DIR, tables: { bux_booster_games: gamesV2 } } } }
        : { id: 'mnesia_initializer', requires: ['seeded'], start: { machine: mnesiaMigrationMachine, input: c } },
      ...(ordo ? [{ id: 'count', requires: ['store'], start: { machine: counterMachine, input: ({ deps }: { deps: Readonly<Record<string, unknown>> }) => ({ store: deps['store'] as Store, probe: ctx.probe }) } }] : []),
    ],
  };
}

/** The migration keeps every row (rows counted before and after). */
const rowsKept: Oracle = {
  name: 'rowsKept',
  description: 'a migration keeps every row of the table',
  check(view) {
    const before = view.trace.find((e) => e.kind === 'rows' && e['when'] === 'before');
    const after = view.trace.find((e) => e.kind === 'rows' && e['when'] === 'after');
    if (!before || !after) return { ok: false, t: view.scenario.horizonMs, message: 'rows were not counted before and after the migration' };
    return after['count'] === before['count'] ? { ok: true } : { ok: false, t: after.t, message: `bux_booster_games had ${String(before['count'])} rows before the migration and ${String(after['count'])} after` };
  },
};

const invariants = [{ kind: 'eventually', oracle: 'rowsKept' }] as const;
export const asDeployed: Scenario = { name: 'mnesia-dead-node-migration/as-deployed', description: 'transform blocked by a dead node, delete-and-recreate fallback', tree: (ctx) => tree(ctx, false), horizonMs: 5000, invariants, expect: 'fail' };
export const withOrdo: Scenario = { name: 'mnesia-dead-node-migration/with-ordo', description: "Ordo's store migration: added attributes back-filled, no table ever deleted", tree: (ctx) => tree(ctx, true), horizonMs: 5000, invariants, expect: 'pass' };

export const deadNodeMigration: IncidentStep = {
  id: 'deadNode',
  step: 'dead node',
  title: 'A migration blocked by a dead node in the schema falls back to delete-and-recreate and loses the table',
  story:
    "Adding fields to `bux_booster_games`: Mnesia refuses to transform a table with a copy on a node that is offline — after a deploy that changed the machine's name, `blockster@machine-abc` is in the schema and will never come back. MnesiaInitializer's last resort deletes the table and recreates it: \"THIS LOSES ALL DATA IN THAT TABLE\".",
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'rowsKept',
  mechanism:
    "Store migrations (src/store): an attribute added with a default is back-filled in batches after a backup, no code path deletes a table, and a migration never needs another node — in a cluster it runs once on the leader through replication, and nodes that are gone are dropped from membership by heartbeat age, not kept in a schema. Rows before and after: equal.",
  oracles: { rowsKept },
};
