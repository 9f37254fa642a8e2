import * as http from 'node:http';
import { connect } from 'node:net';
import { chmodSync, linkSync, lstatSync, mkdtempSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OrdoError } from '../errors.ts';

/** Longest unix socket path the kernel takes (Linux `sun_path`: 108 bytes with the NUL). */
const SUN_PATH_MAX = 107;
/** The private bind directory beside the socket: `.o-` + mkdtemp's 6 characters. */
const BIND_DIR = /^\.o-[A-Za-z0-9]{6}$/;

/**
 * A unix socket cannot be listened on at `path`: `reason` `too_long` (it, or the private bind
 * path beside it, `bindPath`, is over the 107-byte `sun_path` limit) or `not_a_socket` (something
 * other than a socket is there; it is never removed). Nothing is left behind.
 */
export class SocketPathError extends OrdoError {
  readonly code = 'ORDO_SOCKET_PATH' as const;
  /** The socket path asked for. */
  readonly path: string;
  /** Why it was refused. */
  readonly reason: 'too_long' | 'not_a_socket';
  /** The private bind path that would be used (for `too_long`). */
  readonly bindPath: string | undefined;
  constructor(reason: 'too_long' | 'not_a_socket', message: string, path: string, options?: { bindPath?: string; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'SocketPathError';
    this.reason = reason;
    this.path = path;
    this.bindPath = options?.bindPath;
  }
}

/** Is there anything at `p`, and is it a socket. */
function kindAt(p: string): 'none' | 'socket' | 'other' {
  try {
    return lstatSync(p).isSocket() ? 'socket' : 'other';
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return 'none';
    throw e;
  }
}

/**
 * Removes bind directories a crashed start left in `parent`: one holding no live socket (a dead
 * one, or nothing for over a minute — a concurrent start binds within moments).
 */
async function sweepBindDirs(parent: string): Promise<void> {
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => BIND_DIR.test(n));
  } catch {
    return;
  }
  for (const n of names) {
    const d = join(parent, n);
    try {
      const st = lstatSync(d);
      if (!st.isDirectory()) continue;
      const inside = readdirSync(d);
      const sock = join(d, 's');
      const stale = inside.length === 0 ? Date.now() - st.mtimeMs > 60_000 : inside.length === 1 && inside[0] === 's' && kindAt(sock) === 'socket' && !(await socketAlive(sock));
      if (stale) rmSync(d, { recursive: true, force: true });
    } catch {
      // someone else's, or gone meanwhile: leave it
    }
  }
}

/** A request as the health endpoint sees it. */
export interface HttpRequest {
  readonly method: string;
  /** Path and query, e.g. `/health/ready`. */
  readonly url: string;
  /** The request body (UTF-8; at most 1 MiB), when there is one. */
  readonly body?: string;
}

/**
 * Where a server listens: a TCP port, or a unix socket path (mode 0600, and never reachable by
 * anyone else even for an instant: bound inside a fresh 0700 directory, then hard-linked into
 * place; a stale one left by a dead process is replaced, a live one is `EADDRINUSE`).
 */
export type HttpListenOptions = { readonly port: number; readonly host?: string } | { readonly path: string };

/** Options of {@link HttpAdapter.send}. */
export interface HttpRequestOptions {
  readonly method?: string;
  readonly body?: string;
  /** Talk HTTP over this unix socket (the URL's host is then ignored). */
  readonly socketPath?: string;
  readonly timeoutMs?: number;
}

/** A complete response (no streaming: health, tree and metrics bodies are small). */
export interface HttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A listening server. */
export interface HttpServerHandle {
  /** The port it listens on (the real one when 0 was asked for; 0 on a unix socket). */
  readonly port: number;
  /** Stops accepting, ends idle keep-alive connections, resolves when closed. */
  close(): Promise<void>;
}

/**
 * HTTP as an Env adapter: the health endpoint child listens through it, `ordo health` reads a
 * running node through it, and the simulation substitutes its own. Nothing outside `src/env/`
 * touches `node:http`.
 */
export interface HttpAdapter {
  /** Serves `handler` on a TCP port or a unix socket until the handle is closed. */
  listen(options: HttpListenOptions, handler: (req: HttpRequest) => HttpResponse | Promise<HttpResponse>): Promise<HttpServerHandle>;
  /** A GET with a timeout; rejects on a connection error. */
  get(url: string, options?: { timeoutMs?: number }): Promise<{ status: number; body: string }>;
  /** Any method, with a body, over TCP or a unix socket; rejects on a connection error (`code` `ENOENT`/`ECONNREFUSED` when nothing listens). */
  send?(url: string, options?: HttpRequestOptions): Promise<{ status: number; body: string }>;
}

