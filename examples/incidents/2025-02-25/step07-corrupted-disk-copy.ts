/**
 * Step 7 — after 20+ minutes of crash loops, Mnesia's disc copy of `user_post_rewards` was
 * damaged (`invalid continuation` in `mnesia_loader.do_get_disc_copy2`). The fix: delete the
 * `.DCD` file on both machines. Every row of the table went with it.
 *
 * Here one stored row of the table is damaged (a flipped byte, as a torn write leaves it); as
 * deployed the table's file is deleted to get the app up; with Ordo the store opens, refuses
 * the damaged row by name and serves the others, and deletes nothing.
 */
import { fromPromise, setup } from 'xstate';
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { Oracle } from '../../../src/chaos/oracles.ts';
import type { SupervisorInit } from '../../../src/supervisor/index.ts';
import type { Env, KvDb } from '../../../src/env/index.ts';
import { openStore } from '../../../src/store/openStore.ts';
import { storeInitializerMachine } from '../../../src/store/initializerMachine.ts';
import { COLUMNS } from '../../../src/store/layout.ts';
import { StoreCorruptError, type Store, type TableDef } from '../../../src/store/index.ts';
import type { IncidentStep } from './kit.ts';

const DIR = '/data/mnesia';
const ROWS = 300;
const rewards: TableDef = { type: 'set', key: 'user_id', attributes: { user_id: { type: 'string' }, bux: { type: 'integer', default: 0 } } };

interface Ctx {
  readonly env: Env;
  readonly probe: ScenarioContext['probe'];
}

/** Rows of the store's `rows` column on disk (every table): what a deletion would take away. */
async function diskRows(env: Env): Promise<number> {
  const db: KvDb = await env.io.kv!.open(DIR, { columns: [...COLUMNS], createIfMissing: false });
  let n = 0;
  const it = db.iterator('rows');
  for (let batch = await it.next(256); batch.length > 0; batch = await it.next(256)) n += batch.length;
  await it.close();
  await db.close();
  return n;
}

/** The previous run: 300 rewards written and acknowledged, then the crash loop damages one. */
const historyMachine = setup({
  types: { input: {} as Ctx, context: {} as { input: Ctx; service: 'history' } },
  actors: {
    run: fromPromise<void, Ctx>(async ({ input }) => {
      const store = await openStore({ env: input.env, dir: DIR, tables: { user_post_rewards: rewards } });
      await store.dirtyPutMany('user_post_rewards', Array.from({ length: ROWS }, (_, i) => ({ user_id: `user-${String(i).padStart(3, '0')}`, bux: 10 * i })));
      await store.close();
      input.probe('rows', { when: 'before', disk: await diskRows(input.env), served: ROWS });
      // the crash loop: one row's bytes on disk are torn (a flipped byte in the middle)
      const db = await input.env.io.kv!.open(DIR, { columns: [...COLUMNS], createIfMissing: false });
      const it = db.iterator('rows');
      const [first] = await it.next(1);
      await it.close();
      const [key, value] = first!;
      const torn = Buffer.from(value);
      const mid = torn.length >> 1;
      torn[mid] = torn[mid]! ^ 0x20;
      await db.write([{ type: 'put', column: 'rows', key, value: torn }], { sync: true });
      await db.close();
      input.probe('damage', { file: 'rows', key: Buffer.from(key).toString('latin1') });
    }),
  },
}).createMachine({
  context: ({ input }) => ({ input, service: 'history' }),
  initial: 'running',
  states: { running: { invoke: { src: 'run', input: ({ context }) => context.input, onDone: 'up' } }, up: { tags: ['ready'], on: { 'ordo.stop': 'done' } }, done: { type: 'final' } },
});

/** As deployed: the loader fails on the damaged copy; the operator deletes the table's file to get the app up. */
const deleteTheFileMachine = setup({
  types: { input: {} as Ctx, context: {} as { input: Ctx } },
  actors: {
    load: fromPromise<void, Ctx>(async ({ input }) => {
      input.probe('mnesia', { load: 'failed', reason: 'invalid continuation in mnesia_loader:do_get_disc_copy2 (user_post_rewards.DCD)' });
      // rm /data/mnesia/blockster/user_post_rewards.DCD
      const db = await input.env.io.kv!.open(DIR, { columns: [...COLUMNS], createIfMissing: false });
      const it = db.iterator('rows');
      const keys: Uint8Array[] = [];
      for (let batch = await it.next(256); batch.length > 0; batch = await it.next(256)) keys.push(...batch.map(([k]) => k));
      await it.close();
      await db.write(keys.map((key) => ({ type: 'del' as const, column: 'rows', key })), { sync: true });
      await db.close();
      // Mnesia recreates the table empty and the app comes up serving nothing
      input.probe('rows', { when: 'after', served: 0 });
    }),
  },
}).createMachine({
  context: ({ input }) => ({ input }),
  initial: 'loading',
  states: { loading: { invoke: { src: 'load', input: ({ context }) => context.input, onDone: 'up' } }, up: { tags: ['ready'], on: { 'ordo.stop': 'done' } }, done: { type: 'final' } },
});

