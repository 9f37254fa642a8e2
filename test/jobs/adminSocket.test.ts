/**
 * `ordo jobs` on the embedded default (one node, no NATS), end to end: a real `ordo start`
 * process (the CLI from the source) serves the job runner's admin socket `<data>/ordo-jobs.sock`;
 * `ordo jobs list | cancel | pause | retry | resume` change its jobs — as separate CLI processes
 * (exit codes, stdout/stderr) and in-process. After a `kill -9` the stale socket file is
 * replaced by the next boot; with no node running the CLI says so on stderr, exit 1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { ordoArgs } from '../support/ordoCli.ts';
import { waitFor, HARNESS_WAIT_MS } from '../harness/nats.ts';
import { main } from '../../src/cli/main.ts';
import type { Job } from '../../src/jobs/index.ts';

const TREE = join(import.meta.dirname, 'fixtures', 'adminTree.ts');
let node: ChildProcess | undefined;
let dir: string | undefined;

afterEach(async () => {
  if (node && node.exitCode === null && node.signalCode === null) {
    const gone = new Promise((r) => node!.once('exit', r));
    node.kill('SIGKILL');
    await gone;
  }
  node = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** `ordo <args>` as a separate process: exit code, stdout, stderr. */
function ordo(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ordoArgs(args), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ORDO_NATS_URL: '' } });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    p.once('error', reject);
    p.once('exit', (code) => resolve({ code, out, err }));
  });
}

function startNode(dataDir: string): ChildProcess {
  const p = spawn(process.execPath, ordoArgs(['start', '--tree', TREE, '--data', dataDir, '--port', '0', '--json']), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ORDO_NATS_URL: '' } });
  p.stdout!.resume();
  p.stderr!.resume();
  return p;
}

/** `ordo jobs … --json` in this process: the answer. */
async function jobs(dataDir: string, ...args: string[]): Promise<{ code: number; res: { ok: boolean; jobs?: Job[]; error?: string; was?: string } | undefined }> {
  let out = '';
  const io = { out: (t: string) => void (out += t), err: () => undefined, isTTY: false, vars: {} };
  const code = await main(['jobs', ...args, '--data', dataDir, '--json'], {}, io);
  return { code, res: out ? JSON.parse(out) : undefined };
}

const ids = (js: readonly Job[] | undefined): string[] => (js ?? []).map((j) => j.id).sort();

describe('ordo jobs over the admin socket (one node, no NATS)', () => {
  it('lists, cancels, pauses, retries and resumes on a running node; errors on stderr with exit codes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ordo-jadm-'));
    const dataDir = join(dir, 'd');
    const help = await ordo(['jobs', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/ordo-jobs\.sock/);
    expect(help.err).toBe('');
    const none = await ordo(['jobs', 'list', '--data', dataDir]);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/no running node answers on .*ordo-jobs\.sock/);
    expect(none.out).toBe('');
    const usage = await ordo(['jobs', 'frobnicate', '--data', dataDir]);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/unknown subcommand 'frobnicate'/);

    node = startNode(dataDir);
    // ready once the three jobs are stored: one executing (the queue's limit is 1), two available
    await waitFor(async () => {
      const r = await jobs(dataDir, 'list', '--state', 'executing').catch(() => undefined);
      return r?.code === 0 && r.res?.jobs?.length === 1 ? true : undefined;
    }, 'the node serves its admin socket with a job executing', 60_000, 250);
    const running = (await jobs(dataDir, 'list', '--state', 'executing')).res!.jobs![0]!.id;
    expect(ids((await jobs(dataDir, 'list', '--state', 'available')).res!.jobs)).toEqual(['job-a', 'job-b', 'job-c'].filter((i) => i !== running));

    expect((await jobs(dataDir, 'pause', 'default')).code).toBe(0);
    const cancel = await ordo(['jobs', 'cancel', running, '--data', dataDir]);
    expect(cancel.code).toBe(0);
    expect(cancel.out).toMatch(new RegExp(`cancel ${running}: ok \\(was executing\\)`));
    // paused: the freed slot takes nothing
    await waitFor(async () => ((await jobs(dataDir, 'list', '--state', 'cancelled')).res?.jobs?.length === 1 ? true : undefined), 'cancelled', HARNESS_WAIT_MS, 100);
    expect((await jobs(dataDir, 'list', '--state', 'executing')).res!.jobs).toEqual([]);
    const again = await ordo(['jobs', 'cancel', running, '--data', dataDir]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/ordo jobs cancel: final/);
    const missing = await ordo(['jobs', 'retry', 'no-such-job', '--data', dataDir]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/ordo jobs retry: not_found/);
    expect(missing.out).toBe('');

    expect((await jobs(dataDir, 'retry', running)).code).toBe(0);
    expect(ids((await jobs(dataDir, 'list', '--state', 'available')).res!.jobs)).toEqual(['job-a', 'job-b', 'job-c']);
    const list = await ordo(['jobs', 'list', '--data', dataDir]);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/job-a +available +default\/hold/);
    expect((await jobs(dataDir, 'resume', 'default')).code).toBe(0);
    await waitFor(async () => ((await jobs(dataDir, 'list', '--state', 'executing')).res?.jobs?.length === 1 ? true : undefined), 'a job runs again after resume', HARNESS_WAIT_MS, 100);
    expect((await jobs(dataDir, 'pause', 'no-such-queue')).res).toMatchObject({ ok: false, error: 'ORDO_JOBS_CONFIG' });

    // kill -9: the socket file stays behind; the next boot replaces it and answers
    const killed = new Promise((r) => node!.once('exit', r));
    node.kill('SIGKILL');
    await killed;
    expect(existsSync(join(dataDir, 'ordo-jobs.sock'))).toBe(true);
    const stale = await ordo(['jobs', 'list', '--data', dataDir]);
    expect(stale.code).toBe(1);
    expect(stale.err).toMatch(/left by a node that is not running/);
    node = startNode(dataDir);
    const after = await waitFor(async () => {
      const r = await jobs(dataDir, 'list').catch(() => undefined);
      return r?.code === 0 ? r : undefined;
    }, 'the restarted node answers on the replaced socket', 60_000, 250);
    expect(ids(after.res!.jobs)).toEqual(['job-a', 'job-b', 'job-c']);
    // an orderly stop: exit 0
    const stopped = new Promise<number | null>((r) => node!.once('exit', (c) => r(c)));
    node.kill('SIGTERM');
    expect(await stopped).toBe(0);
  }, 180_000);
});
