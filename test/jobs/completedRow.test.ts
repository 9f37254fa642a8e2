/**
 * A completion writes the stored row changed directly (`completedRow`, no job object and copy in
 * between): for any executing job as stored — either lane layout, any args, meta, errors,
 * unique key, timeout — the row it writes is exactly the one the job-level change wrote
 * (`toRow` of the job completed), attribute for attribute and byte for byte once stored.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JOB_TABLES } from '../../src/jobs/index.ts';
import { changeOf } from '../../src/jobs/outcome.ts';
import { completedRow, toJob, toRow } from '../../src/jobs/tables.ts';
import type { Job } from '../../src/jobs/index.ts';
import { T0, faultyDisk, oldLayoutRow, openJobStore, testEnv } from './helpers.ts';

// what a job's args can be (JSON that survives the store; `null` is not an `any` value)
const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown).filter((v) => v !== null);
const executing: fc.Arbitrary<Job> = fc.record({
  id: fc.stringMatching(/^[0-9a-z]{1,12}$/),
  queue: fc.constantFrom('default', 'mail', 'q-1'),
  worker: fc.constantFrom('w', 'other'),
  args: json,
  meta: fc.dictionary(fc.stringMatching(/^[a-z]{1,4}$/), fc.integer()),
  state: fc.constant('executing' as const),
  priority: fc.integer({ min: 0, max: 9 }),
  attempt: fc.integer({ min: 1, max: 20 }),
  maxAttempts: fc.integer({ min: 1, max: 25 }),
  insertedAt: fc.integer({ min: 0, max: 2 * T0 }),
  scheduledAt: fc.integer({ min: 0, max: 2 * T0 }),
  attemptedAt: fc.integer({ min: 0, max: 2 * T0 }),
  attemptedBy: fc.constantFrom('a/1', 'node-b/x7'),
  finishedAt: fc.constant(null),
  errors: fc.array(fc.record({ attempt: fc.integer({ min: 1, max: 20 }), at: fc.integer({ min: 0, max: 2 * T0 }), error: fc.string() }), { maxLength: 3 }),
  uniqueKey: fc.option(fc.string(), { nil: null }),
  timeoutMs: fc.option(fc.integer({ min: 1, max: 60_000 }), { nil: null }),
});

describe('completedRow', () => {
  it('writes the row the job-level completion wrote, for any stored executing job (either lane layout)', async () => {
    const env = testEnv(71);
    const store = await openJobStore(env, faultyDisk(), '/completed-row');
    const { change } = changeOf(env, new Map(), undefined);
    await fc.assert(
      fc.asyncProperty(executing, fc.boolean(), fc.integer({ min: 0, max: 2 * T0 }), async (j, old, now) => {
        await store.transaction((tx) => void tx.put(JOB_TABLES.jobs, old ? oldLayoutRow(j) : toRow(j)));
        const stored = store.get(JOB_TABLES.jobs, j.id)!;
        const want = toRow({ ...change(toJob(stored)), finishedAt: now });
        const got = completedRow(stored, now);
        expect(got).toStrictEqual(want);
        // stored: the same validated row, in the same attribute order (the same bytes on disk)
        const a = await store.transaction((tx) => tx.put(JOB_TABLES.jobs, got));
        const b = await store.transaction((tx) => tx.put(JOB_TABLES.jobs, want));
        expect(JSON.stringify(a)).toBe(JSON.stringify(b));
      }),
      { numRuns: 150 },
    );
    await store.close();
  });
});
