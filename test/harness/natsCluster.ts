/**
 * A NATS cluster for tests, benchmarks and the chaos engine's real-world tier: N `nats-server`
 * processes (default 3) with routes and JetStream on free loopback ports, one store dir and one
 * `server_name` per server, a monitoring port each (`/jsz` tells the JetStream meta leader).
 * Servers can be killed (`kill -9`), stopped and restarted on the same ports and store dirs.
 *
 * @example
 * const c = await NatsCluster.start();            // 3 servers, meta leader elected
 * const nc = await connect({ servers: c.urls });
 * const victim = c.server(await c.streamLeader('ORDERS'));
 * await victim.kill();
 * await c.waitStreamLeader('ORDERS');             // a new leader among the other two
 * await victim.restart();
 * await c.waitStreamCurrent('ORDERS');            // every replica caught up
 * await c.dispose();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, NatsServer, waitFor, type NatsServerConf } from './nats.ts';

/** Options of {@link NatsCluster.start}. */
export interface NatsClusterConf {
  /** Number of servers (default 3). */
  size?: number;
  /** The NATS cluster name (default `ordo-test`). */
  name?: string;
  /** Per-server options shared by all (auth, `maxPayload`, `extraConf`…); ports and names are the cluster's. */
  server?: Omit<NatsServerConf, 'port' | 'serverName' | 'httpPort' | 'cluster' | 'storeDir'>;
  /** Wait for a JetStream meta leader before resolving (default true). */
  waitReady?: boolean;
  /** Bound of that wait (default 30 s). */
  readyTimeoutMs?: number;
}

/** One server of a {@link NatsCluster}. */
export interface ClusterMember {
  /** `server_name`, e.g. `n1`. */
  readonly name: string;
  /** Client URL `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly server: NatsServer;
  /** Monitoring port (`http://127.0.0.1:<httpPort>/jsz`). */
  readonly httpPort: number;
}

/** A stream's placement as the cluster reports it. */
export interface StreamPlacement {
  leader: string | undefined;
  /** The other peers: name, whether current, and how far behind (ops). */
  replicas: Array<{ name: string; current: boolean; offline?: boolean; lag?: number }>;
}

interface JszReply {
  server_name?: string;
  meta_cluster?: { name?: string; leader?: string; cluster_size?: number; replicas?: Array<{ name: string; current: boolean; offline?: boolean }> };
  account_details?: Array<{
    stream_detail?: Array<{
      name: string;
      cluster?: { leader?: string; replicas?: Array<{ name: string; current: boolean; offline?: boolean; lag?: number }> };
      consumer_detail?: Array<{ name: string; cluster?: { leader?: string } }>;
    }>;
  }>;
}

/** A running N-server NATS cluster owned by a test. */
export class NatsCluster {
  readonly members: readonly ClusterMember[];
  private readonly root: string;

  private constructor(members: ClusterMember[], root: string) {
    this.members = members;
    this.root = root;
  }

