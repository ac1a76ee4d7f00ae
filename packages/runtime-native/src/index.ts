export { InProcessRuntime } from './runtime.js';
export type { PluginFactory } from './resolve.js';
