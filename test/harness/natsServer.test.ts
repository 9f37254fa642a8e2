/**
 * The harness's `NatsServer.start` resolves only once every listener of the server is up. On
 * nats-server 2.9 "Server is ready" comes when the client port listens; the route port is bound
 * after it, and a route port taken by another process ends the server *after* "ready". A harness
 * that stopped at "ready" handed out a dead cluster member: NatsCluster then found a meta leader
 * among the two others, and every client of that member was refused (the real-world tier's node
 * a, whose only server it was, retried for a minute through its proxy).
 */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NatsServer } from './nats.ts';

/** A listening socket on a free loopback port, holding it. */
async function holdPort(): Promise<Server> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  return srv;
}
const portOf = (srv: Server): number => (srv.address() as { port: number }).port;

describe('NatsServer.start', () => {
  const held: Server[] = [];
  const started: NatsServer[] = [];
  afterEach(async () => {
    for (const s of started.splice(0)) await s.dispose();
    for (const h of held.splice(0)) await new Promise<void>((r) => h.close(() => r()));
  });

  it('refuses a server whose route port is taken (it dies after "Server is ready"), naming the port', async () => {
    const route = await holdPort();
    held.push(route);
    const p = NatsServer.start({ jetstream: false, cluster: { name: 'h', port: portOf(route), routes: [] } });
    p.then((s) => started.push(s), () => undefined);
    await expect(p).rejects.toThrow(new RegExp(`router port: ${portOf(route)}.*address already in use`));
  });

  it('refuses a fixed client port that is taken at once, with the server\'s words', async () => {
    const client = await holdPort();
    held.push(client);
    const p = NatsServer.start({ jetstream: false, port: portOf(client) });
    p.then((s) => started.push(s), () => undefined);
    await expect(p).rejects.toThrow(/exited \(1\) before listening: .*address already in use/s);
  });
});
