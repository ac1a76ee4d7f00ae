export { PluginRegistry } from './registry.js';
export { createDeliveredEvent } from './dispatch.js';
export { REGISTRY_LIMIT_DEFAULTS } from './settings.js';
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
