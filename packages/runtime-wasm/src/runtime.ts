import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ErrorCode,
  HomecoreError,
  type JsonValue,
  type PluginCode,
  type PluginInstance,
  type PluginManifest,
  type PluginRuntime,
  type RuntimeLoadOptions,
} from '@homecore/core-traits';
import type { ModuleShapeLimits } from './binary.js';
import { MeteredDiskCache, entryKey, runtimeFingerprint } from './disk-cache.js';
import { GATED_METER_OPTIONS, meterGated, runLoadGate, type GatedModule } from './gate.js';
import { WasmPluginInstance } from './instance.js';
import { MeteredModuleCache } from './module-cache.js';
import { sha256Hex } from './signing.js';
import { startIsolated } from '@homecore/isolation';
import { clampedLimits, resolveHostOptions, type WasmBackstop, type WasmHostLimits, type WasmRuntimeOptions } from './options.js';

/** Marks the backstop worker's runtime as running unmetered modules (a test-only host option). */
export const UNMETERED = Symbol('homecore.unmetered');

/** The built backstop guest: beside this file once bundled, in dist/ when running from source. */
function guestModule(): URL {
  const beside = new URL('./guest.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL('../dist/guest.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new HomecoreError(ErrorCode.ISOLATION_UNAVAILABLE, `the backstop guest ${fileURLToPath(built)} is missing: build @homecore/runtime-wasm`);
}

const SYNC_COMPILE_MAX_BYTES = 256 * 1024;
const SYNC_VALIDATE_MAX_BYTES = 256 * 1024;
const SYNC_VALIDATE_MAX_FUNCTIONS = 2_000;

/** Figures about the runtime as a whole. */
export interface WasmRuntimeStats {
  /** Loads that reused a compiled module from memory. */
  readonly cacheHits: number;
  /** Loads that found no compiled module in memory, so metered and compiled it. */
  readonly cacheMisses: number;
  /** Modules in the in-memory cache. */
  readonly cachedModules: number;
  /** Times this runtime ran the metering rewriter. */
  readonly meteringRuns: number;
  /** Metered modules taken from `meteredCache` (verified), so not metered in this process. */
  readonly diskCacheHits: number;
  /** Lookups in `meteredCache` that found no entry. */
  readonly diskCacheMisses: number;
  /** Entries in `meteredCache` that failed a check (hash, validation, size), ignored and rewritten. */
  readonly diskCacheRejected: number;
}

/**
 * Runs WebAssembly plugins in a sandbox: a load gate (hash, signature, features, imports, memory
 * policy), injected fuel, a memory cap, per-call quotas and permission-checked host imports
 * (docs/host-abi.md).
 */
export class WasmRuntime implements PluginRuntime {
  readonly kind = 'wasm' as const;
  private readonly trust: ReturnType<typeof resolveHostOptions>['trust'];
  private readonly hostLimits: WasmHostLimits;
  private readonly clampUnboundedMemory: boolean;
  private readonly warn: (message: string) => void;
  private readonly shape: ModuleShapeLimits;
  private readonly cache = new MeteredModuleCache();
  private meteringRuns = 0;
  private readonly disk: MeteredDiskCache | undefined;
  private readonly diskCounts = { hits: 0, misses: 0, rejected: 0 };
  private readonly options: WasmRuntimeOptions;
  /** Set only by the backstop's worker, for a host that asked for unmetered test runs. */
  [UNMETERED]: boolean = false;

  /** Checks the options; throws `HC_ERR_CONFIG_INVALID` naming a bad one. */
  constructor(options: WasmRuntimeOptions) {
    const resolved = resolveHostOptions(options);
    this.options = options;
    this.trust = resolved.trust;
    this.hostLimits = resolved.limits;
    this.clampUnboundedMemory = resolved.clampUnboundedMemory;
    this.shape = resolved.shape;
    this.warn = options.warn ?? ((message) => console.warn(message));
    // Bounds what is read back; a metered copy is usually under twice its original, so 3x the largest module fits.
    this.disk = options.meteredCache === undefined ? undefined : new MeteredDiskCache(options.meteredCache.dir, 3 * this.hostLimits.maxModuleBytes);
  }

  /** The host caps in force. */
  get limits(): Readonly<WasmHostLimits> {
    return this.hostLimits;
  }

  /** Cache figures. */
  stats(): WasmRuntimeStats {
    return {
      cacheHits: this.cache.hits,
      cacheMisses: this.cache.misses,
      cachedModules: this.cache.size,
      meteringRuns: this.meteringRuns,
      diskCacheHits: this.diskCounts.hits,
      diskCacheMisses: this.diskCounts.misses,
      diskCacheRejected: this.diskCounts.rejected,
    };
  }

  /**
   * Gates, meters, compiles and instantiates a module (its start function runs under the start
   * budget); no plugin hook runs yet. `code` is the module's bytes, or a path or URL of a .wasm file.
   */
  async load(code: PluginCode, manifest: PluginManifest, options: RuntimeLoadOptions = {}): Promise<PluginInstance> {
    const plugin = manifest.domain;
    const bytes = await this.readCode(code, plugin, options.baseDir);
    const { limits, clamped } = clampedLimits(this.hostLimits, manifest);
    const warn = options.warn ?? this.warn;
    for (const note of clamped) warn(`plugin ${plugin}: ${note}`);
    const gated = runLoadGate({
      bytes,
      manifest,
      trust: this.trust,
      host: this.hostLimits,
      limits,
      clampUnboundedMemory: this.clampUnboundedMemory,
      warn,
      shape: this.shape,
    });
    if (this.options.backstop !== undefined) return this.loadBehindBackstop(this.options.backstop, bytes, manifest, gated.maxPages, options);
    if (this[UNMETERED]) {
      if (!WebAssembly.validate(gated.bytes)) throw new HomecoreError(ErrorCode.WASM_INVALID, 'module is not valid WebAssembly', { plugin, hook: 'load' });
      const module = new WebAssembly.Module(gated.bytes);
      return new WasmPluginInstance({ module, manifest, limits, exportNames: gated.exportNames, maxPages: gated.maxPages, cacheHit: false, unmetered: true });
    }
    const key = `${gated.hashHex}:${gated.maxPages}`;
    const { module, hit } = await this.cache.get(key, () => this.meteredModule(gated, plugin));
    return new WasmPluginInstance({ module, manifest, limits, exportNames: gated.exportNames, maxPages: gated.maxPages, cacheHit: hit, hostFuelPerCall: this.hostLimits.fuelPerCall });
  }

  /**
   * The gate passed here, on the host; the plugin runs in a worker that gates, meters and runs it
   * again under the same policy, and is stopped if a call outlives the backstop's bound.
   */
  private loadBehindBackstop(backstop: WasmBackstop, bytes: Uint8Array, manifest: PluginManifest, maxPages: number, options: RuntimeLoadOptions): Promise<PluginInstance> {
    const { trust, limits, clampUnboundedMemory, shape } = this.options;
    const guestOptions = JSON.parse(
      JSON.stringify({ trust, limits, clampUnboundedMemory, shape, unmetered: backstop.unmeteredForTesting === true }),
    ) as JsonValue;
    return startIsolated({
      level: 'worker',
      guest: guestModule(),
      code: bytes,
      manifest,
      ...(options.baseDir !== undefined ? { baseDir: options.baseDir } : {}),
      guestOptions,
      listen: (listener) => backstop.core.listen(listener),
      memoryMb: (backstop.memoryMb ?? 64) + Math.ceil((maxPages * 64) / 1024),
      callTimeoutMs: backstop.callTimeoutMs ?? 2000,
      ...(options.warn !== undefined ? { warn: options.warn } : { warn: this.warn }),
    });
  }

  /**
   * Meters gated bytes and compiles the result. The original must be valid WebAssembly too: the
   * rewriter adds a global and a local after the guest's own, so an invalid module that names them
   * must never run as a valid metered one. Small modules are validated on the loop (a few milliseconds
   * at most), large ones compiled off it alongside the metered copy.
   */
  private async meteredModule(gated: GatedModule, plugin: string): Promise<WebAssembly.Module> {
    const metered = await this.meteredBytes(gated, plugin);
    const small = gated.bytes.length <= SYNC_VALIDATE_MAX_BYTES && gated.functions <= SYNC_VALIDATE_MAX_FUNCTIONS;
    const invalid = (cause: unknown): HomecoreError =>
      new HomecoreError(
        ErrorCode.WASM_INVALID,
        `module is not valid WebAssembly${cause instanceof Error ? ` (${cause.message})` : ''}: rebuild it with a standard toolchain and check it with wasm-validate`,
        { plugin, hook: 'load', cause },
      );
    if (small && !WebAssembly.validate(gated.bytes)) {
      throw invalid(await WebAssembly.compile(gated.bytes).then(() => undefined, (e: unknown) => e));
    }
    const originalChecked = small ? Promise.resolve() : WebAssembly.compile(gated.bytes).then(() => undefined, (e: unknown) => Promise.reject(invalid(e)));
    originalChecked.catch(() => undefined); // awaited below; never an unhandled rejection
    let module: WebAssembly.Module;
    try {
      // V8 compiles lazily, so a small module compiles in well under a millisecond on the loop,
      // while the async path waits for a background thread; larger ones go off the loop.
      module = metered.length <= SYNC_COMPILE_MAX_BYTES ? new WebAssembly.Module(metered) : await WebAssembly.compile(metered);
    } catch (err) {
      await originalChecked;
      throw new HomecoreError(ErrorCode.INTERNAL, `the metered module failed to compile (${(err as Error).message}) although the module is valid: please report this with the module`, {
        plugin,
        hook: 'load',
        cause: err,
      });
    }
    await originalChecked;
    return module;
  }

  /** Meters gated bytes, or takes them from the disk cache when it has a verified entry. */
  private async meteredBytes(gated: GatedModule, plugin: string): Promise<Uint8Array> {
    const meter = async () => {
      this.meteringRuns++;
      return meterGated(gated, plugin, this.shape);
    };
    if (this.disk === undefined) return meter();
    const fingerprint = await runtimeFingerprint().catch(() => undefined);
    if (fingerprint === undefined) return meter();
    const original = gated.clamped ? sha256Hex(gated.bytes) : gated.hashHex;
    const key = entryKey(fingerprint, original, { ...GATED_METER_OPTIONS, shape: this.shape });
    const found = await this.disk.get(key);
    if ('bytes' in found) {
      this.diskCounts.hits++;
      return found.bytes;
    }
    if (found.rejected) this.diskCounts.rejected++;
    else this.diskCounts.misses++;
    const metered = await meter();
    await this.disk.set(key, metered);
    return metered;
  }

  private async readCode(code: PluginCode, plugin: string, baseDir: string | undefined): Promise<Uint8Array> {
    if (code instanceof Uint8Array) {
      this.checkSize(code.length, plugin);
      return code;
    }
    if (typeof code !== 'string' && !(code instanceof URL)) {
      throw new HomecoreError(
        ErrorCode.ENTRY_INVALID,
        'the wasm runtime loads module bytes or a .wasm path, not a plugin object: set "runtime": "native" for JavaScript plugins',
        { plugin, hook: 'load' },
      );
    }
    const path = code instanceof URL ? fileURLToPath(code) : isAbsolute(code) || baseDir === undefined ? code : resolve(baseDir, code);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (err) {
      throw new HomecoreError(ErrorCode.ENTRY_NOT_FOUND, `wasm module ${path} cannot be read: check the manifest's entry and build the module`, {
        plugin,
        hook: 'load',
        cause: err,
      });
    }
    this.checkSize(size, plugin);
    return new Uint8Array(await readFile(path));
  }

  private checkSize(size: number, plugin: string): void {
    const limit = this.hostLimits.maxModuleBytes;
    if (size > limit) {
      throw new HomecoreError(
        ErrorCode.WASM_TOO_LARGE,
        `module is ${size} bytes, above the host's maxModuleBytes of ${limit}: shrink it (build with -O and strip debug info) or raise the host limit`,
        { plugin, hook: 'load', details: { size, limit } },
      );
    }
  }
}
