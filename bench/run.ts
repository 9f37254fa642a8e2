/**
 * `npm run bench [-- core|store|cluster ...]`: runs each benchmark module's `run()` and prints
 * its figures with ratios against the baselines measured in the same run. Results are also
 * written to `reports/bench-<name>.json`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { printResults, type BenchResult } from './lib.ts';

const all = ['core', 'store', 'cluster'];
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : all;
mkdirSync('reports', { recursive: true });
let failed = false;
for (const name of names) {
  const file = join(import.meta.dirname, `${name}.ts`);
  if (!existsSync(file)) {
    process.stdout.write(`(no bench/${name}.ts)\n`);
    continue;
  }
  try {
    const mod = (await import(file)) as { run(): Promise<BenchResult[]> };
    const results = await mod.run();
    printResults(name, results);
    writeFileSync(join('reports', `bench-${name}.json`), JSON.stringify(results, null, 2));
  } catch (e) {
    failed = true;
    process.stdout.write(`bench ${name} failed: ${(e as Error).stack ?? String(e)}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
