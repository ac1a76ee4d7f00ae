// A lazy JSON reader over UTF-8 bytes. A JsonView marks where one value starts; looking a key up
// scans the object from there, skipping (and checking) the members before it, and decodes nothing
// but what is asked for. Nothing reads past the view's bytes, malformed input gives null (or the
// fallback), and nesting is limited like the tree parser's.
//
// What is checked: every byte the reader scans is checked against RFC 8259 (skipped values in
// full, strings, escapes, numbers, literals, nesting depth); bytes after the value it stops at are
// not read. For the whole-document check use `validate()`. A key that appears twice gives its
// first value (the tree parser keeps the last; RFC 8259 leaves duplicates undefined and a HOMECORE
// host never sends them). The bytes must be UTF-8, as host payloads always are.
import { JSON_MAX_DEPTH, JsonKind, JsonStringBuilder, JsonValue, parseJson } from './json';

/** `JsonView.kind` of a view whose first byte starts no JSON value. */
export const JSON_INVALID: i32 = -1;

const QUOTE: i32 = 0x22;
const BACKSLASH: i32 = 0x5c;
const COMMA: i32 = 0x2c;
const COLON: i32 = 0x3a;
const MINUS: i32 = 0x2d;
const PLUS: i32 = 0x2b;
const DOT: i32 = 0x2e;
const DIGIT_0: i32 = 0x30;
const DIGIT_9: i32 = 0x39;
const LBRACE: i32 = 0x7b;
const RBRACE: i32 = 0x7d;
const LBRACKET: i32 = 0x5b;
const RBRACKET: i32 = 0x5d;
const LOWER_E: i32 = 0x65;
const UPPER_E: i32 = 0x45;

// Literals as little-endian words, compared four bytes at a time.
const WORD_TRUE: u32 = 0x65757274; // "true"
const WORD_NULL: u32 = 0x6c6c756e; // "null"
const WORD_FALS: u32 = 0x736c6166; // "fals" (then "e")

const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

@inline function byteAt(base: usize, i: i32): i32 {
  return <i32>load<u8>(base + <usize>i);
}

@inline function isDigit(c: i32): bool {
  return <u32>(c - DIGIT_0) <= 9;
}

/** Flags (high bit of each byte) the bytes of `w` that are a quote, a backslash or below 0x20; the lowest flag is exact. */
@inline function specialBytes(w: u64): u64 {
  const q = w ^ (ONES * 0x22);
  const b = w ^ (ONES * 0x5c);
  return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w)) & HIGHS;
}

@inline function skipWhitespace(base: usize, pos: i32, limit: i32): i32 {
  // Compact JSON (what hosts send) has none: one test and out.
  if (pos < limit && byteAt(base, pos) > 0x20) return pos;
  return skipWhitespaceSlow(base, pos, limit);
}

function skipWhitespaceSlow(base: usize, pos: i32, limit: i32): i32 {
  while (pos < limit) {
    const c = byteAt(base, pos);
    if (c > 0x20 || (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09)) break;
    pos++;
  }
  return pos;
}

/** The index of the next quote, backslash or control byte at or after `i`, or `limit`. */
@inline function nextSpecial(base: usize, i: i32, limit: i32): i32 {
  while (i + 8 <= limit) {
    const m = specialBytes(load<u64>(base + <usize>i));
    if (m != 0) return i + <i32>(ctz(m) >> 3);
    i += 8;
  }
  while (i < limit) {
    const c = byteAt(base, i);
    if (c == QUOTE || c == BACKSLASH || c < 0x20) return i;
    i++;
  }
  return limit;
}

