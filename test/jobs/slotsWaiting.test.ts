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

describe('global slots: who is waiting', () => {
  it('a runner short of jobs (not of slots) is not marked waiting, so it never caps the others', () => {
    const rows = new Map<string, Row>();
    // 10 free local slots, only 1 candidate job: claimN claims what exists
    const got = withSlots(fakeTx(rows), 'q', 'a', { limit: 10, release: 0 }, 10, (n) => Math.min(n, 1));
    expect(got).toBe(1);
    expect(rows.get('q')?.['waiting']).toEqual({});
  });

  it('a runner refused slots while it had candidates is marked waiting', () => {
    const rows = new Map<string, Row>([['q', { queue: 'q', held: { b: 3 }, waiting: {} }]]);
    const got = withSlots(fakeTx(rows), 'q', 'a', { limit: 3, release: 0 }, 2, (n) => n);
    expect(got).toBe(0);
    expect(rows.get('q')?.['waiting']).toEqual({ a: 1 });
  });
});
