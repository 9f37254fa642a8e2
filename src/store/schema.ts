import type { AttributeDef, AttributeType, NormalTableDef, Row, TableDef } from './types.ts';
import type { SchemaChange } from './errors.ts';
import { StoreValidationError } from './errors.ts';
import { checkValue, isCheckedCopy, setOwn } from './values.ts';

const TYPES: ReadonlySet<unknown> = new Set<AttributeType>(['string', 'number', 'integer', 'boolean', 'json', 'any']);
const TABLE_TYPES: ReadonlySet<unknown> = new Set(['set', 'ordered_set', 'bag']);
const STORAGES: ReadonlySet<unknown> = new Set(['disc', 'ram']);
const DURABILITIES: ReadonlySet<unknown> = new Set(['sync', 'async']);

function declError(table: string, attribute: string | undefined, value: unknown, detail: string): StoreValidationError {
  return new StoreValidationError(table, attribute, value, 'bad_declaration', detail);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Fills a declaration's defaults (the catalog form), after checking it: every field of the
 * declaration in its domain, every default of its attribute's type. Names are looked up as own
 * properties only (a table or attribute may be called `constructor` or `__proto__`). `id` is
 * assigned by the catalog. Throws `ORDO_STORE_VALIDATION` (`bad_declaration`) naming the table,
 * the attribute and the bad value.
 */
export function normalizeTable(name: string, def: TableDef, id: number): NormalTableDef {
  if (!isObject(def)) throw declError(name, undefined, def, 'a table definition is an object');
  const d = def as Partial<Record<keyof TableDef, unknown>>;
  const own = (k: keyof TableDef): unknown => (Object.hasOwn(d, k) ? d[k] : undefined);
  if (!isObject(own('attributes'))) throw declError(name, undefined, own('attributes'), 'attributes must be an object of attribute definitions');
  const rawKey = own('key');
  if (!(typeof rawKey === 'string' || (Array.isArray(rawKey) && rawKey.every((k) => typeof k === 'string')))) throw declError(name, undefined, rawKey, 'key must be an attribute name or an array of them');
  const type = own('type') ?? 'set';
  if (!TABLE_TYPES.has(type)) throw declError(name, undefined, type, "type must be 'set', 'ordered_set' or 'bag'");
  const storage = own('storage') ?? 'disc';
  if (!STORAGES.has(storage)) throw declError(name, undefined, storage, "storage must be 'disc' or 'ram'");
  const durability = own('durability') ?? 'sync';
  if (!DURABILITIES.has(durability)) throw declError(name, undefined, durability, "durability must be 'sync' or 'async'");
  const replicated = own('replicated') ?? false;
  if (typeof replicated !== 'boolean') throw declError(name, undefined, replicated, 'replicated must be a boolean');
  const rawIndexes = own('indexes') ?? [];
  if (!Array.isArray(rawIndexes) || !rawIndexes.every((i) => typeof i === 'string')) throw declError(name, undefined, rawIndexes, 'indexes must be an array of attribute names');
  const attrs = own('attributes') as Record<string, unknown>;
  const attributes = Object.keys(attrs).map((n) => normalizeAttribute(name, n, attrs[n]));
  const key = typeof rawKey === 'string' ? [rawKey] : [...(rawKey as string[])];
  const names = new Set(attributes.map((a) => a.name));
  if (key.length === 0) throw new StoreValidationError(name, undefined, rawKey, 'bad_key', 'a table needs a key attribute');
  for (const k of key) if (!names.has(k)) throw new StoreValidationError(name, k, rawKey, 'unknown_attribute', 'key attribute is not declared');
  for (const i of rawIndexes as string[]) if (!names.has(i)) throw new StoreValidationError(name, i, rawIndexes, 'unknown_attribute', 'indexed attribute is not declared');
  return {
    name,
    id,
    type: type as NormalTableDef['type'],
    key,
    attributes,
    indexes: [...new Set(rawIndexes as string[])],
    storage: storage as NormalTableDef['storage'],
    durability: durability as NormalTableDef['durability'],
    replicated,
  };
}

function normalizeAttribute(table: string, name: string, a: unknown): { readonly name: string } & AttributeDef {
  if (!isObject(a)) throw declError(table, name, a, 'an attribute definition is an object ({ type: ... })');
  const type = Object.hasOwn(a, 'type') ? a['type'] : undefined;
  if (!TYPES.has(type)) throw declError(table, name, type, "type must be one of 'string', 'number', 'integer', 'boolean', 'json', 'any'");
  const nullable = Object.hasOwn(a, 'nullable') ? a['nullable'] : undefined;
  if (nullable !== undefined && typeof nullable !== 'boolean') throw declError(table, name, nullable, 'nullable must be a boolean');
  for (const k of Object.keys(a)) if (k !== 'type' && k !== 'nullable' && k !== 'default') throw declError(table, name, k, `unknown attribute option ${k}`);
  const out: { name: string; type: AttributeType; nullable?: boolean; default?: unknown } = { name, type: type as AttributeType };
  if (nullable !== undefined) out.nullable = nullable;
  if (Object.hasOwn(a, 'default') && a['default'] !== undefined) {
    const dflt = a['default'];
    if (dflt === null ? !nullable : !hasType(type as AttributeType, dflt)) throw declError(table, name, dflt, `default is not of type ${String(type)}${dflt === null ? ' (not nullable)' : ''}`);
    const checked = checkValue(dflt);
    if (typeof checked === 'string') throw declError(table, name, dflt, `default ${checked}`);
    out.default = checked.value;
  }
  return out;
}

/** True when `v` has type `t`. */
export function hasType(t: AttributeType, v: unknown): boolean {
  switch (t) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isSafeInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'json':
    case 'any':
      return v !== undefined;
  }
}