/** With Ordo: after the store is ready, what it serves, what it refuses, what the disk still holds. */
const auditMachine = setup({
  types: { input: {} as { store: Store; env: Env; probe: ScenarioContext['probe'] }, context: {} as { input: { store: Store; env: Env; probe: ScenarioContext['probe'] } } },
  actors: {
    audit: fromPromise<void, { store: Store; env: Env; probe: ScenarioContext['probe'] }>(async ({ input }) => {
      let served = 0;
      const refused: string[] = [];
      for (let i = 0; i < ROWS; i++) {
        const id = `user-${String(i).padStart(3, '0')}`;
        try {
          if (input.store.get('user_post_rewards', id)) served++;
        } catch (e) {
          if (e instanceof StoreCorruptError) refused.push(`${e.code} ${e.table} ${JSON.stringify(e.key)}`);
          else throw e;
        }
      }
      input.probe('refused', { rows: refused });
      input.probe('rows', { when: 'after', served });
    }),
  },
}).createMachine({
  context: ({ input }) => ({ input }),
  initial: 'auditing',
  states: { auditing: { invoke: { src: 'audit', input: ({ context }) => context.input, onDone: 'up' } }, up: { tags: ['ready'], on: { 'ordo.stop': 'done' } }, done: { type: 'final' } },
});

function tree(ctx: ScenarioContext, ordo: boolean): SupervisorInit {
  const c: Ctx = { env: ctx.env, probe: ctx.probe };
  return {
    strategy: 'rest_for_one',
    maxRestarts: 3,
    periodMs: 5000,
    children: [
      { id: 'history', provides: 'history', start: { machine: historyMachine, input: c } },
      ...(ordo
        ? [
            { id: 'store', requires: ['history'], provides: 'store', start: { machine: storeInitializerMachine, input: { env: ctx.env, dir: DIR, tables: { user_post_rewards: rewards } } } },
            { id: 'audit', requires: ['store'], start: { machine: auditMachine, input: ({ deps }: { deps: Readonly<Record<string, unknown>> }) => ({ store: deps['store'] as Store, env: ctx.env, probe: ctx.probe }) } },
          ]
        : [{ id: 'mnesia_loader', requires: ['history'], start: { machine: deleteTheFileMachine, input: c } }]),
    ],
  };
}

/** Entries of the store's `rows` column in the disk the run left behind. */
function rowsLeft(view: { disk: ReadonlyMap<string, ReadonlyMap<string, string>> }): number {
  let n = 0;
  for (const k of view.disk.get(DIR)?.keys() ?? []) if (k.startsWith('rows\0')) n++;
  return n;
}

/** Nothing on disk was deleted: what the `rows` column held before the damage is all still there after the run. */
const nothingDeleted: Oracle = {
  name: 'nothingDeleted',
  description: 'no row of a damaged table is deleted',
  check(view) {
    const before = view.trace.find((e) => e.kind === 'rows' && e['when'] === 'before');
    const after = view.trace.find((e) => e.kind === 'rows' && e['when'] === 'after');
    if (!before || !after) return { ok: false, t: view.scenario.horizonMs, message: 'rows were not counted before and after' };
    const left = rowsLeft(view);
    return left === before['disk'] ? { ok: true } : { ok: false, t: after.t, message: `the rows column held ${String(before["disk"])} entries before and ${left} after (${String(after["served"])} rows served)` };
  },
};

/** The damaged row is refused with a typed error naming the table and the key; every other row is served. */
const damageNamed: Oracle = {
  name: 'damageNamed',
  description: 'the damaged row is refused by name, the others are served',
  check(view) {
    const refused = view.trace.find((e) => e.kind === 'refused');
    const after = view.trace.find((e) => e.kind === 'rows' && e['when'] === 'after');
    const rows = (refused?.['rows'] as string[] | undefined) ?? [];
    if (rows.length !== 1 || !rows[0]!.startsWith('ORDO_STORE_CORRUPT user_post_rewards')) return { ok: false, t: after?.t ?? view.scenario.horizonMs, message: `the damaged row was not refused by name (refused: ${JSON.stringify(rows)})` };
    return after?.['served'] === ROWS - 1 ? { ok: true } : { ok: false, t: after?.t ?? 0, message: `served ${String(after?.['served'])} of the ${ROWS - 1} intact rows` };
  },
};

export const asDeployed: Scenario = { name: 'step07-corrupted-disk-copy/as-deployed', description: "one damaged row; the table's file is deleted to get the app up", tree: (ctx) => tree(ctx, false), horizonMs: 5000, invariants: [{ kind: 'eventually', oracle: 'nothingDeleted' }], expect: 'fail' };
export const withOrdo: Scenario = {
  name: 'step07-corrupted-disk-copy/with-ordo',
  description: 'one damaged row; the store refuses it by name, serves the rest, deletes nothing',
  tree: (ctx) => tree(ctx, true),
  horizonMs: 5000,
  invariants: [
    { kind: 'eventually', oracle: 'nothingDeleted' },
    { kind: 'eventually', oracle: 'damageNamed' },
  ],
  expect: 'pass',
};

export const step07: IncidentStep = {
  id: 'step07',
  step: '7',
  title: "Crash loops damage the disk copy of a table, and the fix deletes it",
  story:
    "After 20+ minutes of crash loops, Mnesia's disc copy of `user_post_rewards` was damaged: `invalid continuation` in `mnesia_loader.do_get_disc_copy2`. The fix was `rm /data/mnesia/blockster/user_post_rewards.DCD` on both machines — the BUX rewards table, gone.",
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'nothingDeleted',
  mechanism:
    "The store (src/store): every stored value carries a CRC32; a damaged row is refused with `ORDO_STORE_CORRUPT` naming the table and the key, the other rows are served, and no code path deletes data to recover — the operator restores or repairs explicitly (`ordo store restore`, a backup is taken before every migration). Rows on disk before and after: equal.",
  oracles: { nothingDeleted, damageNamed },
};
