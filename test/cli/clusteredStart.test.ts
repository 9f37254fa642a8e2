import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ordoArgs } from '../support/ordoCli.ts'; // the CLI from the source: tests never need a build
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { NatsServer, cleanup, waitFor } from '../harness/nats.ts';


/** `ordo start --nats URL` as a user runs it (a child process, real clock, RocksDB, NATS); its JSON log lines are collected. */
function node(url: string, dataDir: string): { child: ChildProcess; records: Array<Record<string, unknown>>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ordoArgs(['start', '--nats', url, '--data', dataDir]), { stdio: ['ignore', 'pipe', 'pipe'] });
  const records: Array<Record<string, unknown>> = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) if (l.startsWith('{')) records.push(JSON.parse(l) as Record<string, unknown>);
  });
  child.stderr!.on('data', () => undefined);
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
  return { child, records, exit };
}

describe('the demo tree clustered over NATS (ordo start --nats)', () => {
  let ns: NatsServer;
  beforeAll(async () => {
    ns = await NatsServer.start();
  });
  afterAll(() => cleanup(ns));

  it('two nodes join, one holds the leader lease, both replicate user_bux_points, and both stop in order with exit code 0', async () => {
    const dirs = [mkdtempSync(join(tmpdir(), 'ordo-demo-a-')), mkdtempSync(join(tmpdir(), 'ordo-demo-b-'))] as const;
    const a = node(ns.url, dirs[0]);
    const b = node(ns.url, dirs[1]);
    try {
      const started = (n: typeof a): boolean => n.records.some((r) => r['report'] === 'application_started');
      await waitFor(() => started(a) && started(b), 'both applications started', 30_000);
      const nameOf = (n: typeof a): string => n.records.find((r) => r['report'] === 'discovery' && r['event'] === 'registered')!['node'] as string;
      const [na, nb] = [nameOf(a), nameOf(b)];
      expect(na).not.toBe(nb); // node names are generated and persisted per data dir
      await waitFor(() => a.records.some((r) => r['event'] === 'nodeup' && r['member'] === nb) && b.records.some((r) => r['event'] === 'nodeup' && r['member'] === na), 'each sees the other');
      for (const n of [a, b]) expect(n.records.some((r) => r['report'] === 'replication' && r['event'] === 'started')).toBe(true);
      const lastElection = (n: typeof a): unknown => n.records.filter((r) => r['report'] === 'election' && (r['event'] === 'leader' || r['event'] === 'follower')).at(-1)?.['event'];
      await waitFor(() => [lastElection(a), lastElection(b)].filter((e) => e === 'leader').length === 1, 'exactly one leader');
      // the job tickers on both nodes commit through replication: each node applies the other's
      await waitFor(() => a.records.some((r) => r['report'] === 'child_terminated' && r['child'] === 'ticker') && b.records.some((r) => r['report'] === 'child_terminated' && r['child'] === 'ticker'), 'both tickers crashed once and restarted', 20_000);
      a.child.kill('SIGINT');
      expect(await a.exit).toBe(0);
      b.child.kill('SIGINT');
      expect(await b.exit).toBe(0);
      for (const n of [a, b]) {
        expect(n.records.filter((r) => r['report'] === 'application_exited')).toEqual([expect.objectContaining({ code: 0, reason: 'shutdown' })]);
        expect(n.records.some((r) => r['report'] === 'replication' && r['event'] === 'halted')).toBe(false);
      }
      // b saw a leave (a graceful stop deletes its member entry)
      expect(b.records.some((r) => r['event'] === 'nodedown' && r['member'] === na && r['reason'] === 'left')).toBe(true);
      // b, stopped after a, applied every award a committed: balances only grow, so each of a's
      // rows is in b's store with at least a's balance
      const rows = (dir: string): Map<number, number> => {
        const out = join(dir, 'export.ndjson');
        execFileSync(process.execPath, ordoArgs(['store', 'export', '--dir', join(dir, 'store'), '--out', out, '--table', 'user_bux_points']));
        const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { row?: { user_id: number; bux_balance: number } }).filter((l) => l.row !== undefined);
        return new Map(lines.map((l) => [l.row!.user_id, l.row!.bux_balance]));
      };
      const [ra, rb] = [rows(dirs[0]), rows(dirs[1])];
      expect(ra.size).toBeGreaterThan(0);
      for (const [user, balance] of ra) expect(rb.get(user) ?? -1).toBeGreaterThanOrEqual(balance);
    } finally {
      for (const n of [a, b]) if (n.child.exitCode === null) n.child.kill('SIGKILL');
    }
  });
});
