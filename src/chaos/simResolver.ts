import type { Resolver, ResolveResult } from '../env/resolver.ts';
import { faults } from '../env/faults.ts';
import type { Simulation } from './simulation.ts';

/** Options of {@link createSimResolver}. */
export interface SimResolverOptions {
  /** The zone: host → addresses. A host not listed is NXDOMAIN. */
  readonly records: Readonly<Record<string, readonly string[]>>;
  /** Virtual ms an answer takes. Default 1. */
  readonly latencyMs?: number;
  /** Virtual ms before a lookup gives up (the `dns.timeout` fault waits this long). Default 5000. */
  readonly timeoutMs?: number;
}

/**
 * A simulated resolver with the real one's contract: answers come from `records`, as scheduled
 * completions on the simulation's timeline, with fault points (subject: the host):
 * `dns.nxdomain` (a listed name answers NXDOMAIN), `dns.timeout` (no answer until the deadline),
 * `dns.stale` (the previous answer for the name, even after `update` changed it).
 *
 * @example
 * import { Simulation, createSimResolver } from 'ordo/chaos';
 *
 * const sim = new Simulation({ seed: 1 });
 * const dns = createSimResolver(sim, { records: { 'nats.internal': ['10.0.0.5'] } });
 * dns.update('nats.internal', undefined); // from now on: nxdomain
 */
export function createSimResolver(sim: Simulation, options: SimResolverOptions): Resolver & { update(host: string, addresses: readonly string[] | undefined): void } {
  const records = new Map(Object.entries(options.records));
  const last = new Map<string, readonly string[]>();
  const latency = options.latencyMs ?? 1;
  const timeoutMs = options.timeoutMs ?? 5000;
  return {
    update(host, addresses) {
      if (addresses) records.set(host, addresses);
      else records.delete(host);
    },
    resolve(host) {
      return new Promise<ResolveResult>((resolve) => {
        if (faults.point('dns.timeout', host)) {
          sim.schedule(timeoutMs, 'io', `io:dns.timeout:${host}`, () => resolve({ ok: false, reason: 'timeout', host }), -4);
          return;
        }
        sim.schedule(latency, 'io', `io:dns:${host}`, () => {
          const stale = last.get(host);
          if (stale && faults.point('dns.stale', host)) return resolve({ ok: true, addresses: stale });
          const addresses = records.get(host);
          if (!addresses || faults.point('dns.nxdomain', host)) return resolve({ ok: false, reason: 'nxdomain', host });
          last.set(host, addresses);
          resolve({ ok: true, addresses });
        }, -4);
      });
    },
  };
}
