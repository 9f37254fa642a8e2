/**
 * The one NATS harness for Ordo's tests and benchmarks: installs Debian's `nats-server` when
 * it is missing (as `.ci/run` does), starts it on a free port with a temp store dir, and
 * stops, kills or restarts it. Style after nats.js's own harness: `NatsServer.start(conf)`,
 * `cleanup(ns, nc)`.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsAccountConf } from '../../src/cluster/natsPermissions.ts';

/** What a test may ask of a server. */
export interface NatsServerConf {
  /** Enable JetStream (default true). */
  jetstream?: boolean;
  /** Require user/password. */
  user?: string;
  password?: string;
  /** Require a token. */
  token?: string;
  /** Require an nkey user (public key `U…`). */
  nkey?: string;
  /** Fixed port (default: a free one). */
  port?: number;
  /** Require TLS with a fresh self-signed CA + server cert (see `tlsFiles`). */
  tls?: boolean;
  /** The server's `max_payload` in bytes (default: the server's, 1 MB). */
  maxPayload?: number;
  /** `server_name` (JetStream clustering needs a unique, stable one per server). */
  serverName?: string;
  /** Monitoring HTTP port on 127.0.0.1 (`/jsz`, `/routez`…); unset: none. */
  httpPort?: number;
  /** Join a cluster: this server's route port and every peer's route URL (see `natsCluster.ts`). */
  cluster?: { name: string; port: number; routes: string[] };
  /** A store dir to use instead of a fresh temp one (restarts keep JetStream data). */
  storeDir?: string;
  /** Extra config lines, appended verbatim (e.g. accounts and permissions). */
  extraConf?: string[];
  /**
   * Per-node NATS users bound to their replication subjects (`natsAccountConf`, the
   * configuration `docs/cluster.md` ships): each node may publish only on subjects naming it.
   */
  nodeAuth?: Parameters<typeof natsAccountConf>[0];
}

/** Generates a CA and a server certificate for 127.0.0.1/localhost with openssl. */
export function makeTlsFiles(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const f = (n: string): string => join(dir, n);
  const run = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=ordo-test-ca', '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr')]);
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('ext.cnf'), '-out', f('server.pem')]);
  return { caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key') };
}

let installed = false;

