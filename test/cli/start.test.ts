import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestEnv } from '../../src/env/index.ts';
import { runStart, restartedAndWhole } from '../../src/cli/start.ts';
import { formatState, renderTree } from '../../src/cli/renderTree.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { SupervisorSpec } from '../../src/index.ts';
import { failsToStart, slowStarter, worker } from '../support/machines.ts';

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

const bin = join(import.meta.dirname, '..', '..', 'bin', 'ordo.js');

/** Runs `ordo start` as a user does (real clock, real RocksDB, real files), in a child process. */
function ordo(args: string[], onStdout?: (text: string, child: ChildProcess) => void): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout }));
  });
}

describe('npm start (ordo start on the demo tree, end to end)', () => {
  it('boots on the embedded default, survives the injected crash, stops cleanly with exit code 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ordo-start-'));
    const { code, stdout } = await ordo(['start', '--once', '--data', dataDir]);
    expect(code).toBe(0);
    // the crash is a structured report, handled by the jobs supervisor, and the ticker is back
    const records = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.filter((r) => r['report'] === 'child_terminated')).toEqual([
      expect.objectContaining({ supervisor: 'jobs', child: 'ticker', reason: expect.objectContaining({ message: 'injected crash: ticker hit a bad job' }) }),
    ]);
    expect(stdout).toMatch(/ticker +<ordo\.\d+> +\S+ +restarts 1 +last exit: injected crash/);
    expect(records.filter((r) => r['report'] === 'application_exited')).toEqual([expect.objectContaining({ code: 0, reason: 'shutdown' })]);
    // one node, data under the data dir: the store and the persisted node name are there
    expect(existsSync(join(dataDir, 'store'))).toBe(true);
    const status = JSON.parse(readFileSync(join(dataDir, 'ordo-tree.json'), 'utf8')) as { health: { status: string } };
    expect(status.health.status).toBe('stopped');
  });

  it('stops in order on SIGINT with exit code 0, and the store keeps what the jobs wrote', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ordo-start-'));
    let signalled = false;
    const { code, stdout } = await ordo(['start', '--data', dataDir], (text, child) => {
      // once the ticker has run a job after its restart, interrupt
      if (!signalled && /restarts 1/.test(text)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    expect(signalled).toBe(true);
    expect(code).toBe(0);
    expect(stdout).toContain('demo (stopped)');
    const { code: infoCode, stdout: info } = await ordo(['store', 'info', '--dir', join(dataDir, 'store')]);
    expect(infoCode).toBe(0);
    expect(info).toMatch(/user_bux_points/);
  });
});

describe('runStart on the virtual clock', () => {
  const tree = (): SupervisorSpec => ({
    strategy: 'rest_for_one',
    maxRestarts: 3,
    periodMs: 5000,
    children: [
      { id: 'a', start: { machine: slowStarter, input: { delayMs: 100 } } },
      { id: 'b', start: { machine: worker } },
    ],
  });

  it('stops in order on SIGINT with exit code 0', async () => {
    const env = createTestEnv();
    const dataDir = mkdtempSync(join(tmpdir(), 'ordo-start-'));
    const started = runStart({ env, name: 'demo', tree: tree(), dataDir, out: { write: () => undefined } });
    // runStart creates the data dir (real I/O) before it starts the application: signal only once it runs
    await drive(env, until(() => env.records.some((r) => r['report'] === 'application_started')));
    env.io.process.raise('SIGINT');
    const { code } = await drive(env, started);
    expect(code).toBe(0);
    expect(env.io.process.exits).toEqual([0]);
    expect(env.records.filter((r) => r['report'] === 'application_exited')).toEqual([expect.objectContaining({ application: 'demo', code: 0, reason: 'shutdown' })]);
  });

  it('a start failure is shown and gives exit code 1', async () => {
    const env = createTestEnv();
    const dataDir = mkdtempSync(join(tmpdir(), 'ordo-start-'));
    const out: string[] = [];
    const bad: SupervisorSpec = { children: [{ id: 'broken', start: { machine: failsToStart } }] };
    const { code } = await drive(env, runStart({ env, name: 'demo', tree: bad, dataDir, out: { write: (s) => out.push(s) } }));
    expect(code).toBe(1);
    expect(out.join('')).toMatch(/start failed: .*child 'broken'/);
  });

  it('renders each child with id, pid, state, restarts and last exit', () => {
    const text = renderTree({
      app: 'a',
      status: 'ready',
      pid: '<o.1>',
      at: 0,
      children: [
        { id: 'db', pid: '<o.2>', type: 'worker', state: 'ready', restarts: 0, lastExit: undefined, phase: 'running', attempts: 0, lastError: undefined, since: 0 },
        { id: 'jobs', pid: '<o.3>', type: 'supervisor', state: 'running', restarts: 0, lastExit: undefined, phase: 'running', attempts: 0, lastError: undefined, since: 0, children: [{ id: 't', pid: 'restarting', type: 'worker', state: undefined, restarts: 2, lastExit: { message: 'boom' }, phase: 'restarting', attempts: 0, lastError: undefined, since: 0 }] },
      ],
    });
    expect(text.split('\n')).toEqual([
      'a (ready) <o.1>',
      '├─ db    <o.2>      ready',
      '└─ jobs  <o.3>      supervisor',
      '   └─ t  restarting restarting  restarts 2  last exit: boom',
    ]);
  });

  it('formats nested and parallel state values as paths', () => {
    expect(formatState('idle')).toBe('idle');
    expect(formatState({ running: 'healthy' })).toBe('running.healthy');
    expect(formatState({ a: { b: 'c' } })).toBe('a.b.c');
    expect(formatState({ x: 'one', y: 'two' })).toBe('(x.one, y.two)');
  });

  it('restartedAndWhole is false until a restart happened and every child runs', () => {
    const base = { app: 'a', status: 'ready' as const, pid: '<o.1>', at: 0 };
    expect(restartedAndWhole({ ...base, children: [{ id: 'x', pid: '<o.2>', type: 'worker', state: 'up', restarts: 0, lastExit: undefined, phase: 'running', attempts: 0, lastError: undefined, since: 0 }] })).toBe(false);
    expect(restartedAndWhole({ ...base, children: [{ id: 'x', pid: 'restarting', type: 'worker', state: 'up', restarts: 1, lastExit: 'died', phase: 'running', attempts: 0, lastError: undefined, since: 0 }] })).toBe(false);
    expect(restartedAndWhole({ ...base, children: [{ id: 'x', pid: '<o.3>', type: 'worker', state: 'up', restarts: 1, lastExit: 'died', phase: 'running', attempts: 0, lastError: undefined, since: 0 }] })).toBe(true);
  });
});
