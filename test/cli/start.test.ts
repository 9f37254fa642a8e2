import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestEnv } from '../../src/env/index.ts';
import { runStart } from '../../src/cli/runStart.ts';
import { formatState, renderTree } from '../../src/cli/renderTree.ts';
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
    expect(env.io.process.exits).toEqual([]); // the CLI exits with the code, after the status file is written
    expect(env.records.filter((r) => r['report'] === 'application_exited')).toEqual([expect.objectContaining({ application: 'demo', code: 0, reason: 'shutdown' })]);
    // the status file has the final state, and no temp file is left
    expect(JSON.parse(readFileSync(join(dataDir, 'ordo-tree.json'), 'utf8')).health.status).toBe('stopped');
    expect(readdirSync(dataDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a start failure is shown and gives exit code 1', async () => {
    const env = createTestEnv();
    const dataDir = mkdtempSync(join(tmpdir(), 'ordo-start-'));
    const out: string[] = [];
    const err: string[] = [];
    const bad: SupervisorSpec = { children: [{ id: 'broken', start: { machine: failsToStart } }] };
    // in a terminal too: the failure is told once, on stderr
    const { code } = await drive(env, runStart({ env, name: 'demo', tree: bad, dataDir, out: { write: (s) => out.push(s), isTTY: true }, err: { write: (s) => err.push(s) } }));
    expect(code).toBe(1);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^ordo: start failed: .*child 'broken'/);
    expect(out.join('')).not.toMatch(/start failed/);
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
    }, { dates: false });
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

});
