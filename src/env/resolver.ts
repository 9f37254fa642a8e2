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
 * (default 5000) → `timeout`; anything else → `error` with the code.
 *
 * @example
 * import { createRealResolver } from 'ordo/env';
 *
 * const r = await createRealResolver().resolve('localhost');
 * console.log(r); // { ok: true, addresses: ['127.0.0.1'] } (or ['::1'])
 */
export function createRealResolver(options: { timeoutMs?: number; clock?: Clock } = {}): Resolver {
  const clock = options.clock ?? createRealClock();
  const timeoutMs = options.timeoutMs ?? 5000;
  return {
    resolve(host) {
      return new Promise<ResolveResult>((resolve) => {
        let done = false;
        const timer = clock.setTimeout(() => {
          if (done) return;
          done = true;
          resolve({ ok: false, reason: 'timeout', host });
        }, timeoutMs);
        lookup(host, { all: true }).then(
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
