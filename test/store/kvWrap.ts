import type { KvAdapter, KvDb } from '../../src/env/kv.ts';

/**
 * `inner` with each opened database's `write` replaced by `makeWrite(db, dir)` (called once per
 * open, so it may keep per-handle state); `get`, `iterator`, `close`, `defer` and `marker` pass
 * through. The test disks that hold, gate or refuse writes are built on it.
 */
export function wrapKvWrites(inner: KvAdapter, makeWrite: (db: KvDb, dir: string) => KvDb['write']): KvAdapter {
  return {
    exists: (dir) => inner.exists(dir),
    async open(dir, o) {
      const db = await inner.open(dir, o);
      return {
        dir: db.dir,
        marker: db.marker,
        get: (c, k) => db.get(c, k),
        iterator: (c, r) => db.iterator(c, r),
        close: () => db.close(),
        defer: (fn) => db.defer(fn),
        write: makeWrite(db, dir),
      };
    },
  };
}
