/**
 * From `000_…` ("The Danger: Dead Nodes and Data Loss", the rolling deploy): during a rolling
 * deploy the new release (v2: `server_seed` and `nonce` added to `bux_booster_games`) migrates
 * the table while a machine still runs the old release (v1) on the same data. Mnesia keeps no
 * schema version the old code could check: it keeps writing four-field games next to the
 * six-field ones, and the new code's next read of the table crashes on the old shape.
 *
 * With Ordo, the old release opening the migrated store is refused (`ORDO_STORE_NEWER_SCHEMA`),
 * named, and the data is left as the new release wrote it (rows counted before and after).
 */
import { fromPromise, setup } from 'xstate';
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { Oracle } from '../../../src/chaos/oracles.ts';
import type { SupervisorInit } from '../../../src/supervisor/index.ts';
import type { Env } from '../../../src/env/index.ts';
import { openStore } from '../../../src/store/openStore.ts';
import { StoreNewerSchemaError } from '../../../src/store/errors.ts';
import type { Migration, TableDef } from '../../../src/store/index.ts';
import type { IncidentStep } from '../../../src/chaos/incidents.ts';
import { createMemoryFs } from '../../../src/chaos/memoryFs.ts';

const DIR = '/data/mnesia';
const TABLE = 'bux_booster_games';
const ROWS = 300;
const NEW_GAMES = 10;
const OLD_GAMES = 5;

const V1_ATTRS = ['game_id', 'user_id', 'wager', 'created_at'] as const;
const V2_ATTRS = [...V1_ATTRS, 'server_seed', 'nonce'] as const;

const gamesV1: TableDef = {
  type: 'set',
  key: 'game_id',
  attributes: { game_id: { type: 'string' }, user_id: { type: 'string' }, wager: { type: 'integer' }, created_at: { type: 'integer' } },
};
const gamesV2: TableDef = { ...gamesV1, attributes: { ...gamesV1.attributes, server_seed: { type: 'string', nullable: true }, nonce: { type: 'integer', default: 0 } } };
/** v2's numbered migration: the schema version moves to 1 (v1 code knows 0). */
const v2Migrations: readonly Migration[] = [{ version: 1, description: 'provably fair: server_seed and nonce on bux_booster_games', up: () => {} }];

const game = (i: number, v2: boolean): Record<string, unknown> => ({
  game_id: `game-${i}`,
  user_id: `user-${i % 40}`,
  wager: 10 + (i % 7),
  created_at: 1_740_000_000_000 + i,
  ...(v2 ? { server_seed: `seed-${i}`, nonce: i } : {}),
});

// ---------------------------------------------------------------------------------------------
// As deployed: a Mnesia table is a list of records (tuples) and a list of attributes. No schema
// version: `transform_table` rewrites the records it holds, and nothing refuses the old code.

interface MnesiaTable {
  attributes: readonly string[];
  readonly records: unknown[][];
}
const record = (g: Record<string, unknown>, attrs: readonly string[]): unknown[] => [TABLE, ...attrs.filter((a) => a in g).map((a) => g[a])];

interface Ctx {
  readonly ordo: boolean;
  readonly env: Env;
  readonly probe: ScenarioContext['probe'];
  readonly mnesia: MnesiaTable;
  /** When the machine still on the old release writes (virtual ms after the migration). */
  readonly oldCodeAfterMs: number;
}

const wait = (env: Env, ms: number): Promise<void> => new Promise((r) => env.clock.setTimeout(() => r(), ms));

/** The release before the deploy (v1): the games written so far. */
async function previousRelease(c: Ctx): Promise<void> {
  await wait(c.env, 10);
  if (!c.ordo) {
    for (let i = 0; i < ROWS; i++) c.mnesia.records.push(record(game(i, false), V1_ATTRS));
    c.probe('rows', { when: 'before deploy', count: c.mnesia.records.length });
    return;
  }
  const store = await openStore({ env: c.env, dir: DIR, tables: { [TABLE]: gamesV1 } });
  await store.dirtyPutMany(TABLE, Array.from({ length: ROWS }, (_, i) => game(i, false)));
  c.probe('rows', { when: 'before deploy', count: store.count(TABLE) });
  await store.close();
}

