/**
 * A worker's `backoff` that throws or returns something that is not a finite number of ms: the
 * failed job is still written (retryable after the default backoff, its error entry kept) and the
 * queue goes on — not a failure write the store refuses (a NaN `scheduledAt`) or that throws, retried
 * for ever with the job left executing and its slot held.
 */
import { describe, expect, it } from 'vitest';
import { badThenNext, dirOf } from './badThenNext.ts';

describe('hostile backoff', () => {
  for (const [label, backoff] of [
    ['returns NaN', () => NaN],
    ['returns Infinity', () => Infinity],
    ['throws', () => { throw new Error('no backoff'); }],
  ] as const) {
    it(`a backoff that ${label}: the job is retryable with its error entry, the next job runs`, async () => {
      const { bad, next } = await badThenNext({ seed: 185, dir: dirOf('backoff', label), runMs: 2_000, stepMs: 50, bad: { maxAttempts: 3, backoff, perform: () => ({ error: 'once' }) } });
      expect(bad.state).toBe('retryable');
      expect(bad.errors.map((e) => e.error)).toEqual(['once']);
      expect(Number.isFinite(bad.scheduledAt)).toBe(true);
      expect(next.state).toBe('completed');
    });
  }
});
