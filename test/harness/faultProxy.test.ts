import { afterEach, describe, expect, it } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { startFaultProxy, type FaultProxy } from './faultProxy.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An echo server on a free loopback port. */
async function echo(): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => s.destroy());
    s.on('close', () => sockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))));
  return (server.address() as { port: number }).port;
}

/** Waits (macrotask by macrotask, no fixed sleep) until `cond` holds. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

async function proxyTo(port: number): Promise<FaultProxy> {
  const p = await startFaultProxy({ targetPort: port, seed: 7 });
  cleanups.push(() => p.close());
  return p;
}

function client(port: number): Promise<Socket & { received: () => string; waitFor: (s: string) => Promise<void> }> {
  return new Promise((resolve, reject) => {
    let data = '';
    const waiters: Array<() => void> = [];
    const s = connect({ host: '127.0.0.1', port }, () => resolve(Object.assign(s, { received: () => data, waitFor: (x: string) => new Promise<void>((r) => (data.includes(x) ? r() : waiters.push(() => data.includes(x) && r()))) })));
    s.on('data', (d) => {
      data += d.toString();
      for (const w of [...waiters]) w();
    });
    s.on('error', reject);
    cleanups.push(() => void s.destroy());
  });
}

describe('TCP fault proxy (loopback only, bounded)', () => {
  it('passes bytes both ways; latency keeps their order', async () => {
    const p = await proxyTo(await echo());
    const c = await client(p.port);
    c.write('hello ');
    await c.waitFor('hello ');
    p.setMode({ kind: 'latency', ms: 20 });
    c.write('a');
    c.write('b');
    c.write('c');
    await c.waitFor('abc');
    expect(c.received()).toBe('hello abc');
  });

  it('blackhole: the connection stays open and what is sent meanwhile never arrives; healing lets new bytes through', async () => {
    const p = await proxyTo(await echo());
    const c = await client(p.port);
    c.write('1');
    await c.waitFor('1');
    p.setMode({ kind: 'blackhole' });
    c.write('lost');
    await until(() => p.discarded() >= 4);
    p.setMode({ kind: 'pass' });
    c.write('2');
    await c.waitFor('2');
    expect(c.received()).toBe('12');
    expect(p.connections()).toBe(1);
  });

  it('drop with p = 1 discards everything; reset destroys connections and refuses new ones', async () => {
    const p = await proxyTo(await echo());
    const c = await client(p.port);
    p.setMode({ kind: 'drop', p: 1 });
    c.write('x');
    await until(() => p.discarded() >= 1);
    p.setMode({ kind: 'pass' });
    c.write('y');
    await c.waitFor('y');
    expect(c.received()).toBe('y');
    const closed = new Promise<void>((r) => c.on('close', () => r()));
    c.on('error', () => undefined);
    p.setMode({ kind: 'reset' });
    await closed;
    const refused = await new Promise<string>((r) => {
      const s = connect({ host: '127.0.0.1', port: p.port });
      s.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? 'error'));
      s.on('close', () => r('closed'));
    });
    expect(['ECONNRESET', 'closed', 'EPIPE']).toContain(refused);
  });

  it('refuses a non-loopback target', async () => {
    await expect(startFaultProxy({ targetHost: '10.1.2.3', targetPort: 4222 })).rejects.toThrow(/loopback targets only/);
  });
});