/** The first machine on the new release (v2): migrates the table, writes new games. */
async function newRelease(c: Ctx): Promise<void> {
  await wait(c.env, 20);
  if (!c.ordo) {
    // :mnesia.transform_table(table, fn {t, id, u, w, c} -> {t, id, u, w, c, nil, 0} end, new_attrs)
    for (const r of c.mnesia.records) r.push(null, 0);
    c.mnesia.attributes = V2_ATTRS;
    for (let i = ROWS; i < ROWS + NEW_GAMES; i++) c.mnesia.records.push(record(game(i, true), V2_ATTRS));
    c.probe('rows', { when: 'after migration', count: c.mnesia.records.length, schema: 'v2' });
    return;
  }
  const store = await openStore({ env: c.env, dir: DIR, tables: { [TABLE]: gamesV2 }, migrations: v2Migrations });
  await store.dirtyPutMany(TABLE, Array.from({ length: NEW_GAMES }, (_, i) => game(ROWS + i, true)));
  c.probe('rows', { when: 'after migration', count: store.count(TABLE), schema: 'v2' });
  await store.close();
}

/** A machine not yet replaced, still on the old release (v1), writes games on the same data. */
async function oldRelease(c: Ctx): Promise<void> {
  await wait(c.env, c.oldCodeAfterMs);
  if (!c.ordo) {
    for (let i = ROWS + NEW_GAMES; i < ROWS + NEW_GAMES + OLD_GAMES; i++) c.mnesia.records.push(record(game(i, false), V1_ATTRS));
    c.probe('old_code', { outcome: 'wrote', games: OLD_GAMES });
    c.probe('rows', { when: 'after old code', count: c.mnesia.records.length });
    return;
  }
  try {
    const store = await openStore({ env: c.env, dir: DIR, tables: { [TABLE]: gamesV1 } });
    await store.dirtyPutMany(TABLE, Array.from({ length: OLD_GAMES }, (_, i) => game(ROWS + NEW_GAMES + i, false)));
    c.probe('old_code', { outcome: 'wrote', games: OLD_GAMES });
    await store.close();
  } catch (err) {
    if (!(err instanceof StoreNewerSchemaError)) throw err;
    c.probe('old_code', { outcome: 'refused', code: err.code, storedVersion: err.storedVersion, knownVersion: err.knownVersion, dir: err.dir });
  }
  // what the data holds now, read by the new release
  const store = await openStore({ env: c.env, dir: DIR, tables: { [TABLE]: gamesV2 }, migrations: v2Migrations });
  c.probe('rows', { when: 'after old code', count: store.count(TABLE) });
  await store.close();
}

/** The new release's next read of every game (the provably-fair verifier): it matches six fields. */
async function newReader(c: Ctx): Promise<void> {
  await wait(c.env, 10);
  const shapes = new Map<string, number>();
  let badType: string | undefined;
  if (!c.ordo) {
    for (const r of c.mnesia.records) {
      const shape = `${r.length - 1} fields`;
      shapes.set(shape, (shapes.get(shape) ?? 0) + 1);
      // {bux_booster_games, id, user, wager, created_at, server_seed, nonce} = record
      if (r.length - 1 !== c.mnesia.attributes.length && badType === undefined) badType = `{:bad_type, ${JSON.stringify(r)}}`;
    }
  } else {
    const store = await openStore({ env: c.env, dir: DIR, tables: { [TABLE]: gamesV2 }, migrations: v2Migrations });
    for (const row of store.range(TABLE)) {
      const have = V2_ATTRS.filter((a) => a in row).length;
      shapes.set(`${have} fields`, (shapes.get(`${have} fields`) ?? 0) + 1);
      if (have !== V2_ATTRS.length && badType === undefined) badType = `missing fields: ${JSON.stringify(row)}`;
    }
    await store.close();
  }
  c.probe('read', { shapes: Object.fromEntries(shapes), badType: badType ?? null });
}

const stepMachine = setup({
  types: { input: {} as { ctx: Ctx; run: (c: Ctx) => Promise<void> }, context: {} as { ctx: Ctx; run: (c: Ctx) => Promise<void> } },
  actors: { run: fromPromise<void, { ctx: Ctx; run: (c: Ctx) => Promise<void> }>(({ input }) => input.run(input.ctx)) },
}).createMachine({
  context: ({ input }) => input,
  initial: 'running',
  states: {
    running: { invoke: { src: 'run', input: ({ context }) => context, onDone: 'up' } },
    up: { tags: ['ready'], on: { 'ordo.stop': 'done' } },
    done: { type: 'final' },
  },
});