@inline function hexValue(c: i32): i32 {
  if (isDigit(c)) return c - DIGIT_0;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** The four hex digits at `i` as a UTF-16 unit, or -1. */
function hex4(base: usize, i: i32, limit: i32): i32 {
  if (i + 4 > limit) return -1;
  let value = 0;
  for (let k = 0; k < 4; k++) {
    const d = hexValue(byteAt(base, i + k));
    if (d < 0) return -1;
    value = (value << 4) | d;
  }
  return value;
}

/** The index after the escape sequence whose backslash is at `i`, or -1 when it is invalid. */
function skipEscape(base: usize, i: i32, limit: i32): i32 {
  if (i + 1 >= limit) return -1;
  const e = byteAt(base, i + 1);
  if (e == 0x75) return hex4(base, i + 2, limit) < 0 ? -1 : i + 6; // \uXXXX
  if (e == QUOTE || e == BACKSLASH || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) return i + 2;
  return -1;
}

/** The index after the string whose opening quote is at `pos`, or -1 when it is malformed or unterminated. */
function skipString(base: usize, pos: i32, limit: i32): i32 {
  let i = pos + 1;
  while (true) {
    i = nextSpecial(base, i, limit);
    if (i >= limit) return -1;
    const c = byteAt(base, i);
    if (c == QUOTE) return i + 1;
    if (c != BACKSLASH) return -1; // a raw control character
    i = skipEscape(base, i, limit);
    if (i < 0) return -1;
  }
}

/** The index after the number starting at `pos` (RFC 8259 grammar), or -1. */
function skipNumber(base: usize, pos: i32, limit: i32): i32 {
  let i = pos;
  if (i < limit && byteAt(base, i) == MINUS) i++;
  if (i >= limit) return -1;
  const first = byteAt(base, i);
  if (first == DIGIT_0) i++;
  else if (first > DIGIT_0 && first <= DIGIT_9) {
    while (i < limit && isDigit(byteAt(base, i))) i++;
  } else return -1;
  if (i < limit && byteAt(base, i) == DOT) {
    i++;
    if (i >= limit || !isDigit(byteAt(base, i))) return -1;
    while (i < limit && isDigit(byteAt(base, i))) i++;
  }
  if (i < limit && (byteAt(base, i) | 0x20) == LOWER_E) {
    i++;
    if (i < limit && (byteAt(base, i) == PLUS || byteAt(base, i) == MINUS)) i++;
    if (i >= limit || !isDigit(byteAt(base, i))) return -1;
    while (i < limit && isDigit(byteAt(base, i))) i++;
  }
  return i;
}

/** The index after `true`, `false` or `null` at `pos`, or -1. */
function skipLiteral(base: usize, pos: i32, limit: i32): i32 {
  if (pos + 4 > limit) return -1;
  const w = load<u32>(base + <usize>pos);
  if (w == WORD_TRUE || w == WORD_NULL) return pos + 4;
  if (w == WORD_FALS && pos + 5 <= limit && byteAt(base, pos + 4) == LOWER_E) return pos + 5;
  return -1;
}

/** The index after the value starting at `pos` (no leading whitespace), or -1. `depth` counts the containers around it. */
function skipValue(base: usize, pos: i32, limit: i32, depth: i32): i32 {
  if (pos >= limit) return -1;
  const c = byteAt(base, pos);
  if (c == QUOTE) return skipString(base, pos, limit);
  if (c == LBRACE) return skipObject(base, pos, limit, depth + 1);
  if (c == LBRACKET) return skipArray(base, pos, limit, depth + 1);
  if (c == MINUS || isDigit(c)) return skipNumber(base, pos, limit);
  return skipLiteral(base, pos, limit);
}

function skipObject(base: usize, pos: i32, limit: i32, depth: i32): i32 {
  if (depth > JSON_MAX_DEPTH) return -1;
  let i = skipWhitespace(base, pos + 1, limit);
  if (i < limit && byteAt(base, i) == RBRACE) return i + 1;
  while (true) {
    if (i >= limit || byteAt(base, i) != QUOTE) return -1;
    i = skipString(base, i, limit);
    if (i < 0) return -1;
    i = skipWhitespace(base, i, limit);
    if (i >= limit || byteAt(base, i) != COLON) return -1;
    i = skipValue(base, skipWhitespace(base, i + 1, limit), limit, depth);
    if (i < 0) return -1;
    i = skipWhitespace(base, i, limit);
    if (i >= limit) return -1;
    const c = byteAt(base, i);
    if (c == RBRACE) return i + 1;
    if (c != COMMA) return -1;
    i = skipWhitespace(base, i + 1, limit);
  }
}

function skipArray(base: usize, pos: i32, limit: i32, depth: i32): i32 {
  if (depth > JSON_MAX_DEPTH) return -1;
  let i = skipWhitespace(base, pos + 1, limit);
  if (i < limit && byteAt(base, i) == RBRACKET) return i + 1;
  while (true) {
    i = skipValue(base, i, limit, depth);
    if (i < 0) return -1;
    i = skipWhitespace(base, i, limit);
    if (i >= limit) return -1;
    const c = byteAt(base, i);
    if (c == RBRACKET) return i + 1;
    if (c != COMMA) return -1;
    i = skipWhitespace(base, i + 1, limit);
  }
}

/** Decodes the string whose opening quote is at `pos`; null when it is malformed. */
function decodeString(base: usize, pos: i32, limit: i32): string | null {
  const from = pos + 1;
  let i = nextSpecial(base, from, limit);
  if (i < limit && byteAt(base, i) == QUOTE) {
    // No escapes: the bytes are the string.
    return i == from ? '' : String.UTF8.decodeUnsafe(base + <usize>from, <usize>(i - from));
  }
  const out = new JsonStringBuilder();
  let run = from;
  while (true) {
    if (i >= limit) return null;
    const c = byteAt(base, i);
    if (c != QUOTE && c != BACKSLASH) return null; // a raw control character
    if (i > run) out.append(String.UTF8.decodeUnsafe(base + <usize>run, <usize>(i - run)));
    if (c == QUOTE) return out.toString();
    if (i + 1 >= limit) return null;
    const e = byteAt(base, i + 1);
    let next = i + 2;
    if (e == QUOTE || e == BACKSLASH || e == 0x2f) out.appendCode(e);
    else if (e == 0x62) out.appendCode(0x08); // \b
    else if (e == 0x66) out.appendCode(0x0c); // \f
    else if (e == 0x6e) out.appendCode(0x0a); // \n
    else if (e == 0x72) out.appendCode(0x0d); // \r
    else if (e == 0x74) out.appendCode(0x09); // \t
    else if (e == 0x75) {
      // A surrogate pair arrives as two escapes; appending both units joins them. A lone
      // surrogate is kept, as the tree parser and JavaScript do.
      const unit = hex4(base, i + 2, limit);
      if (unit < 0) return null;
      out.appendCode(unit);
      next = i + 6;
    } else return null;
    run = next;
    i = nextSpecial(base, next, limit);
  }
}

/**
 * True when the string content at [from, to) (between the quotes, already checked by skipString)
 * decodes to `text`. Compares plain ASCII bytes in place; decodes only keys with escapes or non-ASCII.
 */
function contentEquals(base: usize, from: i32, to: i32, text: string): bool {
  const n = text.length;
  const raw = to - from;
  if (raw < n) return false; // decoding never makes a string longer than its bytes
  const units = changetype<usize>(text);
  let plain = true;
  for (let k = 0; k < raw; k++) {
    const b = byteAt(base, from + k);
    if (b == BACKSLASH || b >= 0x80) {
      plain = false;
      break;
    }
    if (k >= n || b != <i32>load<u16>(units + (<usize>k << 1))) return false;
  }
  if (plain) return raw == n;
  const decoded = decodeString(base, from - 1, to + 1);
  return decoded !== null && decoded == text;
}

/** The kind of the value starting at `pos` (which is in bounds), from its first byte. */
function kindAt(base: usize, pos: i32): i32 {
  const c = byteAt(base, pos);
  if (c == LBRACE) return JsonKind.Object;
  if (c == LBRACKET) return JsonKind.Array;
  if (c == QUOTE) return JsonKind.String;
  if (c == MINUS || isDigit(c)) return JsonKind.Number;
  if (c == 0x74 || c == 0x66) return JsonKind.Bool;
  if (c == 0x6e) return JsonKind.Null;
  return JSON_INVALID;
}

/** True when the value at `pos` is a well-formed string equal to `text`. */
function stringAtEquals(base: usize, pos: i32, limit: i32, text: string): bool {
  if (pos >= limit || byteAt(base, pos) != QUOTE) return false;
  const end = skipString(base, pos, limit);
  return end >= 0 && contentEquals(base, pos + 1, end - 1, text);
}

/** The boolean at `pos`, or `fallback` when it is not `true` or `false`. */
function decodeBool(base: usize, pos: i32, limit: i32, fallback: bool): bool {
  if (pos + 4 > limit) return fallback;
  const w = load<u32>(base + <usize>pos);
  if (w == WORD_TRUE) return true;
  if (w == WORD_FALS && pos + 5 <= limit && byteAt(base, pos + 4) == LOWER_E) return false;
  return fallback;
}

// Exact powers of ten for the fast number path (each is exactly representable as an f64).
const POW10: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
  1e21, 1e22,
];

