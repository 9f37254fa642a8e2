/**
 * Two processes opening one store at once: the open guard one takes must never be half made
 * where the other can see it. Process A is this one, paused (through a hook on `fs.renameSync`)
 * at its first rename inside takeGuard while process B takes the guard whole. Red before: A's
 * guard directory stood without its owner until that rename, so B took it for one abandoned,
 * removed it and took its own; A's rename then failed and A's cleanup removed B's guard — B's
 * open went on unguarded (a refused open of B could no longer be put back) and A's failed as an
 * I/O error (kind `io`) though the store was merely being opened by another. Now a guard
 * is built aside and renamed into place whole: B sees none and takes its own, A's rename finds
 * it and A refuses typed (`locked`), B's guard intact.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as realFs from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createRocksKv } from '../../src/env/rocksdb.ts';
import { GUARD_DIR, takeGuard } from '../../src/env/rocksdbMarker.ts';
import { tempDir } from '../store/helpers.ts';

const hook: { beforeRename: (() => void) | undefined } = { beforeRename: undefined };

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    renameSync: (from: realFs.PathLike, to: realFs.PathLike): void => {
      const h = hook.beforeRename;
      hook.beforeRename = undefined;
      h?.();
      fs.renameSync(from, to);
    },
  };
});

const FIXTURE = fileURLToPath(new URL('./fixtures/takeGuard.ts', import.meta.url));
const cleanups: Array<() => void> = [];
afterEach(() => {
  hook.beforeRename = undefined;
  cleanups.splice(0).forEach((c) => c());
});

describe.runIf(process.platform === 'linux')('two processes taking the open guard at once', () => {
  it("the one that loses refuses typed (locked) and leaves the winner's guard whole", async () => {
    const t = tempDir('ordo-open-guard-race-');
    cleanups.push(t.cleanup);
    const d = `${t.dir}/db`;
    const db = await createRocksKv().open(d, { columns: ['a'], createIfMissing: true });
    await db.write([{ type: 'put', column: 'a', key: Buffer.from('k'), value: Buffer.from('v') }], { sync: true, mark: 1 });
    await db.close();
    let b = 0;
    hook.beforeRename = () => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', FIXTURE, d], { encoding: 'utf8' });
      b = Number(/^taken (\d+)$/m.exec(out)?.[1]);
    };
    let thrown: unknown;
    try {
      takeGuard(d);
    } catch (err) {
      thrown = err;
    }
    expect(b, 'process B took the guard while A was inside takeGuard').toBeGreaterThan(0);
    expect(thrown, 'A refused').toMatchObject({ code: 'ORDO_KV_ERROR', kind: 'locked' });
    const g = `${d}/${GUARD_DIR}`;
    expect(realFs.readFileSync(`${g}/owner`, 'utf8').split(' ')[1], "the guard is B's").toBe(String(b));
    expect(realFs.existsSync(`${g}/complete`), "B's guard whole").toBe(true);
    expect(realFs.readdirSync(d).filter((n) => n.startsWith(`${GUARD_DIR}.`)), 'nothing of A left aside').toEqual([]);
  });

  it("a guard left aside by a process killed while building it is removed at the next take (its links kept obsolete files); a live process's is kept", async () => {
    const t = tempDir('ordo-open-guard-aside-');
    cleanups.push(t.cleanup);
    const d = `${t.dir}/db`;
    const db = await createRocksKv().open(d, { columns: ['a'], createIfMissing: true });
    await db.close();
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }));
    const left = `${d}/${GUARD_DIR}.tmp-${dead}-${hostname()}`;
    const live = `${d}/${GUARD_DIR}.tmp-${process.ppid}-${hostname()}`;
    for (const a of [left, live]) {
      realFs.mkdirSync(a);
      realFs.writeFileSync(`${a}/owner`, 'x\n');
    }
    takeGuard(d);
    expect(realFs.existsSync(left), 'the dead one removed').toBe(false);
    expect(realFs.existsSync(live), 'the live one kept').toBe(true);
    expect(realFs.existsSync(`${d}/${GUARD_DIR}/complete`)).toBe(true);
  });
});
