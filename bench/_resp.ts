/**
 * A minimal RESP2 client shaped like Bun's `RedisClient` (`send`, `connect`, `connected`,
 * `onconnect`/`onclose`/`onerror`, `close`, `duplicate`), so BullMQ 6 drives it through its
 * own Bun adapter. Why: BullMQ 6 makes `ioredis` an optional peer and the project may not add
 * dependencies; this keeps the comparison on a real redis-server with BullMQ's own Lua scripts
 * and code paths. Pipelined: every `send` is written at once, replies matched in order.
 * Bench-only (not in src/).
 */
import { connect, type Socket } from 'node:net';

type Reply = string | number | null | Reply[] | Error;

export class MiniRedis {
  readonly url: string;
  connected = false;
  onconnect: () => void = () => undefined;
  onclose: (e?: Error) => void = () => undefined;
  onerror: (e: Error) => void = () => undefined;
  private sock: Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiting: Array<{ resolve: (r: unknown) => void; reject: (e: Error) => void }> = [];

  constructor(url: string) {
    this.url = url;
  }

  connect(): Promise<void> {
    if (this.connected) return Promise.resolve();
    const u = new URL(this.url);
    return new Promise((resolve, reject) => {
      const s = connect({ host: u.hostname, port: Number(u.port), noDelay: true });
      this.sock = s;
      s.once('connect', () => {
        this.connected = true;
        resolve();
        this.onconnect();
      });
      s.on('data', (d: Buffer) => this.feed(d));
      s.on('error', (e) => {
        if (!this.connected) reject(e);
        this.onerror(e);
      });
      s.on('close', () => {
        const was = this.connected;
        this.connected = false;
        for (const w of this.waiting.splice(0)) w.reject(new Error('Connection closed'));
        if (was) this.onclose();
      });
    });
  }

  send(command: string, args: ReadonlyArray<string | number | Buffer>): Promise<unknown> {
    if (!this.sock || !this.connected) return Promise.reject(new Error('Connection closed'));
    const parts: Buffer[] = [Buffer.from(`*${args.length + 1}\r\n$${Buffer.byteLength(command)}\r\n${command}\r\n`)];
    for (const a of args) {
      const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock!.write(Buffer.concat(parts));
    });
  }

  /** BullMQ recognises a client instance by connect/disconnect/duplicate. */
  disconnect(): void {
    this.close();
  }

  close(): void {
    this.sock?.end();
    this.sock?.destroy();
  }

  async duplicate(): Promise<MiniRedis> {
    const d = new MiniRedis(this.url);
    await d.connect();
    return d;
  }

  private feed(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let off = 0;
    for (;;) {
      const r = parse(this.buf, off);
      if (!r) break;
      off = r.next;
      const w = this.waiting.shift();
      if (!w) continue;
      if (r.value instanceof Error) w.reject(r.value);
      else w.resolve(r.value);
    }
    this.buf = off >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
  }
}

function parse(b: Buffer, off: number): { value: Reply; next: number } | undefined {
  if (off >= b.length) return undefined;
  const eol = b.indexOf('\r\n', off);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(b[off]!);
  const line = b.toString('utf8', off + 1, eol);
  const after = eol + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new Error(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, next: after };
      if (b.length < after + n + 2) return undefined;
      return { value: b.toString('utf8', after, after + n), next: after + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, next: after };
      const out: Reply[] = [];
      let p = after;
      for (let i = 0; i < n; i++) {
        const r = parse(b, p);
        if (!r) return undefined;
        out.push(r.value);
        p = r.next;
      }
      return { value: out, next: p };
    }
    default:
      throw new Error(`RESP: unexpected type byte ${JSON.stringify(type)}`);
  }
}
