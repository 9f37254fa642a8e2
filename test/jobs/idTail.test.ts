/** A job id's random tail (buildJob.ts randomPart) is the eight base-36 digits of `floor(r · 36⁸)`, zero-padded, for any draw. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomPart } from '../../src/jobs/buildJob.ts';

const formula = (r: number): string => Math.floor(r * 36 ** 8).toString(36).padStart(8, '0');

describe('id tail', () => {
  it('is the zero-padded base-36 of floor(r * 36^8), for any draw in [0, 1)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (r) => {
        expect(randomPart(() => r)).toBe(formula(r));
      }),
      { numRuns: 20_000 },
    );
    // the edges: 0, the largest draw below 1, each digit-pair boundary
    for (const r of [0, 1 - 2 ** -53, 1 / 36 ** 8, 35 / 36 ** 8, 36 / 36 ** 8, 1 / 36 ** 4, 1 / 36 ** 2, 0.5]) expect(randomPart(() => r)).toBe(formula(r));
  });
});
