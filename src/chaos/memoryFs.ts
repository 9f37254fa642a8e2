import type { FsAdapter } from '../env/fs.ts';

/** A file-system error with Node's `code` (ENOENT, EEXIST, ENOTDIR…), as the real adapter throws. */
function fsError(code: string, op: string, path: string): Error {
  const e = new Error(`${code}: ${op} '${path}'`) as Error & { code: string; path: string };
  e.code = code;
  e.path = path;
  return e;
}

const norm = (p: string): string => {
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') parts.pop();
    else parts.push(s);
  }
  return '/' + parts.join('/');
};
const parent = (p: string): string => norm(p + '/..');

/**
 * An in-memory {@link FsAdapter} for simulations (a store's backups, status files): files and
 * directories in two maps, synchronous underneath, every path normalised. `mtimeMs` comes from
 * `now` (the simulation's clock), so a run stays a pure function of its seed.
 *
 * @example
 * import { Simulation } from 'ordo/chaos';
 * import { createMemoryFs } from './memoryFs.ts';
 *
 * const sim = new Simulation({ seed: 1 });
 * const fs = createMemoryFs(() => sim.now);
 * const env = sim.createEnv({ fs });
 * await env.io.fs.mkdir('/data', { recursive: true });
 * await env.io.fs.writeFileAtomic('/data/node-name', 'a'); // in memory: the real disk is never touched
 */
export function createMemoryFs(now: () => number = () => 0): FsAdapter {
  const files = new Map<string, { data: Buffer; mtimeMs: number }>();
  const dirs = new Set<string>(['/']);
  let tmp = 0;
  const needDir = (op: string, p: string): void => {
    if (!dirs.has(parent(p))) throw fsError('ENOENT', op, p);
  };
  const write = (p: string, data: string | Uint8Array, op: string): void => {
    const n = norm(p);
    needDir(op, n);
    if (dirs.has(n)) throw fsError('EISDIR', op, n);
    files.set(n, { data: Buffer.from(typeof data === 'string' ? Buffer.from(data) : data), mtimeMs: now() });
  };
  const under = (p: string): string[] => [...files.keys()].filter((f) => f.startsWith(p === '/' ? '/' : p + '/'));
  const fs: FsAdapter = {
    async readFile(p) {
      const f = files.get(norm(p));
      if (!f) throw fsError('ENOENT', 'open', p);
      return Buffer.from(f.data);
    },
    async writeFile(p, data) {
      write(p, data, 'open');
    },
    async writeFileAtomic(p, data) {
      write(p, data, 'open');
    },
    async appendFile(p, data) {
      const n = norm(p);
      const old = files.get(n)?.data ?? Buffer.alloc(0);
      write(n, Buffer.concat([old, Buffer.from(data)]), 'open');
    },
    async mkdir(p, options) {
      const n = norm(p);
      if (dirs.has(n)) {
        if (options?.recursive) return;
        throw fsError('EEXIST', 'mkdir', n);
      }
      if (files.has(n)) throw fsError('EEXIST', 'mkdir', n);
      if (!dirs.has(parent(n))) {
        if (!options?.recursive) throw fsError('ENOENT', 'mkdir', n);
        await fs.mkdir(parent(n), { recursive: true });
      }
      dirs.add(n);
    },
    async rm(p, options) {
      const n = norm(p);
      if (files.delete(n)) return;
      if (!dirs.has(n)) {
        if (options?.force) return;
        throw fsError('ENOENT', 'rm', n);
      }
      const inside = [...under(n), ...[...dirs].filter((d) => d.startsWith(n + '/'))];
      if (inside.length > 0 && !options?.recursive) throw fsError('ENOTEMPTY', 'rm', n);
      for (const f of under(n)) files.delete(f);
      for (const d of [...dirs]) if (d === n || d.startsWith(n + '/')) dirs.delete(d);
    },
    async rename(from, to) {
      const a = norm(from);
      const b = norm(to);
      needDir('rename', b);
      const f = files.get(a);
      if (f) {
        files.delete(a);
        files.set(b, f);
        return;
      }
      if (!dirs.has(a)) throw fsError('ENOENT', 'rename', a);
      for (const k of under(a)) {
        files.set(b + k.slice(a.length), files.get(k)!);
        files.delete(k);
      }
      for (const d of [...dirs]) {
        if (d === a || d.startsWith(a + '/')) {
          dirs.delete(d);
          dirs.add(b + d.slice(a.length));
        }
      }
    },
    async readdir(p) {
      const n = norm(p);
      if (!dirs.has(n)) throw fsError(files.has(n) ? 'ENOTDIR' : 'ENOENT', 'scandir', n);
      const prefix = n === '/' ? '/' : n + '/';
      const names = new Set<string>();
      for (const k of [...files.keys(), ...dirs]) if (k !== n && k.startsWith(prefix)) names.add(k.slice(prefix.length).split('/')[0]!);
      return [...names].sort();
    },
    async stat(p) {
      const n = norm(p);
      const f = files.get(n);
      if (f) return { isFile: true, isDirectory: false, size: f.data.length, mtimeMs: f.mtimeMs };
      return dirs.has(n) ? { isFile: false, isDirectory: true, size: 0, mtimeMs: 0 } : undefined;
    },
    async exists(p) {
      const n = norm(p);
      return files.has(n) || dirs.has(n);
    },
    async du(p) {
      const n = norm(p);
      const f = files.get(n);
      if (f) return f.data.length;
      return under(n).reduce((a, k) => a + files.get(k)!.data.length, 0);
    },
    async mkdtemp(prefix) {
      const p = norm(`${prefix}${(++tmp).toString(36).padStart(6, '0')}`);
      await fs.mkdir(p, { recursive: true });
      return p;
    },
  };
  return fs;
}
