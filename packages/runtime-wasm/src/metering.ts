// Fuel metering by rewriting the module with binaryen (imported lazily: it is a 15 MB module that
// takes about a quarter of a second to load).
//
// binaryen's `log-execution` pass puts a `call $log_execution` at every function entry, loop header
// and return. We replace that import with an internal function that decrements a mutable i32
// global and, once it drops below zero, calls the host's out-of-fuel import (which throws) and
// traps. Inlining folds it into every call site, so the hot path is a load, a subtract, a store and
// a compare. The guest cannot name the global: it did not exist in the original index space.
import { createRequire } from 'node:module';
import { ErrorCode, HOST_MODULE, HomecoreError } from '@homecore/core-traits';
import type binaryenModule from 'binaryen';
import { formatSignature, readModuleLayout, stripCustomSections, type ModuleLayout } from './binary.js';

type Binaryen = typeof binaryenModule;

/** The exported fuel setter the host adds: `(i32) -> ()`. */
export const FUEL_SET_EXPORT = '__homecore_fuel_set';
/** The exported fuel getter the host adds: `() -> i32`. */
export const FUEL_GET_EXPORT = '__homecore_fuel_get';
/** The import the metered module calls when fuel runs out, just before it traps. */
export const OUT_OF_FUEL_IMPORT = '__homecore_out_of_fuel';

const FUEL_GLOBAL = '__homecore_fuel';
const CHARGE_FUNCTION = 'log_execution'; // the name binaryen's log-execution pass calls

/**
 * Version of the rewrite below. Bump it whenever the metered output for the same input changes
 * (passes, charge sites, the charge function, names of the added exports): it is part of the
 * on-disk cache key, so entries written by an older rewrite are never reused.
 */
export const METERING_FORMAT_VERSION = 1;

// Largest function binaryen always inlines: the charge function (12 expressions) and the guest's
// small helpers. Narrowing it to the charge function alone made handlers about 6 % slower (the
// helpers' own charges then sit behind a call) without a measurable saving in metering time.
const ALWAYS_INLINE_MAX_SIZE = 40;

let binaryenLoading: Promise<Binaryen> | undefined;
/** While set, what binaryen prints is collected here instead of reaching the host's console. */
let captured: string[] | undefined;

/**
 * Starts importing binaryen (once per process); later calls share the same import. binaryen's
 * runtime binds `console.log` / `console.error` for its output while it loads, so they are routed
 * through `captured` for that moment: its validator messages never land in the host's output.
 */
export function loadBinaryen(): Promise<Binaryen> {
  binaryenLoading ??= (async () => {
    const { log, error, warn } = console;
    const route =
      (fallback: (...args: unknown[]) => void) =>
      (...args: unknown[]): void => {
        if (captured === undefined) fallback.apply(console, args);
        else captured.push(args.map(String).join(' '));
      };
    console.log = route(log);
    console.error = route(error);
    console.warn = route(warn);
    try {
      return (await import('binaryen')).default;
    } finally {
      console.log = log;
      console.error = error;
      console.warn = warn;
    }
  })();
  return binaryenLoading;
}

/** Whether binaryen has been (or is being) imported in this process. */
export function binaryenRequested(): boolean {
  return binaryenLoading !== undefined;
}

let binaryenVersionText: string | undefined;

/** The installed binaryen's version, read from its package.json without importing binaryen. */
export function binaryenVersion(): string {
  if (binaryenVersionText === undefined) {
    try {
      const pkg = createRequire(import.meta.url)('binaryen/package.json') as { version?: unknown };
      binaryenVersionText = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      binaryenVersionText = 'unknown';
    }
  }
  return binaryenVersionText;
}

/** Runs `fn` while collecting what binaryen prints (its validator reports through its console). */
function capturingOutput<T>(fn: () => T): { value: T; output: string } {
  const lines: string[] = [];
  captured = lines;
  try {
    const value = fn();
    return { value, output: lines.join('\n') };
  } finally {
    captured = undefined;
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
    // Only `inlining`: a `vacuum` after it changed the output by a few bytes and cost a pass.
    withInlineLimit(binaryen, () => m.runPasses(['inlining']));
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

/**
 * Runs `pass` with binaryen's always-inline limit set for metering, then puts back the previous
 * (process-wide) value so other binaryen users in the process are not affected.
 */
function withInlineLimit(binaryen: Binaryen, pass: () => void): void {
  const previous = binaryen.getAlwaysInlineMaxSize();
  binaryen.setAlwaysInlineMaxSize(ALWAYS_INLINE_MAX_SIZE);
  try {
    pass();
  } finally {
    binaryen.setAlwaysInlineMaxSize(previous);
  }
}

/**
 * Whether `metered` has the outline metering gives `original`: the same imports plus the
 * out-of-fuel one, the same exports plus the fuel accessors, the same memory limits. A cheap guard
 * that refuses a cached entry made from some other module (it cannot prove the code was metered).
 */
export function hasMeteredShape(metered: Uint8Array, original: Uint8Array): boolean {
  let before: ModuleLayout;
  let after: ModuleLayout;
  try {
    before = readModuleLayout(original);
    after = readModuleLayout(metered);
  } catch {
    return false;
  }
  const importsOf = (layout: ModuleLayout): string[] =>
    layout.imports
      .map((imp) => {
        const type = layout.types[imp.typeIndex];
        return `${imp.kind} ${imp.module}.${imp.name} ${type ? formatSignature(type.params, type.results) : '?'}`;
      })
      .sort();
  const exportsOf = (layout: ModuleLayout): string[] => layout.exports.map((e) => `${e.kind} ${e.name}`).sort();
  const wantedImports = [...importsOf(before), `0 ${HOST_MODULE}.${OUT_OF_FUEL_IMPORT} ${formatSignature([], [])}`].sort();
  const wantedExports = [...exportsOf(before), `0 ${FUEL_SET_EXPORT}`, `0 ${FUEL_GET_EXPORT}`].sort();
  return (
    sameList(importsOf(after), wantedImports) &&
    sameList(exportsOf(after), wantedExports) &&
    after.memory !== undefined &&
    after.memory.initial === before.memory?.initial &&
    after.memory.maximum === before.memory.maximum
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
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
