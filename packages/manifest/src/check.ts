import { type ManifestIssue, childPointer, jsonType, show } from './issues.js';

// Walks the JSON Schema (the subset manifestSchema uses) to explain every way a value fails it. The
// compiled TypeBox validator answers the yes/no question fast; this runs only when the answer is no.
type Node = Record<string, unknown>;

const regexCache = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let compiled = regexCache.get(pattern);
  if (compiled === undefined) {
    compiled = new RegExp(pattern);
    regexCache.set(pattern, compiled);
  }
  return compiled;
}

function hasType(value: unknown, type: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return true;
  }
}

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);

/** Appends to `issues` every way `value` at `pointer` breaks `schema`. */
export function explainSchema(schema: Node, value: unknown, pointer: string, issues: ManifestIssue[]): void {
  const anyOf = schema.anyOf as Node[] | undefined;
  if (anyOf !== undefined) {
    const branch = anyOf.find((candidate) => hasType(value, candidate.type));
    if (branch === undefined) {
      const types = anyOf.map((candidate) => article(String(candidate.type))).join(' or ');
      const hint = typeof schema.errorMessage === 'string' ? `: ${schema.errorMessage}` : '';
      issues.push({ pointer, rule: 'type', message: `must be ${types}, got ${show(value)}${hint}` });
      return;
    }
    explainSchema(branch, value, pointer, issues);
    return;
  }
  const allowed = schema.enum as unknown[] | undefined;
  if (allowed !== undefined) {
    if (!allowed.includes(value)) {
      issues.push({ pointer, rule: 'enum', message: `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}; got ${show(value)}` });
    }
    return;
  }
  const type = schema.type as string | undefined;
  if (type !== undefined && !hasType(value, type)) {
    const got = typeof value === 'object' || value === undefined ? article(jsonType(value)) : `${article(jsonType(value))} ${show(value)}`;
    issues.push({ pointer, rule: 'type', message: `must be ${article(type)}, got ${got}` });
    return;
  }
  if (typeof value === 'string') explainString(schema, value, pointer, issues);
  else if (typeof value === 'number') explainNumber(schema, value, pointer, issues);
  else if (Array.isArray(value)) explainArray(schema, value, pointer, issues);
  else if (typeof value === 'object' && value !== null) explainObject(schema, value as Record<string, unknown>, pointer, issues);
}

function explainString(schema: Node, value: string, pointer: string, issues: ManifestIssue[]): void {
  if (typeof schema.minLength === 'number' && value.length < schema.minLength) {
    issues.push({ pointer, rule: 'minLength', message: 'must not be empty' });
    return;
  }
  if (typeof schema.pattern === 'string' && !regex(schema.pattern).test(value)) {
    const fix = typeof schema.patternErrorMessage === 'string' ? schema.patternErrorMessage : `match the pattern ${schema.pattern}`;
    issues.push({ pointer, rule: 'pattern', message: `${show(value)} is not valid: ${fix}` });
  }
}

function explainNumber(schema: Node, value: number, pointer: string, issues: ManifestIssue[]): void {
  const { minimum, maximum } = schema;
  if (typeof minimum === 'number' && value < minimum) {
    issues.push({ pointer, rule: 'minimum', message: `must be at least ${minimum}${rangeText(schema)}, got ${value}` });
  } else if (typeof maximum === 'number' && value > maximum) {
    issues.push({ pointer, rule: 'maximum', message: `must be at most ${maximum}${rangeText(schema)}, got ${value}` });
  }
}

function rangeText({ minimum, maximum }: Node): string {
  return typeof minimum === 'number' && typeof maximum === 'number' && maximum < Number.MAX_SAFE_INTEGER
    ? ` (allowed: ${minimum}-${maximum})`
    : '';
}

function explainArray(schema: Node, value: unknown[], pointer: string, issues: ManifestIssue[]): void {
  const items = schema.items as Node | undefined;
  if (items !== undefined) {
    for (let i = 0; i < value.length; i++) explainSchema(items, value[i], childPointer(pointer, i), issues);
  }
  if (schema.uniqueItems === true) {
    const firstIndex = new Map<unknown, number>();
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item === 'object' && item !== null) continue; // only scalar lists are declared unique
      const first = firstIndex.get(item);
      if (first === undefined) firstIndex.set(item, i);
      else issues.push({ pointer: childPointer(pointer, i), rule: 'uniqueItems', message: `${show(item)} is listed twice (also at index ${first}): remove the duplicate` });
    }
  }
}

function explainObject(schema: Node, value: Record<string, unknown>, pointer: string, issues: ManifestIssue[]): void {
  const properties = (schema.properties ?? {}) as Record<string, Node>;
  for (const key of (schema.required ?? []) as string[]) {
    if (!Object.hasOwn(value, key) || value[key] === undefined) {
      const about = properties[key]?.description;
      issues.push({ pointer: childPointer(pointer, key), rule: 'required', message: `add the required field "${key}"${typeof about === 'string' ? `: ${about}` : ''}` });
    }
  }
  const patterns = schema.patternProperties as Record<string, Node> | undefined;
  const additional = schema.additionalProperties as Node | boolean | undefined;
  const keys = Object.keys(value);
  for (const key of keys) {
    const child = value[key];
    const at = childPointer(pointer, key);
    if (Object.hasOwn(properties, key)) {
      if (child !== undefined) explainSchema(properties[key] as Node, child, at, issues);
      continue;
    }
    let matched = false;
    if (patterns !== undefined) {
      for (const [pattern, node] of Object.entries(patterns)) {
        if (regex(pattern).test(key)) {
          matched = true;
          explainSchema(node, child, at, issues);
        }
      }
    }
    if (matched) continue;
    if (additional === false) {
      const names = Object.keys(properties);
      const allowedText = names.length > 0 ? `allowed keys are ${names.join(', ')}` : patterns !== undefined ? `keys must match ${Object.keys(patterns).join(' or ')}` : 'no keys are allowed here';
      issues.push({ pointer: at, rule: 'unknown-key', message: `remove the unknown key ${show(key)}: ${allowedText}` });
    } else if (typeof additional === 'object') {
      explainSchema(additional, child, at, issues);
    }
  }
  if (typeof schema.minProperties === 'number' && keys.length < schema.minProperties) {
    issues.push({ pointer, rule: 'minProperties', message: `must have at least ${schema.minProperties} field(s)` });
  }
}