/** An attribute as {@link validateRecord} walks it: its definition, whether it is part of the key, its scalar check. */
interface ShapeAttr {
  readonly name: string;
  readonly def: AttributeDef;
  readonly key: boolean;
  /**
   * `o[name] = v` would not simply create an own property — `__proto__` sets the prototype, and
   * any other name `Object.prototype` has (`toString`, `constructor`…) throws a TypeError once
   * the prototype is frozen (`Object.freeze(Object.prototype)`, `--frozen-intrinsics`): stored
   * with {@link setOwn}.
   */
  readonly proto: boolean;
  /** {@link SCALAR} code of a `string`/`integer`/`number`/`boolean` attribute (0: none). */
  readonly scalar: number;
}

interface Shape {
  readonly names: Set<string>;
  readonly attrs: readonly ShapeAttr[];
  /** Makes the empty stored row of this table ({@link rowMaker}). */
  readonly Row: new () => Row;
}

/**
 * A constructor of empty rows for one table's shape, whose objects are plain objects
 * (`Object.prototype` is their prototype, `constructor` is `Object`). An object literal `{}`
 * always reserves 4 property slots (56 bytes), however many attributes it gets; objects made by
 * one constructor are sized by V8's slack tracking to the properties they get — 40 bytes for a
 * row of 2 attributes, and a row of more than 4 needs no second store for the rest. The store
 * keeps every row in RAM: that is what each garbage collection copies.
 */
function rowMaker(): new () => Row {
  const F = function (this: Row) {} as unknown as new () => Row;
  F.prototype = Object.prototype;
  return F;
}

const SCALAR: Readonly<Partial<Record<AttributeType, number>>> = { string: 1, integer: 2, number: 3, boolean: 4 };

const shapes = new WeakMap<NormalTableDef, Shape>();
const hasOwnProperty = Object.prototype.hasOwnProperty;

function shapeOf(t: NormalTableDef): Shape {
  let s = shapes.get(t);
  if (!s) {
    const keys = new Set(t.key);
    const attrs = t.attributes.map((a) => ({ name: a.name, def: a, key: keys.has(a.name), proto: a.name in Object.prototype, scalar: SCALAR[a.type] ?? 0 }));
    shapes.set(t, (s = { names: new Set(t.attributes.map((a) => a.name)), attrs, Row: rowMaker() }));
  }
  return s;
}

