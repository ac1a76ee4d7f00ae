// A strict RFC 8259 JSON reader and writer for plugins. Parsing works on the UTF-16 string the
// payload was decoded to, builds a tree of JsonValue nodes, and never aborts on bad input: the
// result carries an error message and the offset where parsing stopped.

/** The six JSON value kinds. */
export enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

/** Nesting deeper than this is rejected, so hostile input cannot overflow the stack. */
export const JSON_MAX_DEPTH: i32 = 256;

/** One JSON value; check `kind` (or use the `is...`/`as...` helpers) before reading it. */
export abstract class JsonValue {
  constructor(public readonly kind: JsonKind) {}

  /** True for `null`. */
  isNull(): bool {
    return this.kind == JsonKind.Null;
  }
  /** This value as a JsonObject, or null if it is another kind. */
  asObject(): JsonObject | null {
    return this.kind == JsonKind.Object ? changetype<JsonObject>(this) : null;
  }
  /** This value as a JsonArray, or null if it is another kind. */
  asArray(): JsonArray | null {
    return this.kind == JsonKind.Array ? changetype<JsonArray>(this) : null;
  }
  /** The string, or null if this is not a string. */
  asString(): string | null {
    return this.kind == JsonKind.String ? changetype<JsonString>(this).value : null;
  }
  /** The number, or `fallback` if this is not a number. */
  asNumber(fallback: f64 = NaN): f64 {
    return this.kind == JsonKind.Number ? changetype<JsonNumber>(this).value : fallback;
  }
  /** The boolean, or `fallback` if this is not a boolean. */
  asBool(fallback: bool = false): bool {
    return this.kind == JsonKind.Bool ? changetype<JsonBool>(this).value : fallback;
  }
  /** Serialises this value as compact JSON text. */
  toJson(): string {
    const out = new JsonStringBuilder();
    writeValue(out, this);
    return out.toString();
  }
  /** Same as `toJson()`. */
  toString(): string {
    return this.toJson();
  }
}

/** JSON `null`. */
export class JsonNull extends JsonValue {
  constructor() {
    super(JsonKind.Null);
  }
}

/** JSON `true` / `false`. */
export class JsonBool extends JsonValue {
  constructor(public value: bool) {
    super(JsonKind.Bool);
  }
}

/** A JSON number (always f64, as in JavaScript). */
export class JsonNumber extends JsonValue {
  constructor(public value: f64) {
    super(JsonKind.Number);
  }
}

/** A JSON string. */
export class JsonString extends JsonValue {
  constructor(public value: string) {
    super(JsonKind.String);
  }
}

/** A JSON array. */
export class JsonArray extends JsonValue {
  items: JsonValue[] = [];
  constructor() {
    super(JsonKind.Array);
  }
  /** The number of items. */
  get length(): i32 {
    return this.items.length;
  }
  /** The item at `index`, or null when out of range. */
  at(index: i32): JsonValue | null {
    return index >= 0 && index < this.items.length ? unchecked(this.items[index]) : null;
  }
  /** Appends a value; returns this array for chaining. */
  push(value: JsonValue): JsonArray {
    this.items.push(value);
    return this;
  }
  /** Appends a string. */
  pushString(value: string): JsonArray {
    return this.push(new JsonString(value));
  }
  /** Appends a number. */
  pushNumber(value: f64): JsonArray {
    return this.push(new JsonNumber(value));
  }
}

