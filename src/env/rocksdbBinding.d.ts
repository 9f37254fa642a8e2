/** Minimal ambient typing for the untyped `@nxtedition/rocksdb` binding (see `rocksdb.ts`). */
declare module '@nxtedition/rocksdb' {
  export class RocksLevel {
    constructor(location: string, options?: unknown);
  }
}
