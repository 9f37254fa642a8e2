/**
 * What the store accepts as a stored value: exactly what survives its disk format (JSON) and
 * comes back equal. A value is checked once, at the write, and the stored copy is deep-frozen,
 * so the store owns its rows: a caller that mutates its object after writing it, or a reader
 * that tries to mutate a returned row, cannot change the stored row (reads stay zero-copy).
 * @internal
 */

/** Deepest nesting accepted (JSON.stringify/parse would throw far deeper; refuse early, at the write). */
const MAX_DEPTH = 512;

/** The checked, deep-frozen copy of a value, or why it would not survive a round trip. @internal */
export type Checked = { readonly value: unknown } | string;

/**
 * Checks that `v` round-trips through JSON unchanged and returns a deep-frozen copy (primitives
 * as they are). Refused: `undefined` (anywhere inside), BigInt, Symbol, functions, NaN,
 * ±Infinity, -0, cycles, objects that are not plain objects or arrays (Date, Map, Set, class
 * instances, boxed primitives, typed arrays), sparse arrays or arrays with extra properties,
 * symbol-keyed, non-enumerable or accessor properties, nesting deeper than 512. @internal
 */
export function checkValue(v: unknown): Checked {
  const problem: Problem = { why: '', path: [] };
  const out = copy(v, 0, [], problem);
  if (problem.why) return `${problem.why} at $${problem.path.reverse().join('')}`;
  if (typeof out === 'object' && out !== null) checkedCopies.add(out);
  return { value: out };
}

/**
 * The copies {@link checkValue} made: deep-frozen and known to round-trip, so a row written again
 * with one of them (an update that carries an attribute of the stored row over) keeps it as it is
 * instead of copying it again. Only the store's own copies are here, never a caller's object
 * (a caller's frozen object is still checked and copied). Weak: a copy no row holds is collected.
 */
const checkedCopies = new WeakSet<object>();

/** Whether `v` is a copy {@link checkValue} made (deep-frozen and checked): it can be stored as it is. @internal */
export function isCheckedCopy(v: object): boolean {
  return checkedCopies.has(v);
}

/**
 * Why a value was refused, and where: the path segments (`.k`, `[i]`) are pushed innermost
 * first as the refusal unwinds (no path string is built for values that pass).
 */
interface Problem {
  why: string;
  readonly path: string[];
}

function fail(problem: Problem, why: string): undefined {
  problem.why = why;
  return undefined;
}

/** `fail` one level down, at `segment` of the current value. */
function failAt(problem: Problem, segment: string, why: string): undefined {
  problem.why = why;
  problem.path.push(segment);
  return undefined;
}

/** `ancestors`: the objects on the path from the top to `v` (a short array: depth ≤ 512). */
function copy(v: unknown, depth: number, ancestors: object[], problem: Problem): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      if (!Number.isFinite(v)) return fail(problem, `${v} does not survive a round trip (stored as null)`);
      if (Object.is(v, -0)) return fail(problem, '-0 does not survive a round trip (stored as 0)');
      return v;
    case 'undefined':
      return fail(problem, 'undefined does not survive a round trip');
    case 'bigint':
      return fail(problem, 'a BigInt is not JSON');
    case 'symbol':
      return fail(problem, 'a Symbol is not JSON');
    case 'function':
      return fail(problem, 'a function is not JSON');
  }
  if (v === null) return null;
  const o = v as object;
  if (depth >= MAX_DEPTH) return fail(problem, `nested deeper than ${MAX_DEPTH}`);
  if (ancestors.includes(o)) return fail(problem, 'a circular reference is not JSON');
  if (Object.getOwnPropertySymbols(o).length > 0) return fail(problem, 'symbol-keyed properties do not survive a round trip');
  ancestors.push(o);
  try {
    if (Array.isArray(o)) {
      const names = Object.getOwnPropertyNames(o);
      if (names.length !== o.length + 1) return fail(problem, 'a sparse array or an array with extra properties does not survive a round trip');
      const arr: unknown[] = new Array(o.length);
      for (let i = 0; i < o.length; i++) {
        const d = Object.getOwnPropertyDescriptor(o, i);
        if (!d || !('value' in d)) return failAt(problem, `[${i}]`, 'a hole or an accessor does not survive a round trip');
        const c = copy(d.value, depth + 1, ancestors, problem);
        if (problem.why) return void problem.path.push(`[${i}]`);
        arr[i] = c;
      }
      return Object.freeze(arr);
    }
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (proto as { constructor?: { name?: unknown } })?.constructor?.name;
      return fail(problem, `${typeof kind === 'string' && kind ? `a ${kind}` : 'an object with a prototype'} is not a plain JSON object`);
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.getOwnPropertyNames(o)) {
      const d = Object.getOwnPropertyDescriptor(o, k)!;
      if (!d.enumerable) return failAt(problem, `.${k}`, 'a non-enumerable property does not survive a round trip');
      if (!('value' in d)) return failAt(problem, `.${k}`, 'an accessor property is not JSON');
      const c = copy(d.value, depth + 1, ancestors, problem);
      if (problem.why) return void problem.path.push(`.${k}`);
      setOwn(out, k, c);
    }
    return Object.freeze(out);
  } finally {
    ancestors.pop();
  }
}

/**
 * `o[k] = v` as an own data property, also for a name `Object.prototype` has: `__proto__` (which
 * would set the prototype) and — the prototype frozen (`Object.freeze(Object.prototype)`,
 * `--frozen-intrinsics`) — `toString`, `constructor`… (which would throw a TypeError). @internal
 */
export function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k in Object.prototype) Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}

/**
 * Deep-freezes a row decoded from disk (JSON.parse output: plain objects and arrays), so
 * readers cannot mutate the stored row. Flat rows cost one pass over their values. @internal
 */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/**
 * {@link deepFreeze} for a value fresh from `JSON.parse` (nothing in it shared or frozen yet):
 * freezes every object and array in it, recursing only into values that are objects (a flat row
 * is one `Object.freeze` and one pass over its values, no call per primitive). @internal
 */
export function freezeParsed<T>(v: T): T {
  const o = v as unknown as Record<string, unknown>;
  for (const k in o) {
    const x = o[k];
    if (typeof x === 'object' && x !== null && Object.hasOwn(o, k)) freezeParsed(x);
  }
  return Object.freeze(v);
}
