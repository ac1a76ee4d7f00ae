// The metering rewriter through its public face (`meterModule`, and `WasmRuntime.load` for the
// gate): fuel charged exactly as host-abi.md section 10 says, per construct; the original's
// behaviour kept; every forbidden feature and every shape limit refused with its code.
import { ErrorCode, type HomecoreError } from '@homecore/core-traits';
import { DEFAULT_SHAPE_LIMITS, FUEL_COSTS, FUEL_EXPORT, inspectModule, meterModule } from '@homecore/runtime-wasm';
import { describe, expect, test } from 'vitest';
import { devRuntime, guest, manifest, rejection, wat } from './helpers.js';

interface Metered {
  call(name: string, ...args: number[]): { result: unknown; used: number; trapped: boolean };
}

/** Meters a WAT module and returns a caller that reports the fuel each export call used. */
function metered(source: string): Metered {
  const bytes = meterModule(wat(source));
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  const fuel = instance.exports[FUEL_EXPORT] as { value: number };
  return {
    call(name, ...args) {
      const budget = 1_000_000_000;
      fuel.value = budget;
      try {
        const result = (instance.exports[name] as (...a: number[]) => unknown)(...args);
        return { result, used: budget - fuel.value, trapped: false };
      } catch {
        return { result: undefined, used: budget - fuel.value, trapped: true };
      }
    },
  };
}

const fn = (body: string, params = '', result = ''): string => `(module (memory 1 2) (func (export "f") ${params} ${result} ${body}))`;