/** A JSON object; keys keep their insertion order, and setting an existing key replaces it in place. */
export class JsonObject extends JsonValue {
  keys: string[] = [];
  values: JsonValue[] = [];
  constructor() {
    super(JsonKind.Object);
  }
  /** The number of keys. */
  get size(): i32 {
    return this.keys.length;
  }
  private indexOf(key: string): i32 {
    const keys = this.keys;
    for (let i = 0, n = keys.length; i < n; i++) {
      if (unchecked(keys[i]) == key) return i;
    }
    return -1;
  }
  /** True when the object has `key`. */
  has(key: string): bool {
    return this.indexOf(key) >= 0;
  }
  /** The value of `key`, or null when absent (a JSON `null` is a JsonNull, not null). */
  get(key: string): JsonValue | null {
    const i = this.indexOf(key);
    return i >= 0 ? unchecked(this.values[i]) : null;
  }
  /** The string under `key`, or null when absent or not a string. */
  getString(key: string): string | null {
    const v = this.get(key);
    return v === null ? null : v.asString();
  }
  /** The number under `key`, or `fallback` when absent or not a number. */
  getNumber(key: string, fallback: f64 = NaN): f64 {
    const v = this.get(key);
    return v === null ? fallback : v.asNumber(fallback);
  }
  /** The boolean under `key`, or `fallback` when absent or not a boolean. */
  getBool(key: string, fallback: bool = false): bool {
    const v = this.get(key);
    return v === null ? fallback : v.asBool(fallback);
  }
  /** The object under `key`, or null when absent or not an object. */
  getObject(key: string): JsonObject | null {
    const v = this.get(key);
    return v === null ? null : v.asObject();
  }
  /** The array under `key`, or null when absent or not an array. */
  getArray(key: string): JsonArray | null {
    const v = this.get(key);
    return v === null ? null : v.asArray();
  }
  /** Sets `key`; returns this object for chaining. */
  set(key: string, value: JsonValue): JsonObject {
    const i = this.indexOf(key);
    if (i >= 0) {
      unchecked((this.values[i] = value));
    } else {
      this.keys.push(key);
      this.values.push(value);
    }
    return this;
  }
  /** Sets a string. */
  setString(key: string, value: string): JsonObject {
    return this.set(key, new JsonString(value));
  }
  /** Sets a number. */
  setNumber(key: string, value: f64): JsonObject {
    return this.set(key, new JsonNumber(value));
  }
  /** Sets a boolean. */
  setBool(key: string, value: bool): JsonObject {
    return this.set(key, new JsonBool(value));
  }
  /** Sets `null`. */
  setNull(key: string): JsonObject {
    return this.set(key, new JsonNull());
  }
  /** Removes `key`; returns true if it was there. */
  delete(key: string): bool {
    const i = this.indexOf(key);
    if (i < 0) return false;
    this.keys.splice(i, 1);
    this.values.splice(i, 1);
    return true;
  }
  /** A shallow copy with the keys of `other` set on top (HA's `{...data, ...options}`). */
  merged(other: JsonObject | null): JsonObject {
    const out = new JsonObject();
    for (let i = 0, n = this.keys.length; i < n; i++) out.set(unchecked(this.keys[i]), unchecked(this.values[i]));
    if (other !== null) {
      for (let i = 0, n = other.keys.length; i < n; i++) out.set(unchecked(other.keys[i]), unchecked(other.values[i]));
    }
    return out;
  }
}

/** The outcome of `parseJson`: a value, or an error message and the offset (in UTF-16 units) where it was found. */
export class JsonParseResult {
  constructor(
    public readonly value: JsonValue | null,
    public readonly error: string,
    public readonly offset: i32,
  ) {}
  /** True when the text was valid JSON. */
  get ok(): bool {
    return this.value !== null;
  }
}

/** Parses JSON text strictly (RFC 8259). Never aborts on bad input: check `result.ok`. */
export function parseJson(text: string): JsonParseResult {
  const parser = new Parser(text);
  parser.skipWhitespace();
  const value = parser.parseValue(0);
  if (value !== null) {
    parser.skipWhitespace();
    if (parser.pos < parser.end) parser.fail('unexpected text after the JSON value');
  }
  if (parser.error.length > 0) return new JsonParseResult(null, parser.error, parser.errorAt);
  return new JsonParseResult(value, '', parser.pos);
}

/** Parses JSON text that must be an object; null when it is invalid or another kind. */
export function parseJsonObject(text: string): JsonObject | null {
  const result = parseJson(text);
  const value = result.value;
  return value === null ? null : value.asObject();
}

/** Serialises a value (null means JSON `null`) as compact JSON text. */
export function stringifyJson(value: JsonValue | null): string {
  if (value === null) return 'null';
  return value.toJson();
}

/** Quotes and escapes a string as a JSON string literal. */
export function quoteJsonString(value: string): string {
  const out = new JsonStringBuilder();
  writeString(out, value);
  return out.toString();
}

// ---------------------------------------------------------------------------------------------
// Reader

const CH_TAB: i32 = 0x09;
const CH_LF: i32 = 0x0a;
const CH_CR: i32 = 0x0d;
const CH_SPACE: i32 = 0x20;
const CH_QUOTE: i32 = 0x22;
const CH_PLUS: i32 = 0x2b;
const CH_COMMA: i32 = 0x2c;
const CH_MINUS: i32 = 0x2d;
const CH_DOT: i32 = 0x2e;
const CH_0: i32 = 0x30;
const CH_9: i32 = 0x39;
const CH_COLON: i32 = 0x3a;
const CH_E_UPPER: i32 = 0x45;
const CH_LBRACKET: i32 = 0x5b;
const CH_BACKSLASH: i32 = 0x5c;
const CH_RBRACKET: i32 = 0x5d;
const CH_E_LOWER: i32 = 0x65;
const CH_LBRACE: i32 = 0x7b;
const CH_RBRACE: i32 = 0x7d;

