import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, renameSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { takeGuard } from '../../src/env/rocksdbMarker.ts';
import { COLUMNS } from '../../src/store/layout.ts';
import { join, relative } from 'node:path';
import { createActor, waitFor } from 'xstate';
import { openStore } from '../../src/store/openStore.ts';
import { storeInitializerMachine } from '../../src/store/initializerMachine.ts';
import { KvError } from '../../src/env/kv.ts';
import type { KvAdapter } from '../../src/env/kv.ts';
import type { TestEnv } from '../../src/env/env.ts';
import type { Store } from '../../src/store/store.ts';
import { storeCommand } from '../../src/cli/store.ts';
import { createSeededRandom } from '../../src/env/random.ts';
import { env, tempDir } from './helpers.ts';
import { buildStore, copyStore, damage, filesOf, fingerprint, kitTables, probe, propertiesBlockOf } from './corruptionKit.ts';
import type { Model } from './corruptionKit.ts';

const cleanups: Array<() => void> = [];
afterAll(() => cleanups.forEach((c) => c()));
const probeFixture = join(import.meta.dirname, 'fixtures', 'crashProbe.ts');

function temp(prefix: string): string {
  const t = tempDir(prefix);
  cleanups.push(t.cleanup);
  return t.dir;
}

let base: { dir: string; model: Model } | undefined;
/** One store built over three sessions (SSTs, a MANIFEST with several edits, a WAL), shared read-only. */
async function baseStore(): Promise<{ dir: string; model: Model }> {
  if (!base) {
    const dir = `${temp('ordo-dur-base-')}/store`;
    base = { dir, model: await buildStore(env(), dir, createSeededRandom(15), 3, 150) };
  }
  return base;
}

function codeOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => 'opened',
    (e: { code?: unknown }) => e.code,
  );
}

