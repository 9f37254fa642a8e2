import { createTestEnv, type TestEnv } from '../../src/env/env.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import type { KvAdapter, KvOp } from '../../src/env/kv.ts';
import { openStore, type Store, type TableDef } from '../../src/store/index.ts';
import { jobTables, type Job } from '../../src/jobs/index.ts';
import { toRow } from '../../src/jobs/tables.ts';

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

import type { ClusterService, LeaderEvents, Leadership, MemberInfo } from '../../src/cluster/index.ts';

/** A leadership whose role the test sets. */
export function fakeLeadership(node: string, leader = false): Leadership & { set(on: boolean): void } {
  const ls = { leader: new Set<LeaderEvents['leader']>(), follower: new Set<LeaderEvents['follower']>() };
  let on = leader;
  let token = 0;
  return {
    isLeader: () => on,
    term: () => (on ? { node, incarnation: node, token } : undefined),
    leader: () => (on ? { node, incarnation: node } : undefined),
    on: <E extends keyof LeaderEvents>(e: E, l: LeaderEvents[E]) => {
      (ls[e] as Set<LeaderEvents[E]>).add(l);
      return () => void (ls[e] as Set<LeaderEvents[E]>).delete(l);
    },
    set(v: boolean) {
      if (v === on) return;
      on = v;
      if (v) for (const l of ls.leader) l({ node, incarnation: node, token: ++token });
      else for (const l of ls.follower) l('test');
    },
  };
}

/** Several in-process "nodes" sharing one store: a membership the test edits. */
export function fakeCluster(self: string, incarnation: string, live: Map<string, string>): ClusterService {
  const members = (): MemberInfo[] => [...live].map(([name, inc]) => ({ name, incarnation: inc, heartbeatAt: 0, startedAt: 0 }));
  return { self, incarnation, cluster: 'test', connection: undefined, members, on: () => () => undefined, health: () => ({ status: 'ok', mode: 'single', node: self, members: members().map((m) => m.name) }) };
}

/** Awaits `p` while moving the virtual clock (a drain waits on timers). */
export async function settle<T>(env: TestEnv, p: Promise<T>, stepMs = 100, maxMs = 600_000): Promise<T> {
  let done = false;
  const q = p.finally(() => void (done = true));
  for (let t = 0; !done && t < maxMs; t += stepMs) await run(env, stepMs, stepMs);
  return q;
}

/** `j`'s row as the runner wrote it before 52500a5, when the lane ended with the job id (the old layout, for upgrade tests). */
export function oldLayoutRow(j: Job): Record<string, unknown> {
  const r = toRow(j);
  return { ...r, lane: [...(r['lane'] as unknown[]), j.id] };
}
