import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createKernel, createTestEnv, stopProcess } from '../../src/index.ts';
import { simChildMachine, type SimChildInput } from '../../src/chaos/library.ts';
import type { KvAdapter, KvDb } from '../../src/env/kv.ts';

/**
 * The chaos library's child without a database, on the virtual clock: ready after `startMs`
 * (at once for 0), a crash `crashAfterMs` after ready, a stop that takes `stopMs`, and nothing
 * left armed once it is gone. Model: the durations themselves.
 */
function input(env: ReturnType<typeof createTestEnv>, o: { startMs: number; stopMs: number; crashAfterMs?: number | undefined }): SimChildInput {
  return { id: 'w', env, probe: () => undefined, startMs: o.startMs, stopMs: o.stopMs, crashAfterMs: o.crashAfterMs, deps: {} };
}

describe('the library child (simChildMachine) without a database', () => {
  it('is ready after startMs, stops in stopMs, and leaves no timer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(20), fc.nat(20), async (startMs, stopMs) => {
        const env = createTestEnv();
        const kernel = createKernel(env);
        let ready = false;
        const started = kernel.spawn(simChildMachine, { input: input(env, { startMs, stopMs }), startTimeoutMs: Infinity });
        void started.then(() => (ready = true));
        if (startMs > 0) {
          await env.clock.advance(startMs - 1);
          expect(ready).toBe(false);
          await env.clock.advance(1);
        } else await env.clock.advance(0);
        const r = await started;
        expect(r.status).toBe('ok');
        if (r.status !== 'ok') return;
        expect(kernel.processInfo(r.pid)?.state).toBe('quiet');
        const t0 = env.clock.now();
        let stoppedAt = -1;
        void stopProcess(kernel, r.pid).then(() => (stoppedAt = env.clock.now()));
        await env.clock.advance(stopMs + 1);
        expect(stoppedAt - t0).toBe(stopMs);
        expect(kernel.isAlive(r.pid)).toBe(false);
        expect(env.clock.pending()).toBe(0);
      }),
      { numRuns: 30 },
    );
  });

  it('with crashAfterMs: ready in running.timed (also when starting at once), crashes that long after ready', async () => {
    for (const startMs of [0, 7]) {
      const env = createTestEnv();
      const kernel = createKernel(env);
      const r = await Promise.all([kernel.spawn(simChildMachine, { input: input(env, { startMs, stopMs: 0, crashAfterMs: 30 }), startTimeoutMs: Infinity }), env.clock.advance(startMs)]).then(([x]) => x);
      expect(r.status).toBe('ok');
      if (r.status !== 'ok') return;
      expect(kernel.processInfo(r.pid)?.state).toEqual({ running: { timed: 'idle' } });
      const exits: unknown[] = [];
      kernel.monitor(r.pid, (reason) => exits.push(reason));
      await env.clock.advance(29);
      expect(kernel.isAlive(r.pid)).toBe(true);
      await env.clock.advance(1);
      expect(kernel.isAlive(r.pid)).toBe(false);
      expect(String(exits[0])).toContain('w crashed (simulated)');
      expect(env.clock.pending()).toBe(0);
    }
  });

  it('stopped while booting: ends at once, its start delay disarmed', async () => {
    const env = createTestEnv();
    const kernel = createKernel(env);
    const started = kernel.spawn(simChildMachine, { input: input(env, { startMs: 50, stopMs: 5 }), name: 'w', startTimeoutMs: Infinity });
    await env.clock.advance(10);
    const pid = kernel.whereis('w')!;
    expect(kernel.processInfo(pid)?.state).toBe('booting');
    kernel.exit(pid, 'shutdown');
    await env.clock.advance(0);
    expect((await started).status).toBe('error'); // ended before it was ready: a failed start
    expect(kernel.isAlive(pid)).toBe(false);
    expect(env.clock.pending()).toBe(0);
  });
});

/**
 * A KV adapter whose opens and closes settle when the test says (each open a fresh handle),
 * logging `open`, `opened`, `close` and `closed` so the test sees who owns which handle.
 */
