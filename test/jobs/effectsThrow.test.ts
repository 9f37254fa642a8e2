/**
 * docs/jobs.md: "a throw in one worker's effects fails only its own job". The effects of a
 * completion throw on every write: the attempt is a failure of that job (an error entry; a
 * `maxAttempts: 1` job discarded), and the queue goes on with its next job. Effects that hand
 * back a promise (an `async` function) are refused the same way: their writes after an `await`
 * would reach a finished transaction, the job completed without them.
 */
import { describe, expect, it } from 'vitest';
import type { Tx } from '../../src/store/index.ts';
import { badThenNext } from './badThenNext.ts';

describe('effects that throw', () => {
  it('fail only their own job, and the next job of the queue runs', async () => {
    const { bad, next } = await badThenNext({ seed: 183, dir: '/effects-throw', runMs: 30_000, stepMs: 100, bad: { maxAttempts: 1, perform: () => ({ ok: true, effects: () => { throw new Error('boom'); } }) as const } });
    expect(next.state).toBe('completed');
    expect(bad.state).toBe('discarded');
    expect(bad.errors.map((e) => e.error)).toEqual(['boom']);
  });

  it('async effects are refused (ORDO_JOBS_BAD_OUTCOME): not a completion whose effects after an await are lost', async () => {
    const effects = async (tx: Tx): Promise<void> => {
      await null;
      tx.put('effects', { id: 'late', n: 1 });
    };
    const { bad, next } = await badThenNext({ seed: 187, dir: '/effects-async', runMs: 5_000, stepMs: 50, bad: { maxAttempts: 1, perform: () => ({ ok: true, effects }) as const } });
    expect(bad.state).toBe('discarded');
    expect(bad.errors.map((e) => e.code)).toEqual(['ORDO_JOBS_BAD_OUTCOME']);
    expect(next.state).toBe('completed');
  });
});