/** Makes sure `nats-server` is on PATH, installing it with apt-get when it is not. */
export function ensureNatsServer(): string {
  if (installed) return 'nats-server';
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'pipe' });
  } catch {
    const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
    const run = (args: string[]): void => {
      const [cmd, ...rest] = [...sudo, ...args];
      execFileSync(cmd!, rest, { stdio: 'pipe', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    };
    run(['apt-get', 'update', '-qq']);
    run(['apt-get', 'install', '-y', '-qq', 'nats-server']);
    execFileSync('nats-server', ['--version'], { stdio: 'pipe' });
  }
  installed = true;
  return 'nats-server';
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * How long a harness wait allows by default. A deadline here is never what a test asserts (how
 * fast something happens is asserted on the virtual clock): it only turns a hang into an error
 * naming what was awaited, so it is generous — real processes compiling the source cold (tsx's
 * cache empty on a fresh machine) on a loaded 2-core machine — and the test's timeout stays the
 * guard of the whole test.
 */
export const HARNESS_WAIT_MS = 30_000;

/** Polls `cond` until it returns truthy or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = HARNESS_WAIT_MS, everyMs = 20): Promise<NonNullable<T>> {
  // monotonic: a step of the wall clock (NTP on a freshly booted machine) moves no deadline
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A running (or stopped) nats-server process owned by a test. */
export class NatsServer {
  private proc: ChildProcess | undefined;
  private log = '';
  /** The CA and server cert when started with `tls: true`. */
  tlsFiles: { caFile: string; certFile: string; keyFile: string } | undefined;
  readonly conf: NatsServerConf;
  readonly port: number;
  readonly storeDir: string;
  private readonly confFile: string;
  /** The temp dir holding the config (and the store dir unless one was given). */
  readonly dir: string;
  private constructor(
    conf: NatsServerConf,
    port: number,
    storeDir: string,
    confFile: string,
    dir: string,
  ) {
    this.conf = conf;
    this.port = port;
    this.storeDir = storeDir;
    this.confFile = confFile;
    this.dir = dir;
  }

  /** `nats://127.0.0.1:<port>` */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** The server's output so far (for failure messages). */
  get output(): string {
    return this.log;
  }

  /** The process id while running. */
  get pid(): number | undefined {
    return this.running ? this.proc?.pid : undefined;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Installs nats-server if needed, writes a config and starts it; resolves when it is ready. */
  static async start(conf: NatsServerConf = {}): Promise<NatsServer> {
    // a free port is picked before the server binds it, so another process can take it in
    // between ("bind: address already in use"): a port of our choosing is picked again, a
    // bounded number of times (a port the caller fixed is the caller's to retry)
    for (let attempt = 1; ; attempt++) {
      try {
        return await NatsServer.startOnce(conf);
      } catch (e) {
        if (conf.port !== undefined || attempt >= 3 || !/address already in use/.test(String(e))) throw e;
      }
    }
  }

  private static async startOnce(conf: NatsServerConf): Promise<NatsServer> {
    ensureNatsServer();
    const port = conf.port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), 'ordo-nats-'));
    const storeDir = conf.storeDir ?? join(dir, 'js');
    const lines = [`listen: "127.0.0.1:${port}"`];
    if (conf.serverName !== undefined) lines.push(`server_name: "${conf.serverName}"`);
    if (conf.httpPort !== undefined) lines.push(`http: "127.0.0.1:${conf.httpPort}"`);
    if (conf.jetstream ?? true) lines.push(`jetstream { store_dir: "${storeDir}" }`);
    if (conf.maxPayload !== undefined) lines.push(`max_payload: ${conf.maxPayload}`);
    if (conf.cluster) {
      const routes = conf.cluster.routes.map((r) => `"${r}"`).join(', ');
      lines.push(`cluster { name: "${conf.cluster.name}", listen: "127.0.0.1:${conf.cluster.port}", routes: [ ${routes} ] }`);
    }
    let tlsFiles: NatsServer['tlsFiles'];
    if (conf.tls) {
      tlsFiles = makeTlsFiles(dir);
      lines.push(`tls { cert_file: "${tlsFiles.certFile}", key_file: "${tlsFiles.keyFile}", ca_file: "${tlsFiles.caFile}" }`);
    }
    if (conf.user !== undefined) lines.push(`authorization { user: "${conf.user}", password: "${conf.password ?? ''}" }`);
    else if (conf.token !== undefined) lines.push(`authorization { token: "${conf.token}" }`);
    else if (conf.nkey !== undefined) lines.push(`authorization { users: [ { nkey: "${conf.nkey}" } ] }`);
    if (conf.nodeAuth) lines.push(natsAccountConf(conf.nodeAuth));
    lines.push(...(conf.extraConf ?? []));
    const confFile = join(dir, 'nats.conf');
    writeFileSync(confFile, lines.join('\n') + '\n');
    const ns = new NatsServer(conf, port, storeDir, confFile, dir);
    ns.tlsFiles = tlsFiles;
    try {
      await ns.launch();
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return ns;
  }

  private async launch(): Promise<void> {
    const proc = spawn('nats-server', ['-c', this.confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const onData = (b: Buffer): void => {
      this.log += b.toString();
      if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    // Ready when every listener is up. nats-server 2.9 prints "Server is ready" once the client
    // port listens, but binds the route port after that, in another goroutine: a route port taken
    // in between ends the process (FTL "Error listening on router port … address already in
    // use") *after* "ready" — a cluster member that was never up, and whose clients are refused
    // (the monitoring port is bound before "ready": its failure is an exit before it).
    const marks = ['Server is ready', ...(this.conf.cluster ? [`Listening for route connections on 127.0.0.1:${this.conf.cluster.port}`] : [])];
    let pending = marks;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        proc.stdout!.off('data', onStart);
        proc.stderr!.off('data', onStart);
        proc.off('close', onExit);
        if (err) reject(err);
        else resolve();
      };
      const onStart = (): void => {
        pending = pending.filter((m) => !this.log.includes(m));
        if (pending.length === 0) done();
      };
      // an exit before every listener is up fails at once, with the server's own words ('close':
      // after its output is read, so the FTL line is in the message)
      const onExit = (code: number | null, sig: NodeJS.Signals | null): void => done(new Error(`nats-server on ${this.port} exited (${code ?? sig}) before listening: ${this.log}`));
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        done(new Error(`timed out after ${HARNESS_WAIT_MS} ms waiting for nats-server on ${this.port}: ${pending.map((m) => `"${m}"`).join(', ')} not printed: ${this.log}`));
      }, HARNESS_WAIT_MS);
      proc.stdout!.on('data', onStart);
      proc.stderr!.on('data', onStart);
      proc.on('close', onExit);
      proc.on('error', (e) => done(new Error(`nats-server could not be started: ${String(e)}`, { cause: e })));
    });
    this.log = '';
  }

  /** Graceful stop (SIGTERM), waits for exit. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** `kill -9`, waits for exit. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /**
   * `kill -STOP`: the process is frozen (sockets stay open, nothing is answered) until
   * {@link resume}. Resolves once the kernel reports it stopped (`/proc/<pid>/stat` state `T`).
   */
  async pause(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    this.proc!.kill('SIGSTOP');
    await waitFor(() => /^\d+ \(.*\) [Tt] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')), `nats-server ${pid} stopped`, 5000, 2);
  }

  /** `kill -CONT` after {@link pause}. */
  resume(): void {
    if (this.running) this.proc!.kill('SIGCONT');
  }

  /** Starts again on the same port with the same store dir (JetStream data survives). */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await waitFor(async () => {
      try {
        await this.launch();
        return true;
      } catch (e) {
        if (String(e).includes('address already in use')) return false;
        throw e;
      }
    }, 'nats-server restart', HARNESS_WAIT_MS, 100);
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(sig);
    await exited;
  }

  /** Stops the server (kills it if it does not exit within 5 s) and removes its temp dir. */
  async dispose(): Promise<void> {
    const t = setTimeout(() => this.proc?.kill('SIGKILL'), 5000);
    this.resume();
    await this.stop();
    clearTimeout(t);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Closes connections (ignoring already-closed ones) and disposes servers. */
export async function cleanup(...items: Array<NatsServer | { close(): Promise<void>; isClosed?(): boolean } | undefined>): Promise<void> {
  for (const it of items) {
    if (!it) continue;
    if (it instanceof NatsServer) await it.dispose();
    else if (!it.isClosed?.()) await it.close().catch((e: unknown) => {
      if (!String(e).includes('closed')) throw e;
    });
  }
}
