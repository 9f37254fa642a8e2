// Errors reach the log as objects through pino's serializer: stack, code, the ids and the cause
// survive (the old `err: String(e)` kept only "Name: message").
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMemoryLogger, createRealLogger, logSerializers } from '../../src/env/index.ts';
import { StoreCorruptError } from '../../src/store/index.ts';

describe('logging errors', () => {
  it('the memory logger keeps type, code, stack, the ids and the cause of an OrdoError', () => {
    const { logger, records } = createMemoryLogger();
    const cause = Object.assign(new Error('crc mismatch'), { code: 'EIO' });
    logger.error({ err: new StoreCorruptError('users', 'u1', 'bad checksum', { cause }) }, 'boom');
    const err = records[0]!['err'] as Record<string, unknown>;
    expect(err).toMatchObject({ type: 'StoreCorruptError', code: 'ORDO_STORE_CORRUPT', table: 'users', key: 'u1', cause: { message: 'crc mismatch', code: 'EIO' } });
    expect(String(err['stack'])).toContain('StoreCorruptError');
  });

  it('the real logger uses the same err serializer, and a caller may add serializers', () => {
    const logger = createRealLogger({ level: 'silent', serializers: { req: () => 'r' } });
    const installed = (logger as unknown as Record<symbol, unknown>)[pino.symbols.serializersSym];
    expect(installed).toMatchObject({ err: logSerializers.err, req: expect.any(Function) });
  });
});
