import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { encodeValues, decodeValue } from '../../src/store/valueCodec.ts';
import { logEntryJson, logRecordJson, logRecordOps } from '../../src/store/logRecord.ts';
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
// (and the marker the fast path separates values with, '~\u007f', whole and in pieces)
const nasty = fc.string({ unit: fc.constantFrom('"', '\\', ',', '{', '}', '[', ']', ':', '\n', '\u0000', '\u001f', '\ud800', '\udfff', '\ud83d\ude00', 'é', '€', 'a', ' ', '~', '\u007f', '~\u007f', '"~\u007f",'), maxLength: 12 });
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

  it('property: values that hold the fast path\'s separator (the marker as an array element, in strings, as a whole value) still encode exactly', () => {
    const mark = '~\u007f';
    const holder = fc.oneof(
      fc.constant(mark),
      fc.constant([mark]),
      fc.constant(['a', mark, 'b']),
      fc.constant([1, mark, mark, 2]),
      fc.constant({ k: ['x', mark, 'y'] }),
      fc.constant({ [mark]: mark, s: `,"${mark}",` }),
      fc.constant(`,"${mark}",`),
      fc.constant({ é: ['a', mark, 'b'] }),
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(holder, row, json), { minLength: 8, maxLength: 30 }), (values) => {
        const got = encodeValues(values);
        for (let i = 0; i < values.length; i++) expect(Buffer.from(got[i]!).equals(model(values[i]))).toBe(true);
      }),
      { numRuns: 300 },
    );
    // ASCII-only JSON (lone surrogates and control characters are escaped to ASCII): the fast path
    const ascii = fc.string({ unit: fc.constantFrom('"', '\\', ',', '{', '}', '[', ']', ':', '\n', '\u0000', '\ud800', '\udfff', '~', '\u007f', mark, `,"${mark}",`, 'a', '1', ' '), maxLength: 8 });
    const asciiJson = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, ascii, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.constant(mark), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.oneof(ascii, fc.constant('__proto__')), tie('value'), { maxKeys: 4 })),
    })).value;
    fc.assert(
      fc.property(fc.array(asciiJson, { minLength: 8, maxLength: 30 }), (values) => {
        const got = encodeValues(values);
        for (let i = 0; i < values.length; i++) expect(Buffer.from(got[i]!).equals(model(values[i]))).toBe(true);
      }),
      { numRuns: 500 },
    );
    // one holder among plain rows: every row right (the whole batch falls back)
    const rows: unknown[] = Array.from({ length: 50 }, (_, i) => ({ id: i, tags: ['t', String(i), 'u'] }));
    for (const at of [0, 1, 25, 48, 49]) {
      const vs = rows.slice();
      vs[at] = { id: at, tags: ['t', mark, 'u'] };
      const got = encodeValues(vs);
      for (let i = 0; i < vs.length; i++) expect(Buffer.from(got[i]!).equals(model(vs[i]))).toBe(true);
    }
  });

  it('property: a batch whose JSON is not ASCII is split in its UTF-8 bytes from its one JSON.stringify, each value exact', () => {
    // no marker in these values: the split needs no fallback, so one JSON.stringify per batch
    const unit = fc.constantFrom('é', '€', '\ud83d\ude00', 'ü', '\u0080', '\u07ff', '\uffff', '\ud800', 'a', '"', '\\', ',', '[', ']', '{', '}', '\n', ' ');
    const text = fc.string({ unit, maxLength: 10 });
    const value = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(text, tie('value'), { maxKeys: 3 })),
    })).value;
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      fc.assert(
        fc.property(fc.array(value, { minLength: 8, maxLength: 30 }), fc.nat(), fc.constantFrom('é', '€', '\ud83d\ude00'), (values, at, u) => {
          const vs = values.slice();
          vs.splice(at % (vs.length + 1), 0, { s: u }); // at least one non-ASCII character
          stringify.mockClear();
          const got = encodeValues(vs);
          expect(stringify).toHaveBeenCalledTimes(1);
          for (let i = 0; i < vs.length; i++) expect(Buffer.from(got[i]!).equals(model(vs[i]))).toBe(true);
        }),
        { numRuns: 500 },
      );
    } finally {
      stringify.mockRestore();
    }
  });

  it('encodeValues: a large batch of big rows (past the retained scratch size) and an empty one', () => {
    const big = Array.from({ length: 20 }, (_, i) => ({ id: i, blob: 'x'.repeat(300_000) + '"},{' + i }));
    const got = encodeValues(big);
    for (let i = 0; i < big.length; i++) expect(Buffer.from(got[i]!).equals(model(big[i]))).toBe(true);
    expect(encodeValues([])).toEqual([]);
  });

  it('property: the change-log record names exactly the ops JSON.stringify of its objects named (disc tables only, in order), old records read as they are', () => {
    const key = fc.oneof(scalar, fc.array(scalar, { minLength: 1, maxLength: 3 }), fc.constant(-0), fc.double(), fc.constantFrom(Number.MAX_SAFE_INTEGER - 1, -3, 0.5));
    const op = fc.record({ table: fc.oneof(fc.constantFrom('t', 'u', 'ram'), anyString), op: fc.constantFrom('put' as const, 'delete' as const), key });
    // runs of one table and op: consecutive integers (a range, broken part way), or any keys
    const run = fc.record({ table: fc.constantFrom('t', 'u', 'ram'), op: fc.constantFrom('put' as const, 'delete' as const), start: fc.oneof(fc.integer({ min: -10, max: 10 }), fc.constant(-0), fc.constant(Number.MAX_SAFE_INTEGER - 5)), n: fc.nat({ max: 12 }), gapAt: fc.nat({ max: 12 }) }).map(({ table, op, start, n, gapAt }) => Array.from({ length: n }, (_, i) => ({ table, op, key: start + i + (i >= gapAt ? 1 : 0) })));
    const opsOf = fc.array(fc.oneof(op.map((o) => [o]), run, fc.array(op, { maxLength: 4 })), { maxLength: 5 }).map((xs) => xs.flat());
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), opsOf), { maxLength: 5 }), fc.integer(), (commits, schemaVersion) => {
        const keep = (t: string): boolean => t !== 'ram';
        const entries = commits.map(([seq, ops]) => logEntryJson(seq, ops as unknown as CommitOp[], keep));
        // the record before session 15: one { table, op, key } object per op
        const old = JSON.stringify({ commits: commits.map(([seq, ops]) => ({ seq, ops: ops.filter((o) => keep(o.table)).map((o) => ({ table: o.table, op: o.op, key: o.key })) })), schemaVersion });
        const text = logRecordJson(entries, schemaVersion);
        const rec = JSON.parse(text) as { schemaVersion: number };
        const want = JSON.parse(old) as { commits: unknown; schemaVersion: number };
        expect(rec.schemaVersion).toBe(want.schemaVersion);
        expect(logRecordOps(rec)).toEqual(want.commits);
        // an old record reads as it is
        expect(logRecordOps(want)).toEqual(want.commits);
        // never longer than the old record
        expect(text.length).toBeLessThanOrEqual(old.length);
      }),
      { numRuns: 400 },
    );
  });

  it('a 1000-row auto-increment batch is one entry; scattered keys one list', () => {
    const ops = Array.from({ length: 1000 }, (_, i) => ({ table: 't', op: 'put' as const, key: 5000 + i }));
    expect(logEntryJson(7, ops as unknown as CommitOp[], () => true)).toBe('{"seq":7,"ops":[{"table":"t","op":"put","from":5000,"to":5999}]}');
    const odd = [3, 1, 'x', 2].map((key) => ({ table: 't', op: 'delete' as const, key }));
    expect(logEntryJson(8, odd as unknown as CommitOp[], () => true)).toBe('{"seq":8,"ops":[{"table":"t","op":"delete","keys":[3,1,"x",2]}]}');
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