class Parser {
  pos: i32 = 0;
  end: i32;
  base: usize;
  error: string = '';
  errorAt: i32 = 0;

  constructor(public text: string) {
    this.end = text.length;
    this.base = changetype<usize>(text);
  }

  @inline peek(): i32 {
    return this.pos < this.end ? this.charAt(this.pos) : -1;
  }

  @inline charAt(i: i32): i32 {
    return <i32>load<u16>(this.base + (<usize>i << 1));
  }

  fail(message: string): void {
    if (this.error.length == 0) {
      this.error = message;
      this.errorAt = this.pos;
    }
  }

  skipWhitespace(): void {
    while (this.pos < this.end) {
      const c = this.charAt(this.pos);
      if (c != CH_SPACE && c != CH_TAB && c != CH_LF && c != CH_CR) break;
      this.pos++;
    }
  }

  parseValue(depth: i32): JsonValue | null {
    const c = this.peek();
    if (c < 0) {
      this.fail('unexpected end of input, expected a value');
      return null;
    }
    if (c == CH_LBRACE) return this.parseObject(depth + 1);
    if (c == CH_LBRACKET) return this.parseArray(depth + 1);
    if (c == CH_QUOTE) {
      const s = this.parseString();
      return s === null ? null : new JsonString(s);
    }
    if (c == CH_MINUS || (c >= CH_0 && c <= CH_9)) return this.parseNumber();
    if (this.matchWord('true')) return new JsonBool(true);
    if (this.matchWord('false')) return new JsonBool(false);
    if (this.matchWord('null')) return new JsonNull();
    this.fail('unexpected character, expected a value');
    return null;
  }

  matchWord(word: string): bool {
    const n = word.length;
    if (this.pos + n > this.end) return false;
    for (let i = 0; i < n; i++) {
      if (this.charAt(this.pos + i) != word.charCodeAt(i)) return false;
    }
    this.pos += n;
    return true;
  }

  parseObject(depth: i32): JsonValue | null {
    if (depth > JSON_MAX_DEPTH) {
      this.fail('nesting too deep');
      return null;
    }
    this.pos++; // '{'
    const obj = new JsonObject();
    this.skipWhitespace();
    if (this.peek() == CH_RBRACE) {
      this.pos++;
      return obj;
    }
    while (true) {
      if (this.peek() != CH_QUOTE) {
        this.fail('expected a string key');
        return null;
      }
      const key = this.parseString();
      if (key === null) return null;
      this.skipWhitespace();
      if (this.peek() != CH_COLON) {
        this.fail("expected ':' after an object key");
        return null;
      }
      this.pos++;
      this.skipWhitespace();
      const value = this.parseValue(depth);
      if (value === null) return null;
      obj.set(key, value);
      this.skipWhitespace();
      const c = this.peek();
      if (c == CH_COMMA) {
        this.pos++;
        this.skipWhitespace();
        continue;
      }
      if (c == CH_RBRACE) {
        this.pos++;
        return obj;
      }
      this.fail("expected ',' or '}' in an object");
      return null;
    }
  }

  parseArray(depth: i32): JsonValue | null {
    if (depth > JSON_MAX_DEPTH) {
      this.fail('nesting too deep');
      return null;
    }
    this.pos++; // '['
    const arr = new JsonArray();
    this.skipWhitespace();
    if (this.peek() == CH_RBRACKET) {
      this.pos++;
      return arr;
    }
    while (true) {
      const value = this.parseValue(depth);
      if (value === null) return null;
      arr.items.push(value);
      this.skipWhitespace();
      const c = this.peek();
      if (c == CH_COMMA) {
        this.pos++;
        this.skipWhitespace();
        continue;
      }
      if (c == CH_RBRACKET) {
        this.pos++;
        return arr;
      }
      this.fail("expected ',' or ']' in an array");
      return null;
    }
  }