function manualKv(): { kv: KvAdapter; log: string[]; settleOpen: () => void; failOpen: (e: unknown) => void; settleClose: () => void } {
  const log: string[] = [];
  let open: { resolve: (db: KvDb) => void; reject: (e: unknown) => void } | undefined;
  let close: (() => void) | undefined;
  let n = 0;
  const kv: KvAdapter = {
    open: (dir) =>
      new Promise<KvDb>((resolve, reject) => {
        log.push(`open ${dir}`);
        open = { resolve, reject };
      }),
    exists: async () => true,
  };
  return {
    kv,
    log,
    settleOpen: () => {
      const id = ++n;
      log.push(`opened ${id}`);
      open!.resolve({ dir: '/d', close: () => new Promise<void>((r) => (log.push(`close ${id}`), (close = () => (log.push(`closed ${id}`), r())))) } as unknown as KvDb);
    },
    failOpen: (e) => open!.reject(e),
    settleClose: () => close!(),
  };
}

describe('the library child (simChildMachine) with a database', () => {
  const dbInput = (env: ReturnType<typeof createTestEnv>, startMs: number, stopMs: number): SimChildInput => ({ ...input(env, { startMs, stopMs }), kvDir: '/d' });

  it('opens after startMs, is ready once open, and a stop waits stopMs, then closes its handle before it ends', async () => {
    for (const [startMs, stopMs] of [[0, 0], [5, 0], [0, 4], [6, 3]] as const) {
      const m = manualKv();
      const env = createTestEnv({ io: { kv: m.kv } });
      const kernel = createKernel(env);
      const started = kernel.spawn(simChildMachine, { input: dbInput(env, startMs, stopMs), name: 'w', startTimeoutMs: Infinity });
      await env.clock.advance(0);
      if (startMs > 0) {
        expect(m.log).toEqual([]);
        await env.clock.advance(startMs);
      }
      expect(m.log).toEqual(['open /d']);
      const pid = kernel.whereis('w')!;
      expect(kernel.processInfo(pid)?.state).toBe('opening');
      m.settleOpen();
      const r = await started;
      expect(r.status).toBe('ok');
      expect(kernel.processInfo(pid)?.state).toBe('quiet');
      let ended = false;
      void stopProcess(kernel, pid).then(() => (ended = true));
      await env.clock.advance(0);
      if (stopMs > 0) {
        await env.clock.advance(stopMs - 1);
        expect(m.log).toEqual(['open /d', 'opened 1']);
        await env.clock.advance(1);
      }
      expect(m.log).toEqual(['open /d', 'opened 1', 'close 1']);
      expect(ended).toBe(false); // not down before its handle is closed
      m.settleClose();
      await env.clock.advance(0);
      expect(ended).toBe(true);
      expect(m.log).toEqual(['open /d', 'opened 1', 'close 1', 'closed 1']);
      expect(env.clock.pending()).toBe(0);
    }
  });

  it('stopped while its open is in flight: ends at once, and the handle the open brings later is closed', async () => {
    const m = manualKv();
    const env = createTestEnv({ io: { kv: m.kv } });
    const kernel = createKernel(env);
    const started = kernel.spawn(simChildMachine, { input: dbInput(env, 0, 5), name: 'w', startTimeoutMs: Infinity });
    await env.clock.advance(0);
    const pid = kernel.whereis('w')!;
    expect(kernel.processInfo(pid)?.state).toBe('opening');
    kernel.exit(pid, 'shutdown');
    await env.clock.advance(0);
    expect((await started).status).toBe('error');
    expect(kernel.isAlive(pid)).toBe(false);
    m.settleOpen();
    await env.clock.advance(0);
    expect(m.log).toEqual(['open /d', 'opened 1', 'close 1']);
    expect(env.clock.pending()).toBe(0);
  });

  it('an open that fails is a failed start naming the error', async () => {
    const m = manualKv();
    const env = createTestEnv({ io: { kv: m.kv } });
    const kernel = createKernel(env);
    const started = kernel.spawn(simChildMachine, { input: dbInput(env, 0, 0), name: 'w', startTimeoutMs: Infinity });
    await env.clock.advance(0);
    m.failOpen(new Error('EIO at open'));
    await env.clock.advance(0);
    const r = await started;
    expect(r.status).toBe('error');
    expect(JSON.stringify(r, (_k, v: unknown) => (v instanceof Error ? v.message : v))).toContain('EIO at open');
    expect(env.clock.pending()).toBe(0);
  });
});