describe('fuel, per construct, as the table in host-abi.md section 10 says', () => {
  test.each([
    ['an empty function', fn(''), 0],
    ['nop, drop, block, loop, end cost nothing', fn('(nop) (block (nop)) (loop (nop)) (drop (i32.const 1))'), 1],
    ['one unit per instruction', fn('(drop (i32.add (i32.const 1) (i32.const 2)))'), 3],
    ['local.get/set, global.get/set', `(module (global $g (mut i32) (i32.const 0)) (func (export "f") (local i32) (local.set 0 (global.get $g)) (global.set $g (local.get 0))))`, 4],
    ['loads and stores', fn('(i32.store (i32.const 0) (i32.load (i32.const 4)))'), 4],
    // An if with straight-line arms (no branch, loop or call) is charged its dearer arm up front.
    ['straight-line if: the condition, the if and the dearer arm, whichever runs', fn('(if (i32.const 1) (then (drop (i32.const 2))) (else (drop (i32.const 3)) (drop (i32.const 4))))'), 4],
    ['straight-line if: the same when the cheaper arm runs', fn('(if (i32.const 0) (then (drop (i32.const 3)) (drop (i32.const 4))) (else (drop (i32.const 2))))'), 4],
    ['nested straight-line ifs fold into one charge', fn('(if (i32.const 1) (then (if (i32.const 1) (then (drop (i32.const 2))))))'), 5],
    // An arm with a call (or a branch or a loop) makes the if a run boundary: the arm taken is charged.
    ['if with a call in an arm: the arm taken', `(module (func $g) (func (export "f") (if (i32.const 0) (then (call $g)) (else (drop (i32.const 2))))))`, 3],
    ['if with a call in an arm: the other arm', `(module (func $g) (func (export "f") (if (i32.const 1) (then (call $g)) (else (drop (i32.const 2))))))`, 2 + 3],
    ['br: the unreachable rest of its block is not charged', fn('(block (br 0) (drop (i32.const 1)) (drop (i32.const 2)))'), 1],
    ['return', fn('(return) (drop (i32.const 1))'), 1],
    ['select', fn('(drop (select (i32.const 1) (i32.const 2) (i32.const 0)))'), 4],
    ['call: three units, then the callee', `(module (func $g (drop (i32.const 1))) (func (export "f") (call $g)))`, 4],
    ['call_indirect: 4, then the callee', `(module (type $t (func)) (table 1 funcref) (elem (i32.const 0) $g) (func $g (drop (i32.const 1))) (func (export "f") (call_indirect (type $t) (i32.const 0))))`, 6],
    ['integer division and remainder cost 4', fn('(drop (i32.div_u (i32.const 7) (i32.const 2))) (drop (i64.rem_s (i64.const 7) (i64.const 2)))'), 2 * (2 + 4)],
    ['sign extension and saturating truncation', fn('(drop (i32.extend8_s (i32.const 1))) (drop (i32.trunc_sat_f32_s (f32.const 1)))'), 4],
    ['memory.size', fn('(drop (memory.size))'), 1],
  ])('%s', (_name, source, expected) => {
    expect(metered(source).call('f').used).toBe(expected);
  });

  test('a loop is charged once per iteration; a run that a br_if leaves early is charged in full at its start', () => {
    // loop body: local.get, i32.const, i32.sub, local.tee, br_if = 5 per iteration (also on the last one).
    const m = metered(fn('(loop $l (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))', '(param i32)'));
    expect(m.call('f', 1).used).toBe(5);
    expect(m.call('f', 10).used).toBe(50);
    expect(m.call('f', 1000).used).toBe(5000);
  });

  test('memory.fill, memory.copy and memory.init cost one unit plus one per 2^bulkByteShift bytes, charged before they run', () => {
    const unit = 2 ** FUEL_COSTS.bulkByteShift;
    const m = metered(`(module (memory 1 1) (data $d "0123456789abcdef")
      (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 7) (local.get 0)))
      (func (export "copy") (param i32) (memory.copy (i32.const 0) (i32.const 100) (local.get 0)))
      (func (export "init") (param i32) (memory.init $d (i32.const 0) (i32.const 0) (local.get 0))))`);
    for (const n of [0, 1, unit - 1, unit, 1000, 65_536]) {
      expect(m.call('fill', n).used).toBe(4 + Math.floor(n / unit));
      const inBounds = Math.min(n, 65_536 - 100); // a copy from offset 100
      expect(m.call('copy', inBounds).used).toBe(4 + Math.floor(inBounds / unit));
    }
    expect(m.call('init', 16).used).toBe(4 + Math.floor(16 / unit));
    // Out of bounds: charged as the most the memory can hold (one page here), so a budget of that
    // much still reaches the instruction, which then traps out of bounds (not out of fuel).
    const oob = meterModule(wat(`(module (memory 1 1) (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 7) (local.get 0))))`));
    const capped = new WebAssembly.Instance(new WebAssembly.Module(oob), {});
    (capped.exports[FUEL_EXPORT] as { value: number }).value = 4 + Math.floor(65_536 / unit);
    expect(() => (capped.exports.fill as (n: number) => void)(2 ** 31)).toThrow(/out of bounds/);
    // A memory without a declared maximum: capped by its current size when the instruction runs.
    const unbounded = meterModule(wat(`(module (memory 1) (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 0) (local.get 0))))`));
    const grows = new WebAssembly.Instance(new WebAssembly.Module(unbounded), {});
    (grows.exports[FUEL_EXPORT] as { value: number }).value = 4 + Math.floor(65_536 / unit);
    expect(() => (grows.exports.fill as (n: number) => void)(2 ** 31)).toThrow(/out of bounds/);
    expect(metered(`(module (memory 1) (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 0) (local.get 0))))`).call('fill', 100).used).toBe(4 + Math.floor(100 / unit));
  });

  test('memory.grow costs 2^growPageShift units per page asked for plus one page, whether or not the memory grows', () => {
    const page = 2 ** FUEL_COSTS.growPageShift;
    const m = metered(`(module (memory 1 3) (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`);
    expect(m.call('grow', 0)).toMatchObject({ result: 1, used: 2 + page });
    expect(m.call('grow', 1)).toMatchObject({ result: 1, used: 2 + 2 * page });
    expect(m.call('grow', 5)).toMatchObject({ result: -1, used: 2 + 6 * page });
    // A request beyond the wasm32 maximum is charged as 65,536 pages: it cannot cost more than that.
    expect(m.call('grow', -1)).toMatchObject({ result: -1, used: 2 + 65_537 * page });
  });

  test('running out traps with the counter below zero, before the run that did not fit', () => {
    const bytes = meterModule(wat(fn('(loop $l (br $l))')));
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    const fuel = instance.exports[FUEL_EXPORT] as { value: number };
    fuel.value = 10;
    expect(() => (instance.exports.f as () => void)()).toThrow(WebAssembly.RuntimeError);
    expect(fuel.value).toBeLessThan(0);
  });

  test('a call that ends below zero in code between checks fails with FUEL_EXHAUSTED, like a trap', async () => {
    // After the block's end, 151 units of straight-line code with no call and no loop: charged, not checked.
    const tail = new Array(150).fill('(drop (i32.const 1))').join(' ');
    const body = `(func (export "hc_on_event") (param i32 i32) (result i32) (block (nop)) ${tail} (i32.const 0))`;
    const { runtime } = devRuntime();
    const instance = await runtime.load(wat(guest({ body })), manifest({ limits: { fuel_per_call: 100 } }));
    const { stubContext, delivered } = await import('./helpers.js');
    await instance.setup(stubContext().ctx);
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect(err.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
    expect(instance.stats()).toMatchObject({ traps: 1, fuelLastCall: 100 });
  });

  test('the start function runs under startFuel; an endless one traps', () => {
    const ok = meterModule(wat(`(module (global $g (mut i32) (i32.const 0)) (func $s (global.set $g (i32.const 5))) (start $s) (export "g" (global $g)))`), { startFuel: 10 });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(ok), {});
    expect((instance.exports.g as { value: number }).value).toBe(5);
    expect((instance.exports[FUEL_EXPORT] as { value: number }).value).toBe(8);
    const endless = meterModule(wat(`(module (func $s (loop $l (br $l))) (start $s))`), { startFuel: 1000 });
    expect(() => new WebAssembly.Instance(new WebAssembly.Module(endless), {})).toThrow(WebAssembly.RuntimeError);
  });
});

