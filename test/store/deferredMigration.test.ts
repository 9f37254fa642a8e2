import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import type { CommitBatch, Migration, TableDef } from '../../src/store/types.ts';
import { env, tempDir } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const v1: Record<string, TableDef> = {
  notes: { type: 'ordered_set', key: 'id', attributes: { id: { type: 'integer' }, text: { type: 'string' } }, replicated: true },
  people: { key: 'id', attributes: { id: { type: 'integer' }, name: { type: 'string' } } },
};
const v3: Record<string, TableDef> = {
  notes: { type: 'ordered_set', key: 'id', attributes: { id: { type: 'integer' }, body: { type: 'string' }, words: { type: 'integer' }, pinned: { type: 'boolean', default: false } }, indexes: ['words'], replicated: true },
  people: { key: 'id', attributes: { id: { type: 'integer' }, full_name: { type: 'string' } } },
};

/** v2 renames a local table's attribute (runs at open everywhere); v3 rewrites the replicated table (deferrable). */
function migrations(counter: { ups: number }, fail = false): Migration[] {
  return [
    {
      version: 2,
      description: 'people: name → full_name',
      up: (tx) => void tx.transform('people', ({ name, ...rest }) => ({ ...rest, full_name: String(name) })),
    },
    {
      version: 3,
      description: 'notes: text → body, count words',
      replicated: true,
      up(tx) {
        counter.ups++;
        tx.transform('notes', ({ text, ...rest }) => {
          if (fail) throw new Error('process died');
          return { ...rest, body: String(text), words: String(text).split(' ').length };
        });
      },
    },
  ];
}

async function seeded(): Promise<{ dir: string; e: ReturnType<typeof env> }> {
  const { dir, cleanup } = tempDir('ordo-defer-');
  cleanups.push(cleanup);
  const e = env();
  const s = await openStore({ env: e, dir, tables: v1 });
  await s.dirtyPutMany('notes', [
    { id: 1, text: 'hello world' },
    { id: 2, text: 'one two three' },
  ]);
  await s.dirtyPutMany('people', [{ id: 1, name: 'Ada' }]);
  await s.close();
  return { dir, e };
}

async function open(dir: string, e: ReturnType<typeof env>, counter: { ups: number }, opts: { defer?: boolean; fail?: boolean } = {}): Promise<Store> {
  const s = await openStore({ env: e, dir, tables: v3, migrations: migrations(counter, opts.fail), deferReplicatedMigrations: opts.defer ?? true });
  cleanups.push(() => s.close());
  return s;
}

const migratedNotes = [
  { id: 1, body: 'hello world', words: 2, pinned: false },
  { id: 2, body: 'one two three', words: 3, pinned: false },
];

