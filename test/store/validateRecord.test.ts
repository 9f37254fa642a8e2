import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { normalizeTable, validateRecord, hasType } from '../../src/store/schema.ts';
import { checkValue, isCheckedCopy, setOwn } from '../../src/store/values.ts';
import { StoreValidationError } from '../../src/store/errors.ts';
import type { NormalTableDef, Row, TableDef } from '../../src/store/types.ts';
import { tempDir } from './helpers.ts';

/**
 * The model: `validateRecord` as it was before its fast path for records that hold exactly the
 * declared attributes in their order (one `Set` lookup per own key, one `hasOwn` per attribute,
 * the generic checks for every value). The fast path must give the same row, in the same
 * property order, or the same typed refusal.
 */
function reference(t: NormalTableDef, rec: unknown): Row {
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw new StoreValidationError(t.name, undefined, rec, 'wrong_type', 'a record is an object');
  const input = rec as Row;
  const names = new Set(t.attributes.map((a) => a.name));
  const keys = new Set(t.key);
  for (const k of Object.keys(input)) {
    if (!names.has(k)) throw new StoreValidationError(t.name, k, input[k], 'unknown_attribute');
  }
  if (Object.getOwnPropertySymbols(input).length > 0) throw new StoreValidationError(t.name, undefined, rec, 'bad_value', 'symbol-keyed properties are not attributes');
  const out: Row = {};
  for (const a of t.attributes) {
    let v = Object.hasOwn(input, a.name) ? input[a.name] : undefined;
    if (v === undefined) {
      if (keys.has(a.name)) throw new StoreValidationError(t.name, a.name, undefined, 'missing', 'key attribute');
      if (a.default !== undefined) v = a.default;
      else if (a.nullable) v = null;
      else throw new StoreValidationError(t.name, a.name, undefined, 'missing');
    }
    if (v === null) {
      if (!a.nullable || keys.has(a.name)) throw new StoreValidationError(t.name, a.name, v, 'wrong_type', `expected ${a.type}`);
    } else if (!hasType(a.type, v)) {
      throw new StoreValidationError(t.name, a.name, v, 'wrong_type', `expected ${a.type}`);
    } else if (typeof v === 'number' ? !Number.isFinite(v) || Object.is(v, -0) : typeof v !== 'string' && typeof v !== 'boolean' && !isCheckedCopy(v as object)) {
      const c = checkValue(v);
      if (typeof c === 'string') throw new StoreValidationError(t.name, a.name, v, 'bad_value', c);
      v = c.value;
    }
    setOwn(out, a.name, v);
  }
  return out;
}

type Outcome = { ok: true; row: Row; keys: string[] } | { ok: false; err: unknown };
function outcome(f: () => Row): Outcome {
  try {
    const row = f();
    return { ok: true, row, keys: Reflect.ownKeys(row) as string[] };
  } catch (err) {
    const e = err as StoreValidationError;
    return { ok: false, err: err instanceof StoreValidationError ? { code: e.code, table: e.table, attribute: e.attribute, problem: e.problem, message: e.message } : err };
  }
}

// attribute names that stress the lookups: Object.prototype's, `__proto__`, an index-like name, the empty string
const attrName = fc.constantFrom('id', 'name', 'n', 'flag', 'doc', 'constructor', 'toString', '__proto__', 'hasOwnProperty', '0', '');
const attrDef = fc.record(
  {
    type: fc.constantFrom('string', 'number', 'integer', 'boolean', 'json', 'any'),
    nullable: fc.boolean(),
  },
  { requiredKeys: ['type'] },
);
const table = fc.uniqueArray(fc.tuple(attrName, attrDef), { minLength: 1, maxLength: 5, selector: ([n]) => n }).chain((attrs) =>
  fc.constantFrom(...attrs.map(([n]) => n)).map((key) => {
    const attributes: Record<string, unknown> = {};
    for (const [n, d] of attrs) Object.defineProperty(attributes, n, { value: d, enumerable: true, writable: true, configurable: true });
    return normalizeTable('t', { key, attributes } as unknown as TableDef, 1);
  }),
);
const value = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.constantFrom('\ud800', 'x\udfff'),
  fc.integer(),
  fc.double(),
  fc.constantFrom(-0, 0, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER + 1, 0.5, 1e300),
  fc.boolean(),
  fc.constantFrom(null, undefined),
  fc.constant(1n),
  fc.constant(Symbol('v')),
  fc.constant(() => 1),
  fc.constant(new Date(0)),
  fc.json().map((j) => JSON.parse(j) as unknown),
  fc.constant({ a: [1, { b: undefined }] }),
);