describe('the rewritten module computes what the original computes', () => {
  test('results, traps and memory are the same; only the fuel export is added', () => {
    const source = `(module (memory (export "mem") 1 1) (global $acc (mut i64) (i64.const 0))
      (func $fib (export "fib") (param i32) (result i32)
        (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0))
          (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1))) (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
      (func (export "sum") (param $n i32) (result i64) (local $i i32)
        (block $done (loop $l (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
          (i64.store (i32.mul (i32.and (local.get $i) (i32.const 15)) (i32.const 8)) (i64.extend_i32_u (local.get $i)))
          (global.set $acc (i64.add (global.get $acc) (i64.load (i32.mul (i32.and (local.get $i) (i32.const 15)) (i32.const 8)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))
        (global.get $acc))
      (func (export "multi") (param i32) (result i32 i32) (block (result i32 i32) (local.get 0) (i32.const 1) (br_if 0 (local.get 0)) (drop) (drop) (i32.const 7) (i32.const 8)))
      (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))`;
    const plain = new WebAssembly.Instance(new WebAssembly.Module(wat(source)), {});
    const meteredBytes = meterModule(wat(source));
    const metered = new WebAssembly.Instance(new WebAssembly.Module(meteredBytes), {});
    (metered.exports[FUEL_EXPORT] as { value: number }).value = 2 ** 31 - 1;
    expect(Object.keys(metered.exports).sort()).toEqual([...Object.keys(plain.exports), FUEL_EXPORT].sort());
    const run = (instance: WebAssembly.Instance, name: string, ...args: number[]): unknown => {
      try {
        return (instance.exports[name] as (...a: number[]) => unknown)(...args);
      } catch (err) {
        return `trap: ${(err as Error).message}`;
      }
    };
    for (const [name, args] of [['fib', [20]], ['sum', [1000]], ['multi', [0]], ['multi', [3]], ['div', [7, 2]], ['div', [1, 0]], ['div', [-2147483648, -1]]] as const) {
      expect(run(metered, name, ...args)).toEqual(run(plain, name, ...args));
    }
    const memory = (instance: WebAssembly.Instance): Uint8Array => new Uint8Array((instance.exports.mem as WebAssembly.Memory).buffer);
    expect(memory(metered)).toEqual(memory(plain));
  });

  test('custom sections and every code byte are kept: the output is the input plus charges', () => {
    const input = wat(fn('(drop (i32.const 1))'), {});
    const output = meterModule(input);
    expect(output.length).toBeGreaterThan(input.length);
    expect(WebAssembly.validate(output)).toBe(true);
  });
});

