import type { CommitOp } from './types.ts';

/**
 * The JSON of the change-log record a group flush writes (see `buildWriteBatch`), built as
 * text instead of as objects handed to `JSON.stringify`: a 1000-row batch lists 1000 keys, and
 * an object per key (then serialized) cost as much as the rows' own encoding. The text is byte
 * for byte `JSON.stringify({ commits: [{ seq, ops: [{ table, op, key }, …] }, …], schemaVersion })`
 * (the record's format is unchanged; tested against that model).
 */

/** `{"table":…,"op":…,"key":` for each (table, op) seen (a handful per store). */
const prefixes = new Map<string, Map<string, string>>();

function prefixOf(table: string, op: string): string {
  let byOp = prefixes.get(table);
  if (byOp === undefined) prefixes.set(table, (byOp = new Map()));
  let p = byOp.get(op);
  if (p === undefined) byOp.set(op, (p = `{"table":${JSON.stringify(table)},"op":${JSON.stringify(op)},"key":`));
  return p;
}

/** JSON of one `{ table, op, key }`, given the `{"table":…,"op":…,"key":` of its table and op. */
function opJson(o: CommitOp, prefix: string): string {
  const k = o.key;
  // a finite number's JSON is its string form; other keys go through JSON.stringify (and a key
  // whose JSON is undefined, which no valid key has, is left out as JSON.stringify leaves it out)
  if (typeof k === 'number' && Number.isFinite(k)) return prefix + k + '}';
  if (typeof k === 'string') return prefix + JSON.stringify(k) + '}';
  return JSON.stringify({ table: o.table, op: o.op, key: k });
}

/**
 * JSON of one commit's entry in the change log: `{ seq, ops }` listing the table, op and key of
 * each of `ops` whose table is kept by `keep` (the disc tables; their rows hold the values).
 * @internal
 */
export function logEntryJson(seq: number, ops: readonly CommitOp[], keep: (table: string) => boolean): string {
  // one op (a one-row transaction, the common commit): no list of parts to join
  if (ops.length === 1) {
    const o = ops[0]!;
    return `{"seq":${JSON.stringify(seq)},"ops":[${keep(o.table) ? opJson(o, prefixOf(o.table, o.op)) : ''}]}`;
  }
  const parts: string[] = [];
  // consecutive ops mostly share a table and an op (a batch of puts): both looked up once per run
  let lastTable: string | undefined;
  let lastOp: string | undefined;
  let lastKept = false;
  let prefix = '';
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]!;
    if (o.table !== lastTable) {
      lastTable = o.table;
      lastOp = undefined;
      lastKept = keep(o.table);
    }
    if (!lastKept) continue;
    if (o.op !== lastOp) {
      lastOp = o.op;
      prefix = prefixOf(o.table, o.op);
    }
    parts.push(opJson(o, prefix));
  }
  return `{"seq":${JSON.stringify(seq)},"ops":[${parts.join(',')}]}`;
}

/** JSON of a change-log record: the entries of {@link logEntryJson} and the schema version. @internal */
export function logRecordJson(entries: readonly string[], schemaVersion: number): string {
  return `{"commits":[${entries.join(',')}],"schemaVersion":${JSON.stringify(schemaVersion)}}`;
}
