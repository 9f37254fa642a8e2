/**
 * A job enqueued without meta is written with the attributes' defaults (no `{}` and `[]` made and
 * copied per job, tables.ts NO_META): its stored row — enqueued, claimed, completed, retried — is
 * the one a fresh `{}` and `[]` gave, and a job with meta keeps its own.
 */
import { describe, expect, it } from 'vitest';
import { JOB_TABLES, JobRunner, defineWorker, jobTables } from '../../src/jobs/index.ts';
import { openStore } from '../../src/store/index.ts';
import { toRow } from '../../src/jobs/tables.ts';
import { faultyDisk, run, settle, testEnv } from './helpers.ts';

describe('row defaults', () => {
  it('meta and errors absent at enqueue are stored as {} and [], through every write of the job', async () => {
    const env = testEnv(72);
    const tables = jobTables();
    // a second table of the jobs table's shape: the row a fresh {} and [] give, stored alongside
    const store = await openStore({ env, dir: '/row-defaults', kv: faultyDisk().kv, tables: { ...tables, ordo_jobs_copy: tables[JOB_TABLES.jobs]! } });
    let fail = true;
    const w = defineWorker<{ n: number }>({ name: 'w', perform: () => (fail ? ((fail = false), { error: 'once' }) : undefined) });
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 2 }, stager: { intervalMs: 50 } } });
    const plain = await runner.enqueue(w, { n: 1 }, { scheduleIn: 10_000 });
    const withMeta = await runner.enqueue(w, { n: 2 }, { meta: { tag: 'x' }, scheduleIn: 10_000 });
    expect(plain.job.meta).toStrictEqual({});
    expect(plain.job.errors).toStrictEqual([]);
    // as stored: the row a job built with a fresh {} and [] gave (same attributes, same bytes)
    const fresh = await store.transaction((tx) => tx.put('ordo_jobs_copy', toRow({ ...plain.job, meta: {}, errors: [] })));
    expect(JSON.stringify(store.get(JOB_TABLES.jobs, plain.job.id))).toBe(JSON.stringify(fresh));
    expect(store.get(JOB_TABLES.jobs, withMeta.job.id)!['meta']).toStrictEqual({ tag: 'x' });
    await run(env, 60_000, 50);
    const a = runner.get(plain.job.id)!;
    const b = runner.get(withMeta.job.id)!;
    expect([a.state, b.state]).toEqual(['completed', 'completed']);
    expect(a.meta).toStrictEqual({});
    expect(b.meta).toStrictEqual({ tag: 'x' });
    // the first perform failed: its error entry is there, on one job only
    expect(a.errors.length + b.errors.length).toBe(1);
    await settle(env, runner.stop());
    await store.close();
  });
});
