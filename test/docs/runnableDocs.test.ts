// Runnable documentation (issue 8, deliverable 7; Effect's and xstate's docs are the anchor):
// every ```ts block of README.md and docs/*.md and every TSDoc `@example` in src/ is written to
// a temp file inside the repository (so `ordo`, `ordo/store`… and relative imports resolve as
// for a user, against src/ through the `ordo-source` condition), type-checked by one `tsc` run
// with the repository's compiler options, and — unless it starts with `// no-run: <why>` — run
// with tsx in a fresh temp data dir (its cwd): it must exit 0 by itself (a block that leaves a timer,
// a store or a connection open does not exit, and fails after RUN_TIMEOUT_MS).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docBlocks, type DocBlock } from './docBlocks.ts';

const root = join(import.meta.dirname, '..', '..');
const RUN_TIMEOUT_MS = 30_000;

/** Positive controls, checked through the same pipeline: a block that does not compile, one that throws, one that never stops. */
const CONTROLS: DocBlock[] = [
  { where: 'control:type-error', code: "import { createTestEnv } from 'ordo/env';\nconst n: number = createTestEnv().clock;\n", noRun: 'control' },
  { where: 'control:throws', code: "throw new Error('control');\n", noRun: undefined },
  { where: 'control:never-stops', code: 'setInterval(() => undefined, 1000);\n', noRun: undefined },
];

let dir: string;
let files: Map<string, DocBlock>;
let typeErrors: Map<string, string[]>;
const blocks = docBlocks(root);

function fileName(i: number, b: DocBlock): string {
  return `b${String(i).padStart(3, '0')}_${b.where.replace(/[^A-Za-z0-9]+/g, '_')}.ts`;
}

/** Runs a block with tsx in a fresh data dir; resolves with its exit code, or 'timeout' (killed). */
function run(file: string, timeoutMs: number): Promise<{ code: number | 'timeout'; output: string }> {
  // inside the temp dir (so `tsx`, which a sweep's worker threads import, resolves from the cwd)
  const data = mkdtempSync(join(dir, 'data-'));
  return new Promise((done) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--conditions=ordo-source', join(dir, file)], { cwd: data, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(timer);
      rmSync(data, { recursive: true, force: true });
      done({ code: code ?? 'timeout', output: output.slice(-2000) });
    });
  });
}

async function runAll(items: [string, DocBlock][], timeoutMs: number): Promise<Map<string, { code: number | 'timeout'; output: string }>> {
  const results = new Map<string, { code: number | 'timeout'; output: string }>();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const [file, b] = items[next++]!;
      results.set(b.where, await run(file, timeoutMs));
    }
  };
  await Promise.all([lane(), lane()]);
  return results;
}

beforeAll(() => {
  dir = join(root, `.doctest-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  files = new Map();
  [...blocks, ...CONTROLS].forEach((b, i) => {
    const f = fileName(i, b);
    files.set(f, b);
    // `export {}` makes every block a module (its names are its own), whatever it contains.
    writeFileSync(join(dir, f), `${b.code}\nexport {};\n`);
  });
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', include: ['*.ts', '../src/env/rocksdbBinding.d.ts'] }));
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir, '--pretty', 'false'], { cwd: root, encoding: 'utf8' });
  typeErrors = new Map();
  for (const line of tsc.stdout.split('\n')) {
    const m = /^(?:.*\/)?(b\d{3}_[^(/]+\.ts)\((\d+),\d+\): error (TS\d+: .*)$/.exec(line);
    const other = /^(.+?)\(\d+,\d+\): error TS\d+/.exec(line);
    if (m) {
      const b = files.get(m[1]!)!;
      typeErrors.set(b.where, [...(typeErrors.get(b.where) ?? []), `line ${m[2]}: ${m[3]}`]);
    } else if (other) typeErrors.set(other[1]!, [...(typeErrors.get(other[1]!) ?? []), line]);
  }
}, 240_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('runnable documentation', () => {
  it('finds the blocks: the README tree, docs/, and the @examples of src/', () => {
    expect(blocks.some((b) => b.where.startsWith('README.md:'))).toBe(true);
    expect(blocks.filter((b) => b.where.startsWith('docs/')).length).toBeGreaterThanOrEqual(5);
    expect(blocks.filter((b) => b.where.startsWith('src/')).length).toBeGreaterThanOrEqual(60);
    // every block says what it is: run, or `// no-run:` with a reason
    for (const b of blocks) expect(b.code.trim(), b.where).not.toBe('');
  });

  it('every block type-checks with the repository compiler options (and a broken block is reported)', () => {
    expect(typeErrors.get('control:type-error')?.join('\n')).toMatch(/TS2322/);
    const errors = Object.fromEntries([...typeErrors].filter(([where]) => !where.startsWith('control:')));
    expect(errors).toEqual({});
  });

  it('every block without a `// no-run:` marker runs with tsx in a temp data dir and exits 0 by itself', async () => {
    const runnable = [...files].filter(([, b]) => b.noRun === undefined && !b.where.startsWith('control:'));
    expect(runnable.length).toBeGreaterThanOrEqual(blocks.length / 2);
    const results = await runAll(runnable, RUN_TIMEOUT_MS);
    const failed = Object.fromEntries([...results].filter(([, r]) => r.code !== 0).map(([where, r]) => [where, `exit ${r.code}: ${r.output}`]));
    expect(failed).toEqual({});
  }, 900_000);

  it('the runner reports a block that throws and one that does not stop what it started', async () => {
    const control = (where: string): [string, DocBlock][] => [...files].filter(([, b]) => b.where === where);
    // the block that throws gets the blocks' own limit: under load, tsx alone can take seconds to
    // start, and a throw cut short by the limit would read as 'timeout', not as the exit code 1
    const [throws, neverStops] = await Promise.all([runAll(control('control:throws'), RUN_TIMEOUT_MS), runAll(control('control:never-stops'), 3000)]);
    expect(throws.get('control:throws')).toMatchObject({ code: 1, output: expect.stringContaining('control') });
    // it can never exit by itself (an interval), so a short limit proves the kill, not a speed
    expect(neverStops.get('control:never-stops')?.code).toBe('timeout');
  }, RUN_TIMEOUT_MS + 60_000);
});
