// The reference tree clustered over one real nats-server (`ordo start --nats`), as the README's
// three-node recipe runs it: two node processes here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ordoSource } from '../support/ordoCli.ts'; // the CLI from the source: tests never need a build
import { spawn, type ChildProcess } from 'node:child_process';
import { NatsServer, cleanup, freePort, waitFor, HARNESS_WAIT_MS } from '../harness/nats.ts';


function node(url: string, dataDir: string, name: string, port: number): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [...ordoSource, 'start', '--nats', url, '--data', dataDir, '--node', name, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', () => undefined);
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
  return { child, out: () => out, exit };
}

async function tree(port: number): Promise<{ status: string; children: { id: string; state: unknown }[] } | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/tree`);
    return (await r.json()) as never;
  } catch {
    return undefined;
  }
}

describe('the reference tree clustered over NATS (ordo start --nats)', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(() => cleanup(ns));

  it('two nodes join one nats-server, both become ready, exactly one leads, both stop in reverse order with exit code 0', async () => {
    const ports = [await freePort(), await freePort()];
    const a = node(ns.url, mkdtempSync(join(tmpdir(), 'ordo-a-')), 'node-a', ports[0]!);
    const b = node(ns.url, mkdtempSync(join(tmpdir(), 'ordo-b-')), 'node-b', ports[1]!);
    try {
      await waitFor(async () => ((await tree(ports[0]!))?.status === 'ready' && (await tree(ports[1]!))?.status === 'ready' ? true : undefined), 'both nodes ready', 40_000, 100);
      const leaderState = async (port: number) => JSON.stringify((await tree(port))!.children.find((c) => c.id === 'leader')!.state);
      await waitFor(async () => ([await leaderState(ports[0]!), await leaderState(ports[1]!)].filter((s) => s.includes('leader')).length === 1 ? true : undefined), 'exactly one leader', HARNESS_WAIT_MS, 100);
      a.child.kill('SIGINT');
      expect(await a.exit).toBe(0);
      b.child.kill('SIGTERM');
      expect(await b.exit).toBe(0);
      for (const n of [a, b]) expect([...n.out().matchAll(/^ {2}stopped (\S+) /gm)].map((m) => m[1])).toEqual(['health', 'jobs', 'bux', 'replication', 'store', 'leader', 'cluster']);
    } finally {
      for (const n of [a, b]) if (n.child.exitCode === null) n.child.kill('SIGKILL');
    }
  });
});
