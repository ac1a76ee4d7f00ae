// Interprets one spec script (the JSON command list `wast2json` writes) in two worlds at once:
// the original modules, and the same modules after `meterModule`. The original world is checked
// against the script's expectations (which checks the harness itself); the metered world must give
// exactly the same outcome as the original for every command.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { callExact, createSpectest, readGlobalExact } from './wasm.mjs';

const FORBIDDEN = 'HC_ERR_WASM_FEATURE_FORBIDDEN';
const INVALID = 'HC_ERR_WASM_INVALID';
const SHAPE_LIMIT = 'HC_ERR_WASM_SHAPE_LIMIT';

/** Fuel given to the metered module before every action (and as startFuel). */
export const LARGE_FUEL = 1_000_000_000;

/**
 * V8's trap message for each trap text of the spec scripts. An assert_trap whose text is not listed
 * accepts any trap from the original (and the metered module must still give the same message).
 */
const TRAP_MESSAGES = {
  'integer divide by zero': ['divide by zero', 'remainder by zero'],
  'integer overflow': ['divide result unrepresentable', 'float unrepresentable in integer range'],
  'invalid conversion to integer': ['float unrepresentable in integer range'],
  'out of bounds memory access': ['memory access out of bounds'],
  'unreachable': ['unreachable'],
  'undefined element': ['table index is out of bounds'],
  'uninitialized element': ['null function or function signature mismatch'],
  'uninitialized element 2': ['null function or function signature mismatch'],
  'uninitialized': ['null function or function signature mismatch'],
  'indirect call type mismatch': ['null function or function signature mismatch'],
  'indirect call': ['null function or function signature mismatch'],
  'out of bounds table access': ['table index is out of bounds', 'table access out of bounds', 'element segment out of bounds'],
  'undefined': ['table index is out of bounds'],
};

// externref values of the scripts (`ref.extern N`): the same host object in both worlds.
const externs = new Map();
function externValue(n) {
  let value = externs.get(n);
  if (value === undefined) externs.set(n, (value = { externref: n }));
  return value;
}

/** A script value as the JS-side carrier value of a call wrapper (floats as bits). */
function argValue({ type, value }) {
  switch (type) {
    case 'i32':
    case 'f32':
      return Number(BigInt.asIntN(32, BigInt(value)));
    case 'i64':
    case 'f64':
      return BigInt.asIntN(64, BigInt(value));
    case 'externref':
      return value === 'null' ? null : externValue(value);
    case 'funcref':
      if (value === 'null') return null;
      throw new Error(`funcref argument ${value}`);
    default:
      throw new Error(`argument of type ${type}`);
  }
}

function show(type, v) {
  if (v === null) return 'null';
  if (typeof v === 'function') return 'func';
  if (typeof v === 'object') return `ref.extern ${v.externref}`;
  if (type === 'f32') return `f32:0x${(v >>> 0).toString(16)}`;
  if (type === 'f64') return `f64:0x${BigInt.asUintN(64, v).toString(16)}`;
  if (type === 'i64') return `i64:${BigInt.asIntN(64, v)}`;
  return `${type}:${v}`;
}

function matchesExpected(expected, v) {
  const { type, value } = expected;
  switch (type) {
    case 'i32':
      return typeof v === 'number' && BigInt.asUintN(32, BigInt(v)) === BigInt(value);
    case 'i64':
      return typeof v === 'bigint' && BigInt.asUintN(64, v) === BigInt(value);
    case 'f32': {
      if (typeof v !== 'number') return false;
      const bits = v >>> 0;
      if (value === 'nan:canonical') return (bits & 0x7fffffff) === 0x7fc00000;
      if (value === 'nan:arithmetic') return (bits & 0x7fc00000) === 0x7fc00000;
      return bits === Number(value);
    }
    case 'f64': {
      if (typeof v !== 'bigint') return false;
      const bits = BigInt.asUintN(64, v);
      if (value === 'nan:canonical') return (bits & 0x7fffffffffffffffn) === 0x7ff8000000000000n;
      if (value === 'nan:arithmetic') return (bits & 0x7ff8000000000000n) === 0x7ff8000000000000n;
      return bits === BigInt(value);
    }
    case 'externref':
      return value === 'null' ? v === null : v === externValue(value);
    case 'funcref':
      return value === 'null' ? v === null : typeof v === 'function';
    default:
      return false;
  }
}

