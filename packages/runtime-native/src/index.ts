export { InProcessRuntime } from './runtime.js';
export { NativeRuntime, type NativeRuntimeOptions } from './native-runtime.js';
export type { PluginFactory } from './resolve.js';
export { createHomecore, type Homecore, type HomecoreOptions } from './host.js';
export { ISOLATION_LEVELS, isolationFor, type IsolationLevel, type IsolationPolicy } from './policy.js';
export {
  ConfigEntryError,
  ConfigEntryNotReady,
  definePlugin,
  type HomeCorePlugin,
  type PluginContext,
} from '@homecore/core-traits';
