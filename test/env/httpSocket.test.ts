/**
 * The unix socket of `env.io.http.listen({ path })` (the jobs admin socket) is never reachable by
 * anyone but its owner, not even between being bound and being given mode 0600: every state the
 * socket path passes through is recorded at each file-system step the adapter takes.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as realFs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

/** Modes the watched path had, seen just before each chmod / link / unlink the adapter made. */
const seen: Array<{ step: string; mode: number | undefined }> = [];
let watched = '';
const modeOf = (p: string): number | undefined => {
  try {
    return realFs.lstatSync(p).mode & 0o777;
  } catch {
    return undefined;
  }
};
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const spy =
    <A extends unknown[], R>(step: string, f: (...a: A) => R) =>
    (...a: A): R => {
      if (watched) seen.push({ step, mode: modeOf(watched) });
      return f(...a);
    };
  return { ...fs, default: fs, chmodSync: spy('chmod', fs.chmodSync), linkSync: spy('link', fs.linkSync), unlinkSync: spy('unlink', fs.unlinkSync) };
});

const { createRealHttp } = await import('../../src/env/http.ts');

describe('the admin unix socket is private from the moment it exists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-sock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the path never exists with a mode other than 0600; it answers; nothing is left beside it; close removes it', async () => {
    const path = join(dir, 'ordo-jobs.sock');
    watched = path;
    const http = createRealHttp();
    const h = await http.listen({ path }, () => ({ status: 200, body: 'ok' }));
    seen.push({ step: 'listening', mode: modeOf(path) });
    const exists = seen.filter((s) => s.mode !== undefined);
    expect(exists.length).toBeGreaterThan(0); // it was looked at once it existed
    expect(exists.map((s) => `${s.step}:${s.mode!.toString(8)}`)).toEqual(exists.map((s) => `${s.step}:600`));
    expect(await http.send!('http://admin/x', { socketPath: path })).toEqual({ status: 200, body: 'ok' });
    expect(readdirSync(dir)).toEqual(['ordo-jobs.sock']); // the private bind directory is gone
    await h.close();
    expect(readdirSync(dir)).toEqual([]);
    watched = '';
  });

  it('a live socket is not replaced (EADDRINUSE); a stale one (its server gone, the file left) is', async () => {
    const path = join(dir, 'live.sock');
    const http = createRealHttp();
    const first = await http.listen({ path }, () => ({ status: 200, body: 'first' }));
    await expect(http.listen({ path }, () => ({ status: 200, body: 'second' }))).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect((await http.send!('http://admin/x', { socketPath: path })).body).toBe('first');
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
    // a file left by a process that died: a socket nobody listens on
    await first.close();
    const net = await import('node:net');
    const orphan = net.createServer();
    await new Promise<void>((r) => orphan.listen(join(dir, 'x.sock'), () => r()));
    realFs.renameSync(join(dir, 'x.sock'), path); // the file stays once its server closes (renamed away from libuv's own cleanup)
    await new Promise<void>((r) => orphan.close(() => r()));
    expect(realFs.existsSync(path)).toBe(true);
    const second = await http.listen({ path }, () => ({ status: 200, body: 'second' }));
    expect((await http.send!('http://admin/x', { socketPath: path })).body).toBe('second');
    expect(modeOf(path)).toBe(0o600);
    await second.close();
  });
});
