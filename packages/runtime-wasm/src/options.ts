import { DEFAULT_LIMITS, ErrorCode, HomecoreError, type HostCore, type PluginManifest } from '@homecore/core-traits';
import { DEFAULT_SHAPE_LIMITS, type ModuleShapeLimits } from './binary.js';
import type { MeteredCacheOptions } from './disk-cache.js';
import { decodeTagged } from './signing.js';

/** Who may publish modules this host runs. */
export interface TrustPolicy {
  /** `strict` refuses unsigned or untrusted modules; `development` allows them with a warning. */
  mode: 'strict' | 'development';
  /** Trusted publisher keys, each `ed25519:<base64 of the raw 32-byte public key>`. */
  trustedKeys?: readonly string[];
}

/** Host-wide caps; each plugin gets the stricter of these and its manifest's `limits`. */
export interface WasmHostLimits {
  /** Largest module accepted, in bytes (default 16 MiB). */
  maxModuleBytes: number;
  /** Linear memory cap in 64 KiB pages (default 256). */
  memoryPages: number;
  /** Fuel per guest call (default 10,000,000). */
  fuelPerCall: number;
  /** Fuel for the module's start function (default 10,000,000). */
  startFuel: number;
  /** Largest JSON payload in either direction (default 64 KiB). */
  payloadBytes: number;
  /** Host calls per guest call (default 1,000). */
  hostCallsPerEvent: number;
  /** Bytes written to the host per guest call (default 1 MiB). */
  bytesWrittenPerEvent: number;
}

/** Options of `new WasmRuntime(options)`. */
export interface WasmRuntimeOptions {
  /** The signature policy; required so that a host chooses it on purpose. */
  trust: TrustPolicy;
  /** Host caps; unspecified ones take the defaults. */
  limits?: Partial<WasmHostLimits>;
  /** Rewrite a module with no memory maximum to the policy's maximum (default true); false refuses it. */
  clampUnboundedMemory?: boolean;
  /** Receives warnings when a load does not pass its own `warn` (default `console.warn`). */
  warn?: (message: string) => void;
  /** Limits on a module's shape, checked before metering; unspecified ones take `DEFAULT_SHAPE_LIMITS`. */
  shape?: Partial<ModuleShapeLimits>;
  /**
   * The preemption backstop: run each plugin in its own worker thread, where a call that outlives
   * a wall-clock bound well above its fuel budget is stopped (the worker terminated) like a trap.
   * Fuel stays the first wall; this one holds if metering is ever wrong. Costs a worker per plugin.
   */
  backstop?: WasmBackstop;
  /**
   * Development trust only (refused under `strict`): keep metered modules in this folder, so a
   * later process (the next test run) skips metering. Entries are verified before use; whoever can
   * write the folder is trusted, as with the code in node_modules beside it (docs/sandbox.md).
   */
  meteredCache?: MeteredCacheOptions;
}

/** Options of the wasm preemption backstop. */
export interface WasmBackstop {
  /** The core, whose events keep each worker's mirror of the states its plugin may read current. */
  readonly core: Pick<HostCore, 'listen'>;
  /** Wall-clock bound on one call in ms (default 2,000: the default fuel budget runs in tens of ms). */
  readonly callTimeoutMs?: number;
  /** Heap of each worker in MiB besides the plugin's linear memory (default 64). */
  readonly memoryMb?: number;
  /** Tests of the backstop only: run modules without metering, so the backstop is the only wall. */
  readonly unmeteredForTesting?: boolean;
}

/** The limits that apply to one plugin. */
export interface PluginLimits {
  memoryPages: number;
  fuelPerCall: number;
  startFuel: number;
  payloadBytes: number;
  hostCallsPerEvent: number;
  bytesWrittenPerEvent: number;
}

const MAX_FUEL = 2 ** 31 - 1; // the counter is an i32
const MAX_PAGES = 65_536; // wasm32

