// One serialisation per state: the core seals the states it creates (deeply frozen plain data),
// and their JSON and UTF-8 bytes are then computed at most once, on first use, and reused wherever
// the same state appears again (new_state now, old_state of the next change, get_states, the
// network API). An event's JSON is assembled around its states' cached fragments.

const encoder = new TextEncoder();

/** A base whose constructor returns the object it is given, so a subclass can stamp private fields on it. */
class Stamp {
  constructor(target: object) {
    return target as Stamp;
  }
}

/**
 * The cached JSON of one sealed object, in private fields stamped on the object itself: invisible
 * to Object.keys, JSON.stringify, structuredClone and reflection, unreachable (so unchangeable) by
 * anyone but this module, and cheaper than a WeakMap entry per state.
 */
class Fragment extends Stamp {
  #json: string | undefined = undefined;
  #bytes: Uint8Array | undefined = undefined;

  static seal(value: object): void {
    if (#json in value) return;
    // The result is checked so a bundler cannot drop the call as side-effect free.
    if (new Fragment(value) !== value) throw new TypeError('sealJson: the object could not be stamped');
  }

  static isSealed(value: object): boolean {
    return #json in value;
  }

  static json(value: Fragment): string {
    return (value.#json ??= JSON.stringify(value));
  }

  static bytes(value: Fragment): Uint8Array {
    return (value.#bytes ??= encoder.encode(Fragment.json(value)));
  }
}

/** Levels of unsealed objects (an event, its data) walked to find sealed ones; deeper ones are stringified whole. */
const COMPOSE_DEPTH = 2;
/** Object keys as JSON (`"entity_id"`), for the few keys events have. */
const quotedKeys = new Map<string, string>();
const QUOTED_KEYS_MAX = 256;

/**
 * Declares `value` immutable plain JSON data and freezes it (shallowly: everything it holds must
 * be deeply frozen already, as the core's attributes and contexts are), so its JSON is computed
 * once, when first needed, and cached. Only for objects without accessors or `toJSON`. Returns
 * `value`. An object that is frozen already cannot be sealed and is returned as it is.
 */
export function sealJson<T extends object>(value: T): T {
  if (Object.isExtensible(value)) Fragment.seal(value);
  Object.freeze(value);
  return value;
}

/** True when `value` was sealed with sealJson (its JSON is cached once computed). */
export function isJsonSealed(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Fragment.isSealed(value);
}

/**
 * `JSON.stringify(value)`, byte for byte. A sealed object's JSON is computed once and cached; an
 * unsealed object (an event, its data) is assembled around the cached JSON of the sealed objects
 * in its top two levels (an event's states), and is not cached itself.
 */
export function cachedJson(value: unknown): string {
  return jsonOf(value, COMPOSE_DEPTH);
}

/** The UTF-8 bytes of `cachedJson(value)`; a sealed object's are cached (do not write into them). */
export function cachedJsonBytes(value: unknown): Uint8Array {
  if (isJsonSealed(value)) return Fragment.bytes(value as Fragment);
  return utf8(cachedJson(value));
}

/**
 * UTF-8 of a (composed) JSON text. Node's Buffer.from takes small results from its shared pool,
 * where a fresh Uint8Array per event would cost an ArrayBuffer allocation (measured: 2.5x the time
 * of the pooled copy for a 1 KB event); elsewhere, TextEncoder.
 */
const utf8: (text: string) => Uint8Array = typeof Buffer === 'function' ? (text) => Buffer.from(text, 'utf8') : (text) => encoder.encode(text);

function quoted(key: string): string {
  let json = quotedKeys.get(key);
  if (json === undefined) {
    json = JSON.stringify(key);
    if (quotedKeys.size < QUOTED_KEYS_MAX) quotedKeys.set(key, json);
  }
  return json;
}

/** A plain object or array we may walk key by key and get what JSON.stringify gives. */
function composable(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/** A property value JSON.stringify leaves out of objects (and writes as null in arrays). */
function skipped(item: unknown): boolean {
  return item === undefined || typeof item === 'function' || typeof item === 'symbol';
}

/** True when one of the values `value` holds directly is sealed (worth assembling around). */
function holdsSealed(value: object): boolean {
  if (Array.isArray(value)) return value.some(isJsonSealed);
  for (const key in value) if (Object.hasOwn(value, key) && isJsonSealed((value as Record<string, unknown>)[key])) return true;
  return false;
}

function jsonOf(value: unknown, depth: number): string {
  if (isJsonSealed(value)) return Fragment.json(value as Fragment);
  if (depth === 0 || !composable(value) || (depth === 1 && !holdsSealed(value as object))) return JSON.stringify(value) as string;
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      out += (i === 0 ? '' : ',') + (skipped(item) ? 'null' : jsonOf(item, depth - 1));
    }
    return `${out}]`;
  }
  let out = '{';
  for (const key of Object.keys(value as object)) {
    const item: unknown = (value as Record<string, unknown>)[key];
    if (skipped(item)) continue;
    out += `${out.length === 1 ? '' : ','}${quoted(key)}:${jsonOf(item, depth - 1)}`;
  }
  return `${out}}`;
}