describe('store durability: the open path never serves less than was acknowledged (issue 15)', () => {
  it('defect 1: a damaged MANIFEST is refused, not opened empty, and no file is deleted', async () => {
    const { dir, model } = await baseStore();
    const e = env();
    const rnd = createSeededRandom(1);
    const outcomes: string[] = [];
    for (let trial = 0; trial < 24; trial++) {
      const d = `${temp('ordo-dur-m-')}/s`;
      copyStore(dir, d);
      damage(d, 'MANIFEST', trial % 4 === 3 ? 'truncate' : 'flip', rnd);
      outcomes.push(await probe(e, d, model));
    }
    expect(outcomes.filter((o) => o.startsWith('VIOLATION'))).toEqual([]);
    expect(outcomes).toContain('refused');
    // the refusal names the file
    const d = `${temp('ordo-dur-m1-')}/s`;
    copyStore(dir, d);
    const [manifest] = filesOf(d, 'MANIFEST');
    truncateSync(`${d}/${manifest}`, 20);
    const err = (await openStore({ env: e, dir: d, tables: kitTables }).catch((x: unknown) => x)) as { code: string; file?: string };
    expect(err.code).toBe('ORDO_STORE_CORRUPT');
    expect(err.file).toMatch(/MANIFEST-\d+$/);
    // CURRENT and MANIFEST gone: still a store (its marker says so), never a fresh empty one
    const gone = `${temp('ordo-dur-m2-')}/s`;
    copyStore(dir, gone);
    for (const f of readdirSync(gone)) if (/^(CURRENT|MANIFEST-\d+)$/.test(f)) rmSync(`${gone}/${f}`);
    const before = fingerprint(gone);
    const err2 = (await openStore({ env: e, dir: gone, tables: kitTables }).catch((x: unknown) => x)) as { code: string; file?: string };
    expect(err2.code).toBe('ORDO_STORE_CORRUPT');
    expect(err2.file).toMatch(/CURRENT$/);
    expect(fingerprint(gone)).toEqual(before);
  }, 60_000);

  it('defect 2: a damaged or truncated WAL is refused stating the missing commits; ordo store repair accepts the loss (backup first, recorded in the history)', async () => {
    const { dir, model } = await baseStore();
    const e = env();
    const rnd = createSeededRandom(2);
    const outcomes: string[] = [];
    for (let trial = 0; trial < 16; trial++) {
      const d = `${temp('ordo-dur-w-')}/s`;
      copyStore(dir, d);
      damage(d, 'WAL', trial % 2 === 0 ? 'truncate' : 'flip', rnd);
      outcomes.push(await probe(e, d, model));
    }
    expect(outcomes.filter((o) => o.startsWith('VIOLATION'))).toEqual([]);
    expect(outcomes.filter((o) => o === 'refused').length).toBeGreaterThan(4);

    // the refusal states what is missing
    const d = `${temp('ordo-dur-w1-')}/s`;
    copyStore(dir, d);
    const [wal] = filesOf(d, 'WAL');
    truncateSync(`${d}/${wal}`, Math.floor(statSync(`${d}/${wal}`).size / 2));
    const err = (await openStore({ env: e, dir: d, tables: kitTables }).catch((x: unknown) => x)) as { code: string; missing?: { recovered: number; acknowledged: number }; message: string };
    expect(err.code).toBe('ORDO_STORE_CORRUPT');
    expect(err.missing!.acknowledged).toBeGreaterThan(err.missing!.recovered);
    expect(err.message).toMatch(/acknowledged commit\(s\) missing/);

    // repair: backup first, the loss in the schema history, then it opens with what was recovered
    const out: string[] = [];
    expect(await storeCommand(['repair', '--dir', d], e, (t) => out.push(t))).toBe(0);
    expect(out.join('')).toMatch(/accepted the loss of commits/);
    const backups = readdirSync(`${d}/backups`).filter((f) => f.startsWith('pre-repair-'));
    expect(backups).toHaveLength(1);
    const s = await openStore({ env: e, dir: d, tables: kitTables, expectExisting: true });
    try {
      expect(s.schemaHistory().at(-1)!.description).toMatch(new RegExp(`^repair: accepted the loss of commits ${err.missing!.recovered + 1}\\.\\.${err.missing!.acknowledged}`));
      expect(s.count('accounts') + s.count('events')).toBeGreaterThan(0);
      expect((await s.verify()).problems).toEqual([]);
      await s.dirtyPut('accounts', { id: 1, n: 1, note: 'after repair' });
    } finally {
      await s.close();
    }
    const again = await openStore({ env: e, dir: d, tables: kitTables, expectExisting: true });
    expect(again.get('accounts', 1)?.note).toBe('after repair');
    await again.close();

    // a fresh store whose catalog is only in the WAL: lost WAL → refused, not opened empty
    const f = `${temp('ordo-dur-w2-')}/s`;
    const fresh = await openStore({ env: e, dir: f, tables: kitTables });
    await fresh.close();
    for (const w of filesOf(f, 'WAL')) truncateSync(`${f}/${w}`, 0);
    expect(await codeOf(openStore({ env: e, dir: f, tables: kitTables }))).toBe('ORDO_STORE_CORRUPT');
  }, 60_000);

  it('defect 3: one directory through two spellings is one store: a second live handle is refused, the first keeps working', async () => {
    const root = temp('ordo-dur-h-');
    const dir = `${root}/store`;
    const e = env();
    const first = await openStore({ env: e, dir, tables: kitTables });
    try {
      await first.dirtyPut('accounts', { id: 1, n: 1, note: 'a' });
      for (const spelling of [dir, `${dir}/`, `${dir}/.`, `${root}/./store`, relative(process.cwd(), dir)]) {
        const err = (await openStore({ env: e, dir: spelling, tables: kitTables }).catch((x: unknown) => x)) as { code: string; by: string };
        expect(err.code, spelling).toBe('ORDO_STORE_LOCKED');
        expect(err.by).toBe('this_process');
      }
      // never silently closed: the first handle still writes
      expect(first.isClosed).toBe(false);
      await first.dirtyPut('accounts', { id: 2, n: 2, note: 'b' });
      // only the owner reclaims a leaked handle
      const owned = await openStore({ env: e, dir: `${root}/owned`, tables: kitTables, owner: 'app-1' });
      expect(await codeOf(openStore({ env: e, dir: `${root}/owned/`, tables: kitTables, owner: 'app-2' }))).toBe('ORDO_STORE_LOCKED');
      expect(owned.isClosed).toBe(false);
      const reclaimed = await openStore({ env: e, dir: `${root}/owned/`, tables: kitTables, owner: 'app-1' });
      expect(owned.isClosed).toBe(true);
      await reclaimed.close();
    } finally {
      await first.close();
    }
    const s = await openStore({ env: e, dir: `${dir}/`, tables: kitTables });
    expect(s.count('accounts')).toBe(2);
    await s.close();
  }, 30_000);

  it('defect 4: a damaged SST block never kills the process: open refuses it typed (or, when RocksDB never reads the damaged bytes, serves and info() works)', async () => {
    const { dir } = await baseStore();
    const rnd = createSeededRandom(4);
    const results: Array<{ status: number | null; signal: string | null; out: unknown }> = [];
    const ssts = filesOf(dir, 'SST-data');
    expect(ssts.length).toBeGreaterThan(2);
    for (let i = 0; i < Math.min(4, ssts.length); i++) {
      const d = `${temp('ordo-dur-sst-')}/s`;
      copyStore(dir, d);
      damage(d, 'SST-data', 'flip', rnd);
      const r = spawnSync(process.execPath, ['--import', 'tsx', probeFixture, 'open', d], { encoding: 'utf8', timeout: 30_000 });
      const line = r.stdout.trim().split('\n').at(-1) ?? '';
      results.push({ status: r.status, signal: r.signal, out: line.startsWith('{') ? JSON.parse(line) : `${r.stdout}${r.stderr}`.slice(0, 300) });
    }
    for (const r of results) {
      expect(r, JSON.stringify(r)).toMatchObject({ status: 0, signal: null });
      const out = r.out as { opened: boolean; code?: string; counts?: Record<string, unknown>; info?: string };
      if (!out.opened) expect(out.code).toBe('ORDO_STORE_CORRUPT');
      else {
        expect(out.info).toBe('ok');
        for (const c of Object.values(out.counts!)) expect(typeof c).toBe('number');
      }
    }
  }, 120_000);

  it('defect 4: an SST properties block damaged to claim a hash index never aborts the process (RocksDB parses that block before its checksum): ORDO_STORE_CORRUPT naming the file, every file kept', async () => {
    // found by the long corruption run: the binding's RocksDB asserts (DataBlockHashIndex::Initialize,
    // num_buckets_ > 0) and aborts the whole process while opening the database
    const { dir } = await baseStore();
    const ssts = filesOf(dir, 'SST-data');
    const results: unknown[] = [];
    for (const sst of ssts.slice(0, 2)) {
      const d = `${temp('ordo-dur-props-')}/s`;
      copyStore(dir, d);
      const buf = readFileSync(`${d}/${sst}`);
      const props = propertiesBlockOf(buf);
      buf[props.offset + props.size - 1]! |= 0x80; // the block footer's index-type bit
      writeFileSync(`${d}/${sst}`, buf);
      const before = fingerprint(d);
      const r = spawnSync(process.execPath, ['--import', 'tsx', probeFixture, 'open', d], { encoding: 'utf8', timeout: 30_000 });
      const line = r.stdout.trim().split('\n').at(-1) ?? '';
      results.push({ status: r.status, signal: r.signal, out: line.startsWith('{') ? JSON.parse(line) : `${r.stdout}${r.stderr}`.slice(0, 300), unchanged: JSON.stringify(fingerprint(d)) === JSON.stringify(before) });
      expect(results.at(-1)).toEqual({ status: 0, signal: null, out: { opened: false, code: 'ORDO_STORE_CORRUPT', file: `${d}/${sst}` }, unchanged: true });
    }
    expect(results).toHaveLength(2);
  }, 120_000);

  it('defect 5: openStore with a bad dir (undefined, 5, "", null, {}) rejects with ORDO_STORE_ARGUMENT and nothing escapes', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', probeFixture, 'options'], { encoding: 'utf8', timeout: 30_000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr.slice(0, 500) }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(JSON.parse(r.stdout.trim())).toEqual({ outcomes: Array(5).fill('ORDO_STORE_ARGUMENT') });
  }, 30_000);

  it('defect 11: a damaged CURRENT is ORDO_STORE_CORRUPT (not ORDO_STORE_IO); a read-only file system is not "locked"', async () => {
    const { dir } = await baseStore();
    const e = env();
    const d = `${temp('ordo-dur-c-')}/s`;
    copyStore(dir, d);
    truncateSync(`${d}/CURRENT`, 5);
    const err = (await openStore({ env: e, dir: d, tables: kitTables }).catch((x: unknown) => x)) as { code: string; file?: string };
    expect(err.code).toBe('ORDO_STORE_CORRUPT');
    expect(err.file).toMatch(/CURRENT$/);
    // a CURRENT naming a MANIFEST that is not there (a flipped digit) is damage too, not an I/O error
    const d2 = `${temp('ordo-dur-c2-')}/s`;
    copyStore(dir, d2);
    writeFileSync(`${d2}/CURRENT`, 'MANIFEST-999999\n');
    expect(await codeOf(openStore({ env: e, dir: d2, tables: kitTables }))).toBe('ORDO_STORE_CORRUPT');
    // read-only: a real read-only bind mount when this runs as root, else the adapter's classification of EROFS
    const ro = `${temp('ordo-dur-ro-')}`;
    const src = `${temp('ordo-dur-rosrc-')}/s`;
    copyStore(dir, src);
    const mounted = spawnSync('sh', ['-c', `mount --bind ${src} ${ro} && mount -o remount,ro,bind ${ro}`]).status === 0;
    try {
      const target = mounted ? ro : src;
      const kv = mounted ? undefined : readOnlyKv();
      const roErr = (await openStore({ env: e, dir: target, tables: kitTables, ...(kv ? { kv } : {}) }).catch((x: unknown) => x)) as { code: string; reason?: string; message: string };
      expect(roErr.code).toBe('ORDO_STORE_IO');
      expect(roErr.reason).toBe('read_only');
      expect(roErr.message).toMatch(/read-only/);
    } finally {
      if (mounted) spawnSync('umount', [ro]);
    }
  }, 30_000);
});

