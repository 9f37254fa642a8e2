import { describe, expect, it } from 'vitest';
import { createRocksKv, KvOptionsError } from '../../src/env/index.ts';

describe('createRocksKv options', () => {
  it.each([['strict'], ['pipelined'], [undefined]])('accepts watermark %s', (watermark) => {
    const adapter = watermark === undefined ? createRocksKv() : createRocksKv({ watermark: watermark as 'strict' | 'pipelined' });
    expect(typeof adapter.open).toBe('function');
  });

  it.each([['fast'], ['STRICT'], [''], [1], [null], [Object.create(null)], [Symbol('strict')]])(
    'refuses watermark %s with a typed error naming the option and the value',
    (bad) => {
      let caught: unknown;
      try {
        createRocksKv({ watermark: bad as never });
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(KvOptionsError);
      const err = caught as KvOptionsError;
      expect(err.code).toBe('ORDO_KV_OPTIONS');
      expect(err.option).toBe('createRocksKv watermark');
      expect(err.value).toBe(bad);
      expect(err.message).toContain("'strict' or 'pipelined'");
    },
  );
});

describe('createRocksKv bulkWorker', () => {
  it.each([['lazy'], ['eager'], ['off'], [undefined]])('accepts bulkWorker %s', (bulkWorker) => {
    const adapter = bulkWorker === undefined ? createRocksKv() : createRocksKv({ bulkWorker: bulkWorker as 'lazy' | 'eager' | 'off' });
    expect(typeof adapter.open).toBe('function');
  });

  it.each([['on'], [true], [false], [''], [null]])('refuses bulkWorker %s with a typed error naming the option and the value', (bad) => {
    let caught: unknown;
    try {
      createRocksKv({ bulkWorker: bad as never });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(KvOptionsError);
    expect(caught).toMatchObject({ code: 'ORDO_KV_OPTIONS', option: 'createRocksKv bulkWorker', value: bad });
  });
});
