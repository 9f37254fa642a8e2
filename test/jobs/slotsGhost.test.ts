// A slots row of a global-limit queue holding an entry this version cannot use (found by the
// session-15 hostile-input attack): a count no runner wrote (1e7, 2^32, 2^53: built as that many
// tokens it threw a RangeError inside claims and health, or burned CPU), and an unreadable entry
// (a later protocol's) under a runner that is gone — the lifeline never saw it as a holder, so
// every claim on the queue was refused for good. Both: refused typed, then dropped with the dead runner.
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, JOB_TABLES, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { T0, fakeCluster, fakeLeadership, faultyDisk, openJobStore, run, settle } from './helpers.ts';

describe('a slots row with an absurd protocol-1 count', () => {
  for (const count of [1e7, 2 ** 32, 2 ** 53]) {
    it(`held count ${count} under a live runner id: the claim is refused with a typed error, never a RangeError`, async () => {
      const env = createTestEnv({ level: 'warn', startMs: T0, seed: 93 });
      const store = await openJobStore(env, faultyDisk(), `/attack3-slots-${count}`);
      const w = defineWorker<unknown>({ name: 'w', queue: 'g', perform: async () => undefined });
      const config: JobRunnerConfig = { workers: [w], queues: { g: { limit: 5, globalLimit: 3 } }, pruner: false, pollMs: 200, lifeline: { intervalMs: 1000, graceMs: 500 } };
      const runner = await JobRunner.start({ env, store, config, cluster: fakeCluster('b', 'b1', new Map([['old', '1'], ['b', 'b1']])), leadership: fakeLeadership('b', true) });
      await store.transaction((tx) => void tx.put(JOB_TABLES.slots, { queue: 'g', held: { 'old/1': count }, waiting: {} }));
      for (let i = 0; i < 2; i++) await settle(env, runner.enqueue(w, {}), 10);
      await run(env, 2000, 10);
      const h = runner.health();
      const storeErrs = env.records.filter((r) => r['report'] === 'jobs_store_failed').map((r) => String((r['err'] as { message?: string } | undefined)?.message ?? r['err']));
      expect({ storeErrs, reasons: h.reasons.filter((r) => /RangeError|Invalid array length/.test(r)) }).toEqual({ storeErrs: [], reasons: [] });
      // not a count any runner wrote: refused, typed, as a later protocol's entry is (never built as that many tokens)
      expect(h.reasons.filter((r) => r.startsWith('slots')).length, h.reasons.join('; ')).toBeGreaterThan(0);
      await settle(env, runner.stop(), 10);
      await store.close();
    }, 120_000);
  }
});

describe('a slots entry under a runner id that is not a member (spoofed, or a runner gone before this one started)', () => {
  for (const entry of [{ v: 3 }, 3, ['x#1@0', 'x#2@0', 'x#3@0']] as unknown[]) {
    it(`entry ${JSON.stringify(entry)} of ghost/9: the lifeline drops it and the queue runs`, async () => {
      const env = createTestEnv({ level: 'warn', startMs: T0, seed: 95 });
      const store = await openJobStore(env, faultyDisk(), `/attack3-ghost-${JSON.stringify(entry)}`);
      const w = defineWorker<unknown>({ name: 'w', queue: 'g', perform: async () => undefined });
      const config: JobRunnerConfig = { workers: [w], queues: { g: { limit: 5, globalLimit: 3 } }, pruner: false, pollMs: 200, lifeline: { intervalMs: 1000, graceMs: 500 } };
      const runner = await JobRunner.start({ env, store, config, cluster: fakeCluster('b', 'b1', new Map([['b', 'b1']])), leadership: fakeLeadership('b', true) });
      await store.transaction((tx) => void tx.put(JOB_TABLES.slots, { queue: 'g', held: { 'ghost/9': entry }, waiting: {} }));
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await settle(env, runner.enqueue(w, {}), 10)).job.id);
      await run(env, 30_000, 50);
      expect(ids.map((id) => runner.get(id)?.state)).toEqual(['completed', 'completed', 'completed']);
      await settle(env, runner.stop(), 10);
      await store.close();
    }, 60_000);
  }
});
