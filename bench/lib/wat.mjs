// WAT text to wasm bytes with wabt (a devDependency of the benchmarks), and the small guest
// skeleton the benchmark guests share (memory, allocator and ABI marker, as in the runtime's tests).
import { readFileSync } from 'node:fs';

const wabt = await (await import('wabt')).default();

/** Compiles WAT text to wasm bytes (MVP plus the features the sandbox allows: bulk memory, sign-ext, multivalue). */
export function wat(source, name = 'bench.wat') {
  const module = wabt.parseWat(name, source, { bulk_memory: true, sign_extension: true, multi_value: true, mutable_globals: true, sat_float_to_int: true });
  try {
    module.validate();
    return new Uint8Array(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

/** A module of the runtime's hostile corpus (packages/runtime-wasm/test/hostile/<name>.wat), compiled. */
export function hostileCorpus(name) {
  const url = new URL(`../../packages/runtime-wasm/test/hostile/${name}.wat`, import.meta.url);
  return wat(readFileSync(url, 'utf8'), `${name}.wat`);
}

/** WAT signatures of the host imports (host-abi.md section 6). */
export const IMPORT_WAT = {
  hc_log: '(param i32 i32 i32) (result i32)',
  hc_state_get: '(param i32 i32 i32 i32) (result i32)',
  hc_state_set: '(param i32 i32 i32 i32 i32 i32) (result i32)',
  hc_subscribe: '(param i32 i32 i32) (result i32)',
  hc_clock_now: '(result f64)',
};

/**
 * A HOMECORE guest module: the ABI marker, a bump allocator from byte 4096 (reset by hc_free), the
 * host imports named in `imports`, `memory` (default one page) and `body` (more WAT module fields).
 */
export function guestWat({ imports = [], memory = '(memory (export "memory") 1 1)', body = '' } = {}) {
  const heads = imports.map((name) => `(import "homecore" "${name}" (func $${name} ${IMPORT_WAT[name]}))`).join('\n  ');
  return `(module
  ${heads}
  ${memory}
  (global $bump (mut i32) (i32.const 4096))
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 4096)))
  ${body})`;
}