/**
 * True when `v` is a value of scalar attribute type `code` that is stored as it is: a string,
 * a safe integer, a finite number, a boolean (never `undefined`, `null`, -0, NaN or ±Infinity,
 * which take {@link checkAttr}'s path and its errors).
 */
function plainScalar(code: number, v: unknown): boolean {
  switch (code) {
    case 1:
      return typeof v === 'string';
    case 2:
      return typeof v === 'number' && Number.isSafeInteger(v) && (v !== 0 || 1 / v > 0);
    case 3:
      return typeof v === 'number' && Number.isFinite(v) && (v !== 0 || 1 / v > 0);
    case 4:
      return typeof v === 'boolean';
  }
  return false;
}

/**
 * Validates a record against its table and returns the stored form (defaults filled, keys in
 * declaration order, `json`/`any` values deep-copied and deep-frozen: the caller keeps its
 * object, the store its own). Attributes are the record's own properties only. Throws
 * {@link StoreValidationError} naming table, attribute and value; `bad_value` for a value that
 * would not come back equal from the disk.
 */
export function validateRecord(t: NormalTableDef, rec: unknown): Row {
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw new StoreValidationError(t.name, undefined, rec, 'wrong_type', 'a record is an object');
  const input = rec as Row;
  const shape = shapeOf(t);
  const attrs = shape.attrs;
  // the common record: exactly the declared attributes, in their order (no lookups by name).
  // `for…in` lists the own enumerable string keys in `Object.keys` order, then inherited
  // enumerable ones: when it lists the declared names in order, each one own, and nothing else,
  // `Object.keys(input)` is that same list — found without building that array per record
  let declared = true;
  let n = 0;
  for (const k in input) {
    if (n >= attrs.length || k !== attrs[n]!.name || !hasOwnProperty.call(input, k)) {
      declared = false;
      break;
    }
    n++;
  }
  if (n !== attrs.length) declared = false;
  if (!declared) {
    for (const k of Object.keys(input)) {
      if (!shape.names.has(k)) throw new StoreValidationError(t.name, k, input[k], 'unknown_attribute');
    }
  }
  if (Object.getOwnPropertySymbols(input).length > 0) throw new StoreValidationError(t.name, undefined, rec, 'bad_value', 'symbol-keyed properties are not attributes');
  const out: Row = new shape.Row();
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i]!;
    let v = declared || Object.hasOwn(input, a.name) ? input[a.name] : undefined;
    if (!plainScalar(a.scalar, v)) v = checkAttr(t, a, v);
    if (a.proto) setOwn(out, a.name, v);
    else out[a.name] = v;
  }
  return out;
}

/** The stored value of attribute `a` given `v` (`undefined`: absent), or its typed refusal. */
function checkAttr(t: NormalTableDef, a: ShapeAttr, given: unknown): unknown {
  const d = a.def;
  let v = given;
  if (v === undefined) {
    if (a.key) throw new StoreValidationError(t.name, a.name, undefined, 'missing', 'key attribute');
    if (d.default !== undefined) v = d.default;
    else if (d.nullable) v = null;
    else throw new StoreValidationError(t.name, a.name, undefined, 'missing');
  }
  if (v === null) {
    if (!d.nullable || a.key) throw new StoreValidationError(t.name, a.name, v, 'wrong_type', `expected ${d.type}`);
  } else if (!hasType(d.type, v)) {
    throw new StoreValidationError(t.name, a.name, v, 'wrong_type', `expected ${d.type}`);
  } else if (typeof v === 'number' ? !Number.isFinite(v) || Object.is(v, -0) : typeof v !== 'string' && typeof v !== 'boolean' && !isCheckedCopy(v as object)) {
    // json/any (and -0): check what the disk would change; keep a frozen copy of our own
    // (a copy already made by the store — an attribute an update carries over — is kept as it is)
    const c = checkValue(v);
    if (typeof c === 'string') throw new StoreValidationError(t.name, a.name, v, 'bad_value', c);
    v = c.value;
  }
  return v;
}