  /** Parses a string literal at `pos` (which is a quote); null on error. */
  parseString(): string | null {
    this.pos++; // opening quote
    const start = this.pos;
    // Fast path: no escapes, so the literal is a plain slice of the input.
    let i = start;
    while (i < this.end) {
      const c = this.charAt(i);
      if (c == CH_QUOTE) {
        this.pos = i + 1;
        return this.text.substring(start, i);
      }
      if (c == CH_BACKSLASH) break;
      if (c < 0x20) {
        this.pos = i;
        this.fail('control character in a string: escape it');
        return null;
      }
      i++;
    }
    const out = new JsonStringBuilder();
    out.appendRange(this.base, start, i);
    this.pos = i;
    while (this.pos < this.end) {
      const c = this.charAt(this.pos);
      if (c == CH_QUOTE) {
        this.pos++;
        return out.toString();
      }
      if (c < 0x20) {
        this.fail('control character in a string: escape it');
        return null;
      }
      if (c != CH_BACKSLASH) {
        out.appendCode(<u16>c);
        this.pos++;
        continue;
      }
      // An escape sequence.
      if (this.pos + 1 >= this.end) break;
      const e = this.charAt(this.pos + 1);
      this.pos += 2;
      if (e == CH_QUOTE) out.appendCode(0x22);
      else if (e == CH_BACKSLASH) out.appendCode(0x5c);
      else if (e == 0x2f) out.appendCode(0x2f); // '/'
      else if (e == 0x62) out.appendCode(0x08); // 'b'
      else if (e == 0x66) out.appendCode(0x0c); // 'f'
      else if (e == 0x6e) out.appendCode(0x0a); // 'n'
      else if (e == 0x72) out.appendCode(0x0d); // 'r'
      else if (e == 0x74) out.appendCode(0x09); // 't'
      else if (e == 0x75) {
        // 'u': four hex digits. A surrogate pair arrives as two escapes; appending both
        // UTF-16 units joins them. A lone surrogate is kept (as JavaScript does) and the
        // writer escapes it again, so output stays valid UTF-8.
        const unit = this.readHex4();
        if (unit < 0) return null;
        out.appendCode(unit);
      } else {
        this.pos -= 1;
        this.fail('invalid escape sequence');
        return null;
      }
    }
    this.fail('unterminated string');
    return null;
  }

