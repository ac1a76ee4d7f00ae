import { ErrorCode } from '@homecore/core-traits';
import { WasmRuntime, generatePublisherKeys, sha256Hex, signModule } from '@homecore/runtime-wasm';
import { describe, expect, test } from 'vitest';
import { devRuntime, guest, manifest, rejection, wat } from './helpers.js';

const good = wat(guest({ imports: ['hc_log'] }));

describe('load gate', () => {
  test('accepts a well-formed module and reports its hooks', async () => {
    const { runtime } = devRuntime();
    const instance = await runtime.load(good, manifest());
    expect(instance.kind).toBe('wasm');
    expect(instance.hooks).toEqual({ teardown: false, stateChanged: false, event: false, serviceCall: false, configUpdate: false });
  });

  test('refuses a module above maxModuleBytes', async () => {
    const { runtime } = devRuntime({ limits: { maxModuleBytes: 64 } });
    const err = await rejection(runtime.load(good, manifest()));
    expect(err.code).toBe(ErrorCode.WASM_TOO_LARGE);
    expect(err.plugin).toBe('probe');
    expect(err.message).toContain('maxModuleBytes');
  });

  test('refuses bytes that do not match module_hash', async () => {
    const { runtime } = devRuntime();
    const err = await rejection(runtime.load(good, manifest({ module_hash: `sha256:${'0'.repeat(64)}` })));
    expect(err.code).toBe(ErrorCode.WASM_HASH_MISMATCH);
    expect(err.message).toContain(sha256Hex(good));
  });

  test('refuses a malformed module_hash', async () => {
    const { runtime } = devRuntime();
    const err = await rejection(runtime.load(good, manifest({ module_hash: 'md5:abc' })));
    expect(err.code).toBe(ErrorCode.WASM_HASH_MISMATCH);
  });

  test('refuses a binary that is not wasm, and one that fails validation', async () => {
    const { runtime } = devRuntime();
    expect((await rejection(runtime.load(new TextEncoder().encode('not wasm at all'), manifest()))).code).toBe(ErrorCode.WASM_INVALID);
    // Well formed for the gate's reader and the rewriter, but a `() -> ()` function leaves an i32 on the stack.
    const valid = wat(guest({ body: '(func (export "x") (i32.const 1) (drop))' }));
    const invalid = valid.slice();
    const at = findBytes(invalid, [0x41, 0x01, 0x1a, 0x0b]);
    invalid.set([0x41, 0x01, 0x01, 0x0b], at); // drop -> nop
    const err = await rejection(runtime.load(invalid, manifest()));
    expect(err.code).toBe(ErrorCode.WASM_INVALID);
    expect(err.message).toContain('not valid WebAssembly');
  });

  test.each([
    ['shared memory', '(memory (export "memory") 1 1 shared)'],
    ['memory64', '(memory (export "memory") i64 1 1)'],
  ])('refuses %s', async (_name, memory) => {
    const { runtime } = devRuntime();
    const bytes = wat(guest({ memory }), { memory64: true });
    expect((await rejection(runtime.load(bytes, manifest()))).code).toBe(ErrorCode.WASM_FEATURE_FORBIDDEN);
  });

  test('refuses several memories', async () => {
    const { runtime } = devRuntime();
    const bytes = wat(guest({ memory: '(memory (export "memory") 1 1) (memory $second 1 1)' }));
    const err = await rejection(runtime.load(bytes, manifest()));
    expect(err.code).toBe(ErrorCode.WASM_FEATURE_FORBIDDEN);
    expect(err.message).toContain('multi-memory');
  });

  test('refuses a non-function (GC) type entry', async () => {
    const { runtime } = devRuntime();
    // Header + a type section holding one struct type (0x5f) with no fields.
    const bytes = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 3, 1, 0x5f, 0]);
    const err = await rejection(runtime.load(bytes, manifest()));
    expect(err.code).toBe(ErrorCode.WASM_FEATURE_FORBIDDEN);
    expect(err.message).toContain('GC');
  });

  test('refuses atomics and SIMD instructions found in code', async () => {
    const { runtime } = devRuntime();
    const atomics = wat(guest({ body: '(func (export "x") (result i32) (i32.atomic.load (i32.const 0)))' }));
    const simd = wat(guest({ body: '(func (export "x") (drop (v128.const i32x4 0 0 0 0)))' }));
    const atomicsError = await rejection(runtime.load(atomics, manifest()));
    expect(atomicsError.code).toBe(ErrorCode.WASM_FEATURE_FORBIDDEN);
    // The rewriter names the instruction and where it is.
    expect(atomicsError.message).toMatch(/an atomic instruction \(threads\) \(function \d+, byte \d+\)/);
    expect((await rejection(runtime.load(simd, manifest()))).code).toBe(ErrorCode.WASM_FEATURE_FORBIDDEN);
  });

  test('refuses an unknown import and names it', async () => {
    const { runtime } = devRuntime();
    const bytes = wat(guest({ head: '(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))' }));
    const err = await rejection(runtime.load(bytes, manifest()));
    expect(err.code).toBe(ErrorCode.WASM_IMPORT_FORBIDDEN);
    expect(err.message).toContain('wasi_snapshot_preview1.fd_write');
  });

  test('refuses a homecore import with the wrong signature, and an unknown homecore name', async () => {
    const { runtime } = devRuntime();
    const wrong = wat(guest({ imports: [], head: '(import "homecore" "hc_log" (func (param i32 i32) (result i32)))' }));
    expect((await rejection(runtime.load(wrong, manifest()))).message).toContain('hc_log');
    const unknown = wat(guest({ imports: [], head: '(import "homecore" "hc_exec" (func))' }));
    expect((await rejection(runtime.load(unknown, manifest()))).code).toBe(ErrorCode.WASM_IMPORT_FORBIDDEN);
    const fuel = wat(guest({ imports: [], head: '(import "homecore" "__homecore_out_of_fuel" (func))' }));
    expect((await rejection(runtime.load(fuel, manifest()))).code).toBe(ErrorCode.WASM_IMPORT_FORBIDDEN);
  });

  test('refuses imported memories, tables and globals', async () => {
    const { runtime } = devRuntime();
    for (const imp of ['(import "homecore" "mem" (memory 1))', '(import "homecore" "t" (table 1 funcref))', '(import "homecore" "g" (global i32))']) {
      const bytes = wat(guest({ head: imp, memory: imp.includes('memory') ? '' : undefined }));
      expect((await rejection(runtime.load(bytes, manifest()))).code).toBe(ErrorCode.WASM_IMPORT_FORBIDDEN);
    }
  });

  test('allows env.abort with its signature only', async () => {
    const { runtime } = devRuntime();
    await runtime.load(wat(guest({ head: '(import "env" "abort" (func (param i32 i32 i32 i32)))' })), manifest());
    const wrong = wat(guest({ head: '(import "env" "abort" (func (param i32)))' }));
    expect((await rejection(runtime.load(wrong, manifest()))).code).toBe(ErrorCode.WASM_IMPORT_FORBIDDEN);
  });

  test('requires the v1 ABI marker', async () => {
    const { runtime } = devRuntime();
    const missing = await rejection(runtime.load(wat(guest({ marker: null })), manifest()));
    expect(missing.code).toBe(ErrorCode.WASM_ABI_VERSION);
    expect(missing.message).toContain('homecore_abi_version_1');
    const v2 = await rejection(runtime.load(wat(guest({ marker: 'homecore_abi_version_2' })), manifest()));
    expect(v2.code).toBe(ErrorCode.WASM_ABI_VERSION);
    const both = wat(guest({ body: '(func (export "homecore_abi_version_2"))' }));
    expect((await rejection(runtime.load(both, manifest()))).code).toBe(ErrorCode.WASM_ABI_VERSION);
  });

  test('requires memory, hc_alloc and hc_free, and hook signatures', async () => {
    const { runtime } = devRuntime();
    const noMemory = wat('(module (func (export "homecore_abi_version_1")) (memory 1 1) (func (export "hc_alloc") (param i32) (result i32) (i32.const 0)) (func (export "hc_free") (param i32 i32)))');
    expect((await rejection(runtime.load(noMemory, manifest()))).code).toBe(ErrorCode.WASM_EXPORT_MISSING);
    const noAlloc = wat('(module (func (export "homecore_abi_version_1")) (memory (export "memory") 1 1) (func (export "hc_free") (param i32 i32)))');
    const err = await rejection(runtime.load(noAlloc, manifest()));
    expect(err.code).toBe(ErrorCode.WASM_EXPORT_MISSING);
    expect(err.message).toContain('hc_alloc');
    const badHook = wat(guest({ body: '(func (export "hc_on_event") (param i32) (result i32) (i32.const 0))' }));
    const hookErr = await rejection(runtime.load(badHook, manifest()));
    expect(hookErr.code).toBe(ErrorCode.WASM_EXPORT_MISSING);
    expect(hookErr.message).toContain('(i32, i32) -> i32');
  });

  test('refuses exports that use the reserved __homecore_ prefix', async () => {
    const { runtime } = devRuntime();
    const bytes = wat(guest({ body: '(func (export "__homecore_fuel_set") (param i32))' }));
    const err = await rejection(runtime.load(bytes, manifest()));
    expect(err.code).toBe(ErrorCode.WASM_INVALID);
    expect(err.message).toContain('__homecore_');
  });

  test('memory policy: initial above the limit is refused, the stricter limit wins', async () => {
    const { runtime } = devRuntime({ limits: { memoryPages: 8 } });
    const big = wat(guest({ memory: '(memory (export "memory") 9 9)' }));
    expect((await rejection(runtime.load(big, manifest()))).code).toBe(ErrorCode.WASM_MEMORY_POLICY);
    const fits = wat(guest({ memory: '(memory (export "memory") 2 100)' }));
    expect((await runtime.load(fits, manifest())).stats().memoryMaxPages).toBe(8);
    expect((await runtime.load(fits, manifest({ limits: { memory_pages: 3 } }))).stats().memoryMaxPages).toBe(3);
    const small = wat(guest({ memory: '(memory (export "memory") 1 2)' }));
    expect((await runtime.load(small, manifest())).stats().memoryMaxPages).toBe(2);
  });

  test('memory policy: an unbounded memory is clamped, or refused when clamping is off', async () => {
    const unbounded = wat(guest({ memory: '(memory (export "memory") 1)' }));
    const { runtime } = devRuntime({ limits: { memoryPages: 4 } });
    expect((await runtime.load(unbounded, manifest())).stats().memoryMaxPages).toBe(4);
    const strictMemory = devRuntime({ clampUnboundedMemory: false }).runtime;
    const err = await rejection(strictMemory.load(unbounded, manifest()));
    expect(err.code).toBe(ErrorCode.WASM_MEMORY_POLICY);
    expect(err.message).toContain('maximum');
  });

  test('host_imports_required must equal the real homecore imports', async () => {
    const { runtime } = devRuntime();
    const bytes = wat(guest({ imports: ['hc_log', 'hc_state_set'] }));
    await runtime.load(bytes, manifest({ host_imports_required: ['hc_state_set', 'hc_log'] }));
    const err = await rejection(runtime.load(bytes, manifest({ host_imports_required: ['hc_log', 'hc_event_fire'] })));
    expect(err.code).toBe(ErrorCode.WASM_IMPORTS_MISMATCH);
    expect(err.details).toEqual({ missing: ['hc_state_set'], extra: ['hc_event_fire'] });
  });

  test('no guest code runs when the gate refuses (a start function that would spin)', async () => {
    const { runtime } = devRuntime();
    const spin = wat(guest({ marker: null, body: '(func $spin (loop (br 0))) (start $spin)' }));
    expect((await rejection(runtime.load(spin, manifest()))).code).toBe(ErrorCode.WASM_ABI_VERSION);
  });

  test('loads from a path and refuses a plugin object or a missing file', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'hc-wasm-'));
    await writeFile(join(dir, 'plugin.wasm'), good);
    const { runtime } = devRuntime();
    await runtime.load('plugin.wasm', manifest(), { baseDir: dir });
    await runtime.load(new URL(`file://${join(dir, 'plugin.wasm')}`), manifest());
    expect((await rejection(runtime.load(join(dir, 'nope.wasm'), manifest()))).code).toBe(ErrorCode.ENTRY_NOT_FOUND);
    expect((await rejection(runtime.load({ setup() {} }, manifest()))).code).toBe(ErrorCode.ENTRY_INVALID);
  });

  test('rejects bad runtime options with a coded error', () => {
    expect(() => new WasmRuntime({ trust: { mode: 'lenient' as 'strict' } })).toThrow(/trust.mode/);
    expect(() => new WasmRuntime({ trust: { mode: 'strict', trustedKeys: ['rsa:abc'] } })).toThrow(/trustedKeys/);
    expect(() => new WasmRuntime({ trust: { mode: 'strict' }, limits: { fuelPerCall: -1 } })).toThrow(/fuelPerCall/);
    const keys = generatePublisherKeys();
    expect(new WasmRuntime({ trust: { mode: 'strict', trustedKeys: [keys.publisherKey] } }).kind).toBe('wasm');
    expect(signModule(good, 'probe', keys.privateKey).publisher_key).toBe(keys.publisherKey);
  });
});

function findBytes(haystack: Uint8Array, needle: readonly number[]): number {
  for (let i = 0; i + needle.length <= haystack.length; i++) if (needle.every((b, k) => haystack[i + k] === b)) return i;
  throw new Error('pattern not found');
}
