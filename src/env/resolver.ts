import { lookup } from 'node:dns/promises';
import type { Clock } from './clock.ts';
import { createRealClock } from './clock.ts';

/** A name's addresses, or why there are none — as data, never a throw. */
export type ResolveResult =
  | { readonly ok: true; readonly addresses: readonly string[] }
  | { readonly ok: false; readonly reason: 'nxdomain' | 'timeout' | 'error'; readonly host: string; readonly detail?: string };

/**
 * Name resolution as an Env adapter (what a child does before it connects to `nats://name`).
 * The real one asks the OS resolver (getaddrinfo); the simulated one (`src/chaos/simResolver.ts`)
 * answers from a table with faults: NXDOMAIN, timeouts, stale answers. Both pass
 * `test/env/resolverContract.test.ts`.
 */
export interface Resolver {
  resolve(host: string): Promise<ResolveResult>;
}

/**
 * The OS resolver with a deadline: `ENOTFOUND` → `nxdomain`; no answer within `timeoutMs`
 * (default 5000) → `timeout`; anything else → `error` with the code. A name under `.invalid`
 * is `nxdomain` at once, without asking the OS (RFC 6761 §6.4: resolution libraries should
 * always answer such names negatively — whether the machine's DNS server is reachable or not).
 * `lookup` replaces getaddrinfo (tests of the mapping).
 *
 * @example
 * import { createRealResolver } from 'ordo/env';
 *
 * const r = await createRealResolver().resolve('localhost');
 * console.log(r); // { ok: true, addresses: ['127.0.0.1'] } (or ['::1'])
 */
export function createRealResolver(options: { timeoutMs?: number; clock?: Clock; lookup?: (host: string) => Promise<ReadonlyArray<{ address: string }>> } = {}): Resolver {
  const clock = options.clock ?? createRealClock();
  const timeoutMs = options.timeoutMs ?? 5000;
  const ask = options.lookup ?? ((host: string) => lookup(host, { all: true }));
  return {
    resolve(host) {
      if (isInvalidName(host)) return Promise.resolve({ ok: false, reason: 'nxdomain', host });
      return new Promise<ResolveResult>((resolve) => {
        let done = false;
        const timer = clock.setTimeout(() => {
          if (done) return;
          done = true;
          resolve({ ok: false, reason: 'timeout', host });
        }, timeoutMs);
        ask(host).then(
          (answers) => {
            if (done) return;
            done = true;
            clock.clearTimeout(timer);
            resolve({ ok: true, addresses: answers.map((a) => a.address) });
          },
          (e: NodeJS.ErrnoException) => {
            if (done) return;
            done = true;
            clock.clearTimeout(timer);
            resolve(e.code === 'ENOTFOUND' ? { ok: false, reason: 'nxdomain', host } : { ok: false, reason: 'error', host, detail: e.code ?? e.message });
          },
        );
      });
    },
  };
}

/** `invalid` itself or a name under it (case-insensitive, a trailing dot allowed): RFC 6761 §6.4. */
function isInvalidName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'invalid' || h.endsWith('.invalid');
}