/** The number at `pos`, or NaN when it is malformed. */
function decodeNumber(base: usize, pos: i32, limit: i32): f64 {
  const end = skipNumber(base, pos, limit);
  if (end < 0) return NaN;
  // Fast path (Clinger): an integer mantissa below 2^53 scaled by an exact power of ten is
  // correctly rounded by one multiplication or division.
  let i = pos;
  const negative = byteAt(base, i) == MINUS;
  if (negative) i++;
  let mantissa: u64 = 0;
  let digits = 0;
  let scale = 0;
  let c = byteAt(base, i);
  while (i < end && isDigit(c)) {
    mantissa = mantissa * 10 + <u64>(c - DIGIT_0);
    if (mantissa != 0) digits++;
    c = ++i < end ? byteAt(base, i) : 0;
  }
  if (i < end && c == DOT) {
    c = ++i < end ? byteAt(base, i) : 0;
    while (i < end && isDigit(c)) {
      mantissa = mantissa * 10 + <u64>(c - DIGIT_0);
      if (mantissa != 0) digits++;
      scale--;
      c = ++i < end ? byteAt(base, i) : 0;
    }
  }
  if (i < end) {
    // The exponent: after 'e' comes an optional sign and at least one digit (skipNumber checked).
    i++;
    let sign = 1;
    c = byteAt(base, i);
    if (c == MINUS || c == PLUS) {
      if (c == MINUS) sign = -1;
      i++;
    }
    let exponent = 0;
    while (i < end) {
      exponent = exponent * 10 + (byteAt(base, i) - DIGIT_0);
      if (exponent > 100000) break; // far beyond f64 either way: let parseFloat decide
      i++;
    }
    scale += sign * exponent;
  }
  if (digits <= 15 && scale >= -22 && scale <= 22) {
    const m = <f64>mantissa;
    const value = scale >= 0 ? m * unchecked(POW10[scale]) : m / unchecked(POW10[-scale]);
    return negative ? -value : value;
  }
  return parseFloat(String.UTF8.decodeUnsafe(base + <usize>pos, <usize>(end - pos)));
}