describe('store durability: attacking the evidence itself (issue 15)', () => {
  it('a damaged ORDO_STORE marker is refused naming it; one torn slot falls back to the other', async () => {
    const { dir } = await baseStore();
    const e = env();
    const d = `${temp('ordo-dur-mk-')}/s`;
    copyStore(dir, d);
    const buf = readFileSync(`${d}/ORDO_STORE`);
    // tear the newest slot only: the previous mark is still proven, and what RocksDB holds is ahead of it
    const torn = Buffer.from(buf);
    const newest = torn.readBigUInt64BE(24) > torn.readBigUInt64BE(64 + 24) ? 0 : 64;
    torn[newest + 40] = torn[newest + 40]! ^ 0xff;
    writeFileSync(`${d}/ORDO_STORE`, torn);
    const s = await openStore({ env: e, dir: d, tables: kitTables, expectExisting: true });
    await s.close();
    // both slots damaged: the identity and watermark cannot be proven
    const both = Buffer.from(buf);
    both[10] = both[10]! ^ 0xff;
    both[64 + 10] = both[64 + 10]! ^ 0xff;
    writeFileSync(`${d}/ORDO_STORE`, both);
    const err = (await openStore({ env: e, dir: d, tables: kitTables }).catch((x: unknown) => x)) as { code: string; file?: string };
    expect(err.code).toBe('ORDO_STORE_CORRUPT');
    expect(err.file).toMatch(/ORDO_STORE$/);
  }, 30_000);

  it('an open killed inside its guarded window is undone by the next open (files back as they were)', async () => {
    const { dir, model } = await baseStore();
    const d = `${temp('ordo-dur-g-')}/s`;
    copyStore(dir, d);
    takeGuard(d);
    // what RocksDB does while opening: replaces CURRENT, deletes obsolete files, writes new ones
    const victims = readdirSync(d).filter((f) => /\.(sst|log)$/.test(f));
    for (const f of victims) rmSync(`${d}/${f}`);
    writeFileSync(`${d}/000999.dbtmp`, 'MANIFEST-999999\n');
    renameSync(`${d}/000999.dbtmp`, `${d}/CURRENT`); // RocksDB replaces CURRENT by a rename
    writeFileSync(`${d}/MANIFEST-999999`, 'junk');
    // the process that took it is gone
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(`${d}/ordo-open-guard/owner`, `${hostname()} ${dead}\n`);
    // every SST and WAL was deleted above: only the restored files can serve every acknowledged row
    expect(victims.length).toBeGreaterThan(2);
    expect(await probe(env(), d, model)).toBe('exact');
    expect(readdirSync(d)).not.toContain('ordo-open-guard');
  }, 30_000);

  it('ordo store repair accepts rows lost under the digest (as after a MANIFEST that dropped a flush): backup first, the history names the table', async () => {
    const e = env();
    const d = `${temp('ordo-dur-rp-')}/s`;
    const s = await openStore({ env: e, dir: d, tables: kitTables });
    await s.dirtyPutMany('accounts', Array.from({ length: 50 }, (_, i) => ({ id: i, n: i, note: 'x' })));
    await s.close();
    // rows vanish underneath the store (what a forgotten SST does)
    const raw = await e.io.kv!.open(d, { columns: COLUMNS, createIfMissing: false });
    const it = raw.iterator('rows', {});
    const keys = (await it.next(10)).map(([k]) => k);
    await it.close();
    await raw.write(keys.map((key) => ({ type: 'del' as const, column: 'rows', key })), { sync: true });
    await raw.close();
    const err = (await openStore({ env: e, dir: d, tables: kitTables }).catch((x: unknown) => x)) as { code: string; message: string };
    expect(err.code).toBe('ORDO_STORE_CORRUPT');
    expect(err.message).toMatch(/table accounts: 40 rows on disk, but the acknowledged state has 50/);
    const out: string[] = [];
    expect(await storeCommand(['repair', '--dir', d], e, (t) => out.push(t))).toBe(0);
    const s2 = await openStore({ env: e, dir: d, tables: kitTables, expectExisting: true });
    expect(s2.count('accounts')).toBe(40);
    expect(s2.schemaHistory().at(-1)!.description).toMatch(/table accounts: 40 rows on disk, 50 acknowledged/);
    expect(readdirSync(`${d}/backups`).filter((f) => f.startsWith('pre-repair-'))).toHaveLength(1);
    await s2.close();
    // nothing left to repair
    out.length = 0;
    expect(await storeCommand(['repair', '--dir', d], e, (t) => out.push(t))).toBe(0);
    expect(out.join('')).toMatch(/nothing to repair/);
  }, 30_000);
});

