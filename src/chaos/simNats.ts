import type { NatsConnectOptions, NatsConnector } from '../env/nats.ts';
import { faults } from '../env/faults.ts';
import { TransportError, type ClusterTransport, type CoreMsg, type TransportServerInfo } from '../env/transport.ts';
import type { Simulation } from './simulation.ts';
import type { Random } from '../env/random.ts';
import { SimJetStream, subjectMatches, type SimStoredMsg, type SimStream } from './simNatsStreams.ts';

const dec = new TextDecoder();
import { SimClient } from './simNatsClient.ts';

/** Options of {@link SimNats}. */
export interface SimNatsOptions {
  /** The version the server reports (default `2.9.25`, Debian's line). */
  readonly version?: string;
  /** JetStream enabled (default true). */
  readonly jetstream?: boolean;
  readonly maxPayload?: number;
  /** One-way latency of a message between `client` and the server, in virtual ms (default 1). */
  readonly latencyMs?: (client: string, random: () => number) => number;
}

/** @internal One direction of a client's connection: messages in order. */
export type Link = { at: number; queue: Array<() => void> };

/** @internal A push of stream messages to one client (a KV watch or an ordered consumer), as the server holds it. */
export interface ServerPush {
  readonly client: SimClient;
  readonly stream: SimStream;
  readonly filter: string;
  /** Next sequence to send. */
  cursor: number;
  active: boolean;
  deliver(m: SimStoredMsg): void;
}

/**
 * A simulated nats-server (one server, JetStream on file storage) on a {@link Simulation}'s
 * clock and scheduler, and the clients that connect to it through {@link connector} — each
 * client a {@link ClusterTransport} with the real adapter's contract
 * (`test/cluster/transportContract.test.ts` runs one suite against both).
 *
 * Every message between a client and the server is a scheduled task with a label
 * (`nats:<client>><op>` up, `nats:<client><<op>` down) — a decision point — delivered in order
 * per link (TCP), after the latency. Faults: {@link partition} a named client from the server
 * (it sees `disconnect`, reconnects after healing: subscriptions restored, buffered requests
 * flushed, as nats.js does), {@link restart} the server (every client disconnects; JetStream
 * may stay unavailable for a while after it is back: requests get no responders), extra
 * {@link setDelay}; fault points `nats.drop` (a client's message is lost), `nats.duplicate` (a
 * JetStream publish reaches the server twice — the msg id dedupes it) and `nats.delay`
 * (extra ms), each with the client's name as subject.
 *
 * @example
 * import { SimNats, Simulation } from 'ordo/chaos';
 *
 * const sim = new Simulation({ seed: 1 });
 * const nats = new SimNats(sim);
 * const env = sim.createEnv({ nats: nats.connector() }); // discovery, election, replication run on it
 * nats.partition('ordo:b'); // later: nats.heal('ordo:b')
 * console.log(env.io.nats !== undefined); // true
 */
export class SimNats {
  readonly js = new SimJetStream();
  readonly info: TransportServerInfo;
  /** Server up (a restart takes it down for a while). */
  up = true;
  /** JetStream answers (false during a restart's JetStream recovery, or by {@link setJetStream}). */
  jetstreamReady: boolean;
  readonly clients = new Set<SimClient>();
  readonly pushes = new Set<ServerPush>();
  /** Object store blobs: bucket → name → bytes and time. */
  readonly blobs = new Map<string, Map<string, { data: Uint8Array; time: number }>>();
  private readonly partitioned = new Set<string>();
  private readonly delays = new Map<string, number>();
  private readonly rnd: Random;
  private readonly latency: (client: string) => number;
  private counter = 0;

  readonly sim: Simulation;
  constructor(sim: Simulation, options: SimNatsOptions = {}) {
    this.sim = sim;
    this.rnd = sim.streams.stream('nats');
    const lat = options.latencyMs;
    this.latency = (c) => Math.max(0, (lat ? lat(c, this.rnd.next) : 1) + (this.delays.get(c) ?? 0) + faults.delayMs('nats.delay', c));
    this.jetstreamReady = options.jetstream ?? true;
    this.info = { version: options.version ?? '2.9.25', jetstream: options.jetstream ?? true, maxPayload: options.maxPayload ?? 1024 * 1024 };
  }

  /**
   * The connector to put in `env.io.nats`: each `connect` is a new client named by the `name`
   * option. `owner` (a node of a multi-node run) tags its clients: {@link partitionNode} cuts them all.
   */
  connector(owner?: string): NatsConnector {
    return { connect: (o) => this.connect(o, owner) };
  }

  /** Cuts every client of `owner` (a node) off the server, as {@link partition} does one client. */
  partitionNode(owner: string): void {
    this.partitioned.add(`\u0000${owner}`);
    this.sim.record('nats.partition', { node: owner });
    for (const c of this.clients) if (c.owner === owner) c.lost('reset');
  }

