import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import { StoreCommitIndeterminateError } from '../../src/store/index.ts';
import { _setFaultHook } from '../../src/env/faults.ts';
import { readMarker } from '../../src/env/rocksdbMarker.ts';
import { env, tempDir } from './helpers.ts';
import { wrapKvWrites } from './kvWrap.ts';

// Strict watermark: a synced batch whose WAL write succeeded but whose marker write (and its
// synchronous retry) failed is durable on disk. It must never be reported as "not committed":
// the store applies it to RAM, rejects its commits with ORDO_STORE_COMMIT_INDETERMINATE
// (`outcome: 'committed'`) and fails, so its owner reopens — and what it served is what a
// reopen finds (review defect F1: a refused batch on disk made the next reopen fail with
// "3 rows on disk, but the acknowledged state has 2", or the refused row came back silently).

const cleanups: Array<() => void> = [];
afterEach(() => {
  _setFaultHook(undefined);
  cleanups.splice(0).forEach((c) => c());
});

const items = {
  type: 'ordered_set' as const,
  key: 'id',
  attributes: { id: { type: 'integer' as const }, v: { type: 'integer' as const, default: 0 } },
  durability: 'sync' as const,
};

/** Fails the next `n` marker writes of `dir` (the one after the WAL's, then its synchronous retry…). */
function failMarkerWrites(dir: string, n: number): void {
  let fired = 0;
  _setFaultHook({ point: (name, subject) => (name === 'kv.marker.enospc' && subject === dir && fired < n ? (fired++, true) : false), delayMs: () => 0 });
}

async function refusedAfterMarkerFailure(): Promise<{ s: Store; d: string; err: unknown }> {
  const t = tempDir('ordo-marker-refused-');
  cleanups.push(t.cleanup);
  const d = `${t.dir}/s`;
  const s = await openStore({ env: env(), dir: d, tables: { items } });
  cleanups.push(() => void s.close().catch(() => undefined));
  await s.dirtyPut('items', { id: 1, v: 1 });
  failMarkerWrites(d, 2);
  const err = await s.dirtyPut('items', { id: 2, v: 2 }).then(() => undefined, (e: unknown) => e);
  return { s, d, err };
}

describe('a synced commit whose marker write failed (strict watermark)', () => {
  it('is rejected as committed-but-unproven, applied to RAM, and the store fails (typed)', async () => {
    const { s, err } = await refusedAfterMarkerFailure();
    expect(err).toBeInstanceOf(StoreCommitIndeterminateError);
    expect(err).toMatchObject({ code: 'ORDO_STORE_COMMIT_INDETERMINATE', outcome: 'committed', tables: ['items'], reason: 'no_space' });
    expect((err as Error).cause).toMatchObject({ code: 'ORDO_KV_ERROR', kind: 'nospace', durable: true });
    expect(s.get('items', 2)).toMatchObject({ id: 2, v: 2 });
    expect(s.failed).toMatchObject({ code: 'ORDO_STORE_FAILED', reason: 'no_space' });
  });

  it("the reviewer's scenario: a later write after the disk recovers, then a reopen: RAM == disk, no damage", async () => {
    const { s, d, err } = await refusedAfterMarkerFailure();
    expect(err).toBeInstanceOf(StoreCommitIndeterminateError);
    _setFaultHook(undefined); // the disk recovers
    await s.dirtyPut('items', { id: 3, v: 3 }).catch(() => undefined);
    const inRam = s.range('items').map((r) => r['id']);
    await s.close();
    const again = await openStore({ env: env(), dir: d, tables: { items }, expectExisting: true });
    const onDisk = again.range('items').map((r) => r['id']);
    const problems = (await again.verify()).problems;
    await again.close();
    expect({ onDisk, problems }).toEqual({ onDisk: inRam, problems: [] });
    expect(onDisk).toContain(2);
  });

  it('while the marker still fails, the synced recovery probe keeps the store failed; nothing after the refused commit is written', async () => {
    const { s, d } = await refusedAfterMarkerFailure();
    failMarkerWrites(d, 1); // the probe's marker retry fails too
    await expect(s.dirtyPut('items', { id: 3, v: 3 })).rejects.toMatchObject({ code: 'ORDO_STORE_FAILED' });
    expect(s.get('items', 3)).toBeUndefined();
    _setFaultHook(undefined);
    // no further write: a close and reopen serve exactly what was served (the refused row included)
    const inRam = s.range('items').map((r) => r['id']);
    await s.close();
    expect(readMarker(d)!.mark).toBeGreaterThan(0);
    const again = await openStore({ env: env(), dir: d, tables: { items }, expectExisting: true });
    const onDisk = again.range('items').map((r) => r['id']);
    const problems = (await again.verify()).problems;
    await again.close();
    expect({ onDisk, problems }).toEqual({ onDisk: inRam, problems: [] });
    expect(onDisk).toEqual([1, 2]);
  });

  it("the engine's onDurable callback throws: the commit is refused as committed (durable), applied, the store fails; a reopen finds it", async () => {
    const t = tempDir('ordo-ondurable-throws-');
    cleanups.push(t.cleanup);
    const d = `${t.dir}/s`;
    const e = env();
    let throwing = false;
    const kv = wrapKvWrites(e.io.kv!, (db) => (ops, o) => {
      const inner = o.onDurable;
      if (!throwing || inner === undefined) return db.write(ops, o);
      const onDurable = (): void => {
        inner();
        throw new Error('callback bug');
      };
      return db.write(ops, { ...o, onDurable });
    });
    const s = await openStore({ env: { ...e, io: { ...e.io, kv } }, dir: d, tables: { items } });
    cleanups.push(() => void s.close().catch(() => undefined));
    await s.dirtyPut('items', { id: 1, v: 1 });
    throwing = true;
    const err = await s.dirtyPut('items', { id: 2, v: 2 }).then(() => undefined, (x: unknown) => x);
    expect(err).toBeInstanceOf(StoreCommitIndeterminateError);
    expect(err).toMatchObject({ outcome: 'committed', cause: { code: 'ORDO_KV_ERROR', durable: true } });
    expect(s.get('items', 2)).toMatchObject({ id: 2, v: 2 });
    expect(s.failed).toMatchObject({ code: 'ORDO_STORE_FAILED' });
    await s.close();
    const again = await openStore({ env: e, dir: d, tables: { items }, expectExisting: true });
    const found = { ids: again.range('items').map((r) => r['id']), problems: (await again.verify()).problems };
    await again.close();
    expect(found).toEqual({ ids: [1, 2], problems: [] });
  });
});
