// The cluster children's in-place retry loop on the supervisor's BackoffSpec (retryDelay in
// src/supervisor/backoff.ts): discovery with NATS unreachable at boot, on the virtual clock —
// a connector that refuses every connect records when each attempt happens.
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { createTestEnv } from '../../src/env/env.ts';
import { flushMicrotasks } from '../../src/env/virtualClock.ts';
import { discoveryMachine } from '../../src/cluster/discovery.ts';
import { CLUSTER_RETRY } from '../../src/cluster/config.ts';

/** Boots discovery against a NATS that never answers; returns the virtual times of the first `n` connect attempts. */
async function attemptTimes(seed: number, n: number): Promise<{ times: number[]; degradedBetween: boolean; logged: number }> {
  const times: number[] = [];
  const env = createTestEnv({
    seed,
    io: {
      nats: {
        connect: () => {
          times.push(env.clock.now());
          return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }));
        },
      },
    },
  });
  const actor = createActor(discoveryMachine, { input: { env, config: { cluster: 'retry', nodeName: 'a', nats: { servers: ['nats://127.0.0.1:1'] } } }, clock: env.clock }).start();
  let degradedBetween = true;
  while (times.length < n) {
    await flushMicrotasks(20);
    if (times.length >= n) break;
    degradedBetween &&= actor.getSnapshot().hasTag('degraded') && actor.getSnapshot().status === 'active';
    const next = env.clock.nextAt();
    if (next === undefined) throw new Error(`no retry pending after ${times.length} attempts`);
    await env.clock.advance(next - env.clock.now());
  }
  actor.send({ type: 'ordo.stop' });
  await flushMicrotasks(20);
  expect(actor.getSnapshot().status).toBe('done');
  expect(env.clock.pending()).toBe(0); // stopping cancels the pending retry
  return { times, degradedBetween, logged: env.records.filter((r) => r.report === 'discovery_connect_failed').length };
}

describe('cluster retry loop (discovery, NATS unreachable at boot)', () => {
  it('waits retryDelay(CLUSTER_RETRY.jittered, n) between attempts: doubling from 200 ms within ±50 %, capped at 5 s; degraded, not crashed', async () => {
    const { times, degradedBetween, logged } = await attemptTimes(7, 10);
    expect(times[0]).toBe(0);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    const { initialMs, maxMs, jitter } = CLUSTER_RETRY.jittered;
    gaps.forEach((g, i) => {
      const base = Math.min(maxMs, initialMs * 2 ** (i + 1)); // the first retry follows one failure
      expect(g, `gap ${i + 1}`).toBeGreaterThanOrEqual(Math.floor(base * (1 - jitter!)));
      expect(g, `gap ${i + 1}`).toBeLessThanOrEqual(Math.min(maxMs, Math.ceil(base * (1 + jitter!))));
    });
    expect(gaps.slice(-3).every((g) => g >= maxMs / 2)).toBe(true); // reached the cap's range
    expect(new Set(gaps).size).toBeGreaterThan(1); // jittered, not a fixed step
    expect(degradedBetween).toBe(true);
    expect(logged).toBeGreaterThanOrEqual(times.length - 1); // every failure is logged (the last may still be in flight)
    expect(logged).toBeLessThanOrEqual(times.length);
  });

  it('is a pure function of the seed', async () => {
    const a = await attemptTimes(11, 8);
    const b = await attemptTimes(11, 8);
    const c = await attemptTimes(12, 8);
    expect(b.times).toEqual(a.times);
    expect(c.times).not.toEqual(a.times);
  });
});
