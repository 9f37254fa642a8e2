/**
 * Exit reasons, classified as OTP does.
 *
 * - `'normal'` — the process finished its work.
 * - `'shutdown'` and `{ shutdown: detail }` — it was asked to stop (or stopped itself in an
 *   orderly way). Normal-class: a `transient` child exiting so is not restarted.
 * - `'killed'` — it was stopped by force (brutal kill, or shutdown timeout). Abnormal.
 * - anything else — a crash: an `Error` thrown by an action, a rejected promise, or a
 *   value a machine put in its final output's `reason`. Abnormal.
 */
export type ExitReason = 'normal' | 'shutdown' | 'killed' | ShutdownReason | AbnormalReason;

/** `{ shutdown: detail }`: an orderly stop carrying why. */
export interface ShutdownReason {
  readonly shutdown: unknown;
}

/** Any other value: a crash. */
export type AbnormalReason = unknown;

/** `'normal' | 'shutdown' | { shutdown: x }` — OTP's normal-class reasons. */
export function isNormalExit(reason: unknown): boolean {
  return reason === 'normal' || reason === 'shutdown' || isShutdownTuple(reason);
}

export function isShutdownTuple(reason: unknown): reason is ShutdownReason {
  return typeof reason === 'object' && reason !== null && !(reason instanceof Error) && 'shutdown' in reason && Object.keys(reason).length === 1;
}

/** Classifies a reason for restart decisions and reports. */
export function classifyExit(reason: unknown): 'normal' | 'shutdown' | 'abnormal' {
  if (reason === 'normal') return 'normal';
  if (reason === 'shutdown' || isShutdownTuple(reason)) return 'shutdown';
  return 'abnormal';
}

/** A JSON-friendly rendering of a reason for logs and health reports. */
export function formatReason(reason: unknown): unknown {
  if (reason instanceof Error) {
    const out: Record<string, unknown> = { error: reason.name, message: reason.message };
    const code = (reason as { code?: unknown }).code;
    if (code !== undefined) out['code'] = code;
    if (reason.cause !== undefined) out['cause'] = formatReason(reason.cause);
    return out;
  }
  if (typeof reason === 'object' && reason !== null) {
    const flat = flatCopy(reason);
    if (flat !== undefined) return flat;
    try {
      return JSON.parse(JSON.stringify(reason, (_k, v: unknown) => (v instanceof Error ? formatReason(v) : typeof v === 'bigint' ? String(v) : v)));
    } catch {
      return String(reason);
    }
  }
  return reason;
}

/**
 * The JSON round trip of a plain object whose values are all strings, booleans, `null` or
 * finite numbers other than -0 (most exit reasons: `{ fault: 'crash' }`, `{ shutdown: 'x' }`),
 * without serialising: a copy with the same keys in the same order. Undefined for anything
 * else (the round trip decides: nested values, `toJSON`, dropped or rewritten values).
 */
function flatCopy(reason: object): Record<string, unknown> | undefined {
  const proto = Object.getPrototypeOf(reason) as unknown;
  if (proto !== Object.prototype && proto !== null) return undefined;
  const out: Record<string, unknown> = {};
  const keys = Object.keys(reason);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k === '__proto__') return undefined;
    const v = (reason as Record<string, unknown>)[k];
    switch (typeof v) {
      case 'string':
      case 'boolean':
        break;
      case 'number':
        if (!Number.isFinite(v) || Object.is(v, -0)) return undefined;
        break;
      case 'object':
        if (v !== null) return undefined;
        break;
      default:
        return undefined;
    }
    out[k] = v;
  }
  return out;
}
