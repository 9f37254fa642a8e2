// Shared by the durability regression tests and the corruption suite: a store built over
// several sessions (so RocksDB has SSTs, a MANIFEST with several edits, a WAL), a model of
// what was acknowledged, damage to one file, and the check of the invariant.
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { openStore } from '../../src/store/openStore.ts';
import type { Store } from '../../src/store/store.ts';
import type { Row, TableDef } from '../../src/store/types.ts';
import type { Random } from '../../src/env/random.ts';
import type { TestEnv } from '../../src/env/env.ts';

export const kitTables: Record<string, TableDef> = {
  accounts: { key: 'id', attributes: { id: { type: 'integer' }, n: { type: 'integer' }, note: { type: 'string' } }, indexes: ['n'] },
  events: { type: 'ordered_set', key: 'k', attributes: { k: { type: 'string' }, body: { type: 'string' } } },
};

/** What was acknowledged: table → key → row. */
export type Model = Map<string, Map<unknown, Row>>;

export function emptyModel(): Model {
  return new Map(Object.keys(kitTables).map((t) => [t, new Map()]));
}

/** One session of acknowledged writes (puts, updates, deletes) on an open store, mirrored in `model`. */
export async function writeSession(s: Store, model: Model, rnd: Random, session: number, ops = 120): Promise<void> {
  const acc = model.get('accounts')!;
  const ev = model.get('events')!;
  for (let i = 0; i < ops; i++) {
    const r = rnd.int(10);
    if (r < 6) {
      const id = session * 1000 + i;
      const row = { id, n: rnd.int(50), note: `s${session}-${i}-${'x'.repeat(rnd.int(80))}` };
      await s.dirtyPut('accounts', row);
      acc.set(id, row);
    } else if (r < 8 && acc.size > 0) {
      const keys = [...acc.keys()];
      const id = keys[rnd.int(keys.length)]!;
      const row = await s.transaction((tx) => {
        const old = tx.get('accounts', id)!;
        const next = { ...old, n: (old.n as number) + 1 };
        tx.put('accounts', next);
        return next;
      });
      acc.set(id, row);
    } else if (r < 9 && acc.size > 0) {
      const keys = [...acc.keys()];
      const id = keys[rnd.int(keys.length)]!;
      await s.dirtyDelete('accounts', id);
      acc.delete(id);
    } else {
      const rows = Array.from({ length: 5 }, (_, j) => ({ k: `e${session}-${i}-${j}`, body: 'y'.repeat(rnd.int(200)) }));
      await s.dirtyPutMany('events', rows);
      for (const row of rows) ev.set(row.k, row);
    }
  }
}

/** Builds a store over `sessions` open/close cycles (the last session's writes stay in the WAL). */
export async function buildStore(env: TestEnv, dir: string, rnd: Random, sessions = 3, ops = 120): Promise<Model> {
  const model = emptyModel();
  for (let session = 1; session <= sessions; session++) {
    const s = await openStore({ env, dir, tables: kitTables });
    await writeSession(s, model, rnd, session, ops);
    await s.close();
  }
  return model;
}

/** The kinds of RocksDB file the suite damages (`SST-properties`: the one block RocksDB parses before checking its checksum). */
export type FileKind = 'MANIFEST' | 'CURRENT' | 'WAL' | 'SST-data' | 'SST-index' | 'SST-properties' | 'SST-footer' | 'OPTIONS';
export const FILE_KINDS: readonly FileKind[] = ['MANIFEST', 'CURRENT', 'WAL', 'SST-data', 'SST-index', 'SST-properties', 'SST-footer', 'OPTIONS'];

/**
 * Where an SST's properties block lies (offset and size, without its 5-byte trailer), read the
 * way RocksDB's format-6 footer gives it: the metaindex block ends right before the footer and
 * names `rocksdb.properties`. Written independently of `src/env/sstCheck.ts` (a test oracle).
 */
export function propertiesBlockOf(b: Buffer): { offset: number; size: number } {
  const footer = b.length - 53;
  if (b.readUInt32LE(b.length - 12) < 6) throw new Error('not a format-6 SST');
  const metaSize = b.readUInt32LE(footer + 13);
  const meta = b.subarray(footer - 5 - metaSize, footer - 5);
  const at = meta.indexOf('rocksdb.properties');
  if (at < 0) throw new Error('no properties block');
  let p = at + 'rocksdb.properties'.length;
  const varint = (): number => {
    let v = 0;
    for (let mul = 1; ; mul *= 128) {
      const x = meta[p++]!;
      v += (x & 0x7f) * mul;
      if ((x & 0x80) === 0) return v;
    }
  };
  const offset = varint();
  return { offset, size: varint() };
}

export function filesOf(dir: string, kind: FileKind): string[] {
  const names = readdirSync(dir).filter((n) => statSync(`${dir}/${n}`).isFile());
  const pick = (re: RegExp): string[] => names.filter((n) => re.test(n)).sort();
  switch (kind) {
    case 'MANIFEST':
      return pick(/^MANIFEST-\d+$/);
    case 'CURRENT':
      return pick(/^CURRENT$/);
    case 'WAL':
      return pick(/^\d+\.log$/).filter((n) => statSync(`${dir}/${n}`).size > 0);
    case 'OPTIONS':
      return pick(/^OPTIONS-\d+$/);
    default:
      return pick(/^\d+\.sst$/);
  }
}

