/**
 * `node --import tsx bench/_summaryTable.ts FILE.json ... [--again FILE.json ...]`: prints the
 * `summary` rows of one or more `npm run --silent bench -- --json` documents as the markdown
 * table at the top of docs/benchmarks.md (figure, Ordo, fair baseline or best peer, ratio, target,
 * met, runs, load, command), in the order given, unedited: the table is the JSON, so a reader can
 * re-run the command and diff. With `--again`, the documents after it are a second run of the same
 * commands, and each row gains that run's ratio (or value) and whether it met its target, matched
 * by module and figure. Each document's commit and date go to stderr.
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

const args = process.argv.slice(2);
const cut = args.indexOf('--again');
const files = cut < 0 ? args : args.slice(0, cut);
const again = cut < 0 ? [] : args.slice(cut + 1);
if (files.length === 0 || args.includes('--help') || args.includes('-h') || (cut >= 0 && again.length === 0)) {
  const help = args.includes('--help') || args.includes('-h');
  (help ? process.stdout : process.stderr).write('usage: node --import tsx bench/_summaryTable.ts FILE.json ... [--again FILE.json ...]\n');
  process.exit(help ? 0 : 2);
}
const seen: string[] = [];
function read(f: string): Doc {
  try {
    const doc = JSON.parse(readFileSync(f, 'utf8')) as Doc;
    seen.push(`${f}: ${doc.commit.slice(0, 7)} ${doc.node} ${doc.date}`);
    return doc;
  } catch (e) {
    process.stderr.write(`${f}: not a bench --json document (${(e as Error).message})\n`);
    process.exit(1);
  }
}
const second = new Map<string, Row>();
for (const f of again) for (const r of read(f).summary) second.set(`${r.module}\u0000${r.figure}`, r);
const metOf = (r: Row): string => (r.met === undefined ? '—' : r.met ? 'met' : '**missed**');
const shortOf = (r: Row | undefined): string => (r === undefined ? 'not run' : `${r.ratio === undefined ? `${num(r.ordo)} ${r.unit}` : `${num(r.ratio)}×`}, ${metOf(r).replace(/\*/g, '')}`);
const out: string[] = [];
out.push(`| module | figure | Ordo | fair baseline or best peer | ratio | target | met? | runs (+warm-ups) | load |${again.length ? ' run 2 |' : ''} command |`);
out.push(`|---|---|---|---|---|---|---|---|---|${again.length ? '---|' : ''}---|`);
for (const f of files) {
  const doc = read(f);
  for (const r of doc.summary) {
    const base = r.baseline === undefined ? '—' : `${cell(r.baseline)}: ${num(r.baselineValue ?? NaN)}`;
    const ratio = r.ratio === undefined ? '—' : `${num(r.ratio)}×`;
    const met = r.met === undefined ? '—' : r.met ? 'met' : '**missed**';
    const runs = r.runs === undefined ? '—' : `${r.runs}${r.warmups ? ` (+${r.warmups})` : ''}`;
    const two = again.length ? ` ${shortOf(second.get(`${r.module}\u0000${r.figure}`))} |` : '';
    out.push(
      `| ${r.module} | ${cell(r.figure)} | ${num(r.ordo)} ${r.unit} | ${base} | ${ratio} | ${cell(r.target ?? '—')} | ${met} | ${runs} | ${num(r.loadavg)} |${two} \`${cell(r.command)}\` |`,
    );
  }
}
process.stderr.write(seen.join('\n') + '\n');
process.stdout.write(out.join('\n') + '\n');
