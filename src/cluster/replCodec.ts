import type { CommitBatch, CommitOp } from '../store/types.ts';

/** A table name as one subject token (names outside `[A-Za-z0-9_-]` are hex-encoded). */
export const subjectToken = (t: string): string => (/^[A-Za-z0-9_-]+$/.test(t) ? t : `x${Buffer.from(t).toString('hex')}`);

/**
 * The subject a node publishes a batch on: `<prefix>.<node>.t.<table>` for a one-table batch,
 * `<prefix>.<node>.m` otherwise. The node's name is in the subject so that NATS permissions
 * (each node may publish only on `<prefix>.<node>.>`) bind a message to the node that sent it.
 */
export function replSubject(prefix: string, node: string, tables: readonly string[]): string {
  return tables.length === 1 ? `${prefix}.${node}.t.${subjectToken(tables[0]!)}` : `${prefix}.${node}.m`;
}

/** The table's subjects across all nodes (`<prefix>.*.t.<table>`): the key of table-scope expectations. */
export function tableSubjects(prefix: string, table: string): string {
  return `${prefix}.*.t.${subjectToken(table)}`;
}

/** The table-scope key of a publish subject (`<prefix>.*.t.<table>`), or `undefined` for a multi-table one. */
export function tableKeyOf(prefix: string, subject: string): string | undefined {
  const p = parseReplSubject(prefix, subject);
  return p?.table !== undefined ? `${prefix}.*.t.${p.table}` : undefined;
}

/** The writer node a replication subject names, and its kind; `undefined` when it is not one. */
export function parseReplSubject(prefix: string, subject: string): { node: string; table?: string } | undefined {
  if (!subject.startsWith(`${prefix}.`)) return undefined;
  const rest = subject.slice(prefix.length + 1).split('.');
  const node = rest[0] ?? '';
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(node)) return undefined;
  if (rest.length === 2 && rest[1] === 'm') return { node };
  if (rest.length === 3 && rest[1] === 't' && rest[2] !== '') return { node, table: rest[2]! };
  return undefined;
}

/** Wire format version of a replicated message. */
export const REPL_FORMAT = 1;

/** What goes on the stream: one committed batch per message. */
export interface ReplMessage {
  v: typeof REPL_FORMAT;
  /** The writer node's name. */
  node: string;
  batch: CommitBatch;
  /**
   * The same transaction's writes to the writer's *local* tables: applied only by the node
   * named `node`, atomically with `batch` (also when it re-applies the stream after a crash).
   */
  local?: CommitOp[];
}

/** Encodes a batch (and the writer's local writes of the same transaction) as a stream message payload (JSON). */
export function encodeBatch(node: string, batch: CommitBatch, local?: readonly CommitOp[]): Uint8Array {
  const msg: ReplMessage = local && local.length > 0 ? { v: REPL_FORMAT, node, batch, local: [...local] } : { v: REPL_FORMAT, node, batch };
  return new TextEncoder().encode(JSON.stringify(msg));
}

/** Result of decoding: the batch, or why it is malformed. */
export type DecodeResult = { ok: true; node: string; batch: CommitBatch; local?: CommitOp[] } | { ok: false; why: string };

function validateOp(op: unknown, i: number, where: string, tables?: ReadonlySet<string>): string | undefined {
  if (typeof op !== 'object' || op === null) return `${where}[${i}] is not an object`;
  const o = op as Partial<CommitOp>;
  if (typeof o.table !== 'string' || o.table === '') return `${where}[${i}].table is not a string`;
  if (tables && !tables.has(o.table)) return `${where}[${i}].table "${o.table}" is not a replicated table`;
  if (o.op !== 'put' && o.op !== 'delete') return `${where}[${i}].op is not put|delete`;
  if (o.key === undefined) return `${where}[${i}].key is missing`;
  if (o.op === 'put' && (typeof o.value !== 'object' || o.value === null || Array.isArray(o.value))) return `${where}[${i}].value is not a record`;
  return undefined;
}

