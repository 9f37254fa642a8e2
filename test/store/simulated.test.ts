import { describe, expect, it } from 'vitest';
import { createActor, waitFor } from 'xstate';
import { createTestEnv } from '../../src/env/env.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import { storeInitializerMachine } from '../../src/store/initializerMachine.ts';
import type { Store } from '../../src/store/store.ts';
import { userBuxPoints } from './helpers.ts';

/** The same store on the simulated key-value engine, as the chaos engine runs it. */
async function runScenario(seed: number): Promise<{ trace: string[]; top: unknown[] }> {
  const kv = createMemoryKv();
  const env = createTestEnv({ seed, level: 'warn', io: { kv } });
  const trace: string[] = [];
  const actor = createActor(storeInitializerMachine, { input: { env, dir: '/sim/store', tables: { user_bux_points: userBuxPoints } }, clock: env.clock });
  actor.subscribe((s) => trace.push(String(s.value)));
  actor.start();
  const ready = await waitFor(actor, (s) => s.hasTag('ready'));
  const store = ready.context.service as Store;
  // concurrent increments scheduled by the seeded PRNG
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      store.transaction(async (tx) => {
        const id = `u${env.random.int(5)}`;
        const cur = (tx.get('user_bux_points', id)?.bux_balance as number | undefined) ?? 0;
        await Promise.resolve();
        tx.put('user_bux_points', { user_id: id, bux_balance: cur + i });
      }),
    ),
  );
  const top = store.indexRange('user_bux_points', 'bux_balance', undefined, undefined, { reverse: true, limit: 3 });
  actor.send({ type: 'ordo.stop' });
  await waitFor(actor, (s) => s.status === 'done');
  expect(await kv.exists('/sim/store')).toBe(true);
  return { trace, top };
}

describe('the store on the simulated key-value engine (memory-level)', () => {
  it('boots through the initializer on a virtual clock and gives the same result for the same seed', async () => {
    const a = await runScenario(42);
    const b = await runScenario(42);
    expect(a.trace).toEqual(['checking', 'opening', 'migrating', 'loading', 'ready', 'closing', 'closed']);
    expect(b).toEqual(a);
    const total = (a.top as Array<{ bux_balance: number }>).reduce((s, r) => s + r.bux_balance, 0);
    expect(total).toBeGreaterThan(0);
  });

  it('expectExisting on an empty simulated disk fails with ORDO_STORE_MISSING_DIR and creates nothing', async () => {
    const kv = createMemoryKv();
    const env = createTestEnv({ level: 'warn', io: { kv } });
    const actor = createActor(storeInitializerMachine, { input: { env, dir: '/sim/none', tables: { user_bux_points: userBuxPoints }, expectExisting: true }, clock: env.clock });
    actor.start();
    const done = await waitFor(actor, (s) => s.status === 'done');
    expect((done.output as { reason: { code: string } }).reason.code).toBe('ORDO_STORE_MISSING_DIR');
    expect(await kv.exists('/sim/none')).toBe(false);
  });
});
