// Small wasm helpers for the spec-test harness: a binary encoder for the helper modules, exact
// (bit-level) calls into a module's exports, and the `spectest` host module.
//
// Values cross the JS boundary as JS numbers, which can change the bits of a NaN. So every call
// goes through a tiny wasm wrapper that imports the target function (a wasm-to-wasm call, where
// no conversion happens) and takes and returns floats as their integer bit patterns.

const TYPE = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, funcref: 0x70, externref: 0x6f };
/** The type a value has on the JS side of a wrapper: floats travel as their bits. */
const CARRIER = { i32: 'i32', i64: 'i64', f32: 'i32', f64: 'i64', funcref: 'funcref', externref: 'externref' };

function uleb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function name(text) {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function vec(items) {
  return [...uleb(items.length), ...items.flat()];
}

function section(id, payload) {
  return [id, ...uleb(payload.length), ...payload];
}

function funcType(params, results) {
  return [0x60, ...vec(params.map((t) => [TYPE[t]])), ...vec(results.map((t) => [TYPE[t]]))];
}

function typeByte(t) {
  const b = TYPE[t];
  if (b === undefined) throw new Error(`unknown value type ${t}`);
  return b;
}

/** Assembles a module from its sections (each an array of bytes, in order). */
export function assemble(sections) {
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...sections.flat()]);
}

/**
 * A module importing `t.f : params -> results` and exporting `w`, the same function with f32/f64
 * parameters and results carried as i32/i64 bit patterns.
 */
function callWrapperBytes(params, results) {
  params.forEach(typeByte);
  results.forEach(typeByte);
  const body = [];
  // locals: one per result, in its own type
  body.push(...vec(results.map((t) => [1, TYPE[t]])));
  params.forEach((t, i) => {
    body.push(0x20, ...uleb(i));
    if (t === 'f32') body.push(0xbe); // f32.reinterpret_i32
    if (t === 'f64') body.push(0xbf); // f64.reinterpret_i64
  });
  body.push(0x10, 0x00); // call $f
  for (let i = results.length - 1; i >= 0; i--) body.push(0x21, ...uleb(params.length + i));
  results.forEach((t, i) => {
    body.push(0x20, ...uleb(params.length + i));
    if (t === 'f32') body.push(0xbc); // i32.reinterpret_f32
    if (t === 'f64') body.push(0xbd); // i64.reinterpret_f64
  });
  body.push(0x0b);
  return assemble([
    section(1, vec([funcType(params, results), funcType(params.map((t) => CARRIER[t]), results.map((t) => CARRIER[t]))])),
    section(2, vec([[...name('t'), ...name('f'), 0x00, 0x00]])),
    section(3, vec([[0x01]])),
    section(7, vec([[...name('w'), 0x00, 0x01]])),
    section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

/** A module importing global `t.g` (of type `type`, mutable or not) and exporting `r`, which returns its bits. */
function globalReaderBytes(type, mutable) {
  const body = [0x00, 0x23, 0x00];
  if (type === 'f32') body.push(0xbc);
  if (type === 'f64') body.push(0xbd);
  body.push(0x0b);
  return assemble([
    section(1, vec([funcType([], [CARRIER[type]])])),
    section(2, vec([[...name('t'), ...name('g'), 0x03, TYPE[type], mutable ? 1 : 0]])),
    section(3, vec([[0x00]])),
    section(7, vec([[...name('r'), 0x00, 0x00]])),
    section(10, vec([[...uleb(body.length), ...body]])),
  ]);
}

const wrapperModules = new Map();
function cachedModule(key, build) {
  let module = wrapperModules.get(key);
  if (module === undefined) {
    module = new WebAssembly.Module(build());
    wrapperModules.set(key, module);
  }
  return module;
}

const wrappers = new WeakMap(); // exported function -> Map(signature -> wrapper)

/**
 * Calls wasm function `fn` with `args` (JS carrier values: i32 numbers, i64 BigInts, floats as
 * bits) as a `params -> results` function. Returns the results as carrier values, in an array.
 * Throws what the call throws; a LinkError means the signature does not match.
 */
export function callExact(fn, params, results, args) {
  const key = `${params.join(',')}->${results.join(',')}`;
  let perFn = wrappers.get(fn);
  if (perFn === undefined) wrappers.set(fn, (perFn = new Map()));
  let w = perFn.get(key);
  if (w === undefined) {
    const module = cachedModule(`call:${key}`, () => callWrapperBytes(params, results));
    w = new WebAssembly.Instance(module, { t: { f: fn } }).exports.w;
    perFn.set(key, w);
  }
  const out = w(...args);
  if (results.length === 0) return [];
  if (results.length === 1) return [out];
  return [...out];
}

/** Reads global `g` of value type `type` exactly (floats as bits); undefined when the type does not match. */
export function readGlobalExact(g, type) {
  if (!(g instanceof WebAssembly.Global)) return undefined;
  for (const mutable of [false, true]) {
    let instance;
    try {
      instance = new WebAssembly.Instance(cachedModule(`global:${type}:${mutable}`, () => globalReaderBytes(type, mutable)), { t: { g } });
    } catch (err) {
      if (err instanceof WebAssembly.LinkError) continue;
      throw err;
    }
    return instance.exports.r();
  }
  return undefined;
}

// The spectest module's print functions are wasm functions (so that importing one with another
// signature fails to link, as the spec requires), forwarding to a JS logger.
const PRINTS = {
  print: [],
  print_i32: ['i32'],
  print_i64: ['i64'],
  print_f32: ['f32'],
  print_f64: ['f64'],
  print_i32_f32: ['i32', 'f32'],
  print_f64_f64: ['f64', 'f64'],
};

function printModuleBytes() {
  const names = Object.keys(PRINTS);
  const types = names.map((n) => funcType(PRINTS[n], []));
  const imports = names.map((n, i) => [...name('log'), ...name(n), 0x00, ...uleb(i)]);
  const exports = names.map((n, i) => [...name(n), 0x00, ...uleb(i)]);
  return assemble([section(1, vec(types)), section(2, vec(imports)), section(7, vec(exports))]);
}

/**
 * A fresh `spectest` module: its own memory, table and globals, and print functions that append
 * `[name, ...args]` to `log`.
 */
export function createSpectest(log) {
  const module = cachedModule('spectest', printModuleBytes);
  const logImports = {};
  for (const n of Object.keys(PRINTS)) logImports[n] = (...args) => void log.push([n, ...args.map(String)]);
  const prints = new WebAssembly.Instance(module, { log: logImports }).exports;
  return {
    ...prints,
    global_i32: new WebAssembly.Global({ value: 'i32', mutable: false }, 666),
    global_i64: new WebAssembly.Global({ value: 'i64', mutable: false }, 666n),
    global_f32: new WebAssembly.Global({ value: 'f32', mutable: false }, 666.6),
    global_f64: new WebAssembly.Global({ value: 'f64', mutable: false }, 666.6),
    table: new WebAssembly.Table({ element: 'anyfunc', initial: 10, maximum: 20 }),
    memory: new WebAssembly.Memory({ initial: 1, maximum: 2 }),
  };
}
