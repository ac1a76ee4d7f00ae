export { PluginRegistry } from './registry.js';
export { createDeliveredEvent } from './dispatch.js';
export { REGISTRY_LIMIT_DEFAULTS } from './settings.js';
export { JSON_FILE_STORE_VERSION, JsonFileStore, MemoryStore, type DataStore, type JsonFileStoreOptions } from './store.js';
export {
  CONFIG_ENTRIES_KEY,
  CONFIG_ENTRIES_MINOR_VERSION,
  CONFIG_ENTRIES_VERSION,
  FileConfigEntryStore,
  MemoryConfigEntryStore,
  QUARANTINE_KEY,
  STORAGE_DIR,
  fileConfigEntryStore,
  type ConfigEntriesSnapshot,
  type ConfigEntryStore,
  type FileConfigEntryStoreOptions,
  type StoredConfigEntry,
  type StoredQuarantine,
} from './entry-store.js';
export { ENTRY_SAVE_DELAY_MS } from './persistence.js';
export { GRANTS_FILE, fileGrantStore, type AcceptedGrant, type GrantAcceptance, type GrantReason, type GrantStore } from './grants.js';
export type {
  ActivityLogLevel,
  ConfigEntryInit,
  ConfigEntryUpdate,
  EntrySummary,
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
