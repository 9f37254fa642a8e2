import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestEnv } from '../../src/env/index.ts';
import { runStart, restartedAndWhole } from '../../src/cli/start.ts';
import { renderTree } from '../../src/cli/renderTree.ts';
import { demoTree } from '../../examples/demo/tree.ts';

/**
 * Drives the virtual clock until `p` settles or `maxMs` of virtual time has passed; what is
 * left after that is real disk I/O (the fsync'd status file), which `p` itself awaits.
 */
async function drive<T>(env: ReturnType<typeof createTestEnv>, p: Promise<T>, maxMs = 60_000): Promise<T> {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  for (let t = 0; t < maxMs && !done; t += 50) await env.clock.advance(50);
  return p;
}

/** Resolves once `cond` holds, polled on every microtask flush (used together with `drive`). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise<void>((r) => setImmediate(r));
}

describe('ordo start (the npm start demo)', () => {
  it('boots the demo tree, survives the injected crash, and stops cleanly with exit code 0', async () => {
    const env = createTestEnv();
    const dataDir = mkdtempSync(join(tmpdir(), 'ordo-start-'));
    const chunks: string[] = [];
    const { code, app } = await drive(env, runStart({ env, name: 'demo', tree: demoTree({ dataDir, crashAtTick: 3 }), dataDir, out: { write: (s) => chunks.push(s) }, once: true }));
    expect(code).toBe(0);
    const output = chunks.join('');
    expect(output).toContain('ticker');
    expect(output).toMatch(/restarts 1 .*injected crash/);
    // the crash was handled by the supervisor: reported, and the ticker restarted after its backoff
    const reports = env.records.filter((r) => r['report'] === 'child_terminated');
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ supervisor: 'jobs', child: 'ticker', reason: { message: 'injected crash: ticker hit a bad job' } });
    expect(app.health().status).toBe('stopped');
    // every child was stopped, in reverse start order: http, jobs, cache, store, config
    const status = JSON.parse(readFileSync(join(dataDir, 'ordo-tree.json'), 'utf8')) as { health: { status: string } };
    expect(status.health.status).toBe('stopped');
    expect(env.io.process.exits).toEqual([]);
  });

  it('stops in order on SIGINT with exit code 0', async () => {
    const env = createTestEnv();
    const dataDir = mkdtempSync(join(tmpdir(), 'ordo-start-'));
    const started = runStart({ env, name: 'demo', tree: demoTree({ dataDir, crashAtTick: 1000 }), dataDir, out: { write: () => undefined } });
    // runStart creates the data dir (real I/O) before it starts the application: signal only once it runs
    await drive(env, until(() => env.records.some((r) => r['report'] === 'application_started')));
    await env.clock.advance(1000);
    env.io.process.raise('SIGINT');
    const { code } = await drive(env, started);
    expect(code).toBe(0);
    expect(env.io.process.exits).toEqual([0]);
    const stopped = env.records.filter((r) => r['report'] === 'application_exited');
    expect(stopped).toEqual([expect.objectContaining({ application: 'demo', code: 0, reason: 'shutdown' })]);
  });

  it('renders each child with id, pid, state, restarts and last exit', () => {
    const text = renderTree({
      app: 'a',
      status: 'running',
      pid: '<o.1>',
      children: [
        { id: 'db', pid: '<o.2>', type: 'worker', state: 'ready', restarts: 0, lastExit: undefined },
        { id: 'jobs', pid: '<o.3>', type: 'supervisor', state: 'running', restarts: 0, lastExit: undefined, children: [{ id: 't', pid: 'restarting', type: 'worker', state: undefined, restarts: 2, lastExit: { message: 'boom' } }] },
      ],
    });
    expect(text.split('\n')).toEqual([
      'a (running) <o.1>',
      '├─ db    <o.2>      ready',
      '└─ jobs  <o.3>      supervisor',
      '   └─ t  restarting restarting  restarts 2  last exit: boom',
    ]);
  });

  it('restartedAndWhole is false until a restart happened and every child runs', () => {
    const base = { app: 'a', status: 'running' as const, pid: '<o.1>' };
    expect(restartedAndWhole({ ...base, children: [{ id: 'x', pid: '<o.2>', type: 'worker', state: 'up', restarts: 0, lastExit: undefined }] })).toBe(false);
    expect(restartedAndWhole({ ...base, children: [{ id: 'x', pid: 'restarting', type: 'worker', state: 'up', restarts: 1, lastExit: 'died' }] })).toBe(false);
    expect(restartedAndWhole({ ...base, children: [{ id: 'x', pid: '<o.3>', type: 'worker', state: 'up', restarts: 1, lastExit: 'died' }] })).toBe(true);
  });
});