describe('store durability: a full disk (issue 15)', () => {
  it('defect 13: disk full → typed errors, a failed state the initializer turns into a clean restart, backup leaves no temp file, acknowledged rows survive', async () => {
    const mnt = temp('ordo-dur-full-');
    const mounted = process.env['ORDO_TEST_NO_MOUNT'] === undefined && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]).status === 0;
    try {
      const e = env();
      const dir = `${mnt}/store`;
      // without permission to mount, the same path through a full-disk fault in the adapters
      const fault = mounted ? undefined : fullDiskFault(e);
      const input = { env: fault?.env ?? e, dir, tables: kitTables, ...(fault ? { kv: fault.kv } : {}) };
      const fill = (on: boolean): void => {
        if (!mounted) return fault!.full(on);
        if (on) spawnSync('sh', ['-c', `dd if=/dev/zero of=${mnt}/filler bs=64k 2>/dev/null; true`]);
        else rmSync(`${mnt}/filler`, { force: true });
      };
      const acked: number[] = [];
      // a refused write: the WAL's write failed (ORDO_STORE_IO), or the WAL's landed and the
      // marker's failed (ORDO_STORE_COMMIT_INDETERMINATE) — both no_space, both fail the store
      const refusedCode = expect.stringMatching(/^ORDO_STORE_(IO|COMMIT_INDETERMINATE)$/);
      const writeUntilFull = async (store: Store, from: number): Promise<unknown> => {
        for (let i = from; i < from + 5000; i++) {
          try {
            await store.dirtyPut('accounts', { id: i, n: i, note: 'x'.repeat(2000) });
            acked.push(i);
          } catch (err) {
            // the disk filled between the WAL write and the marker's: durable and served, so it
            // must survive like an acknowledged one (ORDO_STORE_COMMIT_INDETERMINATE, committed)
            if ((err as { code?: string; outcome?: string }).code === 'ORDO_STORE_COMMIT_INDETERMINATE' && (err as { outcome?: string }).outcome === 'committed') acked.push(i);
            return err;
          }
        }
        return undefined;
      };
      // a store opened directly: typed errors, the failed state, backup, close
      const store = await openStore(input);
      for (let i = 0; i < 20; i++) {
        await store.dirtyPut('accounts', { id: i, n: i, note: 'before' });
        acked.push(i);
      }
      fill(true);
      expect(await writeUntilFull(store, 20)).toMatchObject({ code: refusedCode, reason: 'no_space' });
      expect(store.failed).toMatchObject({ code: 'ORDO_STORE_FAILED', reason: 'no_space' });
      await expect(store.dirtyPut('accounts', { id: -1, n: 0, note: '' })).rejects.toMatchObject({ code: 'ORDO_STORE_FAILED', reason: 'no_space' });
      expect(store.get('accounts', 0)?.note).toBe('before');
      await expect(store.backup(`${mnt}/b.ndjson`)).rejects.toMatchObject({ code: 'ORDO_STORE_IO', reason: 'no_space' });
      expect(readdirSync(mnt).filter((f) => f.includes('.tmp-'))).toEqual([]);
      await store.close(); // resolves: never a raw engine error
      // space returns: reopened by the initializer, every acknowledged row is there
      fill(false);
      const first = createActor(storeInitializerMachine, { input, clock: e.clock });
      first.start();
      const ready = await waitFor(first, (s) => s.hasTag('ready') || s.status === 'done');
      expect(ready.hasTag('ready')).toBe(true);
      const s1 = ready.context.service!;
      expect(acked.filter((id) => s1.get('accounts', id) === undefined)).toEqual([]);
      // full again under the initializer: it closes the failed store and ends with the typed reason
      fill(true);
      expect(await writeUntilFull(s1, 10_000)).toMatchObject({ code: refusedCode, reason: 'no_space' });
      const done = await waitFor(first, (s) => s.status === 'done');
      expect((done.output as { reason?: { code?: string } }).reason?.code).toBe('ORDO_STORE_FAILED');
      expect(s1.isClosed).toBe(true);
      // the supervisor's restart, once there is room, opens it again with every acknowledged row
      fill(false);
      const second = createActor(storeInitializerMachine, { input, clock: e.clock });
      second.start();
      const again = await waitFor(second, (s) => s.hasTag('ready') || s.status === 'done');
      expect(again.hasTag('ready')).toBe(true);
      const s2 = again.context.service!;
      expect(acked.filter((id) => s2.get('accounts', id) === undefined)).toEqual([]);
      expect((await s2.verify()).problems).toEqual([]);
      await s2.dirtyPut('accounts', { id: 100_000, n: 1, note: 'after' });
      second.send({ type: 'ordo.stop' });
      await waitFor(second, (s) => s.status === 'done');
    } finally {
      if (mounted) spawnSync('umount', ['-l', mnt]);
    }
  }, 120_000);
});