const MAX_BODY = 1 << 20;

/** True when something accepts connections on the unix socket `path`. */
function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Listens on the unix socket `path` without a moment at the default mode: the socket is bound
 * in a new directory only the owner can enter (`mkdtemp`: 0700, next to `path`, so on the same
 * file system), set to 0600 there, then hard-linked to `path` — `link` fails on an existing path,
 * so a live socket is never replaced, and a stale one is unlinked first. Returns the socket's
 * inode (so closing removes `path` only while it is still this socket).
 */
async function listenPrivate(server: http.Server, path: string): Promise<number> {
  const parent = dirname(path);
  const bindPath = join(parent, '.o-XXXXXX', 's');
  if (Buffer.byteLength(path) > SUN_PATH_MAX || Buffer.byteLength(bindPath) > SUN_PATH_MAX) {
    throw new SocketPathError('too_long', `unix socket path ${path} is too long: it and its bind path ${bindPath} must be at most ${SUN_PATH_MAX} bytes`, path, { bindPath });
  }
  if (kindAt(path) === 'other') throw new SocketPathError('not_a_socket', `refusing to listen on ${path}: something other than a socket is there (left as is)`, path);
  await sweepBindDirs(parent);
  const dir = mkdtempSync(join(parent, '.o-'));
  const tmp = join(dir, 's');
  try {
    await listenOnce(server, { path: tmp });
    chmodSync(tmp, 0o600);
    try {
      linkSync(tmp, path);
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
      // a socket file left by a process that died (kill -9) is replaced; a live one is not, nor anything else
      if (kindAt(path) !== 'socket') throw new SocketPathError('not_a_socket', `refusing to listen on ${path}: something other than a socket is there (left as is)`, path, { cause: e });
      if (await socketAlive(path)) throw Object.assign(new Error(`listen EADDRINUSE: address already in use ${path}`), { code: 'EADDRINUSE', path });
      unlinkSync(path);
      linkSync(tmp, path);
    }
    return statSync(path).ino;
  } catch (e) {
    await new Promise<void>((done) => server.close(() => done()));
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function listenOnce(server: http.Server, options: HttpListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if ('path' in options) server.listen(options.path, done);
    else server.listen(options.port, options.host ?? '0.0.0.0', done);
  });
}

/** The real adapter on `node:http`. */
export function createRealHttp(): HttpAdapter {
  return {
    async listen(options, handler) {
      const server = http.createServer((req, res) => {
        void (async () => {
          let out: HttpResponse;
          try {
            const chunks: Buffer[] = [];
            let size = 0;
            for await (const c of req as AsyncIterable<Buffer>) {
              size += c.length;
              if (size > MAX_BODY) throw Object.assign(new Error('request body over 1 MiB'), { status: 413 });
              chunks.push(c);
            }
            const body = chunks.length > 0 ? Buffer.concat(chunks).toString('utf8') : undefined;
            out = await handler({ method: req.method ?? 'GET', url: req.url ?? '/', ...(body !== undefined ? { body } : {}) });
          } catch (e) {
            const status = (e as { status?: number }).status ?? 500;
            out = { status, headers: { 'content-type': 'text/plain' }, body: `${status === 500 ? 'internal error' : 'refused'}: ${e instanceof Error ? e.message : String(e)}\n` };
          }
          res.writeHead(out.status, { 'content-length': Buffer.byteLength(out.body), ...out.headers });
          res.end(out.body);
        })();
      });
      server.keepAliveTimeout = 1000;
      const ino = 'path' in options ? await listenPrivate(server, options.path) : (await listenOnce(server, options), undefined);
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      return {
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => {
              // the socket file is a link made by listenPrivate: remove it, unless another process replaced it since
              if ('path' in options && ino !== undefined) {
                try {
                  if (statSync(options.path).ino === ino) unlinkSync(options.path);
                } catch {
                  // already gone
                }
              }
              done();
            });
            server.closeIdleConnections();
          }),
      };
    },
    get(url, options = {}) {
      return new Promise((resolve, reject) => {
        const req = http.get(url, { timeout: options.timeoutMs ?? 5000 }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${options.timeoutMs ?? 5000} ms`)));
        req.on('error', reject);
      });
    },
    send(url, options = {}) {
      return new Promise((resolve, reject) => {
        const method = options.method ?? 'GET';
        const headers: Record<string, string | number> = options.body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body) } : {};
        const req = http.request(url, { method, headers, timeout: options.timeoutMs ?? 5000, ...(options.socketPath ? { socketPath: options.socketPath } : {}) }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${options.timeoutMs ?? 5000} ms`)));
        req.on('error', reject);
        req.end(options.body);
      });
    },
  };
}
