// `npm start` (ordo start on the reference tree) as a user runs it: a child process, real clock,
// RocksDB, node:http. And the CLI as Unix users expect it (in-process, output captured).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ordoSource } from '../support/ordoCli.ts'; // the CLI from the source: tests never need a build
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, waitFor } from '../harness/nats.ts';
import { main } from '../../src/cli/main.ts';
import type { CliIo } from '../../src/cli/io.ts';


function ordo(args: string[], vars: Record<string, string>): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [...ordoSource, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...vars } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
  return { child, out: () => out, err: () => err, exit };
}

async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const r = await fetch(url);
    return { status: r.status, body: await r.text() };
  } catch {
    return undefined;
  }
}

const ORDER = ['health', 'jobs', 'bux', 'replication', 'store', 'leader', 'cluster'];

describe('npm start: the reference tree on the embedded default', () => {
  it('reaches ready, /health/ready answers 200, ordo health reads it; SIGTERM stops every child in reverse order, exit 0, final status in the file', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ordo-boot-'));
    const port = await freePort();
    const p = ordo(['start'], { ORDO_DATA_DIR: dataDir, ORDO_HTTP_PORT: String(port) });
    try {
      const ready = await waitFor(async () => ((await get(`http://127.0.0.1:${port}/health/ready`))?.status === 200 ? true : undefined), '/health/ready 200', 30_000, 50);
      expect(ready).toBe(true);
      const metrics = (await get(`http://127.0.0.1:${port}/metrics`))!;
      expect(metrics.body).toContain('ordo_application_status{app="ordo",status="ready"} 1');
      expect(metrics.body).toContain('ordo_cache_hit_ratio{cache="bux"}');
      // ordo health, as another process would
      const h = ordo(['health', '--port', String(port)], {});
      expect(await h.exit).toBe(0);
      expect(h.out()).toMatch(/^ordo \(ready\)/);
      expect(h.out()).toMatch(/└─ health +<ordo\.\d+> +serving/);
      p.child.kill('SIGTERM');
      expect(await p.exit).toBe(0);
      const stops = [...p.out().matchAll(/^ {2}stopped (\S+) <ordo\.\d+>$/gm)].map((m) => m[1]);
      expect(stops).toEqual(ORDER);
      expect(p.err()).toBe('');
      expect(JSON.parse(readFileSync(join(dataDir, 'ordo-tree.json'), 'utf8')).health.status).toBe('stopped');
      expect(readdirSync(dataDir).filter((f) => f.includes('.tmp-'))).toEqual([]);
      // after the stop, ordo tree shows the final state with dates
      const t = ordo(['tree', '--data', dataDir], {});
      expect(await t.exit).toBe(0);
      expect(t.out()).toMatch(/^ordo \(stopped\)/);
      expect(t.out()).toMatch(/\(as of \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\)/);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });

  it('--json prints only JSON lines, the stop included (one cli_child_stopped record per child, in reverse order)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ordo-boot-'));
    const port = await freePort();
    const p = ordo(['start', '--json', '--data', dataDir, '--port', String(port)], {});
    try {
      await waitFor(async () => ((await get(`http://127.0.0.1:${port}/health/ready`))?.status === 200 ? true : undefined), 'ready', 30_000, 50);
      p.child.kill('SIGINT');
      expect(await p.exit).toBe(0);
      const lines = p.out().split('\n').filter((l) => l !== '');
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>); // throws on any non-JSON line
      expect(records.filter((r) => r['report'] === 'cli_child_stopped').map((r) => r['child'])).toEqual(ORDER);
      expect(records.filter((r) => r['report'] === 'application_exited')).toEqual([expect.objectContaining({ code: 0 })]);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });
});

function capture(vars: Record<string, string> = {}): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (s) => void stdout.push(s), err: (s) => void stderr.push(s), isTTY: true, vars };
}

describe('the ordo command as Unix users expect', () => {
  for (const command of ['start', 'tree', 'health', 'store']) {
    it(`ordo ${command} --help prints its usage and does nothing else (exit 0)`, async () => {
      const io = capture();
      expect(await main([command, '--help'], {}, io)).toBe(0);
      expect(io.stdout.join('')).toMatch(/Usage: ordo|ordo store/);
      expect(io.stderr).toEqual([]);
    });
  }

  it('an unknown flag is refused: told once, on stderr, exit 2, nothing started', async () => {
    const io = capture();
    expect(await main(['start', '--dat', '/tmp/x'], { defaultTree: 'unused' }, io)).toBe(2);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('')).toBe("ordo start: unknown option '--dat'\n(see 'ordo start --help')\n");
  });

  it('a flag missing its value, a bad port and an unknown command are usage errors (exit 2)', async () => {
    for (const argv of [['start', '--data'], ['health', '--port', 'x'], ['frobnicate'], ['store', 'info', '--bogus'], ['store', 'info'], ['tree', 'extra']]) {
      const io = capture();
      expect(await main(argv, {}, io)).toBe(2);
      expect(io.stderr).toHaveLength(1);
      expect(io.stdout).toEqual([]);
    }
  });

  it('ordo tree and ordo health say once, on stderr, that there is nothing to read (exit 1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ordo-none-'));
    const port = await freePort();
    for (const argv of [['tree', '--data', dir], ['health', '--port', String(port)]]) {
      const io = capture();
      expect(await main(argv, {}, io)).toBe(1);
      expect(io.stdout).toEqual([]);
      expect(io.stderr).toHaveLength(1);
    }
  });

  it('a tree module that cannot be loaded is an error, told once', async () => {
    const io = capture();
    expect(await main(['start', '--tree', '/nonexistent/tree.ts'], {}, io)).toBe(1);
    expect(io.stderr.join('')).toMatch(/^ordo start: cannot load the tree module \/nonexistent\/tree\.ts/);
  });
});
