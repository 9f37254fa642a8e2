import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { CliIo } from '../../src/cli/io.ts';
import type { Scenario } from '../../src/chaos/scenario.ts';

function capture(): CliIo & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', isTTY: false, vars: {}, out: (s: string) => void (io.stdout += s), err: (s: string) => void (io.stderr += s) };
  return io;
}

describe('ordo chaos', () => {
  it('--help prints the usage (exit 0); no subcommand is a usage error (2); an unknown one names itself', async () => {
    const io = capture();
    expect(await main(['chaos', '--help'], {}, io)).toBe(0);
    expect(io.stdout).toContain('ordo chaos <run|sweep|replay|shrink|list>');
    const bad = capture();
    expect(await main(['chaos', 'fly', 'x'], {}, bad)).toBe(2);
    expect(bad.stderr).toContain("unknown subcommand 'fly'");
    const none = capture();
    expect(await main(['chaos', 'run', 'no-such-scenario'], {}, none)).toBe(2);
    expect(none.stderr).toContain("no scenario 'no-such-scenario'");
  });

  it('run: a shipped scenario passes (exit 0) with its report, timeline and artifacts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ordo-chaos-cli-'));
    try {
      const io = capture();
      expect(await main(['chaos', 'run', 'one-for-all-workers', '--seed', '4', '--out', dir], {}, io)).toBe(0);
      expect(io.stdout).toContain('seed         4');
      expect(io.stdout).toContain('(second run: same)');
      expect(io.stdout).toContain('replay       ordo chaos replay one-for-all-workers --seed 4');
      expect(readFileSync(join(dir, 'timeline.svg'), 'utf8')).toMatch(/^<svg/);
      expect(readFileSync(join(dir, 'trace.jsonl'), 'utf8').split('\n')[0]).toMatch(/^\{"t":0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a data scenario from a .json file whose invariant fails: run exits 1; shrink minimises it; replay of the minimised line reproduces it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ordo-chaos-cli-'));
    try {
      const scenario: Scenario = {
        name: 'never-restarts',
        tree: { strategy: 'one_for_one', maxRestarts: 10, periodMs: 1000, children: [{ id: 'a', startMs: 1 }, { id: 'b', startMs: 1 }] },
        horizonMs: 5000,
        faults: { random: { crashes: { children: ['a', 'b'], meanIntervalMs: 400 } } },
        // 'gaveUp' as an always-invariant: fails in every run that restarts nothing too much — here: always.
        invariants: [{ kind: 'always', oracle: 'gaveUp' }],
      };
      const file = join(dir, 'scenario.json');
      writeFileSync(file, JSON.stringify(scenario));
      const run = capture();
      expect(await main(['chaos', 'run', file, '--seed', '3'], {}, run)).toBe(1);
      expect(run.stdout).toContain('violation    gaveUp (always)');
      const sh = capture();
      expect(await main(['chaos', 'shrink', file, '--seed', '3'], {}, sh)).toBe(1);
      expect(sh.stderr).toMatch(/shrunk \d+ fault\(s\) to 0/);
      const line = /replay {7}(ordo chaos replay .*)/.exec(sh.stdout)![1]!;
      const args = line.replace(/^ordo /, '').match(/'[^']*'|\S+/g)!.map((a) => a.replace(/^'|'$/g, ''));
      const again = capture();
      expect(await main(args, {}, again)).toBe(1);
      expect(again.stdout).toContain('faults       none');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sweep: seeds with a progress bar on stderr and a summary (exit 0)', async () => {
    const io = capture();
    expect(await main(['chaos', 'sweep', 'nested-tree', '--seeds', '6', '--workers', '1'], {}, io)).toBe(0);
    expect(io.stdout).toMatch(/nested-tree: 6 seeds, 0 failed/);
    expect(io.stdout).toContain('sometimes restarted: 6/6 runs');
    expect(io.stderr).toContain('6/6 seeds, 0 failed');
  });

  it('--strategy: the run uses it, its replay line carries it, and that line replays the same run (same trace hash); a bad one is a usage error', async () => {
    const run = capture();
    expect(await main(['chaos', 'run', 'cluster-3-nodes', '--seed', '2', '--strategy', 'pct:4', '--json'], {}, run)).toBe(0);
    const report = JSON.parse(run.stdout) as { replay: string; traceHash: string; decisionStrategy: string };
    expect(report.decisionStrategy).toBe('pct');
    expect(report.replay).toBe('ordo chaos replay cluster-3-nodes --seed 2 --strategy pct:4');
    const again = capture();
    expect(await main([...report.replay.replace(/^ordo /, '').split(' '), '--json'], {}, again)).toBe(0);
    expect((JSON.parse(again.stdout) as { traceHash: string }).traceHash).toBe(report.traceHash);
    const other = capture();
    expect(await main(['chaos', 'run', 'cluster-3-nodes', '--seed', '2', '--json'], {}, other)).toBe(0);
    expect((JSON.parse(other.stdout) as { traceHash: string }).traceHash).not.toBe(report.traceHash);
    const bad = capture();
    expect(await main(['chaos', 'run', 'cluster-3-nodes', '--strategy', 'lifo'], {}, bad)).toBe(2);
    expect(bad.stderr).toContain("option '--strategy' must be fifo, random, pct, pct:DEPTH or pct:DEPTH:STEPS, got 'lifo'");
  }, 60_000);
});