function tree(ctx: ScenarioContext, ordo: boolean): SupervisorInit {
  // the store's pre-migration backup needs a file system: an in-memory one on the run's clock
  const env: Env = { ...ctx.env, io: { ...ctx.env.io, fs: createMemoryFs(() => ctx.env.clock.now()) } };
  const c: Ctx = { ordo, env, probe: ctx.probe, mnesia: { attributes: V1_ATTRS, records: [] }, oldCodeAfterMs: 50 + Math.floor(ctx.random('deploy')() * 400) };
  const step = (id: string, run: (c: Ctx) => Promise<void>, requires?: string) => ({
    id,
    provides: id,
    ...(requires ? { requires: [requires] } : {}),
    start: { machine: stepMachine, input: { ctx: c, run } },
  });
  return {
    strategy: 'rest_for_one',
    maxRestarts: 3,
    periodMs: 5000,
    children: [step('v1_release', previousRelease), step('v2_machine_1', newRelease, 'v1_release'), step('v1_machine_2', oldRelease, 'v2_machine_1'), step('v2_reader', newReader, 'v1_machine_2')],
  };
}

const first = (view: Parameters<Oracle['check']>[0], kind: string, when?: string) => view.trace.find((e) => e.kind === kind && (when === undefined || e['when'] === when));

/** Every game the new code reads has the shape its schema declares (no bad_type). */
const oneShape: Oracle = {
  name: 'oneShape',
  description: 'every record of the table has the current schema’s shape',
  check(view) {
    const read = first(view, 'read');
    if (!read) return { ok: false, t: view.scenario.horizonMs, message: 'the new release never read the table' };
    return read['badType'] === null ? { ok: true } : { ok: false, t: read.t, message: `mixed shapes ${JSON.stringify(read['shapes'])}; the read crashed: ${String(read['badType'])}` };
  },
};

/** The old release does not touch data a newer schema wrote: refused by name, rows unchanged. */
const olderCodeRefused: Oracle = {
  name: 'olderCodeRefused',
  description: 'older code opening newer data is refused by name and changes nothing',
  check(view) {
    const old = first(view, 'old_code');
    const before = first(view, 'rows', 'after migration');
    const after = first(view, 'rows', 'after old code');
    if (!old || !before || !after) return { ok: false, t: view.scenario.horizonMs, message: 'the old release never opened the data' };
    if (old['outcome'] !== 'refused' || old['code'] !== 'ORDO_STORE_NEWER_SCHEMA') return { ok: false, t: old.t, message: `the old release (schema v1) ${String(old['outcome'])} ${String(old['games'])} games into a table migrated to v2` };
    return after['count'] === before['count'] ? { ok: true } : { ok: false, t: after.t, message: `${String(before['count'])} rows after the migration, ${String(after['count'])} after the old release` };
  },
};

const invariants = [
  { kind: 'eventually', oracle: 'oneShape' },
  { kind: 'eventually', oracle: 'olderCodeRefused' },
] as const;
export const asDeployed: Scenario = { name: 'mnesia-rolling-deploy/as-deployed', description: 'v1 and v2 on the same table during a rolling deploy, no schema version', tree: (ctx) => tree(ctx, false), horizonMs: 2000, invariants, expect: 'fail' };
export const withOrdo: Scenario = { name: 'mnesia-rolling-deploy/with-ordo', description: 'the store refuses code older than its schema (ORDO_STORE_NEWER_SCHEMA)', tree: (ctx) => tree(ctx, true), horizonMs: 2000, invariants, expect: 'pass' };

export const rollingDeploy: IncidentStep = {
  id: 'rollingDeploy',
  step: 'rolling deploy',
  title: 'A rolling deploy with mixed schema versions: old code writes old-shape records into the migrated table',
  story:
    'A rolling deploy replaces one machine at a time. The first machine on the new release adds `server_seed` and `nonce` to `bux_booster_games`; the machine still on the old release keeps writing four-field games into the six-field table — Mnesia has no schema version to refuse it with — and the new release\'s next read of the table crashes with `bad_type` on the old shape.',
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'oneShape',
  mechanism:
    'Schema versions (src/store): numbered migrations record the schema version in the store; `openStore` with code that knows an older version refuses with `ORDO_STORE_NEWER_SCHEMA` (stored and known versions, the directory), never a downgrade — the old machine fails its boot by name and the data stays as the new release wrote it (rows before and after: equal).',
  oracles: { oneShape, olderCodeRefused },
};
