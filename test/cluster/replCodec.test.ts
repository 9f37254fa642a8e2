import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch, validateBatch } from '../../src/cluster/replCodec.ts';

const tables = new Set(['users']);
const put = { table: 'users', op: 'put', key: 1, value: { id: 1 } };

describe('replicated message codec: batches carrying migrations', () => {
  it('a migration batch may have no ops; its migrations round-trip', () => {
    expect(validateBatch({ ops: [], schemaVersion: 2, migrations: [2] }, tables)).toBeUndefined();
    expect(validateBatch({ ops: [put], schemaVersion: 3, migrations: [2, 3] }, tables)).toBeUndefined();
    const d = decodeBatch(encodeBatch('a', { ops: [], schemaVersion: 2, migrations: [2] }), tables);
    expect(d).toEqual({ ok: true, node: 'a', batch: { ops: [], schemaVersion: 2, migrations: [2] } });
  });

  it.each([
    ['no ops and no migrations', { ops: [], schemaVersion: 1 }, 'ops is not a non-empty array'],
    ['empty migrations', { ops: [], schemaVersion: 1, migrations: [] }, 'migrations is not a non-empty array of positive integers'],
    ['version 0', { ops: [put], schemaVersion: 1, migrations: [0] }, 'migrations is not a non-empty array of positive integers'],
    ['not integers', { ops: [put], schemaVersion: 1, migrations: [1.5, '2'] }, 'migrations is not a non-empty array of positive integers'],
    ['not an array', { ops: [put], schemaVersion: 1, migrations: 2 }, 'migrations is not a non-empty array of positive integers'],
    ['migrations but ops missing', { schemaVersion: 1, migrations: [2] }, 'ops is not an array'],
  ])('%s is malformed', (_name, batch, why) => {
    expect(validateBatch(batch, tables)).toBe(why);
    expect(decodeBatch(new TextEncoder().encode(JSON.stringify({ v: 1, node: 'x', batch })), tables)).toEqual({ ok: false, why });
  });
});
