/**
 * Two processes restoring one dead open guard at once (both opening a store whose guarded open
 * was killed): process A is this one, paused (through a hook on `fs.renameSync`) after its first
 * rename inside restoreGuard while "process B" — the same restoreGuard, run to its end from the
 * hook — restores the same guard. Red before: A moved each guarded file out of the guard, so B
 * listed a guard short of the file A had moved back, moved the rest and removed the guard; A's
 * next rename then threw a raw ENOENT (no KvError) and, when the file A had moved matched
 * RocksDB's names, B took it for one RocksDB created since and deleted it — the store left
 * without its CURRENT or MANIFEST. Now the guard is linked back, never consumed, until the
 * directory is whole; the loser finds the guard gone (ENOENT), re-checks, and returns.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as realFs from 'node:fs';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { GUARD_DIR, restoreGuard, takeGuard } from '../../src/env/rocksdbMarker.ts';
import { tempDir } from '../store/helpers.ts';

const hook: { afterRename: (() => void) | undefined; skip: number } = { afterRename: undefined, skip: 0 };

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    renameSync: (from: realFs.PathLike, to: realFs.PathLike): void => {
      fs.renameSync(from, to);
      if (hook.afterRename === undefined || hook.skip-- > 0) return;
      const h = hook.afterRename;
      hook.afterRename = undefined;
      h();
    },
  };
});

const cleanups: Array<() => void> = [];
afterEach(() => {
  hook.afterRename = undefined;
  cleanups.splice(0).forEach((c) => c());
});

const key = Buffer.from('k');

/**
 * A store holding k = v whose guard was taken, then (the guard set aside) opened, written k = v2
 * and closed — RocksDB replaced its CURRENT, MANIFEST, log and OPTIONS — the guard put back: what
 * a guarded open killed after RocksDB opened leaves. Returns the directory and the names the guard holds.
 */
async function deadGuard(): Promise<{ d: string; guarded: string[] }> {
  const t = tempDir('ordo-open-guard-restore-');
  cleanups.push(t.cleanup);
  const d = `${t.dir}/db`;
  const db = await createRocksKv().open(d, { columns: ['a'], createIfMissing: true });
  await db.write([{ type: 'put', column: 'a', key, value: Buffer.from('v') }], { sync: true, mark: 1 });
  await db.close();
  takeGuard(d);
  realFs.renameSync(`${d}/${GUARD_DIR}`, `${t.dir}/saved`);
  const later = await createRocksKv().open(d, { columns: ['a'], createIfMissing: false });
  await later.write([{ type: 'put', column: 'a', key, value: Buffer.from('v2') }], { sync: true, mark: 2 });
  await later.close();
  realFs.renameSync(`${t.dir}/saved`, `${d}/${GUARD_DIR}`);
  const guarded = realFs.readdirSync(`${d}/${GUARD_DIR}`).filter((n) => n !== 'owner' && n !== 'complete');
  const moved = guarded.filter((n) => realFs.statSync(`${d}/${GUARD_DIR}/${n}`).ino !== realFs.statSync(`${d}/${n}`, { throwIfNoEntry: false })?.ino);
  expect(moved.length, 'the later open replaced several guarded files').toBeGreaterThan(2);
  return { d, guarded };
}

async function valueOf(d: string): Promise<string> {
  const db = await createRocksKv().open(d, { columns: ['a'], createIfMissing: false });
  try {
    return (await db.get('a', key))?.toString() ?? 'missing';
  } finally {
    await db.close();
  }
}

describe.runIf(process.platform === 'linux')('two processes restoring one dead open guard at once', () => {
  for (const skip of [0, 1, 2]) {
    it(`the one paused after its rename #${skip + 1} returns without error, the store put back whole (k = v, no guard, no temporaries)`, async () => {
      const { d, guarded } = await deadGuard();
      let other: unknown = 'not run';
      hook.skip = skip;
      hook.afterRename = () => {
        try {
          restoreGuard(d, false);
          other = undefined;
        } catch (err) {
          other = err;
        }
      };
      restoreGuard(d, false);
      expect(other, 'B ran inside A and restored without error').toBeUndefined();
      expect(realFs.existsSync(`${d}/${GUARD_DIR}`), 'the guard removed').toBe(false);
      const left = realFs.readdirSync(d).filter((n) => n !== 'LOCK' && n !== 'ORDO_STORE');
      expect(left.sort(), 'exactly the guarded files').toEqual([...guarded].sort());
      expect(await valueOf(d)).toBe('v');
    });
  }
});
