// Wasm modules built directly as bytes, for sizes no WAT toolchain handles quickly: a large module
// of typical code (the shape of compiled AssemblyScript: locals, i32 arithmetic, loads and stores,
// blocks, loops, calls, some i64 and f64), a module with a million functions, and table-heavy ones.
// Every module is a valid HOMECORE guest (memory, ABI marker, allocator exports) unless it is
// meant to be refused by a shape limit.

const encoder = new TextEncoder();

/** Unsigned LEB128. */
export function uleb(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(n) {
  const out = [];
  n |= 0;
  while (true) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** A growable byte buffer. */
class Sink {
  constructor(size = 1 << 16) {
    this.buf = new Uint8Array(size);
    this.length = 0;
  }
  ensure(n) {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  push(bytes) {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  byte(b) {
    this.ensure(1);
    this.buf[this.length++] = b;
  }
  result() {
    return this.buf.slice(0, this.length);
  }
}

const name = (s) => {
  const b = encoder.encode(s);
  return [...uleb(b.length), ...b];
};

/** A section: id, size, body (an array or Uint8Array). */
function section(out, id, body) {
  out.byte(id);
  out.push(uleb(body.length));
  out.push(body);
}

/** A vector section from a count and a Sink or array of entry bytes. */
function vectorSection(out, id, count, entries) {
  const body = new Sink(entries.length + 8);
  body.push(uleb(count));
  body.push(entries instanceof Sink ? entries.result() : entries);
  section(out, id, body.result());
}

const I32 = 0x7f;
const I64 = 0x7e;
const F64 = 0x7c;

// The guest ABI every module carries: types 0..2, functions 0..2 (marker, hc_alloc, hc_free),
// then `hc_on_event`, which returns 0.
const ABI_TYPES = [
  [0x60, 0, 0], // 0: () -> ()
  [0x60, 1, I32, 1, I32], // 1: (i32) -> i32
  [0x60, 2, I32, I32, 0], // 2: (i32 i32) -> ()
  [0x60, 2, I32, I32, 1, I32], // 3: (i32 i32) -> i32 (hooks and the filler functions)
];
const ABI_BODIES = [
  [0x00, 0x0b], // marker
  [0x01, 0x01, I32, 0x23, 0x00, 0x21, 0x01, 0x23, 0x00, 0x20, 0x00, 0x6a, 0x24, 0x00, 0x20, 0x01, 0x0b], // hc_alloc: bump
  [0x00, 0x41, ...sleb(4096), 0x24, 0x00, 0x0b], // hc_free: reset
  [0x00, 0x41, 0x00, 0x0b], // hc_on_event: 0
];
const ABI_FUNC_TYPES = [0, 1, 2, 3];
const ABI_EXPORTS = [
  ['homecore_abi_version_1', 0, 0],
  ['hc_alloc', 0, 1],
  ['hc_free', 0, 2],
  ['hc_on_event', 0, 3],
  ['memory', 2, 0],
];

/**
 * Assembles a module: the ABI types and functions first, then `extraFuncTypes` (type indices) with
 * `bodies` (each a Uint8Array or array: locals + code + end). `table` is [min, max|undefined],
 * `elements` a count of entries (all function 0) placed at offset 0, `memory` [min, max].
 */
export function assemble({ extraFuncTypes = [], bodies = [], memory = [1, 1], table, elements = 0, custom } = {}) {
  const out = new Sink(64 + bodies.reduce((n, b) => n + b.length + 5, 0) + extraFuncTypes.length * 2 + elements);
  out.push([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  vectorSection(out, 1, ABI_TYPES.length, ABI_TYPES.flat());
  const funcs = new Sink(extraFuncTypes.length * 2 + 8);
  for (const t of [...ABI_FUNC_TYPES, ...extraFuncTypes]) funcs.push(uleb(t));
  vectorSection(out, 3, ABI_FUNC_TYPES.length + extraFuncTypes.length, funcs);
  if (table !== undefined) {
    const [min, max] = table;
    vectorSection(out, 4, 1, [0x70, max === undefined ? 0 : 1, ...uleb(min), ...(max === undefined ? [] : uleb(max))]);
  }
  vectorSection(out, 5, 1, [0x01, ...uleb(memory[0]), ...uleb(memory[1])]);
  vectorSection(out, 6, 1, [I32, 0x01, 0x41, ...sleb(4096), 0x0b]);
  vectorSection(out, 7, ABI_EXPORTS.length, ABI_EXPORTS.flatMap(([n, kind, index]) => [...name(n), kind, ...uleb(index)]));
  if (elements > 0) {
    const seg = new Sink(elements + 16);
    seg.push([0x00, 0x41, 0x00, 0x0b, ...uleb(elements)]);
    seg.push(new Uint8Array(elements)); // function 0, `elements` times
    vectorSection(out, 9, 1, seg);
  }
  const code = new Sink(bodies.reduce((n, b) => n + b.length + 5, 64));
  for (const body of [...ABI_BODIES, ...bodies]) {
    code.push(uleb(body.length));
    code.push(body);
  }
  vectorSection(out, 10, ABI_BODIES.length + bodies.length, code);
  if (custom !== undefined) section(out, 0, [...name('bench'), ...custom]);
  return out.result();
}

/** A small deterministic PRNG (mulberry32). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Filler function locals: params 0, 1 (i32); i32 locals 2..5, i64 local 6, f64 local 7.
const FILLER_LOCALS = [0x03, 0x04, I32, 0x01, I64, 0x01, F64];

/**
 * A valid module of about `targetBytes` (never more) of typical code: functions of 300 B-2 KiB made
 * of stack-neutral snippets in roughly the proportions compiled AssemblyScript shows (local traffic
 * and i32 arithmetic most, then loads and stores, branches and blocks, calls to earlier functions,
 * a little i64 and f64). `seed` varies the constants (so two builds are not byte-identical).
 */
export function typicalCodeModule(targetBytes, seed = 1) {
  const rand = prng(seed);
  const pick = (n) => Math.floor(rand() * n);
  const local = () => 2 + pick(4);
  const fillerBase = ABI_BODIES.length;
  const bodies = [];
  let total = 256; // headers, ABI functions, exports
  const snippet = (out, fn) => {
    const a = local();
    const b = local();
    const c = local();
    const r = rand();
    if (r < 0.22) out.push([0x20, a, 0x20, b, [0x6a, 0x6b, 0x71, 0x72, 0x73, 0x74][pick(6)], 0x21, c]); // arithmetic
    else if (r < 0.32) out.push([0x20, a, 0x41, ...sleb(pick(100000) - 50000), 0x6c, 0x22, c, 0x1a]); // mul, tee, drop
    else if (r < 0.46) out.push([0x20, a, 0x41, ...sleb(0xfff0), 0x71, 0x28, 0x02, ...uleb(pick(64) * 4), 0x21, c]); // i32.load
    else if (r < 0.56) out.push([0x20, a, 0x41, ...sleb(0xfff0), 0x71, 0x20, b, 0x36, 0x02, ...uleb(pick(64) * 4)]); // i32.store
    else if (r < 0.62) out.push([0x20, a, 0x41, ...sleb(0xfff0), 0x71, 0x2d, 0x00, ...uleb(pick(256)), 0x21, c]); // i32.load8_u
    else if (r < 0.70) out.push([0x02, 0x40, 0x20, a, 0x45, 0x0d, 0x00, 0x20, a, 0x41, 0x01, 0x6b, 0x21, a, 0x0b]); // block + br_if
    else if (r < 0.76) out.push([0x20, a, 0x20, b, 0x48, 0x04, 0x40, 0x20, a, 0x41, 0x01, 0x6a, 0x21, a, 0x05, 0x20, b, 0x41, 0x01, 0x6a, 0x21, b, 0x0b]); // if/else
    else if (r < 0.81) out.push([0x41, 0x00, 0x21, c, 0x03, 0x40, 0x20, c, 0x41, 0x01, 0x6a, 0x22, c, 0x41, ...sleb(8 + pick(24)), 0x49, 0x0d, 0x00, 0x0b]); // counted loop
    else if (r < 0.90 && fn > fillerBase) out.push([0x20, a, 0x20, b, 0x10, ...uleb(fillerBase + pick(fn - fillerBase)), 0x21, c]); // call an earlier function
    else if (r < 0.95) out.push([0x20, 0x06, 0x20, a, 0xad, 0x7c, 0x21, 0x06]); // i64 add of an extended i32
    else out.push([0x20, 0x07, 0x20, a, 0xb7, 0xa0, 0x21, 0x07]); // f64 add of a converted i32
  };
  while (true) {
    const fn = fillerBase + bodies.length;
    const size = 300 + pick(1700);
    const body = new Sink(size + 64);
    body.push(FILLER_LOCALS);
    while (body.length < size) snippet(body, fn);
    body.push([0x20, 2, 0x0b]);
    const bytes = body.result();
    const cost = bytes.length + uleb(bytes.length).length + 1;
    if (total + cost > targetBytes) break;
    total += cost;
    bodies.push(bytes);
  }
  return assemble({ extraFuncTypes: bodies.map(() => 3), bodies, memory: [1, 1] });
}

/** A valid module with `count` functions in all (the ABI ones plus empty `() -> ()` functions). */
export function manyFunctionsModule(count) {
  const n = count - ABI_BODIES.length;
  const empty = new Uint8Array([0x00, 0x0b]);
  return assemble({ extraFuncTypes: new Array(n).fill(0), bodies: new Array(n).fill(empty) });
}

/** A valid module whose table has `entries` entries, `elements` of them filled by one active segment. */
export function tableModule(entries, elements = 0) {
  return assemble({ table: [entries, entries], elements });
}

/** `bytes` with a trailing custom section holding `n` (a different module to V8's compile cache, the same code). */
export function variant(bytes, n) {
  const tag = encoder.encode(`variant-${n}`);
  const sec = [0x00, ...uleb(tag.length + 6), ...name('bench').slice(0, 6), ...tag];
  const out = new Uint8Array(bytes.length + sec.length);
  out.set(bytes);
  out.set(sec, bytes.length);
  return out;
}
