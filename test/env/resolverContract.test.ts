import { afterEach, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/env/resolver.ts';
import { createRealResolver } from '../../src/env/resolver.ts';
import { createSimResolver } from '../../src/chaos/simResolver.ts';
import { pumpedSimulation } from '../support/simPump.ts';

const stops: Array<() => void> = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

// One contract, run against the real resolver (the OS's getaddrinfo) and its simulated twin.
const pairs: Array<[string, () => Resolver]> = [
  ['real (getaddrinfo)', () => createRealResolver({ timeoutMs: 10_000 })],
  [
    'simulated',
    () => {
      const p = pumpedSimulation();
      stops.push(p.stop);
      return createSimResolver(p.sim, { records: { localhost: ['127.0.0.1'] } });
    },
  ],
];

describe.each(pairs)('resolver contract: %s', (_name, make) => {
  it('resolves localhost to a loopback address', async () => {
    const r = await make().resolve('localhost');
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.addresses.some((a) => a === '127.0.0.1' || a === '::1')).toBe(true);
  });

  it('a name under .invalid (RFC 6761) is NXDOMAIN, as data', async () => {
    expect(await make().resolve('no-such-host.invalid')).toEqual({ ok: false, reason: 'nxdomain', host: 'no-such-host.invalid' });
  });
});

describe('the real resolver', () => {
  it('names under .invalid are NXDOMAIN without asking the OS (any case, a trailing dot); other names do ask', async () => {
    const asked: string[] = [];
    const r = createRealResolver({ lookup: (h) => (asked.push(h), Promise.resolve([{ address: '10.0.0.1' }])) });
    for (const h of ['x.invalid', 'A.B.INVALID', 'invalid', 'y.invalid.']) expect(await r.resolve(h)).toEqual({ ok: false, reason: 'nxdomain', host: h });
    expect(asked).toEqual([]);
    for (const h of ['invalid.example', 'notinvalid', 'x.invalidx']) expect(await r.resolve(h)).toEqual({ ok: true, addresses: ['10.0.0.1'] });
    expect(asked).toEqual(['invalid.example', 'notinvalid', 'x.invalidx']);
  });

  it("maps getaddrinfo's answers: ENOTFOUND → nxdomain, another code → error naming it, no answer → timeout on its clock", async () => {
    const fail = (code: string) => () => Promise.reject(Object.assign(new Error(code), { code }));
    expect(await createRealResolver({ lookup: fail('ENOTFOUND') }).resolve('gone.example')).toEqual({ ok: false, reason: 'nxdomain', host: 'gone.example' });
    expect(await createRealResolver({ lookup: fail('EAI_AGAIN') }).resolve('flaky.example')).toEqual({ ok: false, reason: 'error', host: 'flaky.example', detail: 'EAI_AGAIN' });
    const p = pumpedSimulation();
    stops.push(p.stop);
    const t0 = p.sim.now;
    const never = createRealResolver({ clock: p.sim.clock, timeoutMs: 2500, lookup: () => new Promise(() => {}) });
    expect(await never.resolve('slow.example')).toEqual({ ok: false, reason: 'timeout', host: 'slow.example' });
    expect(p.sim.now - t0).toBe(2500);
  });
});

describe('simulated resolver faults', () => {
  it('NXDOMAIN for a listed name, a timeout after the deadline, and a stale answer after an update', async () => {
    const p = pumpedSimulation(1, [
      { at: 0, name: 'dns.nxdomain', subject: 'nats.internal' },
      { at: 0, name: 'dns.timeout', subject: 'db.internal' },
    ]);
    stops.push(p.stop);
    const dns = createSimResolver(p.sim, { records: { 'nats.internal': ['10.0.0.5'], 'db.internal': ['10.0.0.9'] }, timeoutMs: 3000 });
    expect(await dns.resolve('nats.internal')).toMatchObject({ ok: false, reason: 'nxdomain' });
    const t0 = p.sim.now;
    expect(await dns.resolve('db.internal')).toMatchObject({ ok: false, reason: 'timeout' });
    expect(p.sim.now - t0).toBe(3000);
    expect(await dns.resolve('nats.internal')).toEqual({ ok: true, addresses: ['10.0.0.5'] });
    p.stop();
    const q = pumpedSimulation(2, [{ at: 0, name: 'dns.stale', subject: 'nats.internal' }]);
    stops.push(q.stop);
    const dns2 = createSimResolver(q.sim, { records: { 'nats.internal': ['10.0.0.5'] } });
    expect(await dns2.resolve('nats.internal')).toEqual({ ok: true, addresses: ['10.0.0.5'] });
    dns2.update('nats.internal', ['10.0.0.6']);
    expect(await dns2.resolve('nats.internal')).toEqual({ ok: true, addresses: ['10.0.0.5'] }); // stale
    expect(await dns2.resolve('nats.internal')).toEqual({ ok: true, addresses: ['10.0.0.6'] });
  });
});
