import type { ApplicationHealth, ChildHealth } from '../supervisor/index.ts';

/**
 * Renders an application's health as a tree, one child per line:
 * id, pid, machine state, restart count and last exit reason.
 *
 * @example
 * renderTree(app.health());
 * // demo (running) <ordo.1>
 * // ├─ config  <ordo.2>  ready
 * // └─ jobs    supervisor
 * //    └─ ticker <ordo.7> idle  restarts 1  last exit: injected crash
 */
export function renderTree(health: ApplicationHealth, options: { color?: boolean } = {}): string {
  const c = options.color ? COLORS : NO_COLORS;
  const lines = [`${c.bold}${health.app}${c.reset} (${statusColor(health.status, c)}) ${health.pid ?? ''}`];
  const walk = (children: ChildHealth[], prefix: string): void => {
    const width = Math.max(0, ...children.map((ch) => (ch.id ?? '').length));
    children.forEach((ch, i) => {
      const last = i === children.length - 1;
      const id = (ch.id ?? '·').padEnd(width);
      const pid = ch.pid ?? '—';
      const state = ch.type === 'supervisor' ? 'supervisor' : ch.pid === 'restarting' ? `${c.yellow}restarting${c.reset}` : ch.pid ? formatState(ch.state) : `${c.dim}not running${c.reset}`;
      const restarts = ch.restarts ? `  ${c.yellow}restarts ${ch.restarts}${c.reset}` : '';
      const lastExit = ch.lastExit !== undefined ? `  ${c.dim}last exit: ${formatExit(ch.lastExit)}${c.reset}` : '';
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${id}  ${pid.padEnd(10)} ${state}${restarts}${lastExit}`);
      if (ch.children) walk(ch.children, prefix + (last ? '   ' : '│  '));
    });
  };
  walk(health.children, '');
  return lines.join('\n');
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
  const color = status === 'running' ? c.green : status === 'failed' ? c.red : c.yellow;
  return `${color}${status}${c.reset}`;
}

const COLORS = { bold: '\x1b[1m', dim: '\x1b[2m', reset: '\x1b[0m', green: '\x1b[32m', yellow: '\x1b[33m', red: '\x1b[31m' };
const NO_COLORS: typeof COLORS = { bold: '', dim: '', reset: '', green: '', yellow: '', red: '' };
