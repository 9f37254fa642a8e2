/**
 * One crontab entry whose job the store refuses to insert (a write refused at the top of the
 * minute) must not keep the other entries from firing that round: each entry is its own
 * transaction, tried on its own, its failure reported (the `jobs_store_failed` log, the store
 * error count, the runner degraded naming the entry) and retried soon — its slot fired once
 * the store takes it, the others' never twice. Real RocksDB, virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker } from '../../src/jobs/index.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { T0 } from './helpers.ts';
import { rocksJobStore, runReal, settleReal, writes } from './rocksDisk.ts';

const MIN = 60_000;

describe('a cron entry the store refuses', () => {
  it('does not skip the entries after it that round; it is reported, and fired once the store takes it', async () => {
    const env = createTestEnv({ level: 'warn', startMs: T0, seed: 311 });
    const s = await rocksJobStore(env, 'cron-entry-outage');
    const tick = defineWorker<Record<string, never>>({ name: 'tick', perform: () => undefined });
    const crontab = [
      { name: 'a-entry', expression: '* * * * *', worker: tick, args: {} },
      { name: 'b-entry', expression: '* * * * *', worker: tick, args: {} },
    ];
    const runner = await JobRunner.start({ env, store: s.store, config: { workers: [tick], queues: { default: 2 }, crontab, pruner: false } });
    try {
      const fired = (name: string): number[] => s.store.keys('ordo_jobs').map(String).filter((k) => k.startsWith(`cron:${name}:`)).map((k) => Number(k.split(':').pop()));
      await runReal(env, s.ctl, 1_000, 100); // first sight of both entries: their fire times stored
      const top = env.clock.now() + MIN - (env.clock.now() % MIN);
      await runReal(env, s.ctl, top - env.clock.now() - 1_000, 500);
      // every write of a-entry's job is refused from now on
      s.ctl.refuse = (ops) => writes(ops, 'a-entry');
      await runReal(env, s.ctl, 1_500, 100); // the tick at the top, and not yet its retry (1 s)
      expect(fired('a-entry')).toEqual([]);
      expect(fired('b-entry'), 'the entry after the refused one fired in the same round').toEqual([top]);
      expect(runner.metrics().storeErrors).toBeGreaterThanOrEqual(1);
      expect(env.records.filter((r) => r['report'] === 'jobs_store_failed').map((r) => r['operation'])).toEqual(['cron a-entry']);
      await runReal(env, s.ctl, 10_000, 100); // retried, refused again
      expect(s.ctl.refused).toBeGreaterThanOrEqual(2);
      expect(fired('b-entry'), 'never fired twice by the retries').toEqual([top]);
      s.ctl.refuse = undefined;
      await runReal(env, s.ctl, 10_000, 100);
      expect(fired('a-entry'), 'the refused slot, once the store takes it').toEqual([top]);
      expect(fired('b-entry')).toEqual([top]);
      expect(runner.health().status).toBe('ok');
    } finally {
      await settleReal(env, s.ctl, runner.stop());
      await s.store.close();
      s.dispose();
    }
  });
});
