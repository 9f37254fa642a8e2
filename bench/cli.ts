/**
 * `ordo --help` start time: the compiled CLI (`node bin/ordo.js`, what the package's bin runs)
 * against the TypeScript source through tsx (`node --import tsx src/cli/bin.ts`, what every CLI
 * start cost before the package was compiled). Process start to exit, median of several runs,
 * the two sides alternating; the baseline is a bare `node -e 0` in the same run.
 * Needs a build (`npm run build`; `npm install` runs it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { load1, median, now, type BenchResult } from './lib.ts';

const root = join(import.meta.dirname, '..');
const RUNS = 9;

/** One run: wall time from spawn to exit, and the child's CPU time (user + sys, from bash's `times`). */
function time(args: string[]): { wall: number; cpu: number } {
  const t0 = now();
  const r = spawnSync('bash', ['-c', '"$0" "$@" >/dev/null || exit 1; times', process.execPath, ...args], { cwd: root, encoding: 'utf8' });
  const wall = now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const children = r.stdout.trim().split('\n').at(-1)!.match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
  if (!children) throw new Error(`no times line in ${r.stdout}`);
  const cpu = (Number(children[1]) * 60 + Number(children[2]) + Number(children[3]) * 60 + Number(children[4])) * 1000;
  return { wall, cpu };
}

export async function run(): Promise<BenchResult[]> {
  if (!existsSync(join(root, 'dist', 'cli', 'bin.js'))) throw new Error('no dist/: run npm run build first');
  const sides = {
    compiled: ['bin/ordo.js', '--help'],
    source: ['--import', 'tsx', '--conditions=ordo-source', 'src/cli/bin.ts', '--help'],
    bare: ['-e', '0'],
  };
  type Side = keyof typeof sides;
  const wall: Record<Side, number[]> = { compiled: [], source: [], bare: [] };
  const cpu: Record<Side, number[]> = { compiled: [], source: [], bare: [] };
  for (const k of Object.keys(sides) as Side[]) time(sides[k]); // warm the file cache
  for (let i = 0; i < RUNS; i++) {
    const order: Side[] = i % 2 ? ['source', 'compiled', 'bare'] : ['compiled', 'source', 'bare'];
    for (const k of order) {
      const t = time(sides[k]);
      wall[k].push(t.wall);
      cpu[k].push(t.cpu);
    }
  }
  const m = (xs: number[]): number => median(xs);
  // Wall time is the figure a user sees; on a loaded machine the CPU time (user + sys) is the
  // steadier one, so both are reported. The target is on wall time.
  return [
    { name: 'ordo --help, compiled (node bin/ordo.js), wall', value: m(wall.compiled), unit: 'ms', baseline: { name: 'tsx source', value: m(wall.source) }, ratio: m(wall.compiled) / m(wall.source), target: '< 150 ms', met: m(wall.compiled) < 150, runs: wall.compiled, warmups: 1, loadavg: load1(), command: 'npm run bench -- cli' },
    { name: 'ordo --help, tsx source, wall', value: m(wall.source), unit: 'ms', baseline: { name: 'node -e 0', value: m(wall.bare) }, ratio: m(wall.source) / m(wall.bare), runs: wall.source },
    { name: 'ordo --help, compiled, CPU (user+sys)', value: m(cpu.compiled), unit: 'ms', baseline: { name: 'tsx source', value: m(cpu.source) }, ratio: m(cpu.compiled) / m(cpu.source), runs: cpu.compiled },
    { name: 'ordo --help, tsx source, CPU (user+sys)', value: m(cpu.source), unit: 'ms', baseline: { name: 'node -e 0', value: m(cpu.bare) }, ratio: m(cpu.source) / m(cpu.bare), runs: cpu.source },
    { name: 'node -e 0 (process start floor), wall / CPU', value: m(wall.bare), unit: 'ms', baseline: { name: 'CPU', value: m(cpu.bare) }, runs: wall.bare },
  ];
}
