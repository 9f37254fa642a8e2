import { createTestEnv, type TestEnv } from '../../src/env/env.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import type { KvAdapter, KvOp } from '../../src/env/kv.ts';
import { openStore, type Store, type TableDef } from '../../src/store/index.ts';
import { jobTables } from '../../src/jobs/index.ts';

/** 2023-11-14T22:13:20Z: a real date, so cron slots are meaningful. */
export const T0 = 1_700_000_000_000;

/** A disk whose writes can be made to fail (a store outage) or to vanish (a `kill -9`). */
export interface FaultyDisk {
  readonly kv: KvAdapter;
  /** Writes throw EIO while set. */
  failing: boolean;
}

export function faultyDisk(): FaultyDisk {
  const d: FaultyDisk = {
    failing: false,
    kv: createMemoryKv({
      beforeWrite: (_ops: readonly KvOp[]) => {
        if (d.failing) throw Object.assign(new Error('EIO: simulated disk failure'), { code: 'EIO' });
      },
    }),
  };
  return d;
}

/** Extra tables the tests' workers write their effects to. */
export const effectTables: Record<string, TableDef> = {
  effects: { key: 'id', attributes: { id: { type: 'string' }, n: { type: 'integer', default: 0 } } },
};

export function testEnv(seed = 1): TestEnv {
  return createTestEnv({ level: 'error', startMs: T0, seed });
}

export async function openJobStore(env: TestEnv, disk: FaultyDisk, dir = '/jobs'): Promise<Store> {
  return openStore({ env, dir, kv: disk.kv, tables: { ...jobTables(), ...effectTables } });
}

/** Advances the virtual clock in steps, letting store writes (microtask-deferred) settle. */
export async function run(env: TestEnv, ms: number, stepMs = 10): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    await env.clock.advance(Math.min(stepMs, ms - t));
    await env.clock.flush();
  }
}