describe('deferred replicated migrations (deferReplicatedMigrations)', () => {
  it('open defers the replicated migration: listed, replicated rows untouched, local tables migrated, version = highest known; reopening keeps it pending', async () => {
    const { dir, e } = await seeded();
    const counter = { ups: 0 };
    const s = await open(dir, e, counter);
    expect(s.deferredMigrations()).toEqual([{ version: 3, description: 'notes: text → body, count words' }]);
    expect(counter.ups).toBe(0);
    expect(s.schemaVersion).toBe(3);
    expect(s.schemaHistory().map((h) => h.version)).toEqual([0, 2]);
    expect(s.range('notes')).toEqual([
      { id: 1, text: 'hello world' },
      { id: 2, text: 'one two three' },
    ]);
    expect(s.get('people', 1)).toEqual({ id: 1, full_name: 'Ada' });
    expect(s.tableDef('notes')?.attributes.map((a) => a.name)).toEqual(['id', 'body', 'words', 'pinned']);
    expect(readdirSync(`${dir}/backups`).some((f) => f.startsWith('pre-migration-v0-to-v3'))).toBe(true);
    await s.close();

    const again = await open(dir, e, counter);
    expect(again.deferredMigrations().map((d) => d.version)).toEqual([3]);
    expect(again.schemaHistory().map((h) => h.version)).toEqual([0, 2]);
    expect(again.range('notes')[0]).toEqual({ id: 1, text: 'hello world' });
    expect(counter.ups).toBe(0);
  });

  it('runDeferredMigrations without a replicator applies it locally in one transaction, records history, clears the list; a second run is a no-op', async () => {
    const { dir, e } = await seeded();
    const counter = { ups: 0 };
    const s = await open(dir, e, counter);
    await e.clock.advance(1000);
    expect(await s.runDeferredMigrations()).toBe('ran');
    expect(counter.ups).toBe(1);
    expect(s.deferredMigrations()).toEqual([]);
    expect(s.range('notes')).toEqual(migratedNotes);
    expect(s.indexRead('notes', 'words', 3).map((r) => r.id)).toEqual([2]);
    expect(s.schemaHistory().at(-1)).toEqual({ version: 3, appliedAt: 1_700_000_001_000, description: 'notes: text → body, count words' });
    expect(readdirSync(`${dir}/backups`).some((f) => f.startsWith('pre-migration-deferred-v3'))).toBe(true);
    expect(await s.runDeferredMigrations()).toBe('none');
    expect(counter.ups).toBe(1);
    expect((await s.verify()).problems).toEqual([]);
    await s.close();

    const again = await open(dir, e, counter);
    expect(again.deferredMigrations()).toEqual([]);
    expect(again.schemaHistory().map((h) => h.version)).toEqual([0, 2, 3]);
    expect(again.range('notes')).toEqual(migratedNotes);
    expect(counter.ups).toBe(1);
  });

  it('a deferred run that dies half-way commits nothing and keeps it pending; reopening and running again completes it', async () => {
    const { dir, e } = await seeded();
    const counter = { ups: 0 };
    const dying = await open(dir, e, counter, { fail: true });
    await expect(dying.runDeferredMigrations()).rejects.toMatchObject({ code: 'ORDO_STORE_MIGRATION', version: 3 });
    expect(dying.deferredMigrations().map((d) => d.version)).toEqual([3]);
    expect(dying.range('notes')[1]).toEqual({ id: 2, text: 'one two three' });
    await dying.close();

    const s = await open(dir, e, counter);
    expect(s.deferredMigrations().map((d) => d.version)).toEqual([3]);
    expect(await s.runDeferredMigrations()).toBe('ran');
    expect(s.range('notes')).toEqual(migratedNotes);
  });

  it('opening without deferReplicatedMigrations while one is deferred runs it at open (before newer ones)', async () => {
    const { dir, e } = await seeded();
    const counter = { ups: 0 };
    await (await open(dir, e, counter)).close();
    const s = await open(dir, e, counter, { defer: false });
    expect(counter.ups).toBe(1);
    expect(s.deferredMigrations()).toEqual([]);
    expect(s.range('notes')).toEqual(migratedNotes);
    expect(s.schemaHistory().map((h) => h.version)).toEqual([0, 2, 3]);
  });

  it('with a replicator: the run is one batch carrying the versions (nothing written locally); applying it migrates and records history', async () => {
    const { dir, e } = await seeded();
    const counter = { ups: 0 };
    const s = await open(dir, e, counter);
    const sent: CommitBatch[] = [];
    s.setReplicator({
      async commit(b) {
        sent.push(JSON.parse(JSON.stringify(b)) as CommitBatch);
        await s.applyReplicated(b, { stream: 'S', seq: sent.length });
      },
    });
    expect(await s.runDeferredMigrations()).toBe('ran');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ schemaVersion: 3, migrations: [3] });
    expect(sent[0]!.ops.map((o) => [o.table, o.op, o.key])).toEqual([
      ['notes', 'put', 1],
      ['notes', 'put', 2],
    ]);
    expect(s.deferredMigrations()).toEqual([]);
    expect(s.range('notes')).toEqual(migratedNotes);
    expect(s.lastAppliedSeq('S')).toBe(1);
    expect(s.schemaHistory().map((h) => h.version)).toEqual([0, 2, 3]);
  });

  it('applyReplicated while deferred: pre-migration rows (old shape) are accepted; a migration batch with no ops clears the list; malformed migrations are refused', async () => {
    const { dir, e } = await seeded();
    const counter = { ups: 0 };
    const s = await open(dir, e, counter);
    // written by a node before the migration: the old shape
    expect(await s.applyReplicated({ ops: [{ table: 'notes', op: 'put', key: 7, value: { id: 7, text: 'late write' } }], schemaVersion: 1 }, { stream: 'S', seq: 1 })).toBe('applied');
    expect(s.get('notes', 7)).toEqual({ id: 7, text: 'late write' });
    for (const migrations of [[], [0], ['3'], 3, [1.5]]) {
      await expect(s.applyReplicated({ ops: [], schemaVersion: 3, migrations } as unknown as CommitBatch, { stream: 'S', seq: 2 })).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION', problem: 'bad_batch' });
    }
    expect(s.deferredMigrations().map((d) => d.version)).toEqual([3]);
    // the leader's migration changed nothing here: a batch with no ops still records it
    expect(await s.applyReplicated({ ops: [], schemaVersion: 3, migrations: [3] }, { stream: 'S', seq: 2 })).toBe('applied');
    expect(s.deferredMigrations()).toEqual([]);
    expect(s.schemaHistory().map((h) => h.version)).toEqual([0, 2, 3]);
    expect(s.lastAppliedSeq('S')).toBe(2);
    expect(counter.ups).toBe(0);
    // once migrated, an old-shape row is refused again
    await expect(s.applyReplicated({ ops: [{ table: 'notes', op: 'put', key: 8, value: { id: 8, text: 'too late' } }], schemaVersion: 1 }, { stream: 'S', seq: 3 })).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION' });
    await s.close();
    const again = await open(dir, e, counter);
    expect(again.deferredMigrations()).toEqual([]);
    expect(again.lastAppliedSeq('S')).toBe(2);
  });

  it('loading a peer snapshot that is already migrated clears the deferred list', async () => {
    const a = await seeded();
    const b = await seeded();
    const counter = { ups: 0 };
    const migrated = await open(a.dir, a.e, counter);
    await migrated.runDeferredMigrations();
    const pending = await open(b.dir, b.e, counter);
    expect(pending.deferredMigrations()).toHaveLength(1);
    await pending.loadSnapshot(migrated.snapshot(['notes']));
    expect(pending.deferredMigrations()).toEqual([]);
    expect(pending.range('notes')).toEqual(migratedNotes);
    expect(pending.schemaHistory().map((h) => h.version)).toEqual([0, 2, 3]);
  });
});
