import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const src = join(root, 'src');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Removes comments and string contents of template/doc examples so prose cannot trip the scan. */
function stripComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

const forbiddenCalls: [string, RegExp][] = [
  ['Date.now', /\bDate\.now\s*\(/],
  ['new Date()', /\bnew\s+Date\s*\(/],
  ['setTimeout', /(^|[^.\w])setTimeout\s*\(/m],
  ['setInterval', /(^|[^.\w])setInterval\s*\(/m],
  ['setImmediate', /(^|[^.\w])setImmediate\s*\(/m],
  ['Math.random', /\bMath\.random\s*\(/],
  ['performance.now', /\bperformance\.now\s*\(/],
];
// Modules that reach the network, the disk or the OS clock: only the real adapters that Env
// hands out (in src/env/) may import them.
const forbiddenImports = /from\s+['"](node:)?(net|dns|fs|fs\/promises|child_process|timers|timers\/promises|dgram|tls|http|https)['"]|from\s+['"](@nxtedition\/rocksdb|@nats-io\/transport-node|classic-level)['"]|import\(\s*['"](node:)?(net|dns|fs|fs\/promises)['"]\s*\)/;

export function scanForAmbientEffects(files: string[]): string[] {
  const findings: string[] = [];
  for (const file of files) {
    const rel = relative(root, file);
    if (rel.startsWith(join('src', 'env'))) continue;
    const code = stripComments(readFileSync(file, 'utf8'));
    code.split('\n').forEach((line, i) => {
      for (const [name, re] of forbiddenCalls) if (re.test(line)) findings.push(`${rel}:${i + 1} calls ${name}`);
      if (forbiddenImports.test(line)) findings.push(`${rel}:${i + 1} imports I/O directly: ${line.trim()}`);
    });
  }
  return findings;
}

describe('determinism rule', () => {
  it('nothing in src/ outside src/env/ reads the clock, timers, Math.random, the network or the disk', () => {
    const files = walk(src);
    expect(files.length).toBeGreaterThan(5);
    expect(scanForAmbientEffects(files)).toEqual([]);
  });

  it('the scan catches each forbidden call and import (it can fail)', async () => {
    const { mkdtempSync, writeFileSync, mkdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'ordo-scan-'));
    const fake = join(dir, 'bad.ts');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      fake,
      [
        'const a = Date.now();',
        'const b = new Date();',
        'setTimeout(() => {}, 1);',
        'setInterval(() => {}, 1);',
        'const c = Math.random();',
        'const d = performance.now();',
        "import { readFile } from 'node:fs/promises';",
        "import net from 'net';",
        '// Date.now() in a comment is fine',
        'env.clock.setTimeout(() => {}, 1);',
      ].join('\n'),
    );
    const findings = scanForAmbientEffects([fake]);
    expect(findings.map((f) => f.replace(/^.*:\d+ /, ''))).toEqual([
      'calls Date.now',
      'calls new Date()',
      'calls setTimeout',
      'calls setInterval',
      'calls Math.random',
      'calls performance.now',
      "imports I/O directly: import { readFile } from 'node:fs/promises';",
      "imports I/O directly: import net from 'net';",
    ]);
  });
});