/** A record of the table's attributes (some missing, some extra), in declared or shuffled order, with hostile extras. */
function recordFor(t: NormalTableDef): fc.Arbitrary<unknown> {
  const names = t.attributes.map((a) => a.name);
  return fc
    .record({
      present: fc.array(fc.boolean(), { minLength: names.length, maxLength: names.length }),
      values: fc.array(value, { minLength: names.length, maxLength: names.length }),
      order: fc.constantFrom('declared', 'reversed', 'rotated'),
      extra: fc.option(fc.tuple(attrName, value), { nil: undefined }),
      symbol: fc.boolean(),
      hidden: fc.option(fc.constantFrom(...names), { nil: undefined }),
      getter: fc.option(fc.constantFrom(...names), { nil: undefined }),
      // enumProto: a prototype with enumerable properties (the declared names left out of the
      // record, and one more with `symbol`), which `for…in` lists after the own ones (`Object.keys` does not)
      kind: fc.constantFrom('plain', 'nullProto', 'enumProto', 'array', 'null', 'string'),
    })
    .map(({ present, values, order, extra, symbol, hidden, getter, kind }) => {
      if (kind === 'null') return null;
      if (kind === 'string') return 'row';
      const proto: Record<string, unknown> = {};
      if (kind === 'enumProto') {
        names.forEach((n, i) => !present[i] && Object.defineProperty(proto, n, { value: values[i], enumerable: true, writable: true, configurable: true }));
        if (symbol) proto['inherited'] = 1;
      }
      const o: Record<string, unknown> = kind === 'nullProto' ? Object.create(null) : kind === 'enumProto' ? Object.create(proto) : kind === 'array' ? ([] as unknown as Record<string, unknown>) : {};
      let idx = names.map((_, i) => i);
      if (order === 'reversed') idx = idx.reverse();
      if (order === 'rotated') idx = [...idx.slice(1), ...idx.slice(0, 1)];
      for (const i of idx) {
        if (!present[i]) continue;
        const n = names[i]!;
        // one attribute may be an accessor (its getter called on each read)
        if (n === getter) Object.defineProperty(o, n, { get: () => values[i], enumerable: true, configurable: true });
        else Object.defineProperty(o, n, { value: values[i], enumerable: n !== hidden, writable: true, configurable: true });
      }
      if (extra && !Object.hasOwn(o, extra[0])) Object.defineProperty(o, extra[0], { value: extra[1], enumerable: true, writable: true, configurable: true });
      if (symbol) (o as Record<symbol, unknown>)[Symbol('s')] = 1;
      return o;
    });
}

describe('validateRecord (the declared-order fast path against the generic walk)', () => {
  it('property: the same stored row, in the same property order, or the same typed refusal', () => {
    fc.assert(
      fc.property(
        table.chain((t) => fc.tuple(fc.constant(t), recordFor(t))),
        ([t, rec]) => {
          const want = outcome(() => reference(t, rec));
          const got = outcome(() => validateRecord(t, rec));
          expect(got).toEqual(want);
          if (got.ok && want.ok) {
            expect(got.keys).toEqual(want.keys);
            // a plain object, as the model's `{}`: its prototype and every property the same
            expect(Object.getPrototypeOf(got.row)).toBe(Object.prototype);
            expect(Object.getOwnPropertyDescriptors(got.row)).toEqual(Object.getOwnPropertyDescriptors(want.row));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a record in the declared order: scalars kept, -0, NaN and a missing key refused as before', () => {
    const t = normalizeTable('t', { key: 'id', attributes: { id: { type: 'integer' }, n: { type: 'number' }, s: { type: 'string' }, b: { type: 'boolean' } } }, 1);
    expect(validateRecord(t, { id: 1, n: 0.5, s: 'x', b: false })).toEqual({ id: 1, n: 0.5, s: 'x', b: false });
    expect(() => validateRecord(t, { id: -0, n: 1, s: 'x', b: true })).toThrow(expect.objectContaining({ problem: 'bad_value', attribute: 'id' }));
    expect(() => validateRecord(t, { id: 1, n: NaN, s: 'x', b: true })).toThrow(expect.objectContaining({ problem: 'wrong_type', attribute: 'n' }));
    expect(() => validateRecord(t, { id: 1, n: -0, s: 'x', b: true })).toThrow(expect.objectContaining({ problem: 'bad_value', attribute: 'n' }));
    expect(() => validateRecord(t, { id: undefined, n: 1, s: 'x', b: true })).toThrow(expect.objectContaining({ problem: 'missing', attribute: 'id' }));
    expect(() => validateRecord(t, { id: 1, n: 1, s: 'x', b: true, [Symbol('k')]: 1 })).toThrow(expect.objectContaining({ problem: 'bad_value', attribute: undefined }));
  });

  it('stored rows are plain objects (made by a constructor per table, sized to its attributes): Object.prototype, constructor Object, strictly equal to a literal, frozen as one', () => {
    for (let n = 1; n <= 9; n++) {
      const attributes: Record<string, { type: 'integer' }> = {};
      for (let i = 0; i < n; i++) attributes[`a${i}`] = { type: 'integer' };
      const t = normalizeTable('t', { key: 'a0', attributes }, 1);
      for (let r = 0; r < 20; r++) {
        const rec = Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, r * 10 + i]));
        const row = Object.freeze(validateRecord(t, rec));
        expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
        expect(row.constructor).toBe(Object);
        expect(row).toStrictEqual(rec);
        expect(Object.keys(row)).toEqual(Object.keys(rec));
        expect(JSON.stringify(row)).toBe(JSON.stringify(rec));
        expect(Object.isFrozen(row)).toBe(true);
      }
    }
  });
});

describe('validateRecord with Object.prototype frozen (a hardened app; in a child process, so this runner stays unfrozen)', () => {
  it('attributes and json keys named toString, constructor, valueOf, hasOwnProperty validate, index, commit and reopen as usual (no TypeError)', () => {
    const { dir, cleanup } = tempDir('ordo-frozen-proto-');
    try {
      const fixture = join(import.meta.dirname, 'fixtures', 'frozenPrototype.ts');
      const out = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', fixture, join(dir, 's')], { encoding: 'utf8' })) as unknown;
      const one = { id: 1, toString: 'a', constructor: { toString: 1, hasOwnProperty: [2] }, valueOf: 3 };
      const two = { id: 2, toString: 'b', constructor: null, valueOf: 0 };
      expect(out).toEqual({ frozen: true, read: { one, byIndex: [two] }, reopened: [one, two] });
    } finally {
      cleanup();
    }
  });
});
