import type { JsonValue } from '@homecore/core-traits';

const MAX_DEPTH = 64;

/** Says why a value is not JSON, naming the path; throws. */
export type JsonProblem = (path: string, problem: string) => never;

/**
 * Returns a deeply frozen copy of `value`, which must be a plain JSON object. Object properties
 * whose value is `undefined` are left out, as `JSON.stringify` does; everything else that JSON
 * cannot carry (functions, NaN, class instances, cycles) is reported through `fail`.
 */
export function copyJsonObject(value: unknown, path: string, fail: JsonProblem): Readonly<Record<string, JsonValue>> {
  if (!isPlainObject(value)) fail(path, `must be a plain JSON object, got ${describe(value)}`);
  return copyValue(value, path, fail, new Set(), 0) as Readonly<Record<string, JsonValue>>;
}

function copyValue(value: unknown, path: string, fail: JsonProblem, ancestors: Set<object>, depth: number): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) fail(path, `is ${String(value)}, which JSON cannot carry; use a finite number or null`);
      return value;
    case 'object':
      break;
    default:
      fail(path, `is ${describe(value)}, which JSON cannot carry; use a string, number, boolean, null, array or plain object`);
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) fail(path, `is nested more than ${MAX_DEPTH} levels deep; flatten it`);
  if (ancestors.has(value)) fail(path, 'refers back to one of its parents (a cycle); JSON cannot carry cycles');
  ancestors.add(value);
  let out: JsonValue;
  if (Array.isArray(value)) {
    out = value.map((item, i) => copyValue(item, `${path}[${i}]`, fail, ancestors, depth + 1));
  } else if (isPlainObject(value)) {
    const copy: Record<string, JsonValue> = {};
    for (const key of Object.keys(value)) {
      const item = value[key];
      if (item === undefined) continue;
      const copied = copyValue(item, `${path}.${key}`, fail, ancestors, depth + 1);
      // `copy.__proto__ = x` would set the prototype; JSON's "__proto__" is plain data, kept as an own key.
      if (key === '__proto__') Object.defineProperty(copy, key, { value: copied, enumerable: true, writable: true, configurable: true });
      else copy[key] = copied;
    }
    out = copy;
  } else {
    fail(path, `is ${describe(value)}, which JSON cannot carry; convert it to a string, number or plain object first`);
  }
  ancestors.delete(value);
  Object.freeze(out);
  return out;
}

/** Deep equality of two JSON values; object key order does not matter. */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i]));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `a ${name}` : 'an object';
  }
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `${typeof value} ${String(value)}`;
}