  /** Starts the servers (in parallel), then waits for a JetStream meta leader. */
  static async start(conf: NatsClusterConf = {}): Promise<NatsCluster> {
    const size = conf.size ?? 3;
    const name = conf.name ?? 'ordo-test';
    const root = mkdtempSync(join(tmpdir(), 'ordo-natscluster-'));
    // free ports are picked before the servers bind them, so a parallel test file can take one in
    // between ("bind: address already in use"): start again on fresh ports, a bounded number of times
    let servers: NatsServer[] = [];
    let ports: Array<{ client: number; route: number; http: number }> = [];
    for (let attempt = 1; ; attempt++) {
      ports = [];
      for (let i = 0; i < size; i++) ports.push({ client: await freePort(), route: await freePort(), http: await freePort() });
      const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`);
      const started = await Promise.allSettled(
        ports.map((p, i) =>
          NatsServer.start({
            ...conf.server,
            port: p.client,
            serverName: `n${i + 1}`,
            httpPort: p.http,
            storeDir: join(root, `a${attempt}`, `n${i + 1}`),
            cluster: { name, port: p.route, routes: routes.filter((_, j) => j !== i) },
          }),
        ),
      );
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (!failed) {
        servers = started.map((r) => (r as PromiseFulfilledResult<NatsServer>).value);
        break;
      }
      // never leave the servers that did start running
      await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.kill() : undefined)));
      if (attempt >= 3 || !/address already in use/.test(String(failed.reason))) throw failed.reason;
    }
    const members = servers.map((server, i) => ({ name: `n${i + 1}`, url: server.url, server, httpPort: ports[i]!.http }));
    const c = new NatsCluster(members, root);
    if (conf.waitReady ?? true) {
      try {
        await c.waitMetaLeader(conf.readyTimeoutMs ?? 30_000);
        // a meta leader is found among the running servers: one that died since its start would
        // leave a 2-server cluster whose clients of the dead one are refused — say which, and why
        const dead = c.members.filter((m) => !m.server.running);
        if (dead.length > 0) throw new Error(`nats cluster: ${dead.map((m) => `${m.name} (port ${m.server.port}) exited after its start: ${m.server.output.slice(-2000)}`).join('; ')}`);
      } catch (e) {
        await c.dispose();
        throw e;
      }
    }
    return c;
  }

  /** Every server's client URL (give them all to a client: it fails over between them). */
  get urls(): string[] {
    return this.members.map((m) => m.url);
  }

  /** The member named `name` (`n1`…), or at index `i`. */
  server(nameOrIndex: string | number): ClusterMember {
    const m = typeof nameOrIndex === 'number' ? this.members[nameOrIndex] : this.members.find((x) => x.name === nameOrIndex);
    if (!m) throw new Error(`no server ${String(nameOrIndex)} in this cluster (${this.members.map((x) => x.name).join(', ')})`);
    return m;
  }

  /** The running members. */
  running(): ClusterMember[] {
    return this.members.filter((m) => m.server.running);
  }

  private async jsz(m: ClusterMember, query = ''): Promise<JszReply> {
    const res = await fetch(`http://127.0.0.1:${m.httpPort}/jsz${query}`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`/jsz on ${m.name}: HTTP ${res.status}`);
    return (await res.json()) as JszReply;
  }

  /** The JetStream meta leader's server name, as the running servers agree on it (undefined if none or if they disagree). */
  async metaLeader(): Promise<string | undefined> {
    const seen = new Set<string | undefined>();
    for (const m of this.running()) {
      const r = await this.jsz(m).catch(() => undefined);
      seen.add(r?.meta_cluster?.leader || undefined);
    }
    if (seen.size !== 1) return undefined;
    return [...seen][0];
  }

  /** Waits until the running servers agree on a meta leader (optionally not `notOn`); returns its name. */
  waitMetaLeader(timeoutMs = 30_000, notOn?: string): Promise<string> {
    return waitFor(async () => {
      const l = await this.metaLeader();
      return l && l !== notOn && this.server(l).server.running ? l : undefined;
    }, `a JetStream meta leader${notOn ? ` other than ${notOn}` : ''}`, timeoutMs, 100);
  }

  /**
   * Waits until the JetStream meta group has a leader that every running server agrees on and
   * all `size - 1` other members are online and current: only then can the cluster lose another
   * server without losing the meta quorum (check it between two kills).
   */
  waitMetaCurrent(timeoutMs = 30_000): Promise<string> {
    return waitFor(async () => {
      const leader = await this.metaLeader();
      if (!leader || !this.server(leader).server.running) return undefined;
      const r = await this.jsz(this.server(leader)).catch(() => undefined);
      const peers = (r?.meta_cluster?.replicas ?? []).filter((p) => p.name !== leader);
      return peers.length === this.members.length - 1 && peers.every((p) => p.current && !p.offline) ? leader : undefined;
    }, 'every JetStream meta peer current', timeoutMs, 100);
  }

  /**
   * A stream's leader and replicas. Replica state (current, lag) is only meaningful on the
   * leader, so the leader's own report is used, and only when the other running servers that
   * know the stream name the same leader (a restarted server briefly believes in its old term);
   * otherwise `leader` is undefined.
   */
  async placement(stream: string, account = '$G'): Promise<StreamPlacement | undefined> {
    const views: Array<{ on: string; p: StreamPlacement }> = [];
    for (const m of this.running()) {
      const r = await this.jsz(m, `?accounts=true&streams=true&acc=${encodeURIComponent(account)}`).catch(() => undefined);
      for (const a of r?.account_details ?? []) {
        const s = a.stream_detail?.find((d) => d.name === stream);
        if (!s?.cluster) continue;
        const leader = s.cluster.leader || undefined;
        views.push({ on: m.name, p: { leader, replicas: (s.cluster.replicas ?? []).filter((x) => x.name !== leader) } });
      }
    }
    if (views.length === 0) return undefined;
    const own = views.find((v) => v.p.leader === v.on);
    if (own && views.every((v) => v.p.leader === own.on)) return own.p;
    return { leader: undefined, replicas: views[0]!.p.replicas };
  }

  /** The stream's consumers and the server each is led from (as the running servers report them). */
  async consumers(stream: string, account = '$G'): Promise<Array<{ name: string; leader: string | undefined }>> {
    const out = new Map<string, string | undefined>();
    for (const m of this.running()) {
      const r = await this.jsz(m, `?accounts=true&streams=true&consumers=true&acc=${encodeURIComponent(account)}`).catch(() => undefined);
      for (const a of r?.account_details ?? []) {
        for (const c of a.stream_detail?.find((d) => d.name === stream)?.consumer_detail ?? []) {
          if (c.cluster?.leader || !out.has(c.name)) out.set(c.name, c.cluster?.leader || undefined);
        }
      }
    }
    return [...out].map(([name, leader]) => ({ name, leader }));
  }

  /** The stream's leader (server name), if it has one now. */
  async streamLeader(stream: string): Promise<string | undefined> {
    return (await this.placement(stream))?.leader;
  }

  /** Waits for a stream leader on a running server (optionally not `notOn`); returns its name. */
  waitStreamLeader(stream: string, timeoutMs = 30_000, notOn?: string): Promise<string> {
    return waitFor(async () => {
      const l = await this.streamLeader(stream);
      return l && l !== notOn && this.server(l).server.running ? l : undefined;
    }, `a leader of stream ${stream}${notOn ? ` other than ${notOn}` : ''}`, timeoutMs, 100);
  }

  /**
   * Waits until the stream has a leader and all `replicas - 1` followers (default: one per
   * server) are online and current (caught up with the leader).
   */
  waitStreamCurrent(stream: string, timeoutMs = 30_000, replicas = this.members.length): Promise<StreamPlacement> {
    return waitFor(async () => {
      const p = await this.placement(stream);
      return p?.leader && p.replicas.length === replicas - 1 && p.replicas.every((r) => r.current && !r.offline) ? p : undefined;
    }, `every replica of stream ${stream} current`, timeoutMs, 100);
  }

  /** Stops every server and removes every store dir. */
  async dispose(): Promise<void> {
    for (const m of this.members) await m.server.dispose();
    rmSync(this.root, { recursive: true, force: true });
  }
}
