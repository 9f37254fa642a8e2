/**
 * A perform that throws something unreadable (a null-prototype object, a throwing toString or
 * message getter), or hands back something that is not a JobOutcome (a JS worker returning a number, a
 * string, `true`; a snooze that is not a finite number) is a failure of that attempt — recorded
 * with a typed error and retried — never an exception out of the runner's outcome reaction (an
 * unhandled rejection) nor an outcome the store refuses for ever (the write retried, its slot held).
 */
import { describe, expect, it } from 'vitest';
import { badThenNext, dirOf } from './badThenNext.ts';

describe('hostile outcomes', () => {
  for (const [label, thrown] of [
    ['a null-prototype object', Object.create(null) as unknown],
    ['an object whose toString throws', { toString: () => { throw new Error('no'); } }],
    ['a symbol', Symbol('s')],
    ['an error whose message is a getter that throws', Object.defineProperty(new Error('x'), 'message', { get: () => { throw new Error('no'); } })],
  ] as const) {
    it(`a perform that throws ${label}: the attempt fails with an error entry, and the next job runs`, async () => {
      const { bad, next } = await badThenNext({ seed: 184, dir: dirOf('thrown', label), runMs: 5_000, stepMs: 50, bad: { maxAttempts: 1, perform: () => { throw thrown; } } });
      expect(bad.state).toBe('discarded');
      expect(bad.errors.length).toBe(1);
      expect(next.state).toBe('completed');
    });
  }

  for (const [label, outcome] of [
    ['a number', 42],
    ['a string', 'ok'],
    ['true', true],
    ['a NaN snooze', { snooze: NaN }],
    ['an Infinity snooze', { snooze: Infinity }],
  ] as const) {
    it(`${label}: the attempt fails with an error entry, and the next job of the queue runs`, async () => {
      const { bad, next } = await badThenNext({ seed: 182, dir: dirOf('hostile', label), runMs: 5_000, stepMs: 50, bad: { maxAttempts: 1, perform: () => outcome as never } });
      expect(bad.state).toBe('discarded');
      expect(bad.errors.length).toBe(1);
      expect(bad.errors[0]!.code).toBe('ORDO_JOBS_BAD_OUTCOME');
      expect(next.state).toBe('completed');
    });
  }
});
