import { encodeKey, fromBytes, toBytes } from './keyCodec.ts';

/**
 * On-disk layout. Four fixed column families, so adding a table or an index never needs a
 * reopen (RocksDB must be told every column family at open):
 * - `meta`: catalog, schema version and history, commit sequence, replication positions,
 *   migration progress, last backup — JSON values under short string keys.
 * - `rows`: `encode(tableId) + rowKey` → checksummed JSON row.
 * - `idx`: `encode(tableId) + encode(attribute) + encode(value) + rowKey` → `0x01`.
 * - `log`: `encode(commitSeq)` → checksummed JSON record of the commits' keys (bounded; `logRecord.ts`).
 */
export const COLUMNS = ['meta', 'rows', 'idx', 'log'] as const;

export const META = {
  catalog: 'catalog',
  version: 'schema_version',
  seq: 'commit_seq',
  migration: 'migration',
  deferred: 'deferred_migrations',
  lastBackup: 'last_backup',
  appliedPrefix: 'applied/',
} as const;

export const INDEX_MARK = Buffer.from([1]);

export function metaKey(name: string): Buffer {
  return Buffer.from(name, 'utf8');
}

const prefixes = new Map<number, string>();

export function tablePrefix(id: number): string {
  let p = prefixes.get(id);
  if (p === undefined) prefixes.set(id, (p = encodeKey(id)!));
  return p;
}

export function rowDiskKey(id: number, rowKey: string): Buffer {
  const p = tablePrefix(id);
  const b = Buffer.allocUnsafe(p.length + rowKey.length);
  b.write(p, 0, 'latin1');
  b.write(rowKey, p.length, 'latin1');
  return b;
}

/**
 * Row disk keys written into shared chunks: {@link rowDiskKey}'s bytes without a buffer
 * allocation and two native string writes per key (a group flush makes one per row). The views
 * share chunks that are never reused (a write may keep them). @internal
 */
export class DiskKeys {
  private chunk = new Uint8Array(0);
  private off = 0;

  /** The bytes of `rowDiskKey(id, rowKey)`. */
  row(id: number, rowKey: string): Uint8Array {
    return this.join(tablePrefix(id), rowKey);
  }

  /** The bytes of `indexDiskKey(id, attr, entry)`. */
  index(id: number, attr: string, entry: string): Uint8Array {
    return this.join(indexPrefix(id, attr), entry);
  }

  /** The bytes of the byte string `p + rest`. */
  private join(p: string, rowKey: string): Uint8Array {
    const len = p.length + rowKey.length;
    if (this.chunk.length - this.off < len) {
      // small first (a flush of a few commits), doubling up to 16 KB (a bulk batch)
      this.chunk = new Uint8Array(Math.max(Math.min(KEY_CHUNK, this.chunk.length * 2 || 256), len));
      this.off = 0;
    }
    const b = this.chunk;
    let o = this.off;
    // byte strings (keyCodec.ts): every code unit is below 256, as latin1 writes them
    for (let i = 0; i < p.length; i++) b[o++] = p.charCodeAt(i);
    for (let i = 0; i < rowKey.length; i++) b[o++] = rowKey.charCodeAt(i);
    const key = new Uint8Array(b.buffer, this.off, len);
    this.off = o;
    return key;
  }
}
const KEY_CHUNK = 16 * 1024;

/** Index prefixes by table id, then attribute (a handful per store: encoded once each). */
const indexPrefixes = new Map<number, Map<string, string>>();

export function indexPrefix(id: number, attr: string): string {
  let byAttr = indexPrefixes.get(id);
  if (byAttr === undefined) indexPrefixes.set(id, (byAttr = new Map()));
  let p = byAttr.get(attr);
  if (p === undefined) byAttr.set(attr, (p = tablePrefix(id) + encodeKey(attr)!));
  return p;
}

export function indexDiskKey(id: number, attr: string, entry: string): Buffer {
  return toBytes(indexPrefix(id, attr) + entry);
}

export function logKey(seq: number): Buffer {
  return toBytes(encodeKey(seq)!);
}

export { fromBytes };
