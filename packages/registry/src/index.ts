export { PluginRegistry } from './registry.js';
export { createDeliveredEvent } from './dispatch.js';
export { REGISTRY_LIMIT_DEFAULTS } from './settings.js';
export { JSON_FILE_STORE_VERSION, JsonFileStore, MemoryStore, type DataStore, type JsonFileStoreOptions } from './store.js';
export { GRANTS_FILE, fileGrantStore, type AcceptedGrant, type GrantAcceptance, type GrantReason, type GrantStore } from './grants.js';
export type {
  ActivityLogLevel,
  ConfigEntryInit,
  ConfigEntryUpdate,
  DiscoveredPlugin,
  DiscoveryReport,
  DropReason,
  FailurePolicy,
  LoadItem,
  LoadOptions,
  LoadReport,
  PermissionDenial,
  PluginFailure,
  PluginHealth,
  PluginHoldings,
  PluginRefusals,
  PluginStats,
  PluginSummary,
  RegistryActivity,
  RegistryLimits,
  RegistryOptions,
  RegistryStats,
  ReloadSource,
} from './types.js';
