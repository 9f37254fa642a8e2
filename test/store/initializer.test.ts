import { afterEach, describe, expect, it } from 'vitest';
import { createActor, waitFor } from 'xstate';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { storeInitializerMachine } from '../../src/store/initializerMachine.ts';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import { env, tempDir, userBuxPoints } from './helpers.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const tables = { user_bux_points: userBuxPoints };

describe('store-initializer child', () => {
  it('goes checking → opening → migrating → loading → ready, provides the store, closes on ordo.stop', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    const seen: string[] = [];
    const actor = createActor(storeInitializerMachine, { input: { env: e, dir, tables }, clock: e.clock });
    actor.subscribe((s) => {
      const v = String(s.value);
      if (seen[seen.length - 1] !== v) seen.push(v);
    });
    actor.start();
    const ready = await waitFor(actor, (s) => s.hasTag('ready'));
    expect(seen).toEqual(['checking', 'opening', 'migrating', 'loading', 'ready']);
    const store = ready.context.service as Store;
    await store.dirtyPut('user_bux_points', { user_id: 'a', bux_balance: 5 });
    actor.send({ type: 'ordo.stop' });
    const done = await waitFor(actor, (s) => s.status === 'done');
    expect(done.output).toEqual({});
    expect(store.isClosed).toBe(true);
    // the LOCK is released: another open succeeds and sees the write
    const again = await openStore({ env: e, dir, tables });
    expect(again.get('user_bux_points', 'a')).toMatchObject({ bux_balance: 5 });
    await again.close();
  });

  it('passes deferReplicatedMigrations through to the opener: a replicated migration stays deferred, the store is ready', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    const shared = { ...userBuxPoints, replicated: true };
    const first = await openStore({ env: e, dir, tables: { user_bux_points: shared } });
    await first.dirtyPut('user_bux_points', { user_id: 'a', bux_balance: 5 });
    await first.close();
    let ups = 0;
    const migrations = [{ version: 1, description: 'double balances', replicated: true, up: () => void ups++ }];
    const actor = createActor(storeInitializerMachine, { input: { env: e, dir, tables: { user_bux_points: shared }, migrations, deferReplicatedMigrations: true }, clock: e.clock });
    actor.start();
    const ready = await waitFor(actor, (s) => s.hasTag('ready'));
    const store = ready.context.service as Store;
    expect(store.deferredMigrations()).toEqual([{ version: 1, description: 'double balances' }]);
    expect(store.schemaVersion).toBe(1);
    expect(ups).toBe(0);
    actor.send({ type: 'ordo.stop' });
    await waitFor(actor, (s) => s.status === 'done');
  });

  it('fails with ORDO_STORE_MISSING_DIR and creates nothing when expectExisting and the directory is missing', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    const missing = join(dir, 'no-volume', 'store');
    const actor = createActor(storeInitializerMachine, { input: { env: e, dir: missing, tables, expectExisting: true }, clock: e.clock });
    actor.start();
    const done = await waitFor(actor, (s) => s.status === 'done');
    expect((done.output as { reason: { code: string } }).reason.code).toBe('ORDO_STORE_MISSING_DIR');
    expect(await e.io.fs.exists(missing)).toBe(false);
    // an existing but empty directory (a fresh volume) is not a store either
    mkdirSync(missing, { recursive: true });
    const a2 = createActor(storeInitializerMachine, { input: { env: e, dir: missing, tables, expectExisting: true }, clock: e.clock });
    a2.start();
    const d2 = await waitFor(a2, (s) => s.status === 'done');
    expect((d2.output as { reason: { code: string } }).reason.code).toBe('ORDO_STORE_MISSING_DIR');
    expect(await e.io.fs.readdir(missing)).toEqual([]);
  });

  it('fails with ORDO_STORE_LOCKED when another process holds the directory', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'holdLock.ts'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => {
      child.kill('SIGKILL');
    });
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
    const actor = createActor(storeInitializerMachine, { input: { env: e, dir, tables }, clock: e.clock });
    actor.start();
    const done = await waitFor(actor, (s) => s.status === 'done');
    expect((done.output as { reason: { code: string } }).reason.code).toBe('ORDO_STORE_LOCKED');
  });

  it('a restarted initializer closes the handle its crashed predecessor left open', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    const first = createActor(storeInitializerMachine, { input: { env: e, dir, tables }, clock: e.clock });
    first.start();
    const s1 = await waitFor(first, (s) => s.hasTag('ready'));
    const old = s1.context.service as Store;
    first.stop(); // killed without ordo.stop: the handle (and LOCK) leaks
    expect(old.isClosed).toBe(false);
    const second = createActor(storeInitializerMachine, { input: { env: e, dir, tables }, clock: e.clock });
    second.start();
    const s2 = await waitFor(second, (s) => s.hasTag('ready') || s.status === 'done');
    expect(s2.hasTag('ready')).toBe(true);
    expect(old.isClosed).toBe(true);
    second.send({ type: 'ordo.stop' });
    await waitFor(second, (s) => s.status === 'done');
  });

  it('ordo.stop during a migration waits for it to finish (never closes under it), then closes and releases the LOCK', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const e = env();
    const s0 = await openStore({ env: e, dir, tables });
    await s0.dirtyPut('user_bux_points', { user_id: 'a', bux_balance: 1 });
    await s0.close();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const migrations = [{ version: 1, description: 'slow', up: async () => gate }];
    const actor = createActor(storeInitializerMachine, { input: { env: e, dir, tables, migrations }, clock: e.clock });
    actor.start();
    await waitFor(actor, (s) => s.matches('migrating'));
    actor.send({ type: 'ordo.stop' });
    await waitFor(actor, (s) => s.matches('closing'));
    release();
    const done = await waitFor(actor, (s) => s.status === 'done');
    expect(done.value).toBe('closed');
    const again = await openStore({ env: e, dir, tables, migrations });
    expect(again.schemaVersion).toBe(1);
    expect(again.get('user_bux_points', 'a')).toMatchObject({ bux_balance: 1 });
    await again.close();
  });
});
