import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SortedKeys } from '../../src/store/sortedKeys.ts';
import type { ScanBounds } from '../../src/store/sortedKeys.ts';
import { encodeKey } from '../../src/store/keyCodec.ts';
import { firstDiff } from './helpers.ts';

/**
 * The model: a sorted array of strings (JavaScript's `<` on byte strings), scanned by filtering
 * with the bounds as they are documented — no tail, no chunks.
 */
class Model {
  keys: string[] = [];
  has(k: string): boolean {
    return this.keys.includes(k);
  }
  add(k: string): boolean {
    // the first key not below k (a binary search: appends of 1000 keys stay cheap)
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid]! < k) lo = mid + 1;
      else hi = mid;
    }
    if (this.keys[lo] === k) return false;
    this.keys.splice(lo, 0, k);
    return true;
  }
  delete(k: string): boolean {
    const i = this.keys.indexOf(k);
    if (i < 0) return false;
    this.keys.splice(i, 1);
    return true;
  }
  scan(b: ScanBounds): string[] {
    const inside = this.keys.filter((k) => (b.gte === undefined || k >= b.gte) && (b.gt === undefined || k > b.gt) && (b.lte === undefined || k <= b.lte) && (b.lt === undefined || k < b.lt));
    return b.reverse ? inside.reverse() : inside;
  }
}

/** Keys of every kind a key order holds: lone numbers (the tail's), strings, tuples, a bag's row keys (a number key and more). */
const key = (top: () => number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -4, max: 40 }).map((n) => encodeKey(n)!) },
    { weight: 4, arbitrary: fc.integer({ min: -2, max: 2 }).map((d) => encodeKey(top() + d)!) },
    { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => encodeKey(n)!) },
    { weight: 1, arbitrary: fc.constantFrom(encodeKey(2 ** 31)!, encodeKey(-(2 ** 31))!, encodeKey(2 ** 53 - 1)!, encodeKey(0.5)!, encodeKey(null)!, encodeKey(true)!) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }).map((s) => encodeKey(s)!) },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 0, max: 40 }), fc.string({ maxLength: 2 })).map((t) => encodeKey(t)!) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }).map((n) => encodeKey(n)! + encodeKey('0123456789abcdef')!) },
  );

type Cmd = { op: 'add'; k: string } | { op: 'append'; n: number } | { op: 'delete'; k: string } | { op: 'clear' } | { op: 'chunks' };

describe('SortedKeys (the key order; lone number keys appended at the end held as numbers)', () => {
  it('is a sorted set of strings — add, delete, has, size, every scan bound forward and reverse, chunksInOrder — whatever the mix of appends, inserts and deletes', () => {
    let top = 0;
    const k = key(() => top);
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('add' as const), k }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('append' as const), n: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constant(700)) }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('delete' as const), k }) },
      { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
      { weight: 1, arbitrary: fc.constant({ op: 'chunks' as const }) },
    );
    const bound = fc.option(k, { nil: undefined });
    const bounds = fc.record({ gte: bound, gt: bound, lte: bound, lt: bound, reverse: fc.boolean() }).map((b) => Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined)) as ScanBounds);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }).chain((b) => fc.tuple(fc.constantFrom(0, 30, b), fc.array(cmd, { maxLength: 50 }), fc.array(bounds, { maxLength: 6 }), fc.array(k, { maxLength: 8 }))), ([base, cmds, scans, probes]) => {
        top = base;
        const s = new SortedKeys();
        const m = new Model();
        let wrong = 0;
        const deleted: string[] = [];
        for (const c of cmds) {
          if (c.op === 'add') {
            if (s.add(c.k) !== m.add(c.k)) wrong++;
          } else if (c.op === 'append') {
            // the auto-increment shape: consecutive integers after the greatest one so far
            for (let i = 0; i < c.n; i++) if (s.add(encodeKey(top)!) !== m.add(encodeKey(top++)!)) wrong++;
          } else if (c.op === 'delete') {
            if (s.delete(c.k) !== m.delete(c.k)) wrong++;
            deleted.push(c.k);
          } else if (c.op === 'clear') {
            s.clear();
            m.keys = [];
          } else {
            expect(firstDiff(s.chunksInOrder().flat(), m.keys)).toBeUndefined();
          }
          if (s.size !== m.keys.length) wrong++;
        }
        expect(wrong).toBe(0);
        for (const p of [...probes, ...deleted, ...m.keys.slice(-3), encodeKey(top)!]) {
          expect(s.has(p)).toBe(m.has(p));
          expect(s.isAfterLast(p)).toBe(m.keys.length === 0 || p > m.keys[m.keys.length - 1]!);
        }
        expect(firstDiff([...s.scan()], m.keys)).toBeUndefined();
        expect(firstDiff([...s.scan({ reverse: true })], m.scan({ reverse: true }))).toBeUndefined();
        // scanNumbers: the same keys, the tail's as their numbers
        const asKeys = (b: ScanBounds): string[] => [...s.scanNumbers(b)].map((x) => (typeof x === 'number' ? encodeKey(x)! : x));
        for (const b of scans) {
          expect(firstDiff([...s.scan(b)], m.scan(b)), JSON.stringify(b)).toBeUndefined();
          expect(firstDiff(asKeys(b), m.scan(b)), JSON.stringify(b)).toBeUndefined();
        }
        // bounds on the keys held (the edges of the chunks and of the tail)
        const step = Math.max(1, Math.ceil(m.keys.length / 12));
        for (const e of m.keys.filter((_, i) => i % step === 0 || i === m.keys.length - 1)) {
          for (const b of [{ gte: e }, { gt: e }, { lte: e, reverse: true }, { lt: e, reverse: true }, { gt: e, lte: e }, { gte: e, reverse: true }, { gt: e, reverse: true }, { lte: e }, { lt: e }]) {
            expect(firstDiff([...s.scan(b)], m.scan(b)), JSON.stringify(b)).toBeUndefined();
            expect(firstDiff(asKeys(b), m.scan(b)), JSON.stringify(b)).toBeUndefined();
          }
        }
        expect(firstDiff(s.chunksInOrder().flat(), m.keys)).toBeUndefined();
      }),
      { numRuns: 300, endOnFailure: true },
    );
  });

  it('holds appended lone number keys without their strings, and gives back the very strings they were added as', () => {
    const s = new SortedKeys();
    s.add(encodeKey(null)!);
    for (let i = 0; i < 2000; i++) s.add(encodeKey(1_000_000 + i)!);
    // the tail's keys: numbers, not strings (what an unsynced bulk write keeps per row)
    const held = (s as unknown as { tail: unknown[] }).tail;
    expect(held.length).toBe(2000);
    expect(held.every((x) => typeof x === 'number')).toBe(true);
    const keys = [...s.scan()];
    expect(keys.length).toBe(2001);
    expect(keys.slice(1)).toEqual(Array.from({ length: 2000 }, (_, i) => encodeKey(1_000_000 + i)));
    // an insert inside: the tail becomes strings in the chunks, the order unchanged
    s.add(encodeKey(1_000_000.5)!);
    expect((s as unknown as { tail: unknown[] }).tail.length).toBe(0);
    expect([...s.scan({ gt: encodeKey(1_000_000)!, lt: encodeKey(1_000_002)! })]).toEqual([encodeKey(1_000_000.5), encodeKey(1_000_001)]);
  });
});
