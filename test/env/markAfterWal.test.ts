import { describe, expect, it } from 'vitest';
import { KvError, markAfterWal } from '../../src/env/kv.ts';

// markAfterWal: a synced write's onDurable callback that throws never turns a batch durable in
// the WAL into a plain refusal — whatever was thrown, however unprintable.

const hostile: Array<[string, () => unknown]> = [
  ['a message getter that throws', () => Object.defineProperty(new Error('x'), 'message', { get: () => { throw new Error('getter'); } })],
  ['a symbol', () => Symbol('bug')],
  ['a null-prototype object', () => Object.create(null) as object],
  ['an object whose toString throws', () => ({ toString: () => { throw new Error('toString'); } })],
];

describe('markAfterWal', () => {
  for (const [name, thrown] of hostile) {
    it(`the callback throwing ${name}: the mark is made durable and the write refused as durable (typed), never a raw throw`, async () => {
      const value = thrown();
      let marked = 0;
      const out = (() => {
        try {
          return markAfterWal({ sync: true, mark: 7, onDurable: () => { throw value; } }, '/db', async () => void marked++);
        } catch (e) {
          return Promise.resolve({ rawThrow: e });
        }
      })();
      const refused = await out.then((v) => v, (e: unknown) => e);
      expect(marked).toBe(1);
      expect(refused).toBeInstanceOf(KvError);
      expect(refused).toMatchObject({ code: 'ORDO_KV_ERROR', durable: true, cause: value });
      expect((refused as KvError).message).toContain('mark 7');
    });
  }

  it('the callback and the mark both failing with unprintable values: one typed refusal, durable, naming both', async () => {
    const a = Symbol('a');
    const b = Object.create(null) as object;
    const refused = await markAfterWal({ sync: true, mark: 3, onDurable: () => { throw a; } }, '/db', () => Promise.reject(b)).then(() => undefined, (e: unknown) => e);
    expect(refused).toMatchObject({ code: 'ORDO_KV_ERROR', durable: true });
    expect(((refused as KvError).cause as AggregateError).errors).toEqual([a, b]);
  });
});
