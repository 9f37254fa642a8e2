/**
 * `node --import tsx bench/_summaryTable.ts FILE.json ...`: prints the `summary` rows of one or
 * more `npm run --silent bench -- --json` documents as the markdown table at the top of
 * docs/benchmarks.md (figure, Ordo, fair baseline or best peer, ratio, target, met, runs, load,
 * command), in the order given, unedited: the table is the JSON, so a reader can re-run the
 * command and diff. Each document's commit and date are printed above its rows' table.
 */
import { readFileSync } from 'node:fs';

interface Row {
  module: string;
  figure: string;
  ordo: number;
  unit: string;
  baseline?: string;
  baselineValue?: number;
  ratio?: number;
  target?: string;
  met?: boolean;
  runs?: number;
  warmups?: number;
  loadavg: number;
  command: string;
}

interface Doc {
  commit: string;
  node: string;
  date: string;
  summary: Row[];
}

/** Three significant digits, thousands grouped: 3,600,331 stays whole, 0.2634 → 0.263. */
function num(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toLocaleString('en-US');
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

const files = process.argv.slice(2);
if (files.length === 0 || files.includes('--help') || files.includes('-h')) {
  (files.length ? process.stdout : process.stderr).write('usage: node --import tsx bench/_summaryTable.ts FILE.json ...\n');
  process.exit(files.length ? 0 : 2);
}
const out: string[] = [];
out.push('| module | figure | Ordo | fair baseline or best peer | ratio | target | met? | runs (+warm-ups) | load | command |');
out.push('|---|---|---|---|---|---|---|---|---|---|');
const seen: string[] = [];
for (const f of files) {
  let doc: Doc;
  try {
    doc = JSON.parse(readFileSync(f, 'utf8')) as Doc;
  } catch (e) {
    process.stderr.write(`${f}: not a bench --json document (${(e as Error).message})\n`);
    process.exit(1);
  }
  seen.push(`${f}: ${doc.commit.slice(0, 7)} ${doc.node} ${doc.date}`);
  for (const r of doc.summary) {
    const base = r.baseline === undefined ? '—' : `${cell(r.baseline)}: ${num(r.baselineValue ?? NaN)}`;
    const ratio = r.ratio === undefined ? '—' : `${num(r.ratio)}×`;
    const met = r.met === undefined ? '—' : r.met ? 'met' : '**missed**';
    const runs = r.runs === undefined ? '—' : `${r.runs}${r.warmups ? ` (+${r.warmups})` : ''}`;
    out.push(
      `| ${r.module} | ${cell(r.figure)} | ${num(r.ordo)} ${r.unit} | ${base} | ${ratio} | ${cell(r.target ?? '—')} | ${met} | ${runs} | ${num(r.loadavg)} | \`${cell(r.command)}\` |`,
    );
  }
}
process.stderr.write(seen.join('\n') + '\n');
process.stdout.write(out.join('\n') + '\n');