describe('features outside the allowlist are refused by the same pass, naming the instruction and where it is', () => {
  test.each([
    ['SIMD', '(func (drop (v128.const i32x4 0 0 0 0)))', { simd: true }, /SIMD/],
    ['atomics', '(memory 1 1 shared) (func (drop (i32.atomic.load (i32.const 0))))', { threads: true }, /atomic|shared/],
    ['reference types: ref.null', '(func (drop (ref.null func)))', { reference_types: true }, /reference types/],
    ['reference types: table.grow', '(table 1 funcref) (func (drop (table.grow (ref.null func) (i32.const 1))))', { reference_types: true }, /reference types/],
    ['tail calls', '(func $g) (func (return_call $g))', { tail_call: true }, /tail calls/],
    ['exceptions', '(tag $e) (func (throw $e))', { exceptions: true }, /exception/],
    ['typed select', '(func (drop (select (result i32) (i32.const 1) (i32.const 2) (i32.const 0))))', { reference_types: true }, /typed select/],
    ['several memories', '(memory 1) (memory 1) (func (drop (i32.load 1 (i32.const 0))))', { multi_memory: true }, /memor/],
  ])('%s', (_name, body, features, reason) => {
    let bytes: Uint8Array;
    try {
      bytes = wat(`(module ${body})`, features);
    } catch {
      return; // this wabt cannot even write it: nothing to refuse
    }
    let error: HomecoreError | undefined;
    try {
      meterModule(bytes);
    } catch (err) {
      error = err as HomecoreError;
    }
    expect(error?.code).toBe(ErrorCode.WASM_FEATURE_FORBIDDEN);
    expect(error?.message).toMatch(reason);
  });

  test('an unknown opcode is refused with the function and byte where it is', () => {
    const bytes = wat(fn('(drop (i32.const 1))'));
    const at = bytes.lastIndexOf(0x1a); // the drop
    const broken = bytes.slice();
    broken[at] = 0x27; // no instruction has this opcode
    expect(() => meterModule(broken)).toThrow(/unknown opcode 0x27 \(function 0, byte \d+\)/);
  });

  test('inspect and load agree: a SIMD module fails both, with the same code', async () => {
    const bytes = wat(guest({ body: '(func (export "x") (drop (v128.const i32x4 0 0 0 0)))' }), { simd: true });
    const inspection = await inspectModule(bytes, { trust: { mode: 'development' } });
    expect(inspection.gate.passed).toBe(false);
    expect(inspection.gate.error?.code).toBe(ErrorCode.WASM_FEATURE_FORBIDDEN);
    const { runtime } = devRuntime();
    expect((await rejection(runtime.load(bytes, manifest()))).code).toBe(ErrorCode.WASM_FEATURE_FORBIDDEN);
  });

  test('the ABI marker must be a function, not a global', async () => {
    const bytes = wat(guest({ marker: null, head: '(global (export "homecore_abi_version_1") i32 (i32.const 1))' }));
    const { runtime } = devRuntime();
    const err = await rejection(runtime.load(bytes, manifest()));
    expect(err.code).toBe(ErrorCode.WASM_ABI_VERSION);
    expect(err.message).toContain('must be an exported function');
    expect((await inspectModule(bytes, { trust: { mode: 'development' } })).gate.error?.code).toBe(ErrorCode.WASM_ABI_VERSION);
  });
});

// ---- module shapes, built as bytes (wabt would take seconds to write a million functions) ----