/**
 * A lazy, read-only view of one JSON value in UTF-8 bytes. Lookups scan from the value's first
 * byte and decode only what is asked for; a missing key, a wrong kind or malformed bytes give null
 * (or the fallback). Sub-views share the bytes, which the view keeps alive.
 */
export class JsonView {
  /** Use `JsonView.of` / `JsonView.parse`; views into a value come from `get` and `at`. */
  constructor(
    private owner: ArrayBuffer,
    private base: usize,
    private start: i32,
    private limit: i32,
    private depth: i32,
  ) {}

  /** The JSON value in the UTF-8 bytes `buffer[0, length)` (all of it when `length` is -1). The bytes are not copied: do not change them while a view is in use. */
  static of(buffer: ArrayBuffer, length: i32 = -1): JsonView {
    const size = buffer.byteLength;
    const limit = length < 0 || length > size ? size : length;
    const base = changetype<usize>(buffer);
    return new JsonView(buffer, base, skipWhitespace(base, 0, limit), limit, 0);
  }

  /** The JSON value in `text` (encoded to UTF-8 once). */
  static parse(text: string): JsonView {
    return JsonView.of(String.UTF8.encode(text));
  }

  /** The value's kind from its first byte (a `JsonKind`), or `JSON_INVALID`. Decoding can still find it malformed. */
  get kind(): i32 {
    return this.start < this.limit ? kindAt(this.base, this.start) : JSON_INVALID;
  }

  /** True when this is an object (by its first byte). */
  isObject(): bool {
    return this.kind == JsonKind.Object;
  }
  /** True when this is an array (by its first byte). */
  isArray(): bool {
    return this.kind == JsonKind.Array;
  }
  /** True when this is a string (by its first byte). */
  isString(): bool {
    return this.kind == JsonKind.String;
  }
  /** True when this is exactly `null`. */
  isNull(): bool {
    return this.start + 4 <= this.limit && load<u32>(this.base + <usize>this.start) == WORD_NULL;
  }

