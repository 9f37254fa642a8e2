import type { AttributeDef, AttributeType, NormalTableDef, Row, TableDef } from './types.ts';
import type { SchemaChange } from './errors.ts';
import { StoreValidationError } from './errors.ts';

/** Fills a declaration's defaults (the catalog form). `id` is assigned by the catalog. */
export function normalizeTable(name: string, def: TableDef, id: number): NormalTableDef {
  const key = typeof def.key === 'string' ? [def.key] : [...def.key];
  const attributes = Object.entries(def.attributes).map(([n, a]) => ({ name: n, ...a }));
  const names = new Set(attributes.map((a) => a.name));
  if (key.length === 0) throw new StoreValidationError(name, undefined, def.key, 'bad_key', 'a table needs a key attribute');
  for (const k of key) if (!names.has(k)) throw new StoreValidationError(name, k, def.key, 'unknown_attribute', 'key attribute is not declared');
  for (const i of def.indexes ?? []) if (!names.has(i)) throw new StoreValidationError(name, i, def.indexes, 'unknown_attribute', 'indexed attribute is not declared');
  const storage = def.storage ?? 'disc';
  return {
    name,
    id,
    type: def.type ?? 'set',
    key,
    attributes,
    indexes: [...new Set(def.indexes ?? [])],
    storage,
    durability: def.durability ?? 'sync',
    replicated: def.replicated ?? false,
  };
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

/**
 * Validates a record against its table and returns the stored form (defaults filled, keys in
 * declaration order). Throws {@link StoreValidationError} naming table, attribute and value.
 */
const shapes = new WeakMap<NormalTableDef, { names: Set<string>; keys: Set<string> }>();

function shapeOf(t: NormalTableDef): { names: Set<string>; keys: Set<string> } {
  let s = shapes.get(t);
  if (!s) shapes.set(t, (s = { names: new Set(t.attributes.map((a) => a.name)), keys: new Set(t.key) }));
  return s;
}

export function validateRecord(t: NormalTableDef, rec: unknown): Row {
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw new StoreValidationError(t.name, undefined, rec, 'wrong_type', 'a record is an object');
  const input = rec as Row;
  const shape = shapeOf(t);
  for (const k in input) {
    if (!shape.names.has(k)) throw new StoreValidationError(t.name, k, input[k], 'unknown_attribute');
  }
  const out: Row = {};
  for (const a of t.attributes) {
    let v = input[a.name];
    if (v === undefined) {
      if (shape.keys.has(a.name)) throw new StoreValidationError(t.name, a.name, undefined, 'missing', 'key attribute');
      if (a.default !== undefined) v = a.default !== null && typeof a.default === 'object' ? structuredClone(a.default) : a.default;
      else if (a.nullable) v = null;
      else throw new StoreValidationError(t.name, a.name, undefined, 'missing');
    }
    if (v === null) {
      if (!a.nullable || shape.keys.has(a.name)) throw new StoreValidationError(t.name, a.name, v, 'wrong_type', `expected ${a.type}`);
    } else if (!hasType(a.type, v)) {
      throw new StoreValidationError(t.name, a.name, v, 'wrong_type', `expected ${a.type}`);
    }
    out[a.name] = v;
  }
  return out;
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
  const changed = JSON.stringify({ ...stored, id: 0 }) !== JSON.stringify({ ...declared, id: 0 });
  return { refused, added, addedIndexes, droppedIndexes, changed };
}
