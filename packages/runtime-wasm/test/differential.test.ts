// Differential tests of the fuel rewriter: random valid modules (random-module.ts) run unmetered
// and metered with a large budget must return the same values, trap the same way, and leave the
// same memory, globals and host-call log; with a budget too small they must trap out of fuel.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FUEL_EXPORT, meterModule } from '@homecore/runtime-wasm';
import { describe, expect, test } from 'vitest';
import { Rng, generatedImports, randomArg, randomModule, type GeneratedFunction, type GeneratedModule, type ValType } from './random-module.js';

const wabt = await (await import('wabt')).default();

/** The features the host allows, and nothing else. */
const ALLOWED = {
  mutable_globals: true,
  sat_float_to_int: true,
  sign_extension: true,
  bulk_memory: true,
  multi_value: true,
  simd: false,
  reference_types: false,
  threads: false,
  tail_call: false,
  exceptions: false,
  memory64: false,
  multi_memory: false,
  gc: false,
  function_references: false,
  extended_const: false,
  relaxed_simd: false,
};

// More modules, other seeds or deeper code for a longer hunt:
// DIFFERENTIAL_MODULES=5000 DIFFERENTIAL_FIRST_SEED=1000 DIFFERENTIAL_DEPTH=6 npx vitest run packages/runtime-wasm/test/differential.test.ts
const MODULES = Number(process.env.DIFFERENTIAL_MODULES ?? 200);
const FIRST_SEED = Number(process.env.DIFFERENTIAL_FIRST_SEED ?? 1);
const DEPTH = process.env.DIFFERENTIAL_DEPTH === undefined ? {} : { depth: Number(process.env.DIFFERENTIAL_DEPTH) };
const CALLS_PER_FUNCTION = 3;
const LARGE_FUEL = 1_000_000_000;
/** Loop iterations a call may make in all (the generated modules' `budget` global). */
const LOOP_BUDGET = 300;

