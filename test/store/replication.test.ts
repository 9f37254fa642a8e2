import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import type { CommitBatch, TableDef } from '../../src/store/types.ts';
import type { ChangeEvent } from '../../src/store/store.ts';
import { env, tempDir } from './helpers.ts';
import type { KvAdapter, KvDb, KvOp } from '../../src/env/kv.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tables: Record<string, TableDef> = {
  shared: { type: 'ordered_set', key: 'id', attributes: { id: { type: 'integer' }, v: { type: 'string' } }, indexes: ['v'], replicated: true },
  local: { key: 'id', attributes: { id: { type: 'integer' }, v: { type: 'string' } } },
  cache: { key: 'id', attributes: { id: { type: 'integer' } }, storage: 'ram' },
};

async function open(dir?: string) {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const s = await openStore({ env: env(), dir: dir ?? t.dir, tables });
  cleanups.push(() => s.close());
  return s;
}

describe('change events and replication hooks', () => {
  it('subscribe(table) and onCommit see committed changes only, with JSON-serialisable batches', async () => {
    const s = await open();
    const events: ChangeEvent[] = [];
    const batches: CommitBatch[] = [];
    s.subscribe('local', (e) => events.push(e));
    const off = s.onCommit((b) => batches.push(JSON.parse(JSON.stringify(b)) as CommitBatch));
    await s.transaction((tx) => {
      tx.put('local', { id: 1, v: 'a' });
      tx.put('shared', { id: 1, v: 'a' });
    });
    await s.transaction((tx) => {
      tx.put('local', { id: 1, v: 'b' });
    });
    await expect(s.transaction((tx) => {
      tx.put('local', { id: 2, v: 'never' });
      throw new Error('abort');
    })).rejects.toThrow('abort');
    await s.dirtyDelete('local', 1);
    off();
    await s.dirtyPut('local', { id: 3, v: 'after off' });
    expect(events.map((e) => [e.op, e.key, e.value.v, e.old?.v])).toEqual([
      ['put', 1, 'a', undefined],
      ['put', 1, 'b', 'a'],
      ['delete', 1, 'b', undefined],
      ['put', 3, 'after off', undefined],
    ]);
    expect(batches).toEqual([
      { ops: [{ table: 'local', op: 'put', key: 1, value: { id: 1, v: 'a' } }, { table: 'shared', op: 'put', key: 1, value: { id: 1, v: 'a' } }], schemaVersion: 0 },
      { ops: [{ table: 'local', op: 'put', key: 1, value: { id: 1, v: 'b' } }], schemaVersion: 0 },
      { ops: [{ table: 'local', op: 'delete', key: 1 }], schemaVersion: 0 },
    ]);
  });

  it('with a replicator set, a transaction touching a replicated table is handed over, not written locally; applyReplicated applies it once', async () => {
    const writer = await open();
    const follower = await open();
    const stream: CommitBatch[] = [];
    writer.setReplicator({
      async commit(batch) {
        stream.push(batch);
        // the "stream" delivers to every node, the writer included
        await writer.applyReplicated(batch, { stream: 'S', seq: stream.length });
      },
    });
    await writer.transaction((tx) => {
      tx.put('shared', { id: 7, v: 'x' });
      tx.put('local', { id: 7, v: 'x' });
    });
    await writer.dirtyPut('local', { id: 8, v: 'local only' });
    expect(stream).toHaveLength(1);
    expect(writer.get('shared', 7)).toEqual({ id: 7, v: 'x' });
    expect(writer.lastAppliedSeq('S')).toBe(1);
    expect(await follower.applyReplicated(stream[0]!, { stream: 'S', seq: 1 })).toBe('applied');
    expect(await follower.applyReplicated(stream[0]!, { stream: 'S', seq: 1 })).toBe('duplicate');
    expect(follower.get('shared', 7)).toEqual({ id: 7, v: 'x' });
    expect(follower.indexRead('shared', 'v', 'x')).toHaveLength(1);
    expect(follower.lastAppliedSeq('S')).toBe(1);
    expect(follower.lastAppliedSeq('other')).toBe(0);
    writer.setReplicator(undefined);
    await writer.dirtyPut('shared', { id: 9, v: 'direct' });
    expect(stream).toHaveLength(1);
  });

  it("applyReplicated fsyncs when a table it touches is `durability: 'sync'`, not for async tables (rows and position stay in one batch)", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const e = env();
    const writes: Array<{ sync: boolean; applied: boolean }> = [];
    const real = e.io.kv!;
    const kv: KvAdapter = {
      exists: (dir) => real.exists(dir),
      async open(dir, o) {
        const db = await real.open(dir, o);
        const write = (ops: readonly KvOp[], w: { readonly sync: boolean }): Promise<void> => {
          writes.push({ sync: w.sync, applied: ops.some((op) => op.column === 'meta' && Buffer.from(op.key).toString().includes('applied')) });
          return db.write(ops, w);
        };
        return new Proxy(db, {
          get: (target, k) => {
            if (k === 'write') return write;
            const v: unknown = Reflect.get(target, k, target);
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        });
      },
    };
    const s = await openStore({
      env: e,
      dir: t.dir,
      kv,
      tables: {
        fast: { key: 'id', attributes: { id: { type: 'integer' } }, durability: 'async', replicated: true },
        safe: { key: 'id', attributes: { id: { type: 'integer' } }, replicated: true },
      },
    });
    cleanups.push(() => s.close());
    writes.length = 0;
    await s.applyReplicated({ ops: [{ table: 'fast', op: 'put', key: 1, value: { id: 1 } }], schemaVersion: s.schemaVersion }, { stream: 'S', seq: 1 });
    await s.applyReplicated({ ops: [{ table: 'safe', op: 'put', key: 1, value: { id: 1 } }], schemaVersion: s.schemaVersion }, { stream: 'S', seq: 2 });
    await s.applyReplicated({ ops: [{ table: 'fast', op: 'put', key: 2, value: { id: 2 } }, { table: 'safe', op: 'put', key: 2, value: { id: 2 } }], schemaVersion: s.schemaVersion }, { stream: 'S', seq: 3 });
    expect(writes).toEqual([
      { sync: false, applied: true },
      { sync: true, applied: true },
      { sync: true, applied: true },
    ]);
    expect(s.lastAppliedSeq('S')).toBe(3);
  });

  it('applyReplicated validates first (malformed → typed error, nothing applied), refuses newer schemas, and persists the position atomically', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const e = env();
    let s = await openStore({ env: e, dir: t.dir, tables });
    const bad: CommitBatch = { ops: [{ table: 'shared', op: 'put', key: 1, value: { id: 1, v: 'ok' } }, { table: 'shared', op: 'put', key: 2, value: { id: 2, v: 42 } }], schemaVersion: 0 };
    await expect(s.applyReplicated(bad, { stream: 'S', seq: 1 })).rejects.toMatchObject({ code: 'ORDO_STORE_VALIDATION', table: 'shared', attribute: 'v', value: 42 });
    expect(s.get('shared', 1)).toBeUndefined();
    expect(s.lastAppliedSeq('S')).toBe(0);
    await expect(s.applyReplicated({ ops: [], schemaVersion: 3 }, { stream: 'S', seq: 1 })).rejects.toMatchObject({ code: 'ORDO_STORE_NEWER_SCHEMA' });
    expect(await s.applyReplicated({ ops: [{ table: 'shared', op: 'put', key: 5, value: { id: 5, v: 'five' } }], schemaVersion: 0 }, { stream: 'S', seq: 10 })).toBe('applied');
    await s.close();
    s = await openStore({ env: e, dir: t.dir, tables });
    expect(s.lastAppliedSeq('S')).toBe(10);
    expect(s.get('shared', 5)).toEqual({ id: 5, v: 'five' });
    expect(await s.applyReplicated({ ops: [{ table: 'shared', op: 'delete', key: 5 }], schemaVersion: 0 }, { stream: 'S', seq: 9 })).toBe('duplicate');
    expect(s.get('shared', 5)).toBeDefined();
    await s.close();
  });

  it('snapshot / loadSnapshot lets a new node catch up, replacing its tables atomically', async () => {
    const a = await open();
    const b = await open();
    await a.applyReplicated({ ops: [1, 2, 3].map((i) => ({ table: 'shared', op: 'put' as const, key: i, value: { id: i, v: `v${i}` } })), schemaVersion: 0 }, { stream: 'S', seq: 3 });
    await b.dirtyPut('shared', { id: 99, v: 'stale' });
    const snap = JSON.parse(JSON.stringify(a.snapshot(['shared'])));
    await b.loadSnapshot(snap);
    expect(b.range('shared')).toEqual(a.range('shared'));
    expect(b.lastAppliedSeq('S')).toBe(3);
    expect((await b.verify()).problems).toEqual([]);
  });
});

describe('a throwing listener', () => {
  it('is logged with the error object (stack and message kept), and the commit stands', async () => {
    const e = env();
    const t = tempDir();
    cleanups.push(t.cleanup);
    const s = await openStore({ env: e, dir: t.dir, tables });
    cleanups.push(() => s.close());
    s.subscribe('local', () => {
      throw new TypeError('listener bug');
    });
    await s.transaction((tx) => tx.put('local', { id: 7, v: 'x' }));
    expect(s.get('local', 7)).toMatchObject({ v: 'x' });
    const rec = e.records.find((r) => r['report'] === 'store_listener_failed');
    expect(rec?.['err']).toMatchObject({ type: 'TypeError', message: 'listener bug', stack: expect.stringContaining('listener bug') });
  });
});
