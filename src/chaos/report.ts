import type { RunReport } from './runner.ts';
import type { TraceEvent } from './simulation.ts';
import type { TimelineFault } from './scenario.ts';

/** The run's trace as JSON lines (one event per line, in order). */
export function toJsonl(report: RunReport): string {
  return report.trace.map((e) => JSON.stringify(e)).join('\n') + '\n';
}

/** `n1#2 ` before the event of a node's boot in a multi-node run (node events name it already). */
function who(e: TraceEvent): string {
  return e['node'] === undefined || e['boot'] === undefined || e.kind === 'node.up' || e.kind === 'node.down' ? '' : `${e['node'] as string}#${e['boot'] as number} `;
}

function describe(e: TraceEvent): string {
  return who(e) + what(e);
}

function what(e: TraceEvent): string {
  switch (e.kind) {
    case 'node.up':
      return `NODE ${e['node'] as string} boot ${e['boot'] as number}`;
    case 'node.down':
      return `NODE ${e['node'] as string} boot ${e['boot'] as number} killed`;
    case 'spawn':
      return `${e['name'] as string} starting`;
    case 'ready':
      return `${e['name'] as string} ready`;
    case 'exit':
      return `${e['name'] as string} exited ${JSON.stringify(e['reason'])}`;
    case 'fault':
      return `FAULT ${e['name'] as string}${e['subject'] !== undefined ? ` ${e['subject'] as string}` : ''}${e['delayMs'] ? ` +${e['delayMs'] as number}ms` : ''}`;
    case 'report':
      return `${e['report'] as string}${e['supervisor'] ? ` [${e['supervisor'] as string}]` : ''}${e['child'] ? ` ${e['child'] as string}` : ''}${e['reason'] !== undefined ? ` ${JSON.stringify(e['reason'])}` : ''}`;
    case 'phase':
      return `--- ${e['phase'] as string} phase ---`;
    case 'kv.open':
    case 'kv.opened':
    case 'kv.closed':
      return `${e.kind} ${e['dir'] as string}${e['othersOpen'] ? ` (${e['othersOpen'] as number} still open)` : ''}`;
    case 'ambient':
      return `AMBIENT ${e['api'] as string} at ${e['site'] as string}`;
    default: {
      const { t: _t, kind, ...rest } = e;
      return `${kind} ${JSON.stringify(rest)}`;
    }
  }
}

/** Events worth a line in the human timeline (acks and progress reports are summarised away). */
function shown(e: TraceEvent): boolean {
  if (e.kind === 'kv.ack' || e.kind === 'kv.opened') return false;
  if (e.kind === 'report' && (e['report'] === 'progress' || e['report'] === 'crash_report')) return false;
  return true;
}

/**
 * A fixed-width human timeline: virtual time (ms, right-aligned), then the event; the first
 * violation is marked where it happened.
 *
 * @example
 * import { renderTimeline, restForOneService, runScenario } from 'ordo/chaos';
 *
 * const report = await runScenario(restForOneService, { seed: 1 });
 * process.stdout.write(renderTimeline(report, { limit: 200 }));
 */
export function renderTimeline(report: RunReport, options: { limit?: number } = {}): string {
  const lines: string[] = [];
  const v = report.violation;
  let marked = false;
  for (const e of report.trace) {
    if (!shown(e)) continue;
    if (v && !marked && e.t > v.t) {
      lines.push(`${String(v.t).padStart(9)} ms  !!! VIOLATED ${v.invariant}: ${v.message}`);
      marked = true;
    }
    lines.push(`${String(e.t).padStart(9)} ms  ${describe(e)}`);
  }
  if (v && !marked) lines.push(`${String(v.t).padStart(9)} ms  !!! VIOLATED ${v.invariant}: ${v.message}`);
  const limit = options.limit ?? Infinity;
  const out = lines.length > limit ? [...lines.slice(0, limit), `… ${lines.length - limit} more lines (see the JSONL trace)`] : lines;
  return out.join('\n') + '\n';
}