/**
 * Checks a batch's shape: non-empty ops, each on a known table with a valid op. A batch that
 * carries deferred migrations (`migrations`: a non-empty array of positive integers) may have
 * no ops (a migration that changed nothing still has to be recorded everywhere).
 */
export function validateBatch(batch: unknown, tables?: ReadonlySet<string>): string | undefined {
  if (typeof batch !== 'object' || batch === null) return 'batch is not an object';
  const b = batch as Partial<CommitBatch>;
  if (!Number.isInteger(b.schemaVersion) || (b.schemaVersion as number) < 0) return 'schemaVersion is not a non-negative integer';
  if (b.migrations !== undefined) {
    const m: unknown = b.migrations;
    if (!Array.isArray(m) || m.length === 0 || !m.every((v) => Number.isInteger(v) && (v as number) > 0)) return 'migrations is not a non-empty array of positive integers';
    if (!Array.isArray(b.ops)) return 'ops is not an array';
  } else if (!Array.isArray(b.ops) || b.ops.length === 0) return 'ops is not a non-empty array';
  for (const [i, op] of (b.ops as unknown[]).entries()) {
    const why = validateOp(op, i, 'ops', tables);
    if (why) return why;
  }
  return undefined;
}

/** Decodes and validates a stream message payload. Never throws. */
export function decodeBatch(data: Uint8Array, tables?: ReadonlySet<string>): DecodeResult {
  let msg: unknown;
  try {
    msg = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (e) {
    return { ok: false, why: `not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (typeof msg !== 'object' || msg === null) return { ok: false, why: 'not an object' };
  const m = msg as Partial<ReplMessage>;
  if (m.v !== REPL_FORMAT) return { ok: false, why: `unknown format version ${JSON.stringify(m.v)}` };
  if (typeof m.node !== 'string') return { ok: false, why: 'node is not a string' };
  const why = validateBatch(m.batch, tables);
  if (why) return { ok: false, why };
  if (m.local === undefined) return { ok: true, node: m.node, batch: m.batch as CommitBatch };
  if (!Array.isArray(m.local)) return { ok: false, why: 'local is not an array' };
  for (const [i, op] of (m.local as unknown[]).entries()) {
    const w = validateOp(op, i, 'local');
    if (w) return { ok: false, why: w };
  }
  return { ok: true, node: m.node, batch: m.batch as CommitBatch, local: m.local };
}

/**
 * Decodes a message as it came off the stream, trusting the **subject** for who wrote it (NATS
 * permissions bind it), never the payload: a subject that is not a replication subject, a
 * payload `node` that disagrees with the subject's node, or a batch on the wrong kind of
 * subject is malformed. Never throws.
 */
export function decodeMessage(prefix: string, subject: string, data: Uint8Array, tables?: ReadonlySet<string>): DecodeResult {
  const origin = parseReplSubject(prefix, subject);
  if (!origin) return { ok: false, why: `subject ${subject} is not <prefix>.<node>.t.<table> or <prefix>.<node>.m` };
  const d = decodeBatch(data, tables);
  if (!d.ok) return d;
  if (d.node !== origin.node) return { ok: false, why: `payload claims node ${JSON.stringify(d.node)} but was published on node ${origin.node}'s subject` };
  // the local part is the writer's own non-replicated tables: a replicated table there would be written on one node only
  const strayLocal = tables ? d.local?.find((o) => tables.has(o.table)) : undefined;
  if (strayLocal) return { ok: false, why: `local part writes replicated table ${strayLocal.table}` };
  const t = tablesOf(d.batch);
  if (replSubject(prefix, origin.node, t) !== subject) return { ok: false, why: `a batch on ${t.length === 1 ? `table ${t[0]}` : `${t.length} tables`} does not belong on subject ${subject}` };
  return d;
}

/** The tables a batch touches, sorted. */
export function tablesOf(batch: CommitBatch): string[] {
  return [...new Set(batch.ops.map((o) => o.table))].sort();
}
