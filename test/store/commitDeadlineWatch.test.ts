import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createVirtualClock } from '../../src/env/virtualClock.ts';
import { DeadlineWatch } from '../../src/store/commitDeadline.ts';

// The commit deadline's shared timer (store/commitDeadline.ts): whatever the order of writes
// starting, answering and time passing, a write expires exactly when its own deadline has passed
// without an answer (never before, never an answered one), and an idle watch holds no timer.

type Step = { kind: 'start'; ms: number } | { kind: 'answer'; pick: number } | { kind: 'advance'; ms: number } | { kind: 'idle' };
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('start' as const), ms: fc.integer({ min: 1, max: 100 }) }),
  fc.record({ kind: fc.constant('answer' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 150 }) }),
  fc.constant({ kind: 'idle' as const }),
);

interface Write {
  readonly due: number;
  answered: boolean;
  expiredAt: number | undefined;
  done: () => void;
}

describe('DeadlineWatch', () => {
  it('expires exactly the writes whose deadline passed unanswered, at their deadline, and holds no timer once idle (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
        const clock = createVirtualClock(1000);
        const watch = new DeadlineWatch(clock);
        const writes: Write[] = [];
        const open = (): Write[] => writes.filter((w) => !w.answered && w.expiredAt === undefined);
        for (const s of steps) {
          if (s.kind === 'start') {
            const w: Write = { due: clock.now() + s.ms, answered: false, expiredAt: undefined, done: () => {} };
            w.done = watch.watch(s.ms, () => {
              expect(w.answered).toBe(false);
              expect(w.expiredAt).toBeUndefined();
              w.expiredAt = clock.now();
            });
            writes.push(w);
          } else if (s.kind === 'answer') {
            const live = open();
            if (live.length === 0) continue;
            const w = live[s.pick % live.length]!;
            w.answered = true;
            w.done();
          } else if (s.kind === 'advance') {
            await clock.advance(s.ms);
          } else {
            watch.idle();
          }
          const now = clock.now();
          for (const w of writes) {
            // expired at its deadline (the virtual clock runs each timer at its time), and only then
            if (w.expiredAt !== undefined) expect(w.expiredAt).toBe(w.due);
            else if (!w.answered) expect(w.due).toBeGreaterThan(now);
          }
        }
        // every write answered, then idle: no timer left
        for (const w of open()) {
          w.answered = true;
          w.done();
        }
        watch.idle();
        expect(clock.pending()).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps its timer while a write is watched (idle does not drop a live deadline)', async () => {
    const clock = createVirtualClock(0);
    const watch = new DeadlineWatch(clock);
    let expired = 0;
    watch.watch(50, () => expired++);
    watch.idle();
    expect(clock.pending()).toBe(1);
    await clock.advance(49);
    expect(expired).toBe(0);
    await clock.advance(1);
    expect(expired).toBe(1);
    expect(clock.pending()).toBe(0);
  });
});