/** The key value of a stored row (scalar, or tuple for composite keys). */
export function keyOf(t: NormalTableDef, row: Row): unknown {
  return t.key.length === 1 ? row[t.key[0]!] : t.key.map((k) => row[k]);
}

/** Differences between the stored and the declared schema of one table. */
export interface SchemaDiff {
  /** Changes that need a numbered migration. */
  readonly refused: SchemaChange[];
  /** Attributes added with a default (or nullable): migrated automatically. */
  readonly added: Array<{ readonly name: string } & AttributeDef>;
  readonly addedIndexes: string[];
  readonly droppedIndexes: string[];
  /** Anything at all differs (so the catalog must be rewritten). */
  readonly changed: boolean;
}

/** Compares a stored table definition with a declared one. */
export function diffTable(stored: NormalTableDef, declared: NormalTableDef): SchemaDiff {
  const refused: SchemaChange[] = [];
  const sNames = stored.attributes.map((a) => a.name);
  const dNames = declared.attributes.map((a) => a.name);
  const removed = sNames.filter((n) => !dNames.includes(n));
  const addedAll = declared.attributes.filter((a) => !sNames.includes(a.name));
  const added = addedAll.filter((a) => a.default !== undefined || a.nullable);
  for (const r of removed) {
    const twin = addedAll.find((a) => a.type === stored.attributes.find((s) => s.name === r)?.type);
    if (removed.length === 1 && addedAll.length === 1 && twin) refused.push({ kind: 'renamed_attribute', attribute: r, detail: `${r} → ${twin.name}?` });
    else refused.push({ kind: 'removed_attribute', attribute: r });
  }
  if (!refused.some((c) => c.kind === 'renamed_attribute')) {
    for (const a of addedAll) if (!added.includes(a)) refused.push({ kind: 'added_without_default', attribute: a.name });
  }
  for (const a of declared.attributes) {
    const s = stored.attributes.find((x) => x.name === a.name);
    if (s && s.type !== a.type) refused.push({ kind: 'retyped_attribute', attribute: a.name, detail: `${s.type} → ${a.type}` });
    if (s && s.nullable && !a.nullable) refused.push({ kind: 'retyped_attribute', attribute: a.name, detail: 'nullable → not nullable' });
  }
  const common = sNames.filter((n) => dNames.includes(n));
  const commonDeclared = dNames.filter((n) => sNames.includes(n));
  if (common.join('\u0000') !== commonDeclared.join('\u0000')) refused.push({ kind: 'reordered_attributes', detail: `${common.join(',')} → ${commonDeclared.join(',')}` });
  if (stored.key.join('\u0000') !== declared.key.join('\u0000')) refused.push({ kind: 'changed_key', detail: `${stored.key.join(',')} → ${declared.key.join(',')}` });
  if (stored.type !== declared.type) refused.push({ kind: 'changed_type', detail: `${stored.type} → ${declared.type}` });
  if (stored.storage === 'disc' && declared.storage === 'ram') refused.push({ kind: 'changed_storage', detail: 'disc → ram would drop the data on disk' });
  const addedIndexes = declared.indexes.filter((i) => !stored.indexes.includes(i));
  const droppedIndexes = stored.indexes.filter((i) => !declared.indexes.includes(i));
  const changed = canonical(stored) !== canonical(declared);
  return { refused, added, addedIndexes, droppedIndexes, changed };
}

/** A definition as JSON with attribute options in one order (catalogs written by older code list them as declared). */
function canonical(d: NormalTableDef): string {
  const attributes = d.attributes.map((a) => ({ name: a.name, type: a.type, nullable: a.nullable, default: a.default }));
  return JSON.stringify({ ...d, id: 0, attributes });
}
