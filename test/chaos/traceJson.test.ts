import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { safeJson } from '../../src/chaos/runner.ts';

/** The trace hash's text of one event: JSON with bigints as strings and errors as { name, message } — always through the replacer. */
function viaReplacer(x: unknown): string {
  try {
    return JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v instanceof Error ? { name: v.name, message: v.message } : v));
  } catch {
    return '"(unserialisable)"';
  }
}

describe('trace event JSON (the trace hash)', () => {
  it('is the replacer’s text for any event: the fast path for plain records changes no hash', () => {
    fc.assert(
      fc.property(
        fc.record({ t: fc.nat(), kind: fc.string() }),
        fc.dictionary(fc.string(), fc.anything({ withBigInt: true, withNullPrototype: true, withBoxedValues: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, maxDepth: 6 })),
        (head, fields) => {
          const event = { ...head, ...fields };
          expect(safeJson(event)).toBe(viaReplacer(event));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('errors, class instances, toJSON, cycles and deep values take the replacer’s path', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    class Point {
      x = 1;
    }
    const deep = { a: { b: { c: { d: { e: { f: { g: 1n } } } } } } };
    for (const e of [
      { t: 0, kind: 'x', reason: new Error('boom') },
      { t: 0, kind: 'x', reason: { nested: [new TypeError('bad')] } },
      { t: 0, kind: 'x', p: new Point() },
      { t: 0, kind: 'x', when: { toJSON: () => 'later' } },
      { t: 0, kind: 'x', n: 12n, list: [1n, { m: 2n }] },
      { t: 0, kind: 'x', deep },
      cyclic,
    ]) {
      expect(safeJson(e)).toBe(viaReplacer(e));
    }
    expect(safeJson(cyclic)).toBe('"(unserialisable)"');
    expect(safeJson({ t: 0, kind: 'x', reason: new Error('boom') })).toContain('"message":"boom"');
  });
});
