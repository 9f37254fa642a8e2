/**
 * A worker backoff that gives no finite delay is warned of (`jobs_bad_backoff`) once per job
 * attempt — not again each time the failure's write runs again: after a conflict (the store
 * re-runs the transaction) or after the store refused it (the queue writes it again). Real
 * RocksDB, virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { createTestEnv } from '../../src/env/env.ts';
import { JobRunner, defineWorker } from '../../src/jobs/index.ts';
import type { Store } from '../../src/store/index.ts';
import { T0 } from './helpers.ts';
import { rocksJobStore, runReal, settleReal, writes } from './rocksDisk.ts';

const warned = (records: ReadonlyArray<Record<string, unknown>>) => records.filter((r) => r['report'] === 'jobs_bad_backoff').map((r) => [r['job'], r['attempt']]);

async function world(seed: number, name: string, setup: (s: { store: Store; refuse(id: string): void; id(): string }) => { backoff: () => number }) {
  const env = createTestEnv({ level: 'warn', startMs: T0, seed });
  const s = await rocksJobStore(env, name);
  let jobId = '';
  const h = setup({ store: s.store, refuse: (id) => void (s.ctl.refuse = (ops) => (writes(ops, id) ? ((s.ctl.refuse = undefined), true) : false)), id: () => jobId });
  const w = defineWorker({ name: 'w', maxAttempts: 3, backoff: h.backoff, perform: () => ({ error: 'once more' }) });
  const runner = await JobRunner.start({ env, store: s.store, config: { workers: [w], queues: { default: 1 }, pruner: false, stager: { intervalMs: 50 } } });
  try {
    jobId = (await runner.enqueue(w, {}, { scheduleIn: 1_000 })).job.id;
    await runReal(env, s.ctl, 3_000, 50);
    return { job: runner.get(jobId)!, warned: warned(env.records), refused: s.ctl.refused, id: jobId };
  } finally {
    await settleReal(env, s.ctl, runner.stop());
    await s.store.close();
    s.dispose();
  }
}

describe('a bad backoff’s warning', () => {
  it('once per attempt when the failure’s write re-runs after a conflict', async () => {
    let calls = 0;
    const r = await world(351, 'backoff-warn-conflict', ({ store, id }) => ({
      backoff: () => {
        // the first time: another commit of the job's row is in flight when the write checks what it read
        if (calls++ === 0) void store.dirtyPut('ordo_jobs', store.get('ordo_jobs', id())!);
        return NaN;
      },
    }));
    expect(calls, 'the write ran again after the conflict').toBeGreaterThanOrEqual(2);
    expect(r.job).toMatchObject({ state: 'retryable', attempt: 1 });
    expect(r.warned).toEqual([[r.id, 1]]);
  });

  it('once per attempt when the failure’s write is refused and written again', async () => {
    let refuse: ((id: string) => void) | undefined;
    let id: (() => string) | undefined;
    let calls = 0;
    const r = await world(352, 'backoff-warn-refused', (h) => {
      refuse = h.refuse;
      id = h.id;
      return {
        backoff: () => {
          // the first time: the store refuses the write this failure is part of
          if (calls++ === 0) refuse!(id!());
          return NaN;
        },
      };
    });
    expect(r.refused).toBe(1);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(r.job).toMatchObject({ state: 'retryable', attempt: 1 });
    expect(r.warned).toEqual([[r.id, 1]]);
  });
});
