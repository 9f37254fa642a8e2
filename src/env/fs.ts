import * as fsp from 'node:fs/promises';
import * as fs from 'node:fs';

/**
 * The file-system operations Ordo components need, as an adapter so the chaos engine can
 * substitute a simulated disk with fault points.
 */
export interface FsAdapter {
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, data: string | Uint8Array): Promise<void>;
  /** Write to a temp file, fsync it, then rename over `path` (atomic replace); on failure the temp file is removed. */
  writeFileAtomic(path: string, data: string | Uint8Array): Promise<void>;
  appendFile(path: string, data: string | Uint8Array): Promise<void>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  rm(path: string, options?: { recursive?: boolean; force?: boolean }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<{ isFile: boolean; isDirectory: boolean; size: number; mtimeMs: number } | undefined>;
  exists(path: string): Promise<boolean>;
  /** Total size in bytes of the files under `path` (recursive). */
  du(path: string): Promise<number>;
  mkdtemp(prefix: string): Promise<string>;
}

export function createRealFs(): FsAdapter {
  let tmpSeq = 0;
  const stat: FsAdapter['stat'] = async (p) => {
    try {
      const s = await fsp.stat(p);
      return { isFile: s.isFile(), isDirectory: s.isDirectory(), size: s.size, mtimeMs: s.mtimeMs };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  };
  const du = async (p: string): Promise<number> => {
    const s = await stat(p);
    if (!s) return 0;
    if (!s.isDirectory) return s.size;
    let total = 0;
    for (const name of await fsp.readdir(p)) total += await du(`${p}/${name}`);
    return total;
  };
  return {
    readFile: (p) => fsp.readFile(p),
    writeFile: (p, d) => fsp.writeFile(p, d),
    async writeFileAtomic(p, d) {
      const tmp = `${p}.tmp-${process.pid}-${++tmpSeq}`;
      try {
        const fh = await fsp.open(tmp, 'w');
        try {
          await fh.writeFile(d);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await fsp.rename(tmp, p);
      } catch (err) {
        // never leave a partial temp file behind (a full disk would otherwise keep it full)
        await fsp.rm(tmp, { force: true });
        throw err;
      }
    },
    appendFile: (p, d) => fsp.appendFile(p, d),
    mkdir: async (p, o) => {
      await fsp.mkdir(p, o);
    },
    rm: (p, o) => fsp.rm(p, o),
    rename: (a, b) => fsp.rename(a, b),
    readdir: (p) => fsp.readdir(p),
    stat,
    exists: async (p) => fs.existsSync(p),
    du,
    mkdtemp: (prefix) => fsp.mkdtemp(prefix),
  };
}