/** A full disk simulated in the adapters (only where a tmpfs cannot be mounted): writes and atomic file writes fail with ENOSPC. */
function fullDiskFault(e: TestEnv): { env: TestEnv; kv: KvAdapter; full: (on: boolean) => void } {
  let full = false;
  const real = e.io.kv!;
  const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  const kv: KvAdapter = {
    exists: (d) => real.exists(d),
    canonical: (d) => real.canonical!(d),
    open: async (d, o) => {
      const db = await real.open(d, o);
      return {
        ...db,
        get marker() {
          return db.marker;
        },
        write: async (ops, wo) => {
          if (full) throw new KvError('nospace', 'IO error: No space left on device: While appending to file', d);
          return db.write(ops, wo);
        },
        get: (c, k) => db.get(c, k),
        iterator: (c, r) => db.iterator(c, r),
        close: () => db.close(),
        defer: (fn) => db.defer(fn),
        release: () => db.release!(),
      };
    },
  };
  const fs = { ...e.io.fs, writeFileAtomic: async (p: string, d: string | Uint8Array) => (full ? Promise.reject(enospc()) : e.io.fs.writeFileAtomic(p, d)) };
  return { env: { ...e, io: { ...e.io, fs } } as TestEnv, kv, full: (on) => (full = on) };
}

/** A RocksDB adapter whose open fails as on a read-only file system (used where mounting is not allowed). */
function readOnlyKv(): KvAdapter {
  const real = env().io.kv!;
  return {
    exists: (d) => real.exists(d),
    open: async (d) => {
      throw new KvError('readonly', `IO error: While open a file for lock: ${d}/LOCK: Read-only file system`, d);
    },
  };
}

