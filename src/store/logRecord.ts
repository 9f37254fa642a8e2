import type { CommitOp } from './types.ts';

/**
 * The JSON of the change-log record a group flush writes (see `buildWriteBatch`), built as
 * text instead of as objects handed to `JSON.stringify`: a 1000-row batch lists 1000 keys, and
 * an object per key (then serialized) cost as much as the rows' own encoding. The record is
 * `{ commits: [{ seq, ops: [entry, …] }, …], schemaVersion }`; an entry names the keys of one
 * run of a commit's ops on one table with one op, in their order, in one of three shapes:
 * - `{ table, op, key }` — one op (the only shape before session 15: old records are all of it);
 * - `{ table, op, keys: [k, …] }` — several ops' keys;
 * - `{ table, op, from, to }` — the ops of the consecutive integer keys `from`, `from + 1`, …,
 *   `to` (at least {@link RANGE_MIN} of them: an auto-increment table's bulk write).
 * {@link logRecordOps} expands a record, old or new, to the one-op-per-entry form (exactly what
 * `JSON.parse` of the pre-session-15 record gave; tested against that model). The change log is
 * the commits' keys only: the rows hold the values.
 */

/** Fewest consecutive integer keys written as one `{ from, to }` entry. @internal */
export const RANGE_MIN = 4;

/** `{"table":…,"op":…,` for each (table, op) seen (a handful per store). */
const heads = new Map<string, Map<string, string>>();

function headOf(table: string, op: string): string {
  let byOp = heads.get(table);
  if (byOp === undefined) heads.set(table, (byOp = new Map()));
  let p = byOp.get(op);
  if (p === undefined) byOp.set(op, (p = `{"table":${JSON.stringify(table)},"op":${JSON.stringify(op)},`));
  return p;
}

/**
 * JSON of a key as an element of a list (a finite number's JSON is its string form), or
 * `undefined` for a key whose JSON is undefined (no valid key has one: such an op keeps the
 * one-op shape, which leaves the key out, as `JSON.stringify` did).
 */
function keyJson(k: unknown): string | undefined {
  if (typeof k === 'number' && Number.isFinite(k)) return '' + k;
  if (typeof k === 'string') return JSON.stringify(k);
  return JSON.stringify(k) as string | undefined;
}

/** JSON of one `{ table, op, key }`, given the head of its table and op. */
function opJson(o: CommitOp, head: string): string {
  const k = keyJson(o.key);
  return k === undefined ? JSON.stringify({ table: o.table, op: o.op, key: o.key }) : head + '"key":' + k + '}';
}

/** True when `ops[i..i+RANGE_MIN)` are consecutive safe integer keys. */
function rangeAt(ops: readonly CommitOp[], i: number, end: number): boolean {
  if (end - i < RANGE_MIN) return false;
  const k = ops[i]!.key;
  if (typeof k !== 'number' || !Number.isSafeInteger(k) || !Number.isSafeInteger(k + RANGE_MIN)) return false;
  for (let j = 1; j < RANGE_MIN; j++) if (ops[i + j]!.key !== k + j) return false;
  return true;
}

/** Appends the entries of `ops[from, to)` (one table, one op) to `parts`. */
function runEntries(parts: string[], ops: readonly CommitOp[], from: number, to: number, head: string): void {
  if (to - from === 1) {
    parts.push(opJson(ops[from]!, head));
    return;
  }
  let list = '';
  let listed = 0;
  let first = '';
  const flush = (): void => {
    if (listed === 1) parts.push(head + '"key":' + first + '}');
    else if (listed > 1) parts.push(head + '"keys":[' + list + ']}');
    list = '';
    listed = 0;
  };
  let i = from;
  while (i < to) {
    if (rangeAt(ops, i, to)) {
      const a = ops[i]!.key as number;
      let j = i + RANGE_MIN;
      while (j < to && ops[j]!.key === a + (j - i) && Number.isSafeInteger(a + (j - i))) j++;
      flush();
      parts.push(head + '"from":' + a + ',"to":' + (a + (j - i - 1)) + '}');
      i = j;
      continue;
    }
    const o = ops[i++]!;
    const k = keyJson(o.key);
    if (k === undefined) {
      flush();
      parts.push(opJson(o, head));
      continue;
    }
    if (listed === 0) {
      first = k;
      list = k;
    } else list += ',' + k;
    listed++;
  }
  flush();
}

/**
 * JSON of one commit's entry in the change log: `{ seq, ops }` naming the table, op and key of
 * each of `ops` whose table is kept by `keep` (the disc tables; their rows hold the values), in
 * order, a run of ops on one table with one op in as few entries as the shapes allow.
 * @internal
 */
export function logEntryJson(seq: number, ops: readonly CommitOp[], keep: (table: string) => boolean): string {
  // one op (a one-row transaction, the common commit): no list of parts to join
  if (ops.length === 1) {
    const o = ops[0]!;
    return `{"seq":${JSON.stringify(seq)},"ops":[${keep(o.table) ? opJson(o, headOf(o.table, o.op)) : ''}]}`;
  }
  const parts: string[] = [];
  let i = 0;
  while (i < ops.length) {
    const o = ops[i]!;
    // a run of ops with the table and the op of `o` (a batch of puts is one run)
    let j = i + 1;
    while (j < ops.length && ops[j]!.table === o.table && ops[j]!.op === o.op) j++;
    if (keep(o.table)) runEntries(parts, ops, i, j, headOf(o.table, o.op));
    i = j;
  }
  return `{"seq":${JSON.stringify(seq)},"ops":[${parts.join(',')}]}`;
}

/** JSON of a change-log record: the entries of {@link logEntryJson} and the schema version. @internal */
export function logRecordJson(entries: readonly string[], schemaVersion: number): string {
  return `{"commits":[${entries.join(',')}],"schemaVersion":${JSON.stringify(schemaVersion)}}`;
}

/** One op of a change-log record as {@link logRecordOps} gives it (`key` absent where its JSON was undefined). @internal */
export interface LogOp {
  readonly table: string;
  readonly op: string;
  readonly key?: unknown;
}

/**
 * The commits of a change-log record (its parsed JSON), each op on its own — an old record
 * (one op per entry) as it is, a new one with its `keys` and `from`/`to` entries expanded; or a
 * string saying what is malformed. @internal
 */
export function logRecordOps(record: unknown): Array<{ seq: number; ops: LogOp[] }> | string {
  const commits = (record as { commits?: unknown } | null)?.commits;
  if (!Array.isArray(commits)) return 'no commits list';
  const out: Array<{ seq: number; ops: LogOp[] }> = [];
  for (const c of commits as Array<{ seq?: unknown; ops?: unknown }>) {
    if (typeof c?.seq !== 'number' || !Array.isArray(c.ops)) return 'a commit without seq or ops';
    const ops: LogOp[] = [];
    for (const e of c.ops as Array<Record<string, unknown>>) {
      const { table, op } = e;
      if (typeof table !== 'string' || typeof op !== 'string') return `commit ${c.seq}: an entry without table or op`;
      if (Array.isArray(e['keys'])) for (const key of e['keys']) ops.push({ table, op, key });
      else if ('from' in e) {
        const { from, to } = e;
        if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || (to as number) - (from as number) < RANGE_MIN - 1) return `commit ${c.seq}: a bad key range`;
        for (let k = from as number; k <= (to as number); k++) ops.push({ table, op, key: k });
      } else ops.push('key' in e ? { table, op, key: e['key'] } : { table, op });
    }
    out.push({ seq: c.seq, ops });
  }
  return out;
}