  /** Heals {@link partitionNode}. */
  healNode(owner: string): void {
    this.partitioned.delete(`\u0000${owner}`);
    this.sim.record('nats.heal', { node: owner });
  }

  /** Cuts `client` (its connect `name`) off the server: both ends drop the connection. */
  partition(client: string): void {
    this.partitioned.add(client);
    this.sim.record('nats.partition', { client });
    for (const c of this.clients) if (c.name === client) c.lost('reset');
  }

  /** Heals one client's partition (or all). Clients reconnect at their next attempt. */
  heal(client?: string): void {
    if (client === undefined) this.partitioned.clear(); // nodes' partitions too
    else this.partitioned.delete(client);
    this.sim.record('nats.heal', { client: client ?? '*' });
  }

  /** Extra one-way latency for `client`'s messages (0: none). */
  setDelay(client: string, ms: number): void {
    this.delays.set(client, ms);
  }

  /** JetStream on or off (core NATS stays up): JetStream requests get no responders while off. */
  setJetStream(ready: boolean): void {
    this.jetstreamReady = ready && this.info.jetstream;
    this.sim.record('nats.jetstream', { ready: this.jetstreamReady });
  }

  /**
   * The server goes down now and comes back after `downMs`, its JetStream data intact (file
   * storage); JetStream answers `jetstreamDelayMs` after that. Every client disconnects.
   */
  restart(downMs: number, jetstreamDelayMs = 0): void {
    this.up = false;
    this.jetstreamReady = false;
    this.sim.record('nats.down', { downMs });
    for (const c of this.clients) c.lost('eof');
    this.sim.schedule(downMs, 'io', 'nats:server.up', () => {
      this.up = true;
      this.sim.record('nats.up');
      this.sim.schedule(jetstreamDelayMs, 'io', 'nats:server.jetstream', () => this.setJetStream(true), -5);
    }, -5);
  }

  /** Whether `client` (of node `owner`) can reach the server now. */
  reachable(client: string, owner?: string): boolean {
    return this.up && !this.partitioned.has(client) && (owner === undefined || !this.partitioned.has(`\u0000${owner}`));
  }

  private connect(o: NatsConnectOptions, owner: string | undefined): Promise<ClusterTransport> {
    const name = o.name ?? `client${++this.counter}`;
    return new Promise((resolve, reject) => {
      this.sim.schedule(this.latency(name) * 2, 'io', `nats:${name}>connect`, () => {
        if (!this.reachable(name, owner)) return reject(new TransportError('CONNECTION_REFUSED', { kind: 'other', subject: name }));
        const c = new SimClient(this, name, o, this.rnd, owner);
        this.clients.add(c);
        resolve(c);
      }, -5);
    });
  }

  /** @internal Sends `fn` over the link `key` after `client`'s latency, in order. */
  send(link: Link, client: string, label: string, fn: () => void): void {
    const at = Math.max(this.sim.now + this.latency(client), link.at);
    link.at = at;
    link.queue.push(fn);
    this.sim.schedule(at - this.sim.now, 'io', label, () => link.queue.shift()?.(), -5);
  }

  /** @internal Routes a core message to every matching subscription (one member per queue group). */
  route(subject: string, data: Uint8Array, reply: ((d: Uint8Array) => void) | undefined): number {
    const plain: Array<{ c: SimClient; cb: (m: CoreMsg) => void }> = [];
    const groups = new Map<string, Array<{ c: SimClient; cb: (m: CoreMsg) => void }>>();
    for (const c of this.clients) {
      if (!c.connectedToServer()) continue;
      for (const s of c.subs.values()) {
        if (!s.live || !subjectMatches(s.subject, subject)) continue;
        if (s.queue === undefined) plain.push({ c, cb: s.cb });
        else groups.set(s.queue, [...(groups.get(s.queue) ?? []), { c, cb: s.cb }]);
      }
    }
    const targets = [...plain, ...[...groups.values()].map((g) => g[Math.floor(this.rnd.next() * g.length)]!)];
    for (const t of targets) {
      t.c.down(`msg:${subject}`, () =>
        t.cb({
          subject,
          data,
          json: <T>() => JSON.parse(dec.decode(data)) as T,
          respond: (d) => {
            if (!reply) return false;
            t.c.up(`reply:${subject}`, () => reply(d));
            return true;
          },
        }),
      );
    }
    return targets.length;
  }

  /** @internal Pushes a stored message to every active push that wants it. */
  onStored(stream: SimStream, m: SimStoredMsg): void {
    for (const p of this.pushes) {
      if (p.stream !== stream || !p.active || m.seq < p.cursor) continue;
      p.cursor = m.seq + 1;
      if (subjectMatches(p.filter, m.subject)) p.deliver(m);
    }
  }

  /** @internal Registers the stored-message hook on a stream the server created. */
  watchStream(s: SimStream): void {
    if (s.onStored.size === 0) s.onStored.add((m) => this.onStored(s, m));
  }
}
