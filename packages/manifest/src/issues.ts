/** One problem found in a manifest. */
export interface ManifestIssue {
  /** JSON pointer to the offending value, e.g. `/codeowners/0`; `""` is the whole manifest. */
  pointer: string;
  /** The rule broken, e.g. `pattern`, `required`, `enum`, `unknown-key`, `disjoint`. */
  rule: string;
  /** What is wrong and what to do about it. */
  message: string;
}

/** Appends one JSON pointer token, escaped per RFC 6901. */
export function childPointer(pointer: string, key: string | number): string {
  const token = typeof key === 'number' ? String(key) : key.replace(/~/g, '~0').replace(/\//g, '~1');
  return `${pointer}/${token}`;
}

/** A short, safe rendering of any value for messages (long strings are cut). */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `a value of type ${typeof value}`;
}

/** The JSON type name of a value, for "must be X, got Y" messages. */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}
