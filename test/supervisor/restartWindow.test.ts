// The supervisor charges restarts through RestartWindow (O(1) amortized); addRestart is the
// specification (OTP's add_restart). Both must agree on every sequence of restart times.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addRestart, RestartWindow } from '../../src/supervisor/restartIntensity.ts';

describe('RestartWindow', () => {
  it('agrees with addRestart on every non-decreasing sequence of restart times', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 1, max: 40 }),
        // small gaps and exact periods, so restarts land on the window's edge often
        fc.array(fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constant(-1)), { maxLength: 300 }),
        (maxRestarts, periodMs, steps) => {
          const gaps = steps.map((g) => (g === -1 ? periodMs : g));
          const limits = { maxRestarts, periodMs };
          const w = new RestartWindow(limits);
          let spec: number[] = [];
          let t = 0;
          for (const g of gaps) {
            t += g;
            const expected = addRestart(spec, t, limits);
            spec = expected.restarts;
            expect(w.charge(t)).toBe(expected.ok);
            expect(w.restarts).toEqual(expected.restarts);
            expect(w.size).toBe(expected.restarts.length);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
  it('gives up on the (I+1)-th restart inside the period', () => {
    const w = new RestartWindow({ maxRestarts: 3, periodMs: 5000 });
    expect([0, 1000, 2000].map((t) => w.charge(t))).toEqual([true, true, true]);
    expect(w.charge(3000)).toBe(false);
  });
});