function sameValue(a, b) {
  if (typeof a === 'function' && typeof b === 'function') return true; // different worlds, different objects
  return a === b;
}

function describe(outcome) {
  switch (outcome.kind) {
    case 'return':
      return `return [${outcome.values.map((v, i) => show(outcome.types[i], v)).join(', ')}]`;
    case 'trap':
      return `trap "${outcome.message}"`;
    case 'out-of-fuel':
      return `out of fuel (trap "${outcome.message}", fuel ${outcome.fuel})`;
    default:
      return `${outcome.kind}${outcome.message === undefined ? '' : ` "${outcome.message}"`}`;
  }
}

/**
 * Whether two outcomes are the same. Results are compared bit for bit, except where the script
 * expects a NaN pattern (nan:canonical / nan:arithmetic): there the spec lets the NaN's other bits
 * vary, and V8 may (constant folding in one tier, not the other), so the metered result must only
 * match the same pattern.
 */
function sameOutcome(a, b, expected = []) {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'return') {
    return (
      a.values.length === b.values.length &&
      a.values.every((v, i) => {
        const e = expected[i];
        if (e !== undefined && typeof e.value === 'string' && e.value.startsWith('nan:')) return matchesExpected(e, v) === matchesExpected(e, b.values[i]);
        return sameValue(v, b.values[i]);
      })
    );
  }
  return a.message === b.message;
}

function classify(err) {
  if (err instanceof WebAssembly.RuntimeError) return { kind: 'trap', message: err.message };
  if (err instanceof RangeError && /call stack/i.test(err.message)) return { kind: 'exhaustion', message: undefined };
  if (err instanceof WebAssembly.LinkError) return { kind: 'link-error', message: undefined };
  if (err instanceof WebAssembly.CompileError) return { kind: 'compile-error', message: undefined };
  return { kind: 'error', message: `${err?.name}: ${err?.message}` };
}

const errText = (err) => `${err?.name ?? typeof err}${err?.code ? ` ${err.code}` : ''}: ${String(err?.message ?? err).split('\n')[0].slice(0, 300)}`;

/** One side of the run: its spectest instance, registered and named modules, and the current one. */
class World {
  constructor(metered) {
    this.metered = metered;
    this.log = [];
    this.spectest = createSpectest(this.log);
    this.registered = new Map();
    this.named = new Map();
    this.current = undefined;
  }

  /** The import object for `module`; `undefined` names a registered module the metered side refused. */
  imports(module) {
    const object = {};
    const refusedFrom = new Set();
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.module === 'spectest') {
        object.spectest = this.spectest;
        continue;
      }
      const entry = this.registered.get(imp.module);
      if (entry?.refused !== undefined || entry?.broken !== undefined) refusedFrom.add(imp.module);
      object[imp.module] ??= entry?.exports ?? {};
    }
    return { object, refusedFrom: [...refusedFrom] };
  }
}

/**
 * Runs one converted script. `ctx`: { meter(bytes) -> Uint8Array, fuelExport, validateAllowed(bytes)
 * -> null | string (why the module needs a feature outside the allowlist), validateAll(bytes) -> null | string }.
 */