function toBytes(m: GeneratedModule): Uint8Array {
  const parsed = wabt.parseWat(`seed-${m.seed}.wat`, m.wat, ALLOWED);
  try {
    parsed.validate();
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** A result as text: integers as they are, floats as their bits, any NaN as `nan` (its payload may differ between V8's tiers). */
function show(type: ValType, v: unknown): string {
  if (type === 'f32' || type === 'f64') {
    if (typeof v !== 'number') return `not a number: ${String(v)}`;
    if (Number.isNaN(v)) return 'nan';
    if (type === 'f32') {
      f32[0] = v;
      return `f32:0x${(u32[0] as number).toString(16)}`;
    }
    f64[0] = v;
    return `f64:0x${(u64[0] as bigint).toString(16)}`;
  }
  return `${type}:${String(v)}`;
}

type Outcome = { kind: 'return'; values: string[] } | { kind: 'trap'; message: string } | { kind: 'error'; message: string };

function outcomeOf(run: () => unknown, results: readonly ValType[]): Outcome {
  try {
    const out = run();
    const values = results.length === 0 ? [] : results.length === 1 ? [out] : [...(out as unknown[])];
    return { kind: 'return', values: values.map((v, i) => show(results[i] as ValType, v)) };
  } catch (err) {
    if (err instanceof WebAssembly.RuntimeError) return { kind: 'trap', message: err.message };
    return { kind: 'error', message: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

interface Side {
  exports: Record<string, unknown>;
  log: number[];
  counter: WebAssembly.Global;
}

function instantiate(module: WebAssembly.Module): { side?: Side; outcome: Outcome } {
  const imports = generatedImports();
  let side: Side | undefined;
  const outcome = outcomeOf(() => {
    const instance = new WebAssembly.Instance(module, imports.object);
    side = { exports: instance.exports as Record<string, unknown>, log: imports.log, counter: imports.counter };
  }, []);
  return side === undefined ? { outcome } : { side, outcome };
}

/** Everything a run leaves behind that the guest or host can see, except memory. */
function state(m: GeneratedModule, side: Side): string {
  const globals = m.globalGetters.map((g) => String((side.exports[g] as () => number | bigint)()));
  return JSON.stringify({ globals, log: side.log, counter: side.counter.value });
}

function memoryOf(side: Side): Buffer {
  return Buffer.from((side.exports.mem as WebAssembly.Memory).buffer);
}

/** Where two sides differ (memory first), or undefined. */
function stateDifference(m: GeneratedModule, a: Side, b: Side): string | undefined {
  const ma = memoryOf(a);
  const mb = memoryOf(b);
  if (!ma.equals(mb)) {
    if (ma.length !== mb.length) return `memory size ${ma.length} vs ${mb.length} bytes`;
    const at = ma.findIndex((v, i) => v !== mb[i]);
    return `memory differs from byte ${at}: ${ma.subarray(at, at + 8).toString('hex')} vs ${mb.subarray(at, at + 8).toString('hex')}`;
  }
  const sa = state(m, a);
  const sb = state(m, b);
  return sa === sb ? undefined : `globals or host calls: ${sa} vs ${sb}`;
}

function fuelOf(side: Side): WebAssembly.Global {
  const fuel = side.exports[FUEL_EXPORT];
  if (!(fuel instanceof WebAssembly.Global)) throw new Error(`the metered module exports no ${FUEL_EXPORT} global`);
  return fuel;
}

function call(side: Side, f: GeneratedFunction, args: readonly (number | bigint)[], fuel?: number): Outcome {
  (side.exports.budget as WebAssembly.Global).value = LOOP_BUDGET;
  if (fuel !== undefined) fuelOf(side).value = fuel;
  return outcomeOf(() => (side.exports[f.name] as (...a: unknown[]) => unknown)(...args), f.results);
}

const describeCall = (f: GeneratedFunction, args: readonly (number | bigint)[]): string => `${f.name}(${args.map((a) => (typeof a === 'bigint' ? `${a}n` : Object.is(a, -0) ? '-0' : String(a))).join(', ')})`;

/** Keeps a failing module's WAT where a developer can find it. */
function saved(m: GeneratedModule): string {
  const path = join(tmpdir(), `homecore-differential-seed-${m.seed}.wat`);
  writeFileSync(path, m.wat);
  return path;
}

const generated = Array.from({ length: MODULES }, (_, i) => {
  const m = randomModule(FIRST_SEED + i, DEPTH);
  return { m, bytes: toBytes(m) };
});

describe('random modules, unmetered and metered with a large budget', () => {
  test(`${MODULES} modules compute the same results, traps, memory, globals and host calls`, () => {
    const mismatches: string[] = [];
    let calls = 0;
    let traps = 0;
    const trapKinds: Record<string, number> = {};
    for (const { m, bytes } of generated) {
      const problem = (what: string): void => void mismatches.push(`seed ${m.seed} (${saved(m)}): ${what}`);
      let metered: Uint8Array;
      try {
        metered = meterModule(bytes, { startFuel: LARGE_FUEL });
      } catch (err) {
        problem(`meterModule refused a valid module: ${(err as { code?: string }).code} ${(err as Error).message}`);
        continue;
      }
      const original = new WebAssembly.Module(bytes);
      let meteredModule: WebAssembly.Module;
      try {
        meteredModule = new WebAssembly.Module(metered);
      } catch (err) {
        problem(`the metered module does not compile: ${(err as Error).message}`);
        continue;
      }
      const key = (d: { module?: string; name: string; kind: string }): string => `${d.module ?? ''}.${d.name}:${d.kind}`;
      const imports = [WebAssembly.Module.imports(original).map(key), WebAssembly.Module.imports(meteredModule).map(key)];
      if (JSON.stringify(imports[0]) !== JSON.stringify(imports[1])) problem(`imports differ: ${JSON.stringify(imports)}`);
      const exports = [[...WebAssembly.Module.exports(original).map(key), `.${FUEL_EXPORT}:global`].sort(), WebAssembly.Module.exports(meteredModule).map(key).sort()];
      if (JSON.stringify(exports[0]) !== JSON.stringify(exports[1])) problem(`exports are not the original's plus ${FUEL_EXPORT}: ${JSON.stringify(exports[1])}`);

      const a = instantiate(original);
      const b = instantiate(meteredModule);
      if (JSON.stringify(a.outcome) !== JSON.stringify(b.outcome)) {
        problem(`instantiation (start function): original ${JSON.stringify(a.outcome)}, metered ${JSON.stringify(b.outcome)}`);
        continue;
      }
      if (a.side === undefined || b.side === undefined) continue;
      const afterStart = stateDifference(m, a.side, b.side);
      if (afterStart !== undefined) problem(`after the start function: ${afterStart}`);
      if ((fuelOf(b.side).value as number) < 0) problem('fuel negative after the start function');

      const rng = new Rng(m.seed);
      for (const f of m.functions) {
        for (let k = 0; k < CALLS_PER_FUNCTION; k++) {
          const args = f.params.map((t) => randomArg(rng, t));
          const o = call(a.side, f, args);
          const mo = call(b.side, f, args, LARGE_FUEL);
          calls++;
          if (o.kind === 'trap') {
            traps++;
            trapKinds[o.message] = (trapKinds[o.message] ?? 0) + 1;
          }
          const left = fuelOf(b.side).value as number;
          if (JSON.stringify(o) !== JSON.stringify(mo)) problem(`${describeCall(f, args)}: original ${JSON.stringify(o)}, metered ${JSON.stringify(mo)} (fuel left ${left})`);
          else if (left < 0 || left > LARGE_FUEL) problem(`${describeCall(f, args)}: fuel left ${left} of ${LARGE_FUEL}`);
          const after = stateDifference(m, a.side, b.side);
          if (after !== undefined) problem(`after ${describeCall(f, args)}: ${after}`);
        }
        if (mismatches.length > 20) break;
      }
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
    // the generator must exercise returns and traps of many kinds
    expect(calls).toBeGreaterThan(MODULES * 5);
    expect(traps).toBeGreaterThan(calls / 50);
    expect(traps).toBeLessThan(calls * 0.6);
    if (MODULES >= 200) expect(Object.keys(trapKinds).length, JSON.stringify(trapKinds)).toBeGreaterThanOrEqual(7);
  });
});

describe('fuel', () => {
  test('an endless loop with a small budget traps and leaves the counter negative', () => {
    const parsed = wabt.parseWat('spin.wat', '(module (func (export "spin") (loop (br 0))))', ALLOWED);
    const bytes = new Uint8Array(parsed.toBinary({}).buffer);
    parsed.destroy();
    const exports = new WebAssembly.Instance(new WebAssembly.Module(meterModule(bytes, { startFuel: 0 }))).exports as Record<string, unknown>;
    const fuel = exports[FUEL_EXPORT] as WebAssembly.Global;
    fuel.value = 1000;
    expect(() => (exports.spin as () => void)()).toThrow(WebAssembly.RuntimeError);
    expect(fuel.value).toBeLessThan(0);
  });

  test.each([
    ['br', '(func (export "run") (loop (br 0)))'],
    ['br_if', '(func (export "run") (loop (br_if 0 (i32.const 1))))'],
    ['br_table', '(func (export "run") (loop (block (br_table 1 0 (i32.const 0)))))'],
    ['br_table default', '(func (export "run") (loop (block (br_table 0 1 (i32.const 7)))))'],
    ['br from an if', '(func (export "run") (loop (if (i32.const 1) (then (br 1)))))'],
    ['br from an else', '(func (export "run") (loop (if (i32.const 0) (then) (else (br 1)))))'],
    ['br from nested blocks', '(func (export "run") (loop (block (block (block (br 3))))))'],
    ['a loop with a result', '(func (export "run") (result i32) (loop (result i32) (br 0)))'],
    ['a loop with a parameter', '(func (export "run") (i32.const 1) (loop (param i32) (br 0)) (unreachable))'],
    ['nothing but nops and drops', '(func (export "run") (loop (nop) (drop (i32.const 0)) (br 0)))'],
    ['recursion', '(func $f (export "run") (call $f))'],
    ['mutual recursion', '(func $f (export "run") (call $g)) (func $g (call $f))'],
    ['recursion through call_indirect', '(type $t (func)) (table 1 funcref) (elem (i32.const 0) $f) (func $f (export "run") (call_indirect (type $t) (i32.const 0)))'],
    ['memory.fill of nothing', '(memory 1 1) (func (export "run") (loop (memory.fill (i32.const 0) (i32.const 0) (i32.const 0)) (br 0)))'],
    ['memory.grow by nothing', '(memory 1 1) (func (export "run") (loop (drop (memory.grow (i32.const 0))) (br 0)))'],
  ])('an endless %s runs out of fuel', (_name, funcs) => {
    const parsed = wabt.parseWat('endless.wat', `(module ${funcs})`, ALLOWED);
    const bytes = new Uint8Array(parsed.toBinary({}).buffer);
    parsed.destroy();
    const exports = new WebAssembly.Instance(new WebAssembly.Module(meterModule(bytes, { startFuel: 0 }))).exports as Record<string, unknown>;
    const fuel = exports[FUEL_EXPORT] as WebAssembly.Global;
    fuel.value = 5000;
    const outcome = outcomeOf(() => (exports.run as () => void)(), []);
    expect(outcome).toEqual({ kind: 'trap', message: 'unreachable' });
    expect(fuel.value as number).toBeLessThan(0);
  });

  test('an endless start function runs out of its start fuel', () => {
    const parsed = wabt.parseWat('start.wat', '(module (func $s (loop (br 0))) (start $s))', ALLOWED);
    const bytes = new Uint8Array(parsed.toBinary({}).buffer);
    parsed.destroy();
    expect(() => new WebAssembly.Instance(new WebAssembly.Module(meterModule(bytes, { startFuel: 5000 })))).toThrow(WebAssembly.RuntimeError);
  });

  test('a run costs the same every time: with one unit less it ends with the counter negative (a trap, or a return the host fails); with exactly its cost it completes', () => {
    const mismatches: string[] = [];
    let checked = 0;
    for (const { m, bytes } of generated.slice(0, 100)) {
      const metered = new WebAssembly.Module(meterModule(bytes, { startFuel: LARGE_FUEL }));
      const rng = new Rng(m.seed ^ 0x5eed);
      for (const f of m.functions) {
        const args = f.params.map((t) => randomArg(rng, t));
        const first = instantiate(metered).side;
        if (first === undefined) break; // the start function traps
        const full = call(first, f, args, LARGE_FUEL);
        if (full.kind !== 'return') continue;
        const cost = LARGE_FUEL - (fuelOf(first).value as number);
        if (cost < 0) mismatches.push(`seed ${m.seed} ${describeCall(f, args)} charged ${cost}`);
        if (cost <= 0) continue; // (nop) costs nothing
        const exact = instantiate(metered).side as Side;
        const o = call(exact, f, args, cost);
        if (JSON.stringify(o) !== JSON.stringify(full) || fuelOf(exact).value !== 0) {
          mismatches.push(`seed ${m.seed} ${describeCall(f, args)}: with exactly its cost ${cost}: ${JSON.stringify(o)}, fuel left ${fuelOf(exact).value}`);
        }
        const short = instantiate(metered).side as Side;
        const t = call(short, f, args, cost - 1);
        // Runs between checks may finish below zero (host-abi.md section 10); the host fails such a call.
        if ((fuelOf(short).value as number) >= 0) {
          mismatches.push(`seed ${m.seed} ${describeCall(f, args)}: with ${cost - 1} of its ${cost} units: ${JSON.stringify(t)}, fuel left ${fuelOf(short).value}`);
        }
        const none = instantiate(metered).side as Side;
        const z = call(none, f, args, 0);
        if ((fuelOf(none).value as number) >= 0) mismatches.push(`seed ${m.seed} ${describeCall(f, args)}: with no fuel: ${JSON.stringify(z)}`);
        checked++;
      }
    }
    expect(mismatches.slice(0, 20)).toEqual([]);
    expect(checked).toBeGreaterThan(150);
  });
});

/** WAT to bytes without validation (for modules that are invalid on purpose). */
function unchecked(source: string): Uint8Array {
  const parsed = wabt.parseWat('invalid.wat', source, ALLOWED);
  try {
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

/** meterModule must refuse an invalid module, or give bytes the engine refuses too. */
function staysInvalid(bytes: Uint8Array): string | undefined {
  if (WebAssembly.validate(bytes)) return 'the module is valid: the test is wrong';
  let metered: Uint8Array;
  try {
    metered = meterModule(bytes, { startFuel: LARGE_FUEL });
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code === 'HC_ERR_WASM_INVALID' || code === 'HC_ERR_WASM_FEATURE_FORBIDDEN' ? undefined : `refused with ${code ?? String(err)}`;
  }
  return WebAssembly.validate(metered) ? 'the metered module is valid' : undefined;
}

describe('invalid modules stay invalid', () => {
  // The fuel counter is the global after the guest's own, the scratch local the local after its
  // own: an index one past the end must not come to name them.
  test.each([
    ['global.get of the next global index (the fuel counter)', '(module (func (export "f") (result i32) (global.get 0)))'],
    ['global.set of the next global index', '(module (global i32 (i32.const 0)) (func (export "f") (global.set 1 (i32.const 2147483647))))'],
    ['an export of the next global index', '(module (global i32 (i32.const 0)) (export "g" (global 1)))'],
    ['local.get of the next local index (the scratch local) beside memory.fill', '(module (memory 1) (func (export "f") (param i32) (result i32) (memory.fill (i32.const 0) (i32.const 0) (local.get 0)) (local.get 1)))'],
    ['local.tee of the next local index beside memory.grow', '(module (memory 1) (func (export "f") (result i32) (drop (memory.grow (i32.const 0))) (local.tee 0 (i32.const 1))))'],
  ])('%s', (_name, source) => {
    expect(staysInvalid(unchecked(source))).toBeUndefined();
  });

  test('random modules with a use of the next global index', () => {
    const problems: string[] = [];
    for (const { m } of generated.slice(0, 40)) {
      // imported $base and $counter, $budget, and the generator's eight globals
      const next = 2 + 1 + m.globalGetters.length - 1;
      const at = m.wat.indexOf('\n', m.wat.indexOf('(func $f0 '));
      const variants = [
        `${m.wat.slice(0, at + 1)}    (global.set ${next} (i32.const 2147483647))${m.wat.slice(at + 1)}`,
        `${m.wat.slice(0, m.wat.lastIndexOf(')'))}  (export "alias" (global ${next})))`,
      ];
      for (const v of variants) {
        const problem = staysInvalid(unchecked(v));
        if (problem !== undefined) problems.push(`seed ${m.seed}: ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('operand-sized charges', () => {
  // (The memory's cap comes from its declared maximum, which the load gate always sets.)
  test('a table.copy or memory.fill whose length alone is beyond any budget still traps out of bounds, as unmetered', () => {
    const source = `(module (memory 1 4) (table 4 funcref)
      (func (export "copy") (param i32) (table.copy (i32.const 0) (i32.const 0) (local.get 0)))
      (func (export "init") (param i32) (table.init $e (i32.const 0) (i32.const 0) (local.get 0)))
      (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 0) (local.get 0)))
      (func (export "mcopy") (param i32) (memory.copy (i32.const 0) (i32.const 0) (local.get 0)))
      (elem $e func 0))`;
    const parsed = wabt.parseWat('bulk.wat', source, ALLOWED);
    const bytes = new Uint8Array(parsed.toBinary({}).buffer);
    parsed.destroy();
    const original = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as Record<string, (n: number) => void>;
    const metered = new WebAssembly.Instance(new WebAssembly.Module(meterModule(bytes, { startFuel: 0 }))).exports as Record<string, unknown>;
    const fuel = metered[FUEL_EXPORT] as WebAssembly.Global;
    for (const name of ['copy', 'init', 'fill', 'mcopy']) {
      for (const n of [-1, -32, 2 ** 31]) {
        const want = outcomeOf(() => (original[name] as (n: number) => void)(n), []);
        fuel.value = 10_000_000;
        const got = outcomeOf(() => (metered[name] as (n: number) => void)(n), []);
        expect({ name, n, got }).toEqual({ name, n, got: want });
        expect(want.kind).toBe('trap');
        expect(fuel.value as number).toBeGreaterThanOrEqual(0);
      }
    }
  });
});
