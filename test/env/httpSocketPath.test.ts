/**
 * Issue 14 review: the private bind path of the admin socket (`<dir>/.<name>-XXXXXX/s`) was
 * longer than the socket path itself; for paths of 98–107 bytes libuv truncated it at 107 bytes
 * and bound outside the 0700 directory (a stray socket at the umask mode, ENOENT on chmod). And
 * an existing regular file at the path was unlinked. Real unix sockets in a temp dir.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRealHttp, SocketPathError } from '../../src/env/http.ts';

// Paths of exact byte lengths need a short base: the OS temp dir when it is short (under npm test
// it is the run's temp root, test/harness/globalSetup.ts), else /tmp.
const root = mkdtempSync(join(tmpdir().length <= 40 ? tmpdir() : '/tmp', 'ordo-sockpath-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A fresh directory under `root` whose path is exactly `len` bytes. */
function dirOfLength(len: number, tag: string): string {
  const base = join(root, tag);
  if (base.length > len) throw new Error(`the temp base ${base} is longer than ${len} bytes`);
  const d = base + 'd'.repeat(len - base.length);
  mkdirSync(d);
  return d;
}

/** Everything under `d`, recursively (relative names). */
function listAll(d: string): string[] {
  return readdirSync(d, { recursive: true }).map(String).sort();
}

describe('admin socket path limits', () => {
  it('a 103-byte socket path listens (the bind path fits) and leaves only the socket', async () => {
    const name = 'ordo.sock';
    const d = dirOfLength(103 - name.length - 1, 'a');
    const path = join(d, name);
    expect(Buffer.byteLength(path)).toBe(103);
    const http = createRealHttp();
    const h = await http.listen({ path }, () => ({ status: 200, body: 'ok' }));
    expect(await http.send!('http://admin/x', { socketPath: path })).toEqual({ status: 200, body: 'ok' });
    expect(listAll(d)).toEqual([name]);
    await h.close();
    expect(listAll(d)).toEqual([]);
  });

  it('a path whose bind path would pass 107 bytes is refused typed, with nothing left behind', async () => {
    const d = dirOfLength(100, 'b');
    const path = join(d, 's.sock'); // 107 bytes, its bind path 112
    const http = createRealHttp();
    const err = await http.listen({ path }, () => ({ status: 200, body: 'ok' })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SocketPathError);
    expect((err as SocketPathError).code).toBe('ORDO_SOCKET_PATH');
    expect((err as SocketPathError).reason).toBe('too_long');
    expect((err as SocketPathError).path).toBe(path);
    expect(listAll(d)).toEqual([]);
    expect(readdirSync(join(d, '..')).filter((n) => n.startsWith('.'))).toEqual([]); // nothing bound beside it either
  });

  it('an existing regular file at the path is refused typed and kept', async () => {
    const d = dirOfLength(70, 'c');
    const path = join(d, 'ordo.sock');
    writeFileSync(path, 'precious');
    const http = createRealHttp();
    const err = await http.listen({ path }, () => ({ status: 200, body: 'ok' })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SocketPathError);
    expect((err as SocketPathError).reason).toBe('not_a_socket');
    expect((err as SocketPathError).message).toContain(path);
    expect(readFileSync(path, 'utf8')).toBe('precious');
    expect(listAll(d)).toEqual(['ordo.sock']);
  });

  it('a bind directory left by a crashed start (no live socket) is removed at the next start', async () => {
    const d = dirOfLength(70, 'e');
    const left = join(d, '.o-AbC123');
    mkdirSync(left);
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(left, old, old);
    const path = join(d, 'ordo.sock');
    const http = createRealHttp();
    const h = await http.listen({ path }, () => ({ status: 200, body: 'ok' }));
    expect(listAll(d)).toEqual(['ordo.sock']);
    await h.close();
  });
});
