export { PluginRegistry } from './registry.js';
export { createDeliveredEvent } from './dispatch.js';
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
  PluginStats,
  PluginSummary,
  RegistryActivity,
  RegistryLimits,
  RegistryOptions,
  RegistryStats,
  ReloadSource,
} from './types.js';
