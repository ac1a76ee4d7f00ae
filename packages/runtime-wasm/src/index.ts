export { WasmRuntime, type WasmRuntimeStats } from './runtime.js';
export { WasmPluginInstance, LOG_MESSAGE_MAX_BYTES } from './instance.js';
export { type MeteredCacheOptions } from './disk-cache.js';
export {
  DEFAULT_HOST_LIMITS,
  type PluginLimits,
  type TrustPolicy,
  type WasmBackstop,
  type WasmHostLimits,
  type WasmRuntimeOptions,
} from './options.js';
export {
  SIGNED_MESSAGE_PREFIX,
  generatePublisherKeys,
  sha256Hex,
  signModule,
  signedMessage,
  type ModuleSignature,
  type PublisherKeys,
} from './signing.js';
export { FUEL_COSTS, FUEL_EXPORT, type MeterOptions } from './rewriter.js';
export { DEFAULT_SHAPE_LIMITS, type ModuleShapeLimits } from './binary.js';
export { GUEST_EXPORT_SIGNATURES, HOST_IMPORT_SIGNATURES, RESERVED_EXPORT_PREFIX, meterModule } from './gate.js';
export { inspectModule, type InspectOptions, type ModuleInspection } from './inspect.js';