export function runFile(jsonPath, ctx) {
  const script = JSON.parse(readFileSync(jsonPath, 'utf8'));
  const dir = dirname(jsonPath);
  const orig = new World(false);
  const met = new World(true);
  const stats = { commands: 0, passed: 0, failed: 0, refused: 0, shapeRefused: 0, originalOnly: 0, text: 0, fuelUsed: 0, meteredCalls: 0, traps: {} };
  const failures = [];
  const notes = [];
  let line; // of the command being run
  let problems; // failures of the command being run

  const fail = (msg) => problems.push(msg);

  /** meterModule's answer: { bytes } | { code, message } | { crash }. */
  const meter = (bytes) => {
    try {
      return { bytes: ctx.meter(bytes) };
    } catch (err) {
      if (typeof err?.code === 'string' && err.code.startsWith('HC_ERR_')) return { code: err.code, message: err.message };
      return { crash: errText(err) };
    }
  };

  const setFuel = (entry, n) => {
    entry.fuel.value = n;
  };

  /**
   * Meters a module the original side compiled, and checks the verdict against validation with
   * only the allowed features. Returns { module } or { refused } (a verdict that was right) or
   * { broken } (a failure already reported).
   */
  const meterValid = (bytes, origModule) => {
    const m = meter(bytes);
    const needs = ctx.validateAllowed(bytes);
    if (m.crash !== undefined) {
      fail(`meterModule threw a non-HomecoreError on a valid module: ${m.crash}`);
      return { broken: 'meterModule crashed' };
    }
    if (m.code !== undefined) {
      if (m.code === FORBIDDEN && needs !== null) return { refused: m.message };
      if (m.code === SHAPE_LIMIT) {
        // a host policy on the module's size, not a verdict on features or a rewrite
        stats.shapeRefused++;
        notes.push(`line ${line} refused by a shape limit: ${m.message}`);
        return { refused: m.message, shape: true };
      }
      if (m.code === FORBIDDEN) fail(`meterModule refused (${m.code}: ${m.message}) a module that validates with only the allowed features`);
      else fail(`meterModule refused a valid module: ${m.code}: ${m.message}${needs !== null ? ` (it does need a forbidden feature: ${needs})` : ''}`);
      return { broken: m.code };
    }
    if (needs !== null) fail(`meterModule accepted a module that needs a forbidden feature (allowed-features validation: ${needs})`);
    let module;
    try {
      module = new WebAssembly.Module(m.bytes);
    } catch (err) {
      fail(`metered module does not compile: ${errText(err)}`);
      return { broken: 'compile' };
    }
    // Same imports, same exports plus the fuel global.
    const key = (d) => `${d.module ?? ''}\u0000${d.name}\u0000${d.kind}`;
    const oi = WebAssembly.Module.imports(origModule).map(key);
    const mi = WebAssembly.Module.imports(module).map(key);
    if (oi.join('\n') !== mi.join('\n')) fail(`metered imports differ: ${JSON.stringify(WebAssembly.Module.imports(module))} vs ${JSON.stringify(WebAssembly.Module.imports(origModule))}`);
    const oe = WebAssembly.Module.exports(origModule).map(key).sort();
    const me = WebAssembly.Module.exports(module).map(key).sort();
    const expected = [...oe, key({ name: ctx.fuelExport, kind: 'global' })].sort();
    if (me.join('\n') !== expected.join('\n')) fail(`metered exports ${JSON.stringify(WebAssembly.Module.exports(module))} are not the original's plus global ${ctx.fuelExport}`);
    return { module };
  };

  /** Instantiates in `world`; returns { entry } or { error: outcome }. */
  const instantiate = (world, module) => {
    const { object, refusedFrom } = world.imports(module);
    if (refusedFrom.length > 0) return { refusedFrom };
    try {
      const instance = new WebAssembly.Instance(module, object);
      const entry = { exports: instance.exports };
      if (world.metered) {
        entry.fuel = instance.exports[ctx.fuelExport];
        if (!(entry.fuel instanceof WebAssembly.Global)) return { error: { kind: 'error', message: `no ${ctx.fuelExport} global export` } };
        const left = entry.fuel.value;
        if (typeof left !== 'number' || left < 0) return { error: { kind: 'error', message: `fuel after instantiation is ${left}` } };
        setFuel(entry, LARGE_FUEL);
        if (entry.fuel.value !== LARGE_FUEL) return { error: { kind: 'error', message: `${ctx.fuelExport} is not a mutable i32 global` } };
      }
      return { entry };
    } catch (err) {
      const outcome = classify(err);
      if (world.metered && outcome.kind === 'trap') {
        // a trap from the start function: tell fuel exhaustion apart where we can
        outcome.message = err.message;
      }
      return { error: outcome };
    }
  };

  const resolve = (world, action) => (action.module === undefined ? world.current : world.named.get(action.module));

  /** Runs an action in one world: an outcome, or { kind: 'refused' } for a module the metered side refused. */
  const run = (world, action, resultTypes) => {
    const entry = resolve(world, action);
    if (entry === undefined) return { kind: 'error', message: `no module ${action.module ?? '(current)'}` };
    if (entry.refused !== undefined) return { kind: 'refused' };
    if (entry.broken !== undefined) return { kind: 'broken', message: entry.broken };
    const target = entry.exports[action.field];
    if (action.type === 'get') {
      const type = resultTypes[0];
      const v = readGlobalExact(target, type);
      if (v === undefined) return { kind: 'error', message: `${action.field} is not a ${type} global` };
      return { kind: 'return', values: [v], types: resultTypes };
    }
    if (typeof target !== 'function') return { kind: 'error', message: `${action.field} is not a function export` };
    const params = action.args.map((a) => a.type);
    const args = action.args.map(argValue);
    if (world.metered) setFuel(entry, LARGE_FUEL);
    let outcome;
    try {
      outcome = { kind: 'return', values: callExact(target, params, resultTypes, args), types: resultTypes };
    } catch (err) {
      outcome = classify(err);
    }
    if (world.metered) {
      const left = entry.fuel.value;
      // The counter lives in a local while a function runs and reaches the global at calls and
      // exits, so only calls that return show what they used.
      if (outcome.kind === 'return') {
        stats.meteredCalls++;
        stats.fuelUsed += LARGE_FUEL - left;
      }
      if (left < 0 && outcome.kind === 'trap') return { kind: 'out-of-fuel', message: outcome.message, fuel: left };
      if (left < 0 || left > LARGE_FUEL) return { kind: 'error', message: `fuel left ${left} after ${describe(outcome)}` };
    }
    return outcome;
  };

  /** Runs an action in both worlds; checks that the metered outcome equals the original's. */
  const both = (action, resultTypes, expected) => {
    const logBefore = [orig.log.length, met.log.length];
    const o = run(orig, action, resultTypes);
    const m = run(met, action, resultTypes);
    if (m.kind === 'refused') {
      stats.originalOnly++;
    } else if (!sameOutcome(o, m, expected)) {
      fail(`metered ${describe(m)} but original ${describe(o)} (${action.field}${action.args ? `(${action.args.map((a) => `${a.type}:${a.value}`).join(' ')})` : ''})`);
    } else {
      const ol = JSON.stringify(orig.log.slice(logBefore[0]));
      const ml = JSON.stringify(met.log.slice(logBefore[1]));
      if (ol !== ml) fail(`metered printed ${ml} but original printed ${ol}`);
    }
    return o;
  };

  const loadBytes = (cmd) => new Uint8Array(readFileSync(join(dir, cmd.filename)));

  const handlers = {
    module(cmd) {
      const bytes = loadBytes(cmd);
      let origModule;
      try {
        origModule = new WebAssembly.Module(bytes);
      } catch (err) {
        fail(`original does not compile: ${errText(err)}`);
        origModule = undefined;
      }
      let oEntry = { broken: 'original failed' };
      if (origModule !== undefined) {
        const r = instantiate(orig, origModule);
        if (r.entry !== undefined) oEntry = r.entry;
        else fail(`original does not instantiate: ${describe(r.error ?? { kind: 'refused imports' })}`);
      }
      let mEntry;
      if (origModule === undefined) mEntry = { broken: 'original failed' };
      else {
        const v = meterValid(bytes, origModule);
        if (v.refused !== undefined) {
          if (!v.shape) stats.refused++;
          mEntry = { refused: v.refused };
        } else if (v.broken !== undefined) mEntry = { broken: v.broken };
        else {
          const r = instantiate(met, v.module);
          if (r.refusedFrom !== undefined) {
            stats.refused++;
            mEntry = { refused: `imports from refused module ${r.refusedFrom.join(', ')}` };
          } else if (r.entry !== undefined) mEntry = r.entry;
          else {
            fail(`metered module does not instantiate: ${describe(r.error)}`);
            mEntry = { broken: 'instantiate' };
          }
        }
      }
      orig.current = oEntry;
      met.current = mEntry;
      if (cmd.name !== undefined) {
        orig.named.set(cmd.name, oEntry);
        met.named.set(cmd.name, mEntry);
      }
    },
    register(cmd) {
      for (const w of [orig, met]) {
        const entry = cmd.name === undefined ? w.current : w.named.get(cmd.name);
        if (entry === undefined) fail(`register: no module ${cmd.name}`);
        else w.registered.set(cmd.as, entry);
      }
    },
    action(cmd) {
      const o = both(cmd.action, (cmd.expected ?? []).map((e) => e.type));
      if (o.kind !== 'return') fail(`original: ${describe(o)}`);
    },
    assert_return(cmd) {
      const o = both(cmd.action, cmd.expected.map((e) => e.type), cmd.expected);
      if (o.kind !== 'return') fail(`original: ${describe(o)}, expected a return`);
      else if (!cmd.expected.every((e, i) => matchesExpected(e, o.values[i]))) {
        fail(`original: ${describe(o)}, expected [${cmd.expected.map((e) => `${e.type}:${e.value}`).join(', ')}]`);
      }
    },
    assert_trap(cmd) {
      const o = both(cmd.action, (cmd.expected ?? []).map((e) => e.type));
      if (o.kind !== 'trap') fail(`original: ${describe(o)}, expected trap "${cmd.text}"`);
      else {
        const want = TRAP_MESSAGES[cmd.text];
        (stats.traps[cmd.text] ??= new Set()).add(o.message);
        if (want !== undefined && !want.includes(o.message)) fail(`original: trap "${o.message}", expected "${cmd.text}"`);
      }
    },
    assert_exhaustion(cmd) {
      const o = both(cmd.action, (cmd.expected ?? []).map((e) => e.type));
      if (o.kind !== 'exhaustion') fail(`original: ${describe(o)}, expected exhaustion`);
    },
    assert_invalid(cmd) {
      handlers.assert_malformed(cmd);
    },
    assert_malformed(cmd) {
      if (cmd.module_type === 'text') {
        stats.text++;
        return 'text';
      }
      const bytes = loadBytes(cmd);
      try {
        new WebAssembly.Module(bytes);
        fail(`original compiles, expected ${cmd.type} "${cmd.text}"`);
      } catch (err) {
        if (!(err instanceof WebAssembly.CompileError)) fail(`original: ${errText(err)}, expected a CompileError`);
      }
      const m = meter(bytes);
      if (m.crash !== undefined) fail(`meterModule threw a non-HomecoreError on a ${cmd.type.slice(7)} module: ${m.crash}`);
      else if (m.code !== undefined) {
        if (![INVALID, FORBIDDEN, SHAPE_LIMIT].includes(m.code)) fail(`meterModule refused it with an unexpected code ${m.code}`);
      } else {
        try {
          new WebAssembly.Module(m.bytes);
          fail(`meterModule accepted a ${cmd.type.slice(7)} module ("${cmd.text}") and its output compiles`);
        } catch {
          // refused by the engine after the rewrite: acceptable
        }
      }
      return undefined;
    },
    assert_unlinkable(cmd) {
      handlers.assert_uninstantiable(cmd, 'link-error');
    },
    assert_uninstantiable(cmd, want = 'trap') {
      const bytes = loadBytes(cmd);
      let origModule;
      try {
        origModule = new WebAssembly.Module(bytes);
      } catch (err) {
        fail(`original does not compile: ${errText(err)}`);
        return;
      }
      const o = instantiate(orig, origModule);
      const oOutcome = o.error ?? { kind: 'instantiated' };
      // a missing import module is a TypeError in the JS API, a missing field a LinkError
      if (oOutcome.kind !== want) fail(`original: ${describe(oOutcome)}, expected ${want} "${cmd.text}"`);
      const v = meterValid(bytes, origModule);
      if (v.refused !== undefined) {
        if (!v.shape) stats.refused++;
        stats.originalOnly++;
        return;
      }
      if (v.module === undefined) return;
      const r = instantiate(met, v.module);
      if (r.refusedFrom !== undefined) {
        stats.originalOnly++;
        return;
      }
      const mOutcome = r.error ?? { kind: 'instantiated' };
      if (!sameOutcome(oOutcome, mOutcome)) fail(`metered instantiation: ${describe(mOutcome)} but original ${describe(oOutcome)}`);
    },
  };

  for (const cmd of script.commands) {
    stats.commands++;
    line = cmd.line;
    problems = [];
    const handler = handlers[cmd.type];
    let result;
    try {
      if (handler === undefined) fail(`unknown command type ${cmd.type}`);
      else result = handler(cmd);
    } catch (err) {
      fail(`harness error: ${errText(err)}`);
    }
    if (problems.length > 0) {
      stats.failed++;
      for (const p of problems) failures.push(`line ${cmd.line} ${cmd.type}: ${p}`);
    } else if (result !== 'text') stats.passed++;
  }
  stats.traps = Object.fromEntries(Object.entries(stats.traps).map(([k, v]) => [k, [...v]]));
  return { stats, failures, notes };
}