/** The default host caps. */
export const DEFAULT_HOST_LIMITS: Readonly<WasmHostLimits> = Object.freeze({
  maxModuleBytes: 16 * 1024 * 1024,
  memoryPages: DEFAULT_LIMITS.memoryPages,
  fuelPerCall: DEFAULT_LIMITS.fuelPerCall,
  startFuel: DEFAULT_LIMITS.fuelPerCall,
  payloadBytes: DEFAULT_LIMITS.payloadBytes,
  hostCallsPerEvent: DEFAULT_LIMITS.hostCallsPerEvent,
  bytesWrittenPerEvent: DEFAULT_LIMITS.bytesWrittenPerEvent,
});

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** Checks runtime options; throws `HC_ERR_CONFIG_INVALID` naming the bad field. */
export function resolveHostOptions(options: WasmRuntimeOptions): {
  trust: { mode: 'strict' | 'development'; trustedKeys: ReadonlySet<string> };
  limits: WasmHostLimits;
  clampUnboundedMemory: boolean;
  shape: ModuleShapeLimits;
} {
  const bad = (what: string): never => {
    throw new HomecoreError(ErrorCode.CONFIG_INVALID, `WasmRuntime options: ${what}`);
  };
  if (options === null || typeof options !== 'object' || options.trust === null || typeof options.trust !== 'object') {
    bad("'trust' is required: pass { trust: { mode: 'strict', trustedKeys: [...] } } or { trust: { mode: 'development' } }");
  }
  const { mode, trustedKeys = [] } = options.trust;
  if (mode !== 'strict' && mode !== 'development') bad(`trust.mode must be 'strict' or 'development', got ${JSON.stringify(mode)}`);
  for (const key of trustedKeys) {
    if (typeof key !== 'string' || decodeTagged(key, 32) === undefined) {
      bad(`trust.trustedKeys entry ${JSON.stringify(key)} is not 'ed25519:<base64 of the raw 32-byte public key>'`);
    }
  }
  if (options.meteredCache !== undefined) {
    const dir = (options.meteredCache as { dir?: unknown } | null)?.dir;
    if (typeof dir !== 'string' || dir === '') bad(`meteredCache.dir must be a folder path, got ${JSON.stringify(dir)}`);
    if (mode === 'strict') bad("meteredCache is for development trust only: a strict host meters every module from the bytes that passed the gate; remove meteredCache or use trust.mode 'development'");
  }
  const limits: WasmHostLimits = { ...DEFAULT_HOST_LIMITS };
  for (const [name, value] of Object.entries(options.limits ?? {})) {
    if (!(name in DEFAULT_HOST_LIMITS)) bad(`unknown limit '${name}'; known: ${Object.keys(DEFAULT_HOST_LIMITS).join(', ')}`);
    if (value === undefined) continue;
    if (!isCount(value) || value === 0) bad(`limits.${name} must be a positive integer, got ${JSON.stringify(value)}`);
    limits[name as keyof WasmHostLimits] = value;
  }
  const shape: Record<string, number> = { ...DEFAULT_SHAPE_LIMITS };
  for (const [name, value] of Object.entries(options.shape ?? {})) {
    if (!(name in DEFAULT_SHAPE_LIMITS)) bad(`unknown shape limit '${name}'; known: ${Object.keys(DEFAULT_SHAPE_LIMITS).join(', ')}`);
    if (value === undefined) continue;
    if (!isCount(value) || value === 0) bad(`shape.${name} must be a positive integer, got ${JSON.stringify(value)}`);
    shape[name] = value;
  }
  limits.fuelPerCall = Math.min(limits.fuelPerCall, MAX_FUEL);
  limits.startFuel = Math.min(limits.startFuel, MAX_FUEL);
  limits.memoryPages = Math.min(limits.memoryPages, MAX_PAGES);
  return {
    trust: { mode, trustedKeys: new Set(trustedKeys) },
    limits,
    clampUnboundedMemory: options.clampUnboundedMemory ?? true,
    shape: shape as unknown as ModuleShapeLimits,
  };
}

/** The stricter of the host caps and the manifest's `limits` (a manifest can only lower them). */
export function pluginLimits(host: WasmHostLimits, manifest: PluginManifest): PluginLimits {
  return clampedLimits(host, manifest).limits;
}

const MANIFEST_LIMITS: readonly [keyof PluginLimits & keyof WasmHostLimits, string][] = [
  ['memoryPages', 'memory_pages'],
  ['fuelPerCall', 'fuel_per_call'],
  ['payloadBytes', 'payload_bytes'],
  ['hostCallsPerEvent', 'host_calls_per_event'],
  ['bytesWrittenPerEvent', 'bytes_written_per_event'],
];

/** The plugin's limits, and a note for each manifest limit the host cap lowered. */
export function clampedLimits(host: WasmHostLimits, manifest: PluginManifest): { limits: PluginLimits; clamped: string[] } {
  const wanted = (manifest.limits ?? {}) as Record<string, unknown>;
  const limits: PluginLimits = {
    memoryPages: host.memoryPages,
    fuelPerCall: host.fuelPerCall,
    startFuel: host.startFuel,
    payloadBytes: host.payloadBytes,
    hostCallsPerEvent: host.hostCallsPerEvent,
    bytesWrittenPerEvent: host.bytesWrittenPerEvent,
  };
  const clamped: string[] = [];
  for (const [field, key] of MANIFEST_LIMITS) {
    const value = wanted[key];
    if (!isCount(value)) continue;
    if (value <= host[field]) limits[field] = value;
    else clamped.push(`limits.${key} ${value} is above the host's cap of ${host[field]}; the cap applies`);
  }
  return { limits, clamped };
}
