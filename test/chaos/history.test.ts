import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkHistory, type HistoryOp } from '../../src/chaos/history.ts';

const w = (key: string, value: string, at: number, outcome: 'ok' | 'fail' | 'info' = 'ok', node = 'n1'): HistoryOp => ({ type: 'write', outcome, node, key, value, at });
const state = (o: Record<string, string>) => new Map(Object.entries(o));

describe('history checker', () => {
  it('a clean history passes', () => {
    const v = checkHistory([w('a', '1', 1), w('a', '2', 2), { type: 'leader', node: 'n1', term: 1, at: 0 }], { n1: state({ a: '2' }), n2: state({ a: '2' }) });
    expect(v).toEqual({ ok: true, lostWrites: [], splitTerms: [], divergent: [] });
  });

  it('an acknowledged write missing on a replica is lost; a failed one is not; an unknown later one may win', () => {
    expect(checkHistory([w('a', '1', 1)], { n1: state({}) }).lostWrites).toEqual([{ key: 'a', value: '1', node: 'n1', replica: 'n1', found: undefined }]);
    expect(checkHistory([w('a', '1', 1), w('a', '2', 2, 'fail')], { n1: state({ a: '1' }) }).ok).toBe(true);
    expect(checkHistory([w('a', '1', 1), w('a', '2', 2, 'info')], { n1: state({ a: '2' }) }).ok).toBe(true);
    expect(checkHistory([w('a', '1', 1), w('a', '2', 2)], { n1: state({ a: '1' }) }).lostWrites).toHaveLength(1);
  });

  it('two leaders in one term are a split; divergent replicas are named', () => {
    const v = checkHistory(
      [
        { type: 'leader', node: 'n1', term: 3, at: 1 },
        { type: 'leader', node: 'n2', term: 3, at: 2 },
        { type: 'leader', node: 'n2', term: 4, at: 3 },
      ],
      { n1: state({ k: 'x' }), n2: state({ k: 'y' }) },
    );
    expect(v.splitTerms).toEqual([{ term: 3, leaders: ['n1', 'n2'] }]);
    expect(v.divergent).toEqual([{ key: 'k', values: { n1: 'x', n2: 'y' } }]);
    expect(v.ok).toBe(false);
  });

  it('property: replicas that applied every acknowledged write in order pass; dropping any acknowledged last write fails', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.nat(9), fc.constantFrom<'ok' | 'fail'>('ok', 'fail')), { minLength: 1, maxLength: 30 }), (spec) => {
        const ops = spec.map(([k, v, o], i) => w(k, String(v), i, o));
        const final = new Map<string, string>();
        for (const op of ops) if (op.type === 'write' && op.outcome === 'ok') final.set(op.key, op.value);
        expect(checkHistory(ops, { r1: final, r2: new Map(final) }).ok).toBe(true);
        const [victim] = [...final.keys()];
        if (victim === undefined) return;
        const lossy = new Map(final);
        lossy.delete(victim);
        expect(checkHistory(ops, { r1: final, r2: lossy }).lostWrites.map((l) => l.key)).toEqual([victim]);
      }),
    );
  });
});
