import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { encodeValues, decodeValue } from '../../src/store/valueCodec.ts';
import { logEntryJson, logRecordJson } from '../../src/store/logRecord.ts';
import type { CommitOp } from '../../src/store/types.ts';
import { DiskKeys, rowDiskKey } from '../../src/store/layout.ts';
import { encodeKey } from '../../src/store/keyCodec.ts';

/** The stored value format from its definition: 0x01, the payload's CRC-32 (big-endian), the UTF-8 JSON. */
function model(v: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(v), 'utf8');
  const head = Buffer.alloc(5);
  head[0] = 1;
  head.writeUInt32BE(crc32(payload), 1);
  return Buffer.concat([head, payload]);
}

// strings that stress the splitter: JSON's own punctuation, escapes, lone surrogates, astral chars
const nasty = fc.string({ unit: fc.constantFrom('"', '\\', ',', '{', '}', '[', ']', ':', '\n', '\u0000', '\u001f', '\ud800', '\udfff', '\ud83d\ude00', 'é', '€', 'a', ' '), maxLength: 12 });
const anyString = fc.oneof(nasty, fc.string({ unit: 'binary', maxLength: 10 }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 8 }));
const scalar = fc.oneof(anyString, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null));
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.oneof(anyString, fc.constant('__proto__')), tie('value'), { maxKeys: 4 })),
})).value;
// rows as the store holds them: objects of scalars and nested JSON (the array form too, as a table's key tuple)
const row = fc.dictionary(fc.oneof(anyString, fc.constant('__proto__')), json, { maxKeys: 6 });

describe('batch encoding (encodeValues, the change-log record)', () => {
  it('property: encodeValues gives each value exactly its stored form (JSON.stringify + UTF-8 + zlib.crc32), across the batch threshold', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(row, json), { maxLength: 40 }), (values) => {
        const got = encodeValues(values);
        expect(got.length).toBe(values.length);
        for (let i = 0; i < values.length; i++) {
          expect(Buffer.from(got[i]!).equals(model(values[i]))).toBe(true);
          // and it reads back as the same JSON
          const d = decodeValue(got[i]!);
          expect(d.ok && JSON.stringify(d.value)).toBe(JSON.stringify(values[i]));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('encodeValues: a large batch of big rows (past the retained scratch size) and an empty one', () => {
    const big = Array.from({ length: 20 }, (_, i) => ({ id: i, blob: 'x'.repeat(300_000) + '"},{' + i }));
    const got = encodeValues(big);
    for (let i = 0; i < big.length; i++) expect(Buffer.from(got[i]!).equals(model(big[i]))).toBe(true);
    expect(encodeValues([])).toEqual([]);
  });

  it('property: the change-log record is byte for byte JSON.stringify of its objects, disc tables only', () => {
    const key = fc.oneof(scalar, fc.array(scalar, { minLength: 1, maxLength: 3 }), fc.constant(-0), fc.double());
    const op = fc.record({ table: fc.oneof(fc.constantFrom('t', 'u', 'ram'), anyString), op: fc.constantFrom('put' as const, 'delete' as const), key });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.array(op, { maxLength: 12 })), { maxLength: 5 }), fc.integer(), (commits, schemaVersion) => {
        const keep = (t: string): boolean => t !== 'ram';
        const entries = commits.map(([seq, ops]) => logEntryJson(seq, ops as unknown as CommitOp[], keep));
        const want = JSON.stringify({ commits: commits.map(([seq, ops]) => ({ seq, ops: ops.filter((o) => keep(o.table)).map((o) => ({ table: o.table, op: o.op, key: o.key })) })), schemaVersion });
        expect(logRecordJson(entries, schemaVersion)).toBe(want);
      }),
      { numRuns: 300 },
    );
  });
});

describe('DiskKeys (row disk keys in shared chunks)', () => {
  it('property: each key is exactly rowDiskKey (table prefix + row key, latin1), keys never overlap, across chunk boundaries', () => {
    const byteString = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 5000 }), fc.oneof(byteString, fc.constant('x'.repeat(20_000)))), { maxLength: 60 }), (keys) => {
        const dk = new DiskKeys();
        const got = keys.map(([id, rk]) => dk.row(id, rk));
        keys.forEach(([id, rk], i) => expect(Buffer.from(got[i]!).equals(Buffer.concat([Buffer.from(encodeKey(id)!, 'latin1'), Buffer.from(rk, 'latin1')]))).toBe(true));
        // later keys did not overwrite earlier ones
        keys.forEach(([id, rk], i) => expect(Buffer.from(got[i]!).equals(rowDiskKey(id, rk))).toBe(true));
      }),
      { numRuns: 200 },
    );
  });
});