/** The report's summary: seed, code version, outcome, first violation, hash, coverage, faults, replay. */
export function renderSummary(report: RunReport): string {
  const v = report.violation;
  const cov = Object.entries(report.coverage)
    .map(([k, c]) => `${k} ${c.fired}/${c.evaluated}${c.active ? '' : ' (inactive)'}`)
    .join(', ');
  const sometimes = Object.entries(report.sometimes)
    .map(([k, ok]) => `${k}: ${ok ? 'seen' : 'not seen'}`)
    .join(', ');
  return [
    `scenario     ${report.scenario}`,
    `seed         ${report.seed}`,
    `code         ${report.codeVersion}`,
    `outcome      ${report.outcome}${report.asExpected ? '' : ' (NOT the expected outcome)'}`,
    `violation    ${v ? `${v.invariant} (${v.kind}) at ${v.t} ms: ${v.message}` : 'none'}`,
    `trace hash   ${report.traceHash}${report.deterministic === undefined ? '' : report.deterministic ? ' (second run: same)' : ' (second run: DIFFERENT — nondeterminism)'}`,
    `run          ${report.steps} steps, ${report.virtualMs} virtual ms${report.divergence ? `, replay diverged at step ${report.divergence.step} (expected ${report.divergence.expected})` : ''}`,
    `faults       ${report.faults.length === 0 ? 'none' : report.faults.map((f) => `${f.at}ms ${f.action === 'point' ? f.name + (f.subject ? `(${f.subject})` : '') : describeAction(f)}`).join(', ')}`,
    `fault points ${cov || 'none evaluated'}`,
    `sometimes    ${sometimes || 'none declared'}`,
    `replay       ${report.replay}`,
  ].join('\n') + '\n';
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * An SVG timeline: one lane per process (starting: amber, ready: green), exits (× red when
 * abnormal), faults (red triangles on the lane they hit, or the top axis), supervisor giving
 * up (a black bar), and the first violation as a red vertical line with its message.
 */
export function renderSvg(report: RunReport, options: { width?: number } = {}): string {
  const width = options.width ?? 1000;
  const left = 110;
  const lane = 22;
  const names: string[] = [];
  // a lane per child, per node in a multi-node run
  const lane_ = (e: TraceEvent, field = 'name'): string => (e['node'] === undefined ? (e[field] as string) : `${e['node'] as string}/${e[field] as string}`);
  for (const e of report.trace) if (e.kind === 'spawn' && !names.includes(lane_(e))) names.push(lane_(e));
  const end = Math.max(1, report.trace.at(-1)?.t ?? report.virtualMs);
  const x = (t: number): number => left + ((width - left - 50) * t) / end;
  const top = 40;
  const height = top + lane * names.length + 60;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="16" font-size="13">${esc(`${report.scenario} · seed ${report.seed} · ${report.outcome}${report.violation ? ` · ${report.violation.invariant}` : ''}`)}</text>`,
  ];
  for (let i = 0; i <= 10; i++) {
    const t = Math.round((end * i) / 10);
    parts.push(`<line x1="${x(t)}" y1="${top - 6}" x2="${x(t)}" y2="${top + lane * names.length}" stroke="#eee"/>`, `<text x="${x(t)}" y="${top - 8}" text-anchor="middle" fill="#666">${t} ms</text>`);
  }
  names.forEach((n, i) => parts.push(`<text x="8" y="${top + lane * i + 15}">${esc(n)}</text>`));
  const open = new Map<string, { t: number; ready?: number }>();
  const bar = (n: string, from: number, to: number, color: string): void => {
    const i = names.indexOf(n);
    parts.push(`<rect x="${x(from)}" y="${top + lane * i + 4}" width="${Math.max(1, x(to) - x(from))}" height="${lane - 8}" fill="${color}"/>`);
  };
  const close = (n: string, t: number): void => {
    const o = open.get(n);
    if (!o) return;
    if (o.ready === undefined) bar(n, o.t, t, '#f5b942');
    else {
      bar(n, o.t, o.ready, '#f5b942');
      bar(n, o.ready, t, '#5cb85c');
    }
    open.delete(n);
  };
  for (const e of report.trace) {
    const n = lane_(e);
    if (e.kind === 'node.down') {
      for (const k of [...open.keys()]) if (k.startsWith(`${e['node'] as string}/`)) close(k, e.t);
    } else if (e.kind === 'spawn') {
      close(n, e.t);
      open.set(n, { t: e.t });
    } else if (e.kind === 'ready') {
      const o = open.get(n);
      if (o) o.ready = e.t;
    } else if (e.kind === 'exit') {
      close(n, e.t);
      const i = names.indexOf(n);
      const abnormal = !['"normal"', '"shutdown"'].includes(JSON.stringify(e['reason']));
      if (i >= 0 && abnormal) parts.push(`<text x="${x(e.t)}" y="${top + lane * i + 16}" text-anchor="middle" fill="#c00" font-size="14">×</text>`);
    } else if (e.kind === 'fault') {
      const i = names.indexOf(lane_(e, 'subject'));
      const y = i >= 0 ? top + lane * i + 2 : top - 4;
      parts.push(`<path d="M${x(e.t) - 5},${y} L${x(e.t) + 5},${y} L${x(e.t)},${y + 8} Z" fill="#d00"><title>${esc(describe(e))}</title></path>`);
    } else if (e.kind === 'report' && e['report'] === 'reached_max_restart_intensity') {
      parts.push(`<rect x="${x(e.t) - 1}" y="${top}" width="3" height="${lane * names.length}" fill="#000"><title>${esc(describe(e))}</title></rect>`);
    }
  }
  for (const n of [...open.keys()]) close(n, end);
  const v = report.violation;
  if (v) {
    parts.push(`<line x1="${x(v.t)}" y1="${top - 4}" x2="${x(v.t)}" y2="${top + lane * names.length + 4}" stroke="#d00" stroke-width="2"/>`);
    parts.push(`<text x="8" y="${top + lane * names.length + 24}" fill="#d00">${esc(`${v.t} ms: ${v.invariant}: ${v.message}`.slice(0, 160))}</text>`);
  }
  parts.push(`<text x="8" y="${top + lane * names.length + 44}" fill="#666">${esc(`amber: starting · green: ready · ×: abnormal exit · ▼: fault · black bar: gave up · hash ${report.traceHash.slice(0, 16)}`)}</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function describeAction(f: TimelineFault): string {
  switch (f.action) {
    case 'crash':
    case 'kill':
      return `${f.action}(${f.node === undefined ? '' : `${f.node}/`}${f.child})`;
    case 'nats-restart':
      return `nats-restart(${f.downMs} ms)`;
    case 'partition':
    case 'heal':
      return `${f.action}(${f.node === undefined ? (f.client ?? '*') : `node ${f.node}`})`;
    case 'node-kill':
      return `node-kill(${f.node})`;
    case 'node-restart':
      return `node-restart(${f.node}, ${f.downMs ?? 0} ms down)`;
    default:
      return f.action;
  }
}
