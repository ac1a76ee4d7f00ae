import type { HomecoreError } from '@homecore/errors';
import type { PluginManifest } from '@homecore/manifest';
import type { BusEvent, ConfigEntry, ServiceCall } from './json.js';
import type { HomeCorePlugin, PluginContext } from './plugin.js';

/** The runtime kinds a manifest's `runtime` field names. */
export type RuntimeKind = 'native' | 'wasm';

/**
 * A plugin's code as handed to a runtime: a plugin object, a factory returning one (a fresh object
 * per load), wasm bytes, or the absolute path or URL of its entry file (an ES module for native, a
 * `.wasm` file for wasm).
 */
export type PluginCode = HomeCorePlugin | (() => HomeCorePlugin | Promise<HomeCorePlugin>) | Uint8Array | URL | string;

/**
 * One event on its way to plugins. The registry creates one per event and shares it, so the
 * event is serialised at most once however many plugins receive it.
 */
export interface DeliveredEvent {
  /** The event object (frozen: plugins cannot change what others see). */
  readonly event: BusEvent;
  /** The event as JSON, computed on first use. */
  json(): string;
  /** The UTF-8 bytes of `json()`, computed on first use. */
  bytes(): Uint8Array;
}

/** Which optional hooks a loaded plugin implements. */
export interface PluginHooks {
  readonly teardown: boolean;
  readonly stateChanged: boolean;
  readonly event: boolean;
  readonly serviceCall: boolean;
  readonly configUpdate: boolean;
}

/** Runtime-specific figures for `stats()`, for example wasm memory pages or traps. */
export type RuntimeStats = Readonly<Record<string, number>>;

/**
 * A plugin loaded by a runtime. The registry owns the lifecycle: it calls `setup` once, routes
 * events and service calls, and always calls `teardown` then `dispose` on unload. Calls are never
 * overlapped for one instance.
 */
export interface PluginInstance {
  /** The runtime kind that loaded it. */
  readonly kind: RuntimeKind;
  /** Which optional hooks exist. */
  readonly hooks: PluginHooks;
  /**
   * Largest event (its UTF-8 JSON) this instance accepts, if it has a cap. The registry skips a
   * larger event for this instance (counted as dropped, reason `too_large`), without calling it
   * and without counting a failure: an oversized event is not the receiver's fault.
   */
  readonly maxEventBytes?: number;
  /** Runs the plugin's setup; a rejection with `HC_ERR_CONFIG_ENTRY_NOT_READY` asks for a retry. */
  setup(context: PluginContext): Promise<void>;
  /** Runs the plugin's teardown. */
  teardown(): Promise<void>;
  /**
   * Delivers one subscribed event (`state_changed` or other). May finish synchronously (return
   * nothing, or throw) so a synchronous handler costs the registry no microtask turn.
   */
  handleEvent(event: DeliveredEvent): void | Promise<void>;
  /** Handles a call to one of the plugin's services; resolves to its response. */
  handleServiceCall(call: ServiceCall): Promise<unknown>;
  /** Applies a config update; resolves false when the plugin has no such hook (the registry then reloads it). */
  handleConfigUpdate(entry: ConfigEntry): Promise<boolean>;
  /**
   * The call in flight outlived its timeout (`error` says which hook and limit). An instance that
   * can stop running code (a worker or process it owns) stops it now and fails that call; one that
   * cannot leaves this out. The registry has already counted the failure.
   */
  preempt?(error: HomecoreError): void;
  /**
   * Optional: runs the plugin's config entry migration (native `migrateEntry`, wasm
   * `hc_migrate_entry`) before setup, when the entry's versions differ from the plugin's. Resolves
   * to what the plugin returned (see HomeCorePlugin.migrateEntry; the registry checks it); absent
   * when the plugin has no such hook.
   */
  migrateEntry?(entry: ConfigEntry): Promise<unknown>;
  /** Runtime-specific figures. */
  stats(): RuntimeStats;
  /** Frees the instance's resources; no hook runs after this. */
  dispose(): void | Promise<void>;
}

/** Options for `PluginRuntime.load`. */
export interface RuntimeLoadOptions {
  /** The plugin's folder, for resolving relative paths. */
  baseDir?: string;
  /** Receives runtime warnings (for example an unsigned module under a development policy). */
  warn?: (message: string) => void;
}

/** What both runtimes implement; the registry picks one by the manifest's `runtime`. */
export interface PluginRuntime {
  /** The manifest `runtime` value this runtime serves. */
  readonly kind: RuntimeKind;
  /** Checks and loads a plugin's code; no plugin hook runs yet. Throws coded errors. */
  load(code: PluginCode, manifest: PluginManifest, options?: RuntimeLoadOptions): Promise<PluginInstance>;
}
