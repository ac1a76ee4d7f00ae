export {
  ABI_VERSION_EXPORT,
  ABI_VERSION_EXPORT_PREFIX,
  AbiStatus,
  DEFAULT_LIMITS,
  GuestExport,
  HOST_ABI_VERSION,
  HOST_MODULE,
  HostImport,
  LogLevel,
  SubscriptionKind,
  type HostImportName,
} from './abi.js';
export { systemClock, type Clock } from './clock.js';
export type { HostCore } from './host.js';
export { cachedJson, cachedJsonBytes, isJsonSealed, sealJson } from './json-cache.js';
export {
  CONFIG_ENTRY_RECOVERABLE,
  EventType,
  RESERVED_EVENT_TYPES,
  type BusEvent,
  type ConfigEntry,
  type ConfigEntryState,
  type EntityState,
  type EventContext,
  type EventOrigin,
  type JsonObject,
  type JsonValue,
  type ServiceCall,
  type StateChangedData,
  type StateChangedEvent,
  type StateReportedData,
} from './json.js';
export {
  PERMISSION_ACTIONS,
  PERMISSION_CLAIM_REGEX,
  PermissionSet,
  checkPattern,
  compilePattern,
  matchesPattern,
  permissionDeniedMessage,
  type PatternMatcher,
  type PermissionAction,
} from './permissions.js';
export {
  ConfigEntryError,
  ConfigEntryNotReady,
  definePlugin,
  type ConfigData,
  type Attributes,
  type HomeCorePlugin,
  type PluginContext,
  type PluginId,
  type PluginLogger,
  type ServiceHandler,
  type Subscription,
} from './plugin.js';
export type {
  DeliveredEvent,
  PluginCode,
  PluginHooks,
  PluginInstance,
  PluginRuntime,
  RuntimeKind,
  RuntimeLoadOptions,
  RuntimeStats,
} from './runtime.js';
export { HOMECORE_VERSION } from './version.js';
export { formatTimestamp } from './timestamp.js';
export { ErrorCode, HomecoreError, errorLocation, isHomecoreError, toHomecoreError, type ErrorCodeValue, type ErrorOptions } from '@homecore/errors';
export type { PluginManifest } from '@homecore/manifest';
export { PATTERN_MAX_LENGTH, PATTERN_MAX_WILDCARDS, patternProblem, type PatternProblem } from '@homecore/manifest/pattern';
