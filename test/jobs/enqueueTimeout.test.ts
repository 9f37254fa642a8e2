/**
 * An enqueue's `timeoutMs` is checked as the other enqueue options are (JobsConfigError naming
 * it): 0 or less timed the job out as soon as it started, NaN and Infinity reached the store,
 * which refused the insert with its own untyped-for-jobs validation error.
 */
import { describe, expect, it } from 'vitest';
import { JobsConfigError, defineWorker } from '../../src/jobs/index.ts';
import { buildJob } from '../../src/jobs/buildJob.ts';

const w = defineWorker({ name: 'w', perform: () => undefined });
const build = (timeoutMs: number | undefined): unknown => {
  try {
    return buildJob(w as never, {}, { queue: 'default', ...(timeoutMs === undefined ? {} : { timeoutMs }) }, 0, () => 0.5).timeoutMs;
  } catch (e) {
    return e instanceof JobsConfigError ? { code: e.code, field: e.field, value: e.value } : e;
  }
};

describe('enqueue timeoutMs', () => {
  for (const bad of [0, -1, -0, NaN, Infinity, -Infinity]) {
    it(`${bad} is refused, typed`, () => {
      expect(build(bad)).toEqual({ code: 'ORDO_JOBS_CONFIG', field: 'timeoutMs', value: bad });
    });
  }
  it('a positive finite one is kept, none is null (the worker\'s applies)', () => {
    expect(build(1_500)).toBe(1_500);
    expect(build(0.5)).toBe(0.5);
    expect(build(undefined)).toBe(null);
  });
});