  readHex4(): i32 {
    if (this.pos + 4 > this.end) {
      this.fail('truncated \\u escape');
      return -1;
    }
    let value = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.charAt(this.pos + k);
      let d: i32;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else {
        this.pos += k;
        this.fail('invalid hex digit in a \\u escape');
        return -1;
      }
      value = (value << 4) | d;
    }
    this.pos += 4;
    return value;
  }

  parseNumber(): JsonValue | null {
    const start = this.pos;
    if (this.peek() == CH_MINUS) this.pos++;
    let c = this.peek();
    if (c == CH_0) {
      this.pos++;
    } else if (c >= CH_0 + 1 && c <= CH_9) {
      while (this.isDigit(this.peek())) this.pos++;
    } else {
      this.fail('invalid number: expected a digit');
      return null;
    }
    if (this.peek() == CH_DOT) {
      this.pos++;
      if (!this.isDigit(this.peek())) {
        this.fail('invalid number: expected a digit after the decimal point');
        return null;
      }
      while (this.isDigit(this.peek())) this.pos++;
    }
    c = this.peek();
    if (c == CH_E_LOWER || c == CH_E_UPPER) {
      this.pos++;
      c = this.peek();
      if (c == CH_PLUS || c == CH_MINUS) this.pos++;
      if (!this.isDigit(this.peek())) {
        this.fail('invalid number: expected a digit in the exponent');
        return null;
      }
      while (this.isDigit(this.peek())) this.pos++;
    }
    // The grammar above guarantees the slice is a plain decimal literal.
    return new JsonNumber(parseFloat(this.text.substring(start, this.pos)));
  }

  @inline isDigit(c: i32): bool {
    return c >= CH_0 && c <= CH_9;
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

/** A growable UTF-16 buffer; builds strings in linear time. */
export class JsonStringBuilder {
  private buffer: ArrayBuffer = new ArrayBuffer(64);
  private length: i32 = 0; // in UTF-16 units

  private reserve(extra: i32): void {
    const needed = (this.length + extra) << 1;
    const capacity = this.buffer.byteLength;
    if (needed <= capacity) return;
    let next = capacity << 1;
    while (next < needed) next <<= 1;
    const grown = new ArrayBuffer(next);
    memory.copy(changetype<usize>(grown), changetype<usize>(this.buffer), <usize>(this.length << 1));
    this.buffer = grown;
  }

  /** Appends one UTF-16 unit. */
  appendCode(code: i32): void {
    this.reserve(1);
    store<u16>(changetype<usize>(this.buffer) + (<usize>this.length << 1), <u16>code);
    this.length++;
  }

  /** Appends a whole string. */
  append(s: string): void {
    this.appendRange(changetype<usize>(s), 0, s.length);
  }

  /** Appends units [from, to) of the UTF-16 data at `base`. */
  appendRange(base: usize, from: i32, to: i32): void {
    const n = to - from;
    if (n <= 0) return;
    this.reserve(n);
    memory.copy(changetype<usize>(this.buffer) + (<usize>this.length << 1), base + (<usize>from << 1), <usize>n << 1);
    this.length += n;
  }

  /** The text so far. */
  toString(): string {
    return String.UTF16.decodeUnsafe(changetype<usize>(this.buffer), <usize>this.length << 1);
  }
}

const HEX_DIGITS = '0123456789abcdef';

function writeValue(out: JsonStringBuilder, value: JsonValue): void {
  switch (value.kind) {
    case JsonKind.Null:
      out.append('null');
      break;
    case JsonKind.Bool:
      out.append(changetype<JsonBool>(value).value ? 'true' : 'false');
      break;
    case JsonKind.Number:
      writeNumber(out, changetype<JsonNumber>(value).value);
      break;
    case JsonKind.String:
      writeString(out, changetype<JsonString>(value).value);
      break;
    case JsonKind.Array: {
      const items = changetype<JsonArray>(value).items;
      out.appendCode(CH_LBRACKET);
      for (let i = 0, n = items.length; i < n; i++) {
        if (i > 0) out.appendCode(CH_COMMA);
        writeValue(out, unchecked(items[i]));
      }
      out.appendCode(CH_RBRACKET);
      break;
    }
    case JsonKind.Object: {
      const obj = changetype<JsonObject>(value);
      out.appendCode(CH_LBRACE);
      for (let i = 0, n = obj.keys.length; i < n; i++) {
        if (i > 0) out.appendCode(CH_COMMA);
        writeString(out, unchecked(obj.keys[i]));
        out.appendCode(CH_COLON);
        writeValue(out, unchecked(obj.values[i]));
      }
      out.appendCode(CH_RBRACE);
      break;
    }
  }
}

/** Numbers as JavaScript's JSON.stringify writes them: integers without a fraction, non-finite as null. */
function writeNumber(out: JsonStringBuilder, n: f64): void {
  if (!isFinite(n)) {
    out.append('null');
  } else if (n == Math.floor(n) && Math.abs(n) < 9007199254740992.0) {
    out.append((<i64>n).toString()); // also turns -0 into "0"
  } else {
    out.append(n.toString());
  }
}

function writeString(out: JsonStringBuilder, s: string): void {
  out.appendCode(CH_QUOTE);
  const base = changetype<usize>(s);
  const n = s.length;
  let runStart = 0;
  for (let i = 0; i < n; i++) {
    const c = <i32>load<u16>(base + (<usize>i << 1));
    let escape: string | null = null;
    let hex = false;
    if (c == CH_QUOTE) escape = '\\"';
    else if (c == CH_BACKSLASH) escape = '\\\\';
    else if (c < 0x20) {
      if (c == 0x08) escape = '\\b';
      else if (c == 0x0c) escape = '\\f';
      else if (c == 0x0a) escape = '\\n';
      else if (c == 0x0d) escape = '\\r';
      else if (c == 0x09) escape = '\\t';
      else hex = true;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // Keep well-formed surrogate pairs; escape lone surrogates (UTF-8 cannot carry them).
      if (c <= 0xdbff && i + 1 < n) {
        const next = <i32>load<u16>(base + (<usize>(i + 1) << 1));
        if (next >= 0xdc00 && next <= 0xdfff) {
          i++;
          continue;
        }
      }
      hex = true;
    }
    if (escape === null && !hex) continue;
    out.appendRange(base, runStart, i);
    if (escape !== null) {
      out.append(escape);
    } else {
      out.append('\\u');
      out.appendCode(HEX_DIGITS.charCodeAt((c >> 12) & 0xf));
      out.appendCode(HEX_DIGITS.charCodeAt((c >> 8) & 0xf));
      out.appendCode(HEX_DIGITS.charCodeAt((c >> 4) & 0xf));
      out.appendCode(HEX_DIGITS.charCodeAt(c & 0xf));
    }
    runStart = i + 1;
  }
  out.appendRange(base, runStart, n);
  out.appendCode(CH_QUOTE);
}
