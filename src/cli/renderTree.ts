import type { ApplicationHealth, ChildHealth } from '../supervisor/index.ts';

/**
 * Renders an application's health as a tree, one child per line: id, pid, state (the
 * machine's, or where it stands when not running: starting, waiting, parked…), restarts,
 * since when (a date), the last error or exit.
 *
 * @example
 * import { child, createTestEnv, startApplication } from 'ordo';
 * import { createMachine } from 'xstate';
 * import { renderTree } from './renderTree.ts';
 *
 * const ready = createMachine({ initial: 'up', states: { up: { tags: ['ready'], on: { 'ordo.stop': 'down' } }, down: { type: 'final' } } });
 * const app = startApplication({ name: 'shop', env: createTestEnv(), tree: { strategy: 'one_for_one', children: [child({ id: 'repo', start: { machine: ready } })] } });
 * await app.ready;
 * console.log(renderTree(app.health()));
 * // shop (ready) <ordo.1>
 * // └─ repo    <ordo.2>   running
 * // (waiting children show `waiting  attempts 3  since 08:30:01  error: nxdomain`, their dependents `parked on repo`)
 * await app.stop();
 */
export function renderTree(health: ApplicationHealth, options: { color?: boolean; dates?: boolean } = {}): string {
  const c = options.color ? COLORS : NO_COLORS;
  const dates = options.dates ?? true;
  const why = health.reason ? `: ${health.reason.child} ${health.reason.phase}${health.reason.attempts ? `, ${health.reason.attempts} attempts` : ''}${health.reason.error !== undefined ? `: ${formatExit(health.reason.error)}` : ''}${health.reason.waitingFor ? ` on ${health.reason.waitingFor}` : ''}` : '';
  const lines = [`${c.bold}${health.app}${c.reset} (${statusColor(health.status, c)}${why}) ${health.pid ?? ''}`.trimEnd()];
  const walk = (children: ChildHealth[], prefix: string): void => {
    const width = Math.max(0, ...children.map((ch) => (ch.id ?? '').length));
    children.forEach((ch, i) => {
      const last = i === children.length - 1;
      const id = (ch.id ?? '·').padEnd(width);
      const pid = ch.pid ?? '—';
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${id}  ${pid.padEnd(10)} ${describe(ch, c, dates)}`.trimEnd());
      if (ch.children) walk(ch.children, prefix + (last ? '   ' : '│  '));
    });
  };
  walk(health.children, '');
  return lines.join('\n');
}

function describe(ch: ChildHealth, c: typeof COLORS, dates: boolean): string {
  const phase = ch.phase ?? (ch.pid ? 'running' : 'stopped');
  let state: string;
  if (ch.type === 'supervisor' && phase === 'running') state = 'supervisor';
  else if (phase === 'running') state = `${ch.degraded ? c.yellow : ''}${formatState(ch.state)}${ch.degraded ? `${c.reset} (degraded)` : ''}`;
  else if (phase === 'parked') state = `${c.yellow}parked${c.reset} on ${ch.waitingFor ?? '?'}`;
  else if (phase === 'waiting' || phase === 'restarting') state = `${c.yellow}${phase}${c.reset}`;
  else if (phase === 'starting') state = `starting${ch.state !== undefined ? ` (${formatState(ch.state)})` : ''}`;
  else state = `${c.dim}${phase === 'pending' ? 'not started' : 'not running'}${c.reset}`;
  const parts = [state];
  if (ch.restarts) parts.push(`${c.yellow}restarts ${ch.restarts}${c.reset}`);
  if (ch.attempts) parts.push(`attempts ${ch.attempts}`);
  if (dates && ch.since !== undefined && phase !== 'running') parts.push(`since ${timeOf(ch.since)}`);
  const error = ch.lastError ?? ch.error;
  if (error !== undefined && phase !== 'running') parts.push(`${c.red}error: ${formatExit(error)}${c.reset}`);
  else if (ch.degraded && ch.error !== undefined) parts.push(`${c.dim}${formatExit(ch.error)}${c.reset}`);
  if (ch.lastExit !== undefined) parts.push(`${c.dim}last exit: ${formatExit(ch.lastExit)}${c.reset}`);
  return parts.join('  ');
}

/** A clock reading (ms since the epoch on the real clock) as a local `HH:MM:SS`; the date when not today. */
export function timeOf(ms: number): string {
  const iso = new Intl.DateTimeFormat('sv-SE', { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }).format(ms);
  return iso.replace(' ', 'T');
}

/** xstate state values: `'idle'`, or nested `{ running: 'healthy' }` → `running.healthy`. */
export function formatState(state: unknown): string {
  if (typeof state === 'string') return state;
  if (state && typeof state === 'object') {
    const parts = Object.entries(state as Record<string, unknown>).map(([k, v]) => (v && (typeof v === 'string' || typeof v === 'object') ? `${k}.${formatState(v)}` : k));
    return parts.length === 1 ? parts[0]! : `(${parts.join(', ')})`;
  }
  return String(state);
}

function formatExit(reason: unknown): string {
  if (reason && typeof reason === 'object' && 'message' in reason) return String((reason as { message: unknown }).message);
  return typeof reason === 'string' ? reason : JSON.stringify(reason);
}

function statusColor(status: string, c: typeof COLORS): string {
  const color = status === 'ready' ? c.green : status === 'failed' ? c.red : c.yellow;
  return `${color}${status}${c.reset}`;
}

const COLORS = { bold: '\x1b[1m', dim: '\x1b[2m', reset: '\x1b[0m', green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m' };
const NO_COLORS: typeof COLORS = { bold: '', dim: '', reset: '', green: '', yellow: '', red: '' };
