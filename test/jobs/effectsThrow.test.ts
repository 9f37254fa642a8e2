/**
 * docs/jobs.md: "a throw in one worker's effects fails only its own job". The effects of a
 * completion throw on every write: the attempt is a failure of that job (an error entry; a
 * `maxAttempts: 1` job discarded), and the queue goes on with its next job.
 */
import { describe, expect, it } from 'vitest';
import { badThenNext } from './badThenNext.ts';

describe('effects that throw', () => {
  it('fail only their own job, and the next job of the queue runs', async () => {
    const { bad, next } = await badThenNext({ seed: 183, dir: '/effects-throw', runMs: 30_000, stepMs: 100, bad: { maxAttempts: 1, perform: () => ({ ok: true, effects: () => { throw new Error('boom'); } }) as const } });
    expect(next.state).toBe('completed');
    expect(bad.state).toBe('discarded');
    expect(bad.errors.map((e) => e.error)).toEqual(['boom']);
  });
});
