import {
  ErrorCode,
  HomecoreError,
  type PluginCode,
  type PluginInstance,
  type PluginManifest,
  type PluginRuntime,
  type RuntimeLoadOptions,
} from '@homecore/core-traits';
import { NativePluginInstance } from './instance.js';
import { resolvePlugin, type PluginFactory } from './resolve.js';

/**
 * Runs native (JS/TS) plugins in the host process. It loads a plugin object, a factory, or an ES
 * module file, and turns anything a hook throws into a coded error naming the plugin and hook.
 * Timeouts, queues, failure policy and permissions are the registry's job.
 */
export class InProcessRuntime implements PluginRuntime {
  /** Serves manifests with `"runtime": "native"` (or no runtime). */
  readonly kind = 'native' as const;

  /**
   * Loads a plugin without running any of its hooks. `code` is a plugin object, a factory
   * (sync or async; called once per load, so a reload starts fresh), or the absolute path or file
   * URL of an ES module whose default export or `plugin` export is one of those. A module is
   * imported anew on every load, so a reload sees the file as it is on disk now.
   */
  async load(code: PluginCode | PluginFactory, manifest: PluginManifest, options: RuntimeLoadOptions = {}): Promise<PluginInstance> {
    if (typeof manifest !== 'object' || manifest === null || typeof manifest.domain !== 'string') {
      throw new HomecoreError(ErrorCode.MANIFEST_INVALID, 'InProcessRuntime.load needs a validated manifest with a domain');
    }
    const kind: unknown = manifest.runtime ?? 'native';
    if (kind !== 'native') {
      throw new HomecoreError(
        ErrorCode.RUNTIME_UNAVAILABLE,
        `The manifest asks for runtime ${JSON.stringify(kind)}, but InProcessRuntime runs only native plugins; hand it to a runtime of that kind (for example WasmRuntime from @homecore/runtime-wasm)`,
        { plugin: manifest.domain, details: { runtime: kind } },
      );
    }
    const plugin = await resolvePlugin(code, manifest, options.baseDir);
    return new NativePluginInstance(plugin, manifest.domain);
  }
}