  /** Where the value of `key` starts, or -1 (absent, not an object, or malformed before it). Allocates nothing. */
  private find(key: string): i32 {
    const base = this.base;
    const limit = this.limit;
    const depth = this.depth + 1; // the depth of this object's members
    let i = this.start;
    if (i >= limit || byteAt(base, i) != LBRACE || depth > JSON_MAX_DEPTH) return -1;
    i = skipWhitespace(base, i + 1, limit);
    if (i < limit && byteAt(base, i) == RBRACE) return -1;
    while (true) {
      if (i >= limit || byteAt(base, i) != QUOTE) return -1;
      const keyStart = i + 1;
      i = skipString(base, i, limit);
      if (i < 0) return -1;
      const matched = contentEquals(base, keyStart, i - 1, key);
      i = skipWhitespace(base, i, limit);
      if (i >= limit || byteAt(base, i) != COLON) return -1;
      i = skipWhitespace(base, i + 1, limit);
      if (matched) return i < limit ? i : -1;
      i = skipValue(base, i, limit, depth);
      if (i < 0) return -1;
      i = skipWhitespace(base, i, limit);
      if (i >= limit || byteAt(base, i) != COMMA) return -1; // '}' (not found) or malformed
      i = skipWhitespace(base, i + 1, limit);
    }
  }

  /** The value of `key` when this is an object; null when absent, not an object, or malformed before it. */
  get(key: string): JsonView | null {
    const at = this.find(key);
    return at < 0 ? null : new JsonView(this.owner, this.base, at, this.limit, this.depth + 1);
  }

  /** True when this is an object with `key`. */
  has(key: string): bool {
    return this.find(key) >= 0;
  }

  /** The kind of the value under `key` (a `JsonKind`, by its first byte), or `JSON_INVALID` when absent. Allocates nothing. */
  kindOf(key: string): i32 {
    const at = this.find(key);
    return at < 0 ? JSON_INVALID : kindAt(this.base, at);
  }

  /** The string under `key`, or null when absent, not a string, or malformed. */
  getString(key: string): string | null {
    const at = this.find(key);
    return at < 0 || byteAt(this.base, at) != QUOTE ? null : decodeString(this.base, at, this.limit);
  }

  /** True when `key` holds a string equal to `text`; compares in place, allocating nothing for ASCII. */
  stringEqualsAt(key: string, text: string): bool {
    const at = this.find(key);
    return at >= 0 && stringAtEquals(this.base, at, this.limit, text);
  }

  /** The number under `key`, or `fallback` when absent, not a number, or malformed. */
  getNumber(key: string, fallback: f64 = NaN): f64 {
    const at = this.find(key);
    if (at < 0) return fallback;
    const n = decodeNumber(this.base, at, this.limit);
    return isNaN(n) ? fallback : n;
  }

  /** The boolean under `key`, or `fallback` when absent or not a boolean. */
  getBool(key: string, fallback: bool = false): bool {
    const at = this.find(key);
    return at < 0 ? fallback : decodeBool(this.base, at, this.limit, fallback);
  }

  /** The item at `index` when this is an array; null when out of range, not an array, or malformed before it. */
  at(index: i32): JsonView | null {
    const base = this.base;
    const limit = this.limit;
    const depth = this.depth + 1;
    let i = this.start;
    if (index < 0 || i >= limit || byteAt(base, i) != LBRACKET || depth > JSON_MAX_DEPTH) return null;
    i = skipWhitespace(base, i + 1, limit);
    if (i < limit && byteAt(base, i) == RBRACKET) return null;
    let n = 0;
    while (true) {
      if (n == index) return i < limit ? new JsonView(this.owner, base, i, limit, depth) : null;
      i = skipValue(base, i, limit, depth);
      if (i < 0) return null;
      i = skipWhitespace(base, i, limit);
      if (i >= limit || byteAt(base, i) != COMMA) return null;
      i = skipWhitespace(base, i + 1, limit);
      n++;
    }
  }

