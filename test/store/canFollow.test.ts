import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Flight } from '../../src/store/commitPipeline.ts';
import { canFollow } from '../../src/store/commitPipeline.ts';
import type { Pending } from '../../src/store/writeBatch.ts';

// canFollow (src/store/commitPipeline.ts): whether the queue may be written behind the batches in
// flight while their marks are made durable. It is asked again each turn a commit is queued
// during a marker window, so a flight's keys are indexed once, not on every call.

interface Spec {
  /** [table, key] per op. */
  readonly ops: ReadonlyArray<readonly [string, string]>;
  /** A commit that must wait for the batches ahead (replaced tables, extra ops or a replicated apply). */
  readonly alone: 'replace' | 'extra' | 'applied' | undefined;
}

const noop = (): void => undefined;

function pending(s: Spec, encKeys?: readonly string[]): Pending {
  const ops = s.ops.map(([table, key]) => ({ table, op: 'put' as const, key, value: { id: key } }));
  return {
    ops,
    encKeys: encKeys ?? s.ops.map(([, key]) => key),
    extra: s.alone === 'extra' ? [{ type: 'del', column: 'meta', key: new Uint8Array([1]) }] : undefined,
    applied: s.alone === 'applied' ? { stream: 's', seq: 1 } : undefined,
    replaceTables: s.alone === 'replace' ? ['t0'] : undefined,
    resolve: noop,
    reject: noop,
  };
}

function flight(batch: readonly Pending[]): Flight {
  return { batch, base: { seq: 0, logSeqs: [], digests: undefined }, built: undefined, walDurable: true, applied: undefined, writeRefused: false, doomed: undefined, done: undefined, prev: undefined };
}

/** The model: no commit on either side stands alone, and no (table, key) of the queue is written by a flight. */
function model(queue: readonly Spec[], flights: ReadonlyArray<readonly Spec[]>): boolean {
  const all = [...queue, ...flights.flat()];
  if (all.some((s) => s.alone !== undefined)) return false;
  const written = new Set(flights.flat().flatMap((s) => s.ops.map(([t, k]) => JSON.stringify([t, k]))));
  return queue.every((s) => s.ops.every(([t, k]) => !written.has(JSON.stringify([t, k]))));
}

const spec: fc.Arbitrary<Spec> = fc.record({
  ops: fc.array(fc.tuple(fc.constantFrom('t0', 't1'), fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f')), { minLength: 1, maxLength: 3 }),
  alone: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('replace' as const, 'extra' as const, 'applied' as const) }),
});

describe('store: canFollow (a batch written behind the ones in flight)', () => {
  it('property: the queue follows exactly when no commit stands alone and none touches a key in flight — asked again as the queue grows', () => {
    fc.assert(
      fc.property(fc.array(fc.array(spec, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }), fc.array(spec, { minLength: 1, maxLength: 6 }), (fl, queue) => {
        const flights = fl.map((b) => flight(b.map((s) => pending(s))));
        // the queue as it grows commit by commit in one marker window: each call after the first finds the flights indexed
        for (let n = 1; n <= queue.length; n++) {
          const q = queue.slice(0, n);
          expect(canFollow(q.map((s) => pending(s)), flights)).toBe(model(q, fl));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("reads a flight's keys once, however often the queue is checked behind it", () => {
    let reads = 0;
    const keys = Array.from({ length: 64 }, (_, i) => `k${i}`);
    // a Proxy over a flight's encoded keys counts the reads of its entries
    const counted = new Proxy(keys, {
      get(target, prop, recv) {
        if (typeof prop === 'string' && /^\d+$/.test(prop)) reads++;
        return Reflect.get(target, prop, recv);
      },
    });
    const f = flight(keys.map((k, i) => (i === 0 ? pending({ ops: keys.map((x) => ['t0', x] as const), alone: undefined }, counted) : pending({ ops: [['t1', k]], alone: undefined }))));
    const queue: Pending[] = [];
    for (let i = 0; i < 64; i++) {
      queue.push(pending({ ops: [['t0', `q${i}`]], alone: undefined }));
      expect(canFollow(queue, [f])).toBe(true);
    }
    expect(reads).toBe(64);
    expect(canFollow([pending({ ops: [['t0', 'k63']], alone: undefined })], [f])).toBe(false);
  });

  it("a flight whose batch was replaced (a commit that could not be encoded dropped) is indexed again", () => {
    const f = flight([pending({ ops: [['t0', 'a']], alone: undefined })]);
    expect(canFollow([pending({ ops: [['t0', 'b']], alone: undefined })], [f])).toBe(true);
    f.batch = [pending({ ops: [['t0', 'b']], alone: undefined })];
    expect(canFollow([pending({ ops: [['t0', 'b']], alone: undefined })], [f])).toBe(false);
    expect(canFollow([pending({ ops: [['t0', 'a']], alone: undefined })], [f])).toBe(true);
  });
});
