import * as http from 'node:http';

/** A request as the health endpoint sees it. */
export interface HttpRequest {
  readonly method: string;
  /** Path and query, e.g. `/health/ready`. */
  readonly url: string;
}

/** A complete response (no streaming: health, tree and metrics bodies are small). */
export interface HttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A listening server. */
export interface HttpServerHandle {
  /** The port it listens on (the real one when 0 was asked for). */
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
  listen(options: { port: number; host?: string }, handler: (req: HttpRequest) => HttpResponse | Promise<HttpResponse>): Promise<HttpServerHandle>;
  /** A GET with a timeout; rejects on a connection error. */
  get(url: string, options?: { timeoutMs?: number }): Promise<{ status: number; body: string }>;
}

/** The real adapter on `node:http`. */
export function createRealHttp(): HttpAdapter {
  return {
    listen(options, handler) {
      const server = http.createServer((req, res) => {
        void (async () => {
          let out: HttpResponse;
          try {
            out = await handler({ method: req.method ?? 'GET', url: req.url ?? '/' });
          } catch (e) {
            out = { status: 500, headers: { 'content-type': 'text/plain' }, body: `internal error: ${e instanceof Error ? e.message : String(e)}\n` };
          }
          res.writeHead(out.status, { 'content-length': Buffer.byteLength(out.body), ...out.headers });
          res.end(out.body);
        })();
      });
      server.keepAliveTimeout = 1000;
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host ?? '0.0.0.0', () => {
          server.off('error', reject);
          const addr = server.address();
          const port = typeof addr === 'object' && addr ? addr.port : options.port;
          resolve({
            port,
            close: () =>
              new Promise<void>((done) => {
                server.close(() => done());
                server.closeIdleConnections();
              }),
          });
        });
      });
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
  };
}
