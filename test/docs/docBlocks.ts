// Extracts the documentation's code: every ```ts block of README.md and docs/*.md and every
// TSDoc `@example` in src/. Each block is a complete module (its own imports); a block that is
// deliberately not run starts with a visible marker line `// no-run: <why>` and is still
// type-checked (its free names come from `declare const` lines it shows).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** One block of documentation code. */
export interface DocBlock {
  /** `README.md:55`, `src/store/openStore.ts:120` (1-based line of the block's first code line). */
  readonly where: string;
  readonly code: string;
  /** The reason given by a `// no-run: <why>` first line; undefined = the block is run. */
  readonly noRun: string | undefined;
}

export const NO_RUN = /^\/\/ no-run: (\S.*)$/;

function markdownBlocks(root: string, file: string): DocBlock[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const out: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\b/.test(lines[i]!)) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== '```') end++;
    out.push(block(`${file}:${start + 1}`, lines.slice(start, end), dirname(join(root, file))));
    i = end;
  }
  return out;
}

/** Relative imports of a block are relative to the file that holds it (`../examples/…` in docs/, `./x.ts` in src/): made absolute. */
function absolutize(code: string, sourceDir: string): string {
  return code.replace(/(from\s+|import\s*\(\s*)'(\.\.?\/[^']+)'/g, (_m, pre: string, spec: string) => `${pre}'${resolve(sourceDir, spec)}'`);
}

function block(where: string, lines: string[], sourceDir: string): DocBlock {
  const first = lines.findIndex((l) => l.trim() !== '');
  const marker = first >= 0 ? NO_RUN.exec(lines[first]!.trim()) : null;
  const code = lines.join('\n');
  return { where, code: absolutize(code, sourceDir), noRun: marker?.[1] };
}

function exampleBlocks(root: string, file: string): DocBlock[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const out: DocBlock[] = [];
  let inDoc = false;
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (t.startsWith('/**')) inDoc = true;
    if (inDoc && /^\*\s*@example\b/.test(t)) {
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length; j++) {
        const l = lines[j]!.trim();
        if (l.startsWith('*/') || /^\*\s*@\w/.test(l)) break;
        body.push(l.replace(/^\* ?/, ''));
      }
      const fenced = body.findIndex((l) => l.startsWith('```'));
      const code = fenced >= 0 ? body.slice(fenced + 1, body.findIndex((l, k) => k > fenced && l.startsWith('```'))) : body;
      out.push(block(`${file}:${i + 2 + (fenced >= 0 ? fenced + 1 : 0)}`, code, dirname(join(root, file))));
      i = j - 1;
      continue;
    }
    if (t.endsWith('*/')) inDoc = false;
  }
  return out;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Every documentation block of the repository at `root`, in a stable order. */
export function docBlocks(root: string): DocBlock[] {
  const md = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
  const src = walk(join(root, 'src')).map((f) => relative(root, f)).sort();
  return [...md.flatMap((f) => markdownBlocks(root, f)), ...src.flatMap((f) => exampleBlocks(root, f))];
}
