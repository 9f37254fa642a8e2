// One contract for the file-system adapter: the real one (node:fs in a temp dir) and the
// in-memory one simulations use (src/chaos/memoryFs.ts) must behave alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRealFs, type FsAdapter } from '../../src/env/index.ts';
import { createMemoryFs } from '../../src/chaos/memoryFs.ts';

const realRoot = mkdtempSync(join(tmpdir(), 'ordo-fs-contract-'));
afterAll(() => rmSync(realRoot, { recursive: true, force: true }));

const adapters: Array<[string, FsAdapter, string]> = [
  ['real', createRealFs(), realRoot],
  ['memory', createMemoryFs(), '/root'],
];

describe.each(adapters)('FsAdapter contract: %s', (_name, fs, root) => {
  const p = (...s: string[]): string => join(root, ...s);
  it('mkdir (recursive or not), write, read, append, stat, exists, readdir, du', async () => {
    await fs.mkdir(root, { recursive: true });
    await expect(fs.mkdir(p('a', 'b'))).rejects.toMatchObject({ code: 'ENOENT' });
    await fs.mkdir(p('a', 'b'), { recursive: true });
    await fs.mkdir(p('a', 'b'), { recursive: true });
    await expect(fs.mkdir(p('a', 'b'))).rejects.toMatchObject({ code: 'EEXIST' });
    await fs.writeFile(p('a', 'b', 'f.txt'), 'hello');
    await fs.appendFile(p('a', 'b', 'f.txt'), ' world');
    expect((await fs.readFile(p('a', 'b', 'f.txt'))).toString()).toBe('hello world');
    await fs.writeFileAtomic(p('a', 'g.bin'), new Uint8Array([1, 2, 3]));
    expect([...(await fs.readFile(p('a', 'g.bin')))]).toEqual([1, 2, 3]);
    expect(await fs.stat(p('a', 'g.bin'))).toMatchObject({ isFile: true, isDirectory: false, size: 3 });
    expect(await fs.stat(p('a', 'b'))).toMatchObject({ isFile: false, isDirectory: true });
    expect(await fs.stat(p('nope'))).toBeUndefined();
    expect(await fs.exists(p('a', 'b', 'f.txt'))).toBe(true);
    expect(await fs.exists(p('a', 'x'))).toBe(false);
    expect((await fs.readdir(p('a'))).sort()).toEqual(['b', 'g.bin']);
    expect(await fs.du(p('a'))).toBe(14);
    await expect(fs.readFile(p('a', 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fs.writeFile(p('no', 'such', 'dir', 'f'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
  it('rename (files and directories), rm (force, recursive), mkdtemp', async () => {
    await fs.mkdir(p('r', 'd'), { recursive: true });
    await fs.writeFile(p('r', 'd', 'x'), '1');
    await fs.rename(p('r', 'd'), p('r', 'e'));
    expect(await fs.exists(p('r', 'd'))).toBe(false);
    expect((await fs.readFile(p('r', 'e', 'x'))).toString()).toBe('1');
    await fs.rename(p('r', 'e', 'x'), p('r', 'y'));
    expect(await fs.readdir(p('r'))).toEqual(['e', 'y']);
    await expect(fs.rm(p('r', 'zz'))).rejects.toMatchObject({ code: 'ENOENT' });
    await fs.rm(p('r', 'zz'), { force: true });
    await fs.rm(p('r'), { recursive: true, force: true });
    expect(await fs.exists(p('r'))).toBe(false);
    const t = await fs.mkdtemp(p('tmp-'));
    expect(t.startsWith(p('tmp-'))).toBe(true);
    expect(await fs.stat(t)).toMatchObject({ isDirectory: true });
  });
});
