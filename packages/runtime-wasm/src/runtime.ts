import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ErrorCode,
  HomecoreError,
  type PluginCode,
  type PluginManifest,
  type PluginRuntime,
  type RuntimeLoadOptions,
} from '@homecore/core-traits';
import { MeteredDiskCache } from './disk-cache.js';
import { runLoadGate, type GatedModule } from './gate.js';
import { WasmPluginInstance } from './instance.js';
import { METERING_FORMAT_VERSION, MeteredModuleCache, binaryenVersion, hasMeteredShape, loadBinaryen, meterModule } from './metering.js';
import { clampedLimits, resolveHostOptions, type WasmHostLimits, type WasmRuntimeOptions } from './options.js';
import { sha256Hex } from './signing.js';

// Metered modules up to this size compile synchronously: V8's async compile queues behind its
// background threads, which after a binaryen run are busy for a few hundred ms, while a
// synchronous (Liftoff) compile of a module this small takes about a millisecond.
const SYNC_COMPILE_MAX_BYTES = 1024 * 1024;

/** Figures about the runtime as a whole. */
export interface WasmRuntimeStats {
  /** Loads that reused a compiled module from memory. */
  readonly cacheHits: number;
  /** Loads that found no compiled module in memory (then served from `cacheDir` or metered). */
  readonly cacheMisses: number;
  /** Modules in the in-memory cache. */
  readonly cachedModules: number;
  /** In-memory misses served from `cacheDir` without binaryen. */
  readonly diskHits: number;
  /** In-memory misses that found no usable entry in `cacheDir` (0 without a `cacheDir`). */
  readonly diskMisses: number;
  /** Entries in `cacheDir` that failed verification and were deleted (each is also a disk miss). */
  readonly diskRejected: number;
  /** Times this runtime ran the binaryen metering rewrite. */
  readonly meteringRuns: number;
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
  private readonly cache = new MeteredModuleCache();
  private readonly disk: MeteredDiskCache | undefined;
  private meteringRuns = 0;

  /** Checks the options; throws `HC_ERR_CONFIG_INVALID` naming a bad one. */
  constructor(options: WasmRuntimeOptions) {
    const resolved = resolveHostOptions(options);
    this.trust = resolved.trust;
    this.hostLimits = resolved.limits;
    this.clampUnboundedMemory = resolved.clampUnboundedMemory;
    this.warn = options.warn ?? ((message) => console.warn(message));
    // Metering grows a module by about a quarter; four times the largest accepted module is ample.
    const maxEntryBytes = 4 * this.hostLimits.maxModuleBytes + 1024 * 1024;
    this.disk = resolved.cacheDir === undefined ? undefined : new MeteredDiskCache(resolved.cacheDir, maxEntryBytes, this.warn);
    if (resolved.preloadMetering) void this.prepareMetering().catch(() => undefined);
  }

  /**
   * Imports binaryen (the metering rewriter) now rather than on the first load that needs it;
   * resolves once it is ready. Loads served from a cache never need it.
   */
  async prepareMetering(): Promise<void> {
    await loadBinaryen();
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
      diskHits: this.disk?.hits ?? 0,
      diskMisses: this.disk?.misses ?? 0,
      diskRejected: this.disk?.rejected ?? 0,
      meteringRuns: this.meteringRuns,
    };
  }

  /**
   * Gates, meters, compiles and instantiates a module (its start function runs under the start
   * budget); no plugin hook runs yet. `code` is the module's bytes, or a path or URL of a .wasm file.
   */
  async load(code: PluginCode, manifest: PluginManifest, options: RuntimeLoadOptions = {}): Promise<WasmPluginInstance> {
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
    });
    const key = `${gated.hashHex}:${gated.maxPages}:${limits.startFuel}`;
    const { module, hit } = await this.cache.get(key, () => this.meteredModule(gated, limits.startFuel, plugin));
    return new WasmPluginInstance({ module, manifest, limits, exportNames: gated.exportNames, maxPages: gated.maxPages, cacheHit: hit, hostFuelPerCall: this.hostLimits.fuelPerCall });
  }

  /** The compiled metered module of gated bytes: from `cacheDir` when it holds a valid entry, else metered with binaryen. */
  private async meteredModule(gated: GatedModule, startFuel: number, plugin: string): Promise<WebAssembly.Module> {
    const diskKey =
      this.disk === undefined
        ? undefined
        : MeteredDiskCache.key(gated.clamped ? sha256Hex(gated.bytes) : gated.hashHex, startFuel, METERING_FORMAT_VERSION, binaryenVersion());
    if (this.disk !== undefined && diskKey !== undefined) {
      const found = await this.disk.read(diskKey, async (bytes) => (hasMeteredShape(bytes, gated.bytes) ? await compileModule(bytes) : undefined));
      if (found.kind === 'hit') return found.value;
    }
    const metered = await meterModule(gated.bytes, startFuel, plugin);
    this.meteringRuns++;
    let module: WebAssembly.Module;
    try {
      module = await compileModule(metered);
    } catch (err) {
      throw new HomecoreError(ErrorCode.WASM_INVALID, `metered module failed to compile (${(err as Error).message}); please report this with the module`, {
        plugin,
        hook: 'load',
        cause: err,
      });
    }
    if (this.disk !== undefined && diskKey !== undefined) this.disk.write(diskKey, metered);
    return module;
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

async function compileModule(bytes: Uint8Array): Promise<WebAssembly.Module> {
  return bytes.length <= SYNC_COMPILE_MAX_BYTES ? new WebAssembly.Module(bytes) : await WebAssembly.compile(bytes);
}
