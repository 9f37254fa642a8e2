/**
 * A perform that throws something unreadable (a null-prototype object, a throwing toString or
 * message getter), or hands back something that is not a JobOutcome (a JS worker returning a number, a
 * string, `true`; a snooze that is not a finite number; an outcome whose fields throw when read)
 * is a failure of that attempt — recorded with a typed error and retried — never an exception out
 * of the runner's outcome reaction (an unhandled rejection) nor an outcome the store refuses (or
 * that throws in its transaction) for ever (the write retried, its slot held).
 */
import { describe, expect, it } from 'vitest';
import { badThenNext, dirOf } from './badThenNext.ts';

/** A getter that throws: the field exists (`'discard' in o`) but cannot be read. */
const unreadable = (field: string, base: object = {}): object =>
  Object.defineProperty({ ...base }, field, { enumerable: true, get: () => { throw new Error(`${field} cannot be read`); } });

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
    // read in the outcome's transaction (discard, cancel) or its reaction (error, effects) before: left executing
    ['a discard that throws when read', unreadable('discard')],
    ['a cancel that throws when read', unreadable('cancel')],
    ['an error that throws when read', unreadable('error')],
    ['effects that throw when read', unreadable('effects', { ok: true })],
    ['a snooze that throws when read', unreadable('snooze')],
    ['effects that are not a function', { ok: true, effects: 42 }],
    // the shape of a failure elsewhere (the admin answers): completed before
    ['an ok that is not true', { ok: false, error: 'nope' }],
    // refused, and cannot be printed in the error's message (JSON.stringify and String both throw)
    ['a NaN snooze that cannot be printed', Object.defineProperty({ snooze: NaN, toString: () => { throw new Error('no'); } }, 'x', { enumerable: true, get: () => { throw new Error('no'); } })],
  ] as const) {
    it(`${label}: the attempt fails with an error entry, and the next job of the queue runs`, async () => {
      const { bad, next } = await badThenNext({ seed: 182, dir: dirOf('hostile', label), runMs: 5_000, stepMs: 50, bad: { maxAttempts: 1, perform: () => outcome as never } });
      expect(bad.state).toBe('discarded');
      expect(bad.errors.length).toBe(1);
      expect(bad.errors[0]!.code).toBe('ORDO_JOBS_BAD_OUTCOME');
      expect(next.state).toBe('completed');
    });
  }

  it('a snooze read once: a getter giving a finite delay, then NaN, snoozes by the first', async () => {
    let reads = 0;
    const outcome = { get snooze() { return ++reads === 1 ? 1_000 : NaN; } };
    const { bad, next } = await badThenNext({ seed: 186, dir: '/hostile-snooze-twice', runMs: 500, stepMs: 50, bad: { maxAttempts: 1, perform: () => outcome as never } });
    expect(bad.state).toBe('scheduled');
    expect(Number.isFinite(bad.scheduledAt)).toBe(true);
    expect(reads).toBe(1);
    expect(next.state).toBe('completed');
  });
});