  /** The number of items (array) or members (object); -1 for other kinds or malformed input. Scans the whole value. */
  get length(): i32 {
    const keys = this.kind == JsonKind.Object;
    if (!keys && this.kind != JsonKind.Array) return -1;
    const base = this.base;
    const limit = this.limit;
    const depth = this.depth + 1;
    if (depth > JSON_MAX_DEPTH) return -1;
    let i = skipWhitespace(base, this.start + 1, limit);
    if (i < limit && byteAt(base, i) == (keys ? RBRACE : RBRACKET)) return 0;
    let count = 0;
    while (true) {
      if (keys) {
        if (i >= limit || byteAt(base, i) != QUOTE) return -1;
        i = skipString(base, i, limit);
        if (i < 0) return -1;
        i = skipWhitespace(base, i, limit);
        if (i >= limit || byteAt(base, i) != COLON) return -1;
        i = skipWhitespace(base, i + 1, limit);
      }
      i = skipValue(base, i, limit, depth);
      if (i < 0) return -1;
      count++;
      i = skipWhitespace(base, i, limit);
      if (i >= limit) return -1;
      const c = byteAt(base, i);
      if (c == (keys ? RBRACE : RBRACKET)) return count;
      if (c != COMMA) return -1;
      i = skipWhitespace(base, i + 1, limit);
    }
  }

  /** The object's keys in order (decoded); empty for other kinds, null when the object is malformed. */
  keys(): string[] | null {
    const out: string[] = [];
    if (this.kind != JsonKind.Object) return out;
    const base = this.base;
    const limit = this.limit;
    const depth = this.depth + 1;
    if (depth > JSON_MAX_DEPTH) return null;
    let i = skipWhitespace(base, this.start + 1, limit);
    if (i < limit && byteAt(base, i) == RBRACE) return out;
    while (true) {
      if (i >= limit || byteAt(base, i) != QUOTE) return null;
      const key = decodeString(base, i, limit);
      if (key === null) return null;
      out.push(key);
      i = skipWhitespace(base, skipString(base, i, limit), limit);
      if (i >= limit || byteAt(base, i) != COLON) return null;
      i = skipValue(base, skipWhitespace(base, i + 1, limit), limit, depth);
      if (i < 0) return null;
      i = skipWhitespace(base, i, limit);
      if (i >= limit) return null;
      const c = byteAt(base, i);
      if (c == RBRACE) return out;
      if (c != COMMA) return null;
      i = skipWhitespace(base, i + 1, limit);
    }
  }

  /** The string, decoded (escapes, `\uXXXX`, surrogate pairs); null when this is not a well-formed string. */
  asString(): string | null {
    if (this.start >= this.limit || byteAt(this.base, this.start) != QUOTE) return null;
    return decodeString(this.base, this.start, this.limit);
  }

  /** True when this is a string equal to `text`; compares in place without allocating for plain ASCII. */
  stringEquals(text: string): bool {
    return stringAtEquals(this.base, this.start, this.limit, text);
  }

  /** The number, or `fallback` when this is not a well-formed number. */
  asNumber(fallback: f64 = NaN): f64 {
    const n = decodeNumber(this.base, this.start, this.limit);
    return isNaN(n) ? fallback : n;
  }

  /** The boolean, or `fallback` when this is not `true` or `false`. */
  asBool(fallback: bool = false): bool {
    return decodeBool(this.base, this.start, this.limit, fallback);
  }

  /** True when this whole value is well-formed JSON (scans it all, allocates nothing). */
  validate(): bool {
    return skipValue(this.base, this.start, this.limit, this.depth) >= 0;
  }

  /** This value as a tree (`JsonObject`, `JsonArray`, ...), or null when it is malformed. */
  toValue(): JsonValue | null {
    const end = skipValue(this.base, this.start, this.limit, this.depth);
    if (end < 0) return null;
    return parseJson(String.UTF8.decodeUnsafe(this.base + <usize>this.start, <usize>(end - this.start))).value;
  }

  /** The value's JSON text exactly as it appears in the bytes, or null when it is malformed. */
  toJson(): string | null {
    const end = skipValue(this.base, this.start, this.limit, this.depth);
    if (end < 0) return null;
    return String.UTF8.decodeUnsafe(this.base + <usize>this.start, <usize>(end - this.start));
  }
}