const uleb = (v: number): number[] => {
  const out: number[] = [];
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return out;
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const HEADER = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
const EMPTY_TYPE = section(1, [1, 0x60, 0, 0]);

function moduleWithFunctions(n: number, body: number[] = [0, 0x0b]): Uint8Array {
  const fnSection = section(3, [...uleb(n), ...new Array<number>(n).fill(0)]);
  const one = [...uleb(body.length), ...body];
  const code: number[] = [...uleb(n)];
  for (let i = 0; i < n; i++) for (const b of one) code.push(b);
  return new Uint8Array([...HEADER, ...EMPTY_TYPE, ...fnSection, ...section(10, code)]);
}

function refusal(bytes: Uint8Array): HomecoreError | undefined {
  try {
    meterModule(bytes);
    return undefined;
  } catch (err) {
    return err as HomecoreError;
  }
}

describe('module shape limits, checked before any heavy work', () => {
  test('a million functions is refused with WASM_SHAPE_LIMIT naming the limit; the limit itself is accepted', () => {
    // Only the function section: the count is read first, so the code section never matters.
    const million = new Uint8Array([...HEADER, ...EMPTY_TYPE, ...section(3, [...uleb(1_000_000), 0])]);
    const err = refusal(million);
    expect(err?.code).toBe(ErrorCode.WASM_SHAPE_LIMIT);
    expect(err?.details).toMatchObject({ limit: 'functions', value: 1_000_000, max: DEFAULT_SHAPE_LIMITS.functions });
    expect(refusal(moduleWithFunctions(DEFAULT_SHAPE_LIMITS.functions))).toBeUndefined();
  });

  test('a ten-million-entry table is refused', () => {
    const bytes = new Uint8Array([...HEADER, ...section(4, [1, 0x70, 0x00, ...uleb(10_000_000)])]);
    expect(refusal(bytes)?.details).toMatchObject({ limit: 'tableEntries', value: 10_000_000 });
    const declaredMax = new Uint8Array([...HEADER, ...section(4, [1, 0x70, 0x01, 1, ...uleb(10_000_000)])]);
    expect(refusal(declaredMax)?.details).toMatchObject({ limit: 'tableEntries' });
  });

  test('deep block nesting is refused at the limit + 1, accepted at the limit', () => {
    const nested = (depth: number): number[] => [0, ...new Array<number>(depth).fill(0).flatMap(() => [0x02, 0x40]), ...new Array<number>(depth).fill(0x0b), 0x0b];
    expect(refusal(moduleWithFunctions(1, nested(DEFAULT_SHAPE_LIMITS.nesting)))).toBeUndefined();
    expect(refusal(moduleWithFunctions(1, nested(DEFAULT_SHAPE_LIMITS.nesting + 1)))?.details).toMatchObject({ limit: 'nesting' });
    expect(refusal(moduleWithFunctions(1, nested(100_000)))?.code).toBe(ErrorCode.WASM_SHAPE_LIMIT);
  });

  test.each([
    ['locals', [1, ...uleb(DEFAULT_SHAPE_LIMITS.locals + 1), 0x7f, 0x0b], 'locals'],
    ['br_table targets', [0, 0x02, 0x40, 0x41, 0, 0x0e, ...uleb(DEFAULT_SHAPE_LIMITS.brTableTargets + 1), ...new Array<number>(DEFAULT_SHAPE_LIMITS.brTableTargets + 2).fill(0), 0x0b, 0x0b], 'brTableTargets'],
  ])('%s', (_name, body, limit) => {
    expect(refusal(moduleWithFunctions(1, body))?.details).toMatchObject({ limit });
  });

  test.each([
    ['types', section(1, [...uleb(DEFAULT_SHAPE_LIMITS.types + 1), 0x60, 0, 0])],
    ['imports', section(2, [...uleb(DEFAULT_SHAPE_LIMITS.imports + 1), 0])],
    ['exports', section(7, [...uleb(DEFAULT_SHAPE_LIMITS.exports + 1), 0])],
    ['globals', section(6, [...uleb(DEFAULT_SHAPE_LIMITS.globals + 1), 0])],
    ['dataSegments', section(11, [...uleb(DEFAULT_SHAPE_LIMITS.dataSegments + 1), 0])],
    ['elementSegments', section(9, [...uleb(DEFAULT_SHAPE_LIMITS.elementSegments + 1), 0])],
  ])('%s', (limit, sectionBytes) => {
    expect(refusal(new Uint8Array([...HEADER, ...sectionBytes]))?.details).toMatchObject({ limit });
  });

  test('a host can lower a shape limit; a bad value is refused at construction', async () => {
    const { runtime } = devRuntime({ shape: { functions: 2 } });
    const bytes = wat(guest({ body: '(func $a) (func $b) (func $c)' }));
    const err = await rejection(runtime.load(bytes, manifest()));
    expect(err.code).toBe(ErrorCode.WASM_SHAPE_LIMIT);
    expect(err.message).toContain('functions');
    expect(() => devRuntime({ shape: { functions: 0 } })).toThrow(/shape.functions must be a positive integer/);
    expect(() => devRuntime({ shape: { nope: 1 } as never })).toThrow(/unknown shape limit 'nope'/);
  });

  test('a module that already exports a name the metering adds is refused, not turned into an invalid one', () => {
    expect(refusal(wat(`(module (func (export "${FUEL_EXPORT}")))`))?.code).toBe(ErrorCode.WASM_INVALID);
  });

  test('malformed bytes anywhere are WASM_INVALID, never a crash', () => {
    const good = moduleWithFunctions(3, [0, 0x41, 0x05, 0x1a, 0x0b]);
    for (let cut = 9; cut < good.length; cut++) {
      const err = refusal(good.subarray(0, cut));
      if (err !== undefined) expect([ErrorCode.WASM_INVALID, ErrorCode.WASM_SHAPE_LIMIT, ErrorCode.WASM_FEATURE_FORBIDDEN]).toContain(err.code);
    }
  });
});
