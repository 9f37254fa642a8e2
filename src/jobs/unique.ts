import type { Job, JobState, ReplaceField, UniqueOptions } from './types.ts';

/** Oban's default unique states: every state but `discarded` and `cancelled`. */
export const DEFAULT_UNIQUE_STATES: readonly JobState[] = ['available', 'scheduled', 'executing', 'retryable', 'completed'];

/** JSON with object keys sorted, so equal args give equal keys whatever their key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The `keys` of `v` it has as its own (Oban's `Map.take`): a key it lacks is absent, not its prototype's value (`toString`, `constructor`). */
function pick(v: unknown, keys: readonly string[] | undefined): unknown {
  if (!keys || !v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  return Object.fromEntries(keys.map((k) => [k, Object.hasOwn(o, k) ? o[k] : undefined]));
}

/** The key of a job under `u`: the compared fields' canonical JSON (default fields: worker, queue, args). */
export function uniqueKeyOf(u: UniqueOptions, j: Pick<Job, 'worker' | 'queue' | 'args' | 'meta'>): string {
  const fields = u.fields ?? ['worker', 'queue', 'args'];
  const parts: Record<string, unknown> = {};
  for (const f of fields) parts[f] = f === 'args' || f === 'meta' ? pick(j[f], u.keys) : j[f];
  return canonicalJson(parts);
}

/** Whether `existing` blocks a new job under `u` at time `now`. */
export function isDuplicate(u: UniqueOptions, existing: Job, now: number): boolean {
  if (!(u.states ?? DEFAULT_UNIQUE_STATES).includes(existing.state)) return false;
  const period = u.periodMs ?? 60_000;
  return period === 'infinity' || existing.insertedAt >= now - period;
}

/** `existing` with the fields `u.replace` lists for its state taken from `incoming`. */
export function replaced(u: UniqueOptions, existing: Job, incoming: Job): Job | undefined {
  const fields: readonly ReplaceField[] = u.replace?.[existing.state] ?? [];
  if (fields.length === 0) return undefined;
  const out: Record<string, unknown> = { ...existing };
  for (const f of fields) out[f] = incoming[f];
  const j = out as unknown as Job;
  // a replaced schedule moves the job between scheduled and available
  if (fields.includes('scheduledAt') && (j.state === 'scheduled' || j.state === 'available')) {
    return { ...j, state: j.scheduledAt > incoming.insertedAt ? 'scheduled' : 'available' };
  }
  return j;
}
