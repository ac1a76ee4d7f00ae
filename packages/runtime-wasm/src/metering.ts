// Fuel metering by rewriting the module with binaryen (imported lazily: it is a 15 MB module that
// takes about a quarter of a second to load).
//
// binaryen's `log-execution` pass puts a `call $log_execution` at every function entry, loop header
// and return. We replace that import with an internal function that decrements a mutable i32
// global and, once it drops below zero, calls the host's out-of-fuel import (which throws) and
// traps. Inlining folds it into every call site, so the hot path is a load, a subtract, a store and
// a compare. The guest cannot name the global: it did not exist in the original index space.
import { ErrorCode, HOST_MODULE, HomecoreError } from '@homecore/core-traits';
import type binaryenModule from 'binaryen';
import { readModuleLayout, stripCustomSections } from './binary.js';

type Binaryen = typeof binaryenModule;

/** The exported fuel setter the host adds: `(i32) -> ()`. */
export const FUEL_SET_EXPORT = '__homecore_fuel_set';
/** The exported fuel getter the host adds: `() -> i32`. */
export const FUEL_GET_EXPORT = '__homecore_fuel_get';
/** The import the metered module calls when fuel runs out, just before it traps. */
export const OUT_OF_FUEL_IMPORT = '__homecore_out_of_fuel';

const FUEL_GLOBAL = '__homecore_fuel';
const CHARGE_FUNCTION = 'log_execution'; // the name binaryen's log-execution pass calls

let binaryenLoading: Promise<Binaryen> | undefined;

function loadBinaryen(): Promise<Binaryen> {
  binaryenLoading ??= import('binaryen').then((m) => m.default);
  return binaryenLoading;
}

/** Runs `fn` while capturing what binaryen prints (its validator writes to stdout). */
function capturingOutput<T>(fn: () => T): { value: T; output: string } {
  let output = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  const capture = (chunk: unknown): boolean => {
    output += String(chunk);
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  try {
    return { value: fn(), output };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/**
 * Returns a metered copy of `bytes` whose fuel counter starts at `startFuel`. Throws
 * `HC_ERR_WASM_FEATURE_FORBIDDEN` when binaryen, restricted to the allowed features, finds an
 * instruction outside them (atomics, SIMD, reference types...).
 */
export async function meterModule(bytes: Uint8Array, startFuel: number, plugin: string): Promise<Uint8Array> {
  const binaryen = await loadBinaryen();
  const F = binaryen.Features;
  const allowed = F.MutableGlobals | F.SignExt | F.BulkMemory | F.BulkMemoryOpt | F.NontrappingFPToInt | F.Multivalue;
  // Without custom sections binaryen names everything by index, so no guest name can collide with ours.
  const input = stripCustomSections(bytes, readModuleLayout(bytes));
  const m = binaryen.readBinary(input);
  try {
    m.setFeatures(allowed);
    const checked = capturingOutput(() => m.validate());
    if (!checked.value) {
      const first = checked.output.split('\n').find((line) => line.includes('error')) ?? checked.output.slice(0, 200);
      throw new HomecoreError(
        ErrorCode.WASM_FEATURE_FORBIDDEN,
        `module uses an instruction outside the allowed features (${first.trim()}): build for MVP + mutable-globals, sign-ext, bulk-memory, nontrapping-f2i and multivalue only (no threads, SIMD, reference types, GC)`,
        { plugin, hook: 'load' },
      );
    }
    const i32 = binaryen.i32;
    m.runPasses(['log-execution']);
    m.removeFunction(CHARGE_FUNCTION);
    m.addGlobal(FUEL_GLOBAL, i32, true, m.i32.const(startFuel));
    m.addFunctionImport(OUT_OF_FUEL_IMPORT, HOST_MODULE, OUT_OF_FUEL_IMPORT, binaryen.none, binaryen.none);
    m.addFunction(
      CHARGE_FUNCTION,
      binaryen.createType([i32]),
      binaryen.none,
      [],
      m.block(null, [
        m.global.set(FUEL_GLOBAL, m.i32.sub(m.global.get(FUEL_GLOBAL, i32), m.i32.const(1))),
        m.if(
          m.i32.lt_s(m.global.get(FUEL_GLOBAL, i32), m.i32.const(0)),
          m.block(null, [m.call(OUT_OF_FUEL_IMPORT, [], binaryen.none), m.unreachable()]),
        ),
      ]),
    );
    m.addFunction(FUEL_SET_EXPORT, binaryen.createType([i32]), binaryen.none, [], m.global.set(FUEL_GLOBAL, m.local.get(0, i32)));
    m.addFunction(FUEL_GET_EXPORT, binaryen.none, i32, [], m.global.get(FUEL_GLOBAL, i32));
    m.addFunctionExport(FUEL_SET_EXPORT, FUEL_SET_EXPORT);
    m.addFunctionExport(FUEL_GET_EXPORT, FUEL_GET_EXPORT);
    binaryen.setAlwaysInlineMaxSize(40);
    m.runPasses(['inlining', 'vacuum']);
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/** Compiled, metered modules by content hash and metering parameters. */
export class MeteredModuleCache {
  private readonly entries = new Map<string, Promise<WebAssembly.Module>>();
  /** Loads that found their module in the cache. */
  hits = 0;
  /** Loads that had to meter and compile. */
  misses = 0;

  constructor(private readonly capacity = 256) {}

  /** The compiled module for `key`, metering and compiling with `build` on a miss; says whether it was a hit. */
  async get(key: string, build: () => Promise<WebAssembly.Module>): Promise<{ module: WebAssembly.Module; hit: boolean }> {
    const found = this.entries.get(key);
    if (found !== undefined) {
      this.hits++;
      // Refresh its place so the least recently used entry is evicted first.
      this.entries.delete(key);
      this.entries.set(key, found);
      return { module: await found, hit: true };
    }
    this.misses++;
    const pending = build();
    this.entries.set(key, pending);
    pending.catch(() => this.entries.delete(key));
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return { module: await pending, hit: false };
  }

  /** Number of cached modules. */
  get size(): number {
    return this.entries.size;
  }
}
