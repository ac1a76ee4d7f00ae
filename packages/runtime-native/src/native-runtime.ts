import { existsSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ErrorCode,
  HomecoreError,
  type HostCore,
  type PluginCode,
  type PluginInstance,
  type PluginManifest,
  type PluginRuntime,
  type RuntimeLoadOptions,
} from '@homecore/core-traits';
import { permissionModelFlag, startIsolated } from '@homecore/isolation';
import { isolationFor, type IsolationLevel, type IsolationPolicy } from './policy.js';
import type { PluginFactory } from './resolve.js';
import { InProcessRuntime } from './runtime.js';

/** Options for `NativeRuntime`. */
export interface NativeRuntimeOptions {
  /** The host's isolation policy (default: every plugin where its manifest says, `none` if it says nothing). */
  readonly isolation?: IsolationPolicy;
  /** The core, whose events keep an isolated plugin's mirror of readable states current. Needed for `worker` and `process`. */
  readonly core?: Pick<HostCore, 'listen'>;
  /** Heap limit of an isolated plugin that asks for none, in MiB (default 128). */
  readonly defaultMemoryMb?: number;
  /** The most heap a plugin's `limits.memory_mb` may ask for, in MiB (default 1024). */
  readonly maxMemoryMb?: number;
  /** Largest message a process-isolated plugin may send the host, in bytes (default 8 MiB). */
  readonly maxFrameBytes?: number;
  /** Paths every process-isolated plugin may read besides its own folder. */
  readonly allowRead?: readonly string[];
  /** Consecutive failed restarts before an isolated plugin stays stopped (default 5). */
  readonly maxRestarts?: number;
}

/**
 * Runs native plugins at the isolation each needs: in process (`none`), in a worker thread, or in
 * a child Node process under the permission model. The plugin module is the same at every level.
 */
export class NativeRuntime implements PluginRuntime {
  /** Serves manifests with `"runtime": "native"` (or no runtime). */
  readonly kind = 'native' as const;
  readonly #options: NativeRuntimeOptions;
  readonly #inProcess = new InProcessRuntime();

  constructor(options: NativeRuntimeOptions = {}) {
    this.#options = options;
  }

  /** The level a plugin with this manifest runs at under the host's policy. */
  levelOf(manifest: PluginManifest): IsolationLevel {
    return isolationFor(manifest, this.#options.isolation);
  }

  /** Loads a plugin at its level; isolated plugins need an ES module file (a path or file URL). */
  async load(code: PluginCode | PluginFactory, manifest: PluginManifest, options: RuntimeLoadOptions = {}): Promise<PluginInstance> {
    const level = typeof manifest === 'object' && manifest !== null ? this.levelOf(manifest) : 'none';
    if (level === 'none') return this.#inProcess.load(code, manifest, options);
    const plugin = manifest.domain;
    const path = entryPath(code, options.baseDir);
    if (path === undefined) {
      throw new HomecoreError(
        ErrorCode.ISOLATION_UNAVAILABLE,
        `the plugin runs at ${level} isolation, which needs its code as an ES module file: load it from its folder (or pass the entry's absolute path), not as an object or factory`,
        { plugin, details: { level } },
      );
    }
    if (this.#options.core === undefined) {
      throw new HomecoreError(ErrorCode.ISOLATION_UNAVAILABLE, `${level} isolation needs the core: create the runtime with new NativeRuntime({ core, ... })`, { plugin, details: { level } });
    }
    if (level === 'process' && permissionModelFlag() === undefined) {
      throw new HomecoreError(ErrorCode.ISOLATION_UNAVAILABLE, `process isolation needs Node's permission model (Node 20 or later); this is Node ${process.versions.node}`, { plugin, details: { level } });
    }
    const asked = manifest.limits?.memory_mb ?? this.#options.defaultMemoryMb ?? 128;
    const memoryMb = Math.max(16, Math.min(asked, this.#options.maxMemoryMb ?? 1024));
    const core = this.#options.core;
    return startIsolated({
      level,
      guest: guestModule(),
      code: path,
      manifest,
      baseDir: options.baseDir ?? dirname(path),
      listen: (listener) => core.listen(listener),
      memoryMb,
      ...(this.#options.maxFrameBytes !== undefined ? { maxFrameBytes: this.#options.maxFrameBytes } : {}),
      ...(this.#options.allowRead !== undefined ? { allowRead: this.#options.allowRead } : {}),
      ...(this.#options.maxRestarts !== undefined ? { maxRestarts: this.#options.maxRestarts } : {}),
      ...(options.warn !== undefined ? { warn: options.warn } : {}),
    });
  }
}

function entryPath(code: PluginCode | PluginFactory, baseDir: string | undefined): string | undefined {
  if (code instanceof URL) return code.protocol === 'file:' ? fileURLToPath(code) : undefined;
  if (typeof code !== 'string') return undefined;
  if (code.startsWith('file:')) return fileURLToPath(code);
  if (isAbsolute(code)) return code;
  return baseDir === undefined ? undefined : resolve(baseDir, code);
}

/** The built guest module: beside this file once bundled, in dist/ when running from source. */
function guestModule(): URL {
  const beside = new URL('./guest.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  const built = new URL('../dist/guest.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new HomecoreError(ErrorCode.ISOLATION_UNAVAILABLE, `the isolation guest ${fileURLToPath(built)} is missing: build @homecore/runtime-native`);
}