/**
 * A byte range of `file` for the kind: SST data blocks are at the start; the footer is the
 * last 53 bytes; the index and meta blocks lie just before the footer.
 */
export function regionOf(kind: FileKind, size: number, file?: Buffer): [number, number] {
  if (kind === 'SST-properties' && file) {
    const p = propertiesBlockOf(file);
    return [p.offset, p.offset + p.size + 5];
  }
  if (kind === 'SST-data') return [0, Math.max(1, Math.floor(size * 0.5))];
  if (kind === 'SST-footer') return [Math.max(0, size - 53), size];
  if (kind === 'SST-index') return [Math.max(0, size - 53 - Math.min(400, Math.floor(size * 0.3))), Math.max(1, size - 53)];
  return [0, size];
}

export type Damage = { readonly file: string; readonly how: 'flip'; readonly at: number } | { readonly file: string; readonly how: 'truncate'; readonly to: number };

/** Damages one file of `kind` in `dir`, chosen with `rnd`: a flipped byte, or a truncation. Returns what was done. */
export function damage(dir: string, kind: FileKind, how: 'flip' | 'truncate', rnd: Random): Damage | undefined {
  const files = filesOf(dir, kind);
  if (files.length === 0) return undefined;
  const file = files[rnd.int(files.length)]!;
  const path = `${dir}/${file}`;
  const size = statSync(path).size;
  if (size === 0) return undefined;
  const [from, to] = regionOf(kind, size, kind === 'SST-properties' ? readFileSync(path) : undefined);
  if (how === 'flip') {
    const at = from + rnd.int(Math.max(1, to - from));
    const buf = readFileSync(path);
    buf[at] = buf[at]! ^ (1 + rnd.int(255));
    writeFileSync(path, buf);
    return { file, how, at };
  }
  const cut = from + rnd.int(Math.max(1, to - from));
  truncateSync(path, cut);
  return { file, how, to: cut };
}

/** Name → sha1 of every file in `dir` (no sub-directories), to prove a refused open changed nothing. */
export function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(dir).sort()) {
    const p = `${dir}/${n}`;
    if (!statSync(p).isFile() || n === 'LOCK') continue;
    out[n] = createHash('sha1').update(readFileSync(p)).digest('hex');
  }
  return out;
}

export function copyStore(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
}

/** How one damaged store behaved (since the open checks the index column and refuses unreadable blocks, `exact` or `refused`). */
export type Outcome = 'exact' | 'refused' | `VIOLATION: ${string}`;

/**
 * Opens the damaged store and checks the invariant: it opens and serves exactly `model`
 * (every table equal, `verify()` clean, the on-disk index included) — or refuses with
 * `ORDO_STORE_CORRUPT` and leaves every file as it was (and refuses again). Anything else —
 * fewer rows, a table that opened unreadable, an index `verify()` finds wrong, another error
 * code — is a violation.
 */
export async function probe(env: TestEnv, dir: string, model: Model): Promise<Outcome> {
  const before = fingerprint(dir);
  let s: Store;
  try {
    s = await openStore({ env, dir, tables: kitTables, expectExisting: true });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code !== 'ORDO_STORE_CORRUPT') return `VIOLATION: refused with ${String(code)}: ${(err as Error).message}`;
    const after = fingerprint(dir);
    if (JSON.stringify(after) !== JSON.stringify(before)) return `VIOLATION: a refused open changed files: ${JSON.stringify(diffKeys(before, after))}`;
    try {
      const again = await openStore({ env, dir, tables: kitTables, expectExisting: true });
      await again.close();
      return 'VIOLATION: refused once, opened on the second try';
    } catch (err2) {
      if ((err2 as { code?: unknown }).code !== 'ORDO_STORE_CORRUPT') return `VIOLATION: second open ${String((err2 as { code?: unknown }).code)}`;
    }
    return 'refused';
  }
  try {
    for (const [table, rows] of model) {
      let served: Row[];
      try {
        served = s.range(table);
      } catch (err) {
        return `VIOLATION: opened, but ${table} read threw ${String((err as { code?: unknown }).code)}`;
      }
      const keyOf = (r: Row): unknown => (table === 'accounts' ? r.id : r.k);
      const got = new Map(served.map((r) => [keyOf(r), r]));
      if (got.size !== rows.size) return `VIOLATION: ${table} serves ${got.size} rows, ${rows.size} acknowledged`;
      for (const [k, r] of rows) if (JSON.stringify(got.get(k)) !== JSON.stringify(r)) return `VIOLATION: ${table} key ${String(k)} differs`;
    }
    let report;
    try {
      report = await s.verify();
    } catch (err) {
      return `VIOLATION: verify threw ${String((err as { code?: unknown }).code)} ${(err as Error).message}`;
    }
    if (!report.ok) return `VIOLATION: verify: ${report.problems.slice(0, 3).join('; ')}`;
    return 'exact';
  } finally {
    await s.close();
  }
}


function diffKeys(a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]);
}
