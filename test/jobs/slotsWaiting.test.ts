import { describe, expect, it } from 'vitest';
import type { Row, Tx } from '../../src/store/index.ts';
import { withSlots } from '../../src/jobs/slots.ts';

/** A transaction over one in-memory slots table: enough for withSlots, which reads and writes one row. */
function fakeTx(rows: Map<string, Row>): Tx {
  return {
    get: (_t: string, key: string) => rows.get(key),
    put: (_t: string, row: Row) => void rows.set(String(row['queue']), row),
  } as unknown as Tx;
}

const claimAs = (tokens: string[]) => (n: number): string[] => tokens.slice(0, n);

describe('global slots: released by token', () => {
  it('a slot given back twice (a commit of unknown outcome released again) frees it once', () => {
    const rows = new Map<string, Row>();
    const tx = fakeTx(rows);
    expect(withSlots(tx, 'q', 'a', { limit: 2, release: [] }, 2, claimAs(['j1#1@5', 'j2#1@5']))).toBe(2);
    expect(rows.get('q')?.['held']).toEqual({ a: ['j1#1@5', 'j2#1@5'] });
    // j1's slot given back, and given back again by the next transaction: j2 keeps its slot
    expect(withSlots(tx, 'q', 'a', { limit: 2, release: ['j1#1@5'] }, 0, claimAs([]))).toBe(0);
    expect(withSlots(tx, 'q', 'a', { limit: 2, release: ['j1#1@5'] }, 2, claimAs(['j3#1@9', 'j4#1@9']))).toBe(1);
    expect(rows.get('q')?.['held']).toEqual({ a: ['j2#1@5', 'j3#1@9'] });
  });

  it('a count written before tokens reads as that many slots, freed only with the runner, and is kept a count (a rolling deploy: see slotsProtocol.test.ts)', () => {
    const rows = new Map<string, Row>([['q', { queue: 'q', held: { old: 2 }, waiting: {} }]]);
    expect(withSlots(fakeTx(rows), 'q', 'a', { limit: 3, release: ['legacy#0'] }, 3, claimAs(['j1#1@0', 'j2#1@0']))).toBe(1);
    expect(rows.get('q')?.['held']).toEqual({ old: 2, a: ['j1#1@0'] });
  });
});

describe('global slots: who is waiting', () => {
  it('a runner short of jobs (not of slots) is not marked waiting, so it never caps the others', () => {
    const rows = new Map<string, Row>();
    // 10 free local slots, only 1 candidate job: claimN claims what exists
    const got = withSlots(fakeTx(rows), 'q', 'a', { limit: 10, release: [] }, 10, (n) => ['j1#1@0'].slice(0, n));
    expect(got).toBe(1);
    expect(rows.get('q')?.['waiting']).toEqual({});
  });

  it('a runner refused slots while it had candidates is marked waiting', () => {
    const rows = new Map<string, Row>([['q', { queue: 'q', held: { b: ['x#1@0', 'y#1@0', 'z#1@0'] }, waiting: {} }]]);
    const got = withSlots(fakeTx(rows), 'q', 'a', { limit: 3, release: [] }, 2, (n) => Array.from({ length: n }, (_, i) => `j${i}#1@0`));
    expect(got).toBe(0);
    expect(rows.get('q')?.['waiting']).toEqual({ a: 1 });
  });
});