/**
 * A KV adapter whose one database takes writes that settle when the test says, logging each
 * write's key and sync flag: the library child's write ticks (controls for the write as an
 * action reporting back, not an invoked promise actor per tick).
 */
function writeKv(): { kv: KvAdapter; log: string[]; abandoned: unknown[]; settleWrite: () => void; failWrite: (e: unknown) => void } {
  const log: string[] = [];
  const pending: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  const db = {
    dir: '/d',
    write: (ops: Array<{ key: Buffer }>, o: { sync?: boolean }) =>
      new Promise<void>((resolve, reject) => {
        log.push(`write ${ops.map((x) => x.key.toString()).join(',')}${o.sync ? ' sync' : ''}`);
        pending.push({ resolve, reject });
      }),
    close: async () => void log.push('close'),
  } as unknown as KvDb;
  return {
    kv: { open: async () => db, exists: async () => true },
    log,
    abandoned: [],
    settleWrite: () => pending.shift()!.resolve(),
    failWrite: (e) => pending.shift()!.reject(e),
  };
}

describe('the library child (simChildMachine) writing', () => {
  const start = async (m: ReturnType<typeof writeKv>, stopMs = 0) => {
    const env = createTestEnv({ io: { kv: m.kv } });
    const kernel = createKernel(env);
    const i: SimChildInput = { ...input(env, { startMs: 0, stopMs }), kvDir: '/d', writeEveryMs: 10, abandon: (db) => void m.abandoned.push(db) };
    const started = kernel.spawn(simChildMachine, { input: i, name: 'w', startTimeoutMs: Infinity });
    await env.clock.advance(0);
    const r = await started;
    expect(r.status).toBe('ok');
    return { env, kernel, pid: kernel.whereis('w')! };
  };

  it('writes one synced key per tick, numbered from 0; a tick while a write is in flight is skipped', async () => {
    const m = writeKv();
    const { env, kernel, pid } = await start(m);
    await env.clock.advance(9);
    expect(m.log).toEqual([]);
    await env.clock.advance(1);
    expect(m.log).toEqual(['write w:0 sync']);
    expect(kernel.processInfo(pid)?.state).toEqual({ running: { timed: 'writing' } });
    await env.clock.advance(10); // the tick at 20 finds the first write in flight
    expect(m.log).toEqual(['write w:0 sync']);
    m.settleWrite();
    await env.clock.advance(0);
    expect(kernel.processInfo(pid)?.state).toEqual({ running: { timed: 'idle' } });
    await env.clock.advance(10);
    expect(m.log).toEqual(['write w:0 sync', 'write w:1 sync']);
  });

  it('a write that fails crashes the child and abandons its database', async () => {
    const m = writeKv();
    const { env, kernel, pid } = await start(m);
    const exits: unknown[] = [];
    kernel.monitor(pid, (reason) => exits.push(reason));
    await env.clock.advance(10);
    m.failWrite(new Error('ENOSPC'));
    await env.clock.advance(0);
    expect(kernel.isAlive(pid)).toBe(false);
    expect(String(exits[0])).toContain('w crashed (simulated)');
    expect(m.abandoned).toHaveLength(1);
    expect(env.clock.pending()).toBe(0);
  });

  it('stopped while a write is in flight: stops in stopMs and closes; the write settling later is dropped', async () => {
    for (const settle of ['resolve', 'reject'] as const) {
      const m = writeKv();
      const { env, kernel, pid } = await start(m, 3);
      await env.clock.advance(10);
      let ended = false;
      void stopProcess(kernel, pid).then(() => (ended = true));
      await env.clock.advance(3);
      expect(ended).toBe(true);
      expect(m.log).toEqual(['write w:0 sync', 'close']);
      if (settle === 'resolve') m.settleWrite();
      else m.failWrite(new Error('EIO'));
      await env.clock.advance(0);
      expect(m.abandoned).toHaveLength(0);
      expect(env.clock.pending()).toBe(0);
    }
  });
});
