/**
 * A small TCP fault proxy for the real-world tier: sits between a node and a nats-server on
 * loopback and applies a fault mode to the bytes in both directions —
 * `pass`, `latency` (each chunk delayed `ms`), `drop` (each chunk discarded with probability
 * `p`, seeded), `blackhole` (connections stay open, nothing is forwarded) and `reset` (every
 * connection is destroyed at once and new ones are refused with a reset).
 *
 * Bounded: loopback targets only, at most `maxConnections` (default 64) connections and
 * `maxBufferedBytes` (default 8 MiB) queued per direction; past the bound a connection is
 * reset rather than buffered without limit.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type ProxyMode =
  | { readonly kind: 'pass' }
  | { readonly kind: 'latency'; readonly ms: number }
  | { readonly kind: 'drop'; readonly p: number }
  | { readonly kind: 'blackhole' }
  | { readonly kind: 'reset' };

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface FaultProxy {
  /** The port to connect to instead of the target's. */
  readonly port: number;
  readonly url: string;
  /** Connections open now. */
  connections(): number;
  /** Bytes discarded so far (blackhole, drop): lets a test wait until its bytes met the fault. */
  discarded(): number;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultProxy(options: { targetHost?: string; targetPort: number; seed?: number; maxConnections?: number; maxBufferedBytes?: number }): Promise<FaultProxy> {
  const host = options.targetHost ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new Error(`fault proxy: loopback targets only, got ${host}`);
  const maxConnections = options.maxConnections ?? 64;
  const maxBuffered = options.maxBufferedBytes ?? 8 * 1024 * 1024;
  const random = seeded(options.seed ?? 1);
  let mode: ProxyMode = { kind: 'pass' };
  const open = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let discarded = 0;

  const pipe = (from: Socket, to: Socket): void => {
    let queued = 0;
    from.on('data', (chunk: Buffer) => {
      const m = mode;
      if (m.kind === 'blackhole' || (m.kind === 'drop' && random() < m.p)) {
        discarded += chunk.length;
        return;
      }
      if (m.kind === 'reset') return void from.resetAndDestroy();
      if (m.kind === 'latency') {
        queued += chunk.length;
        if (queued > maxBuffered) return void from.resetAndDestroy();
        const t = setTimeout(() => {
          timers.delete(t);
          queued -= chunk.length;
          if (!to.destroyed) to.write(chunk);
        }, m.ms);
        timers.add(t);
        return;
      }
      if (to.writableLength > maxBuffered) return void from.resetAndDestroy();
      to.write(chunk);
    });
  };

  const server: Server = createServer((client) => {
    if (mode.kind === 'reset' || open.size >= maxConnections * 2) return void client.resetAndDestroy();
    const upstream = connect({ host, port: options.targetPort });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => {
        open.delete(s);
        (s === client ? upstream : client).destroy();
      });
      s.on('error', () => s.destroy()); // a reset peer: the other side is closed by 'close'
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    connections: () => open.size / 2,
    discarded: () => discarded,
    setMode(next) {
      mode = next;
      if (next.kind === 'reset') for (const s of [...open]) s.resetAndDestroy();
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of [...open]) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
