import { ErrorCode, HomecoreError } from '@homecore/errors';
import type { PluginManifest } from '@homecore/manifest';
import type { BusEvent, ConfigEntry, EntityState, JsonValue, ServiceCall, StateChangedEvent } from './json.js';

/** A plugin's id: its manifest `domain`. */
export type PluginId = string;

/** Attributes of an entity state. */
export type Attributes = Record<string, JsonValue>;

/** Handles calls to a service; the resolved value is the service's response (HA: a dict or nothing). */
export type ServiceHandler = (call: ServiceCall) => unknown | Promise<unknown>;

/** A logger that prefixes every line with the plugin. */
export interface PluginLogger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

/** What a plugin subscribes to: entity id patterns and event type patterns. */
export interface Subscription {
  /** Entity ids or patterns (`sensor.*`); matching `state_changed` events go to `onStateChanged`. */
  entities?: readonly string[];
  /** Event types or patterns; matching events go to `onEvent`. */
  events?: readonly string[];
}

/** The default type of a config entry's `data`: any JSON object. */
export type ConfigData = Record<string, JsonValue>;

/**
 * Everything a plugin may do to the home. Each call is checked against the manifest's
 * `permissions` (deny by default); a denied call throws `HC_ERR_PERMISSION_DENIED` and is audited.
 * Writes carry a context naming the plugin. `Config` types `configEntry.data`.
 */
export interface PluginContext<Config extends object = ConfigData> {
  /** The plugin's id (its domain). */
  readonly pluginId: PluginId;
  /** The validated manifest. */
  readonly manifest: PluginManifest;
  /** The plugin's config entry as it is now. */
  readonly configEntry: ConfigEntry<Config>;
  /** A logger named after the plugin. */
  readonly logger: PluginLogger;
  /** Aborted when the plugin is being torn down or unloaded: stop timers and I/O. */
  readonly signal: AbortSignal;
  /** Milliseconds since the epoch, from the host's clock. */
  now(): number;
  /** One entity's state, or undefined; needs `state:read`. */
  getState(entityId: string): EntityState | undefined;
  /** Every state the plugin may read, optionally only those matching `pattern`. */
  getStates(pattern?: string): EntityState[];
  /** Writes a state; needs `state:write`. Fires `state_changed`, or `state_reported` if nothing changed. */
  setState(entityId: string, state: string, attributes?: Attributes, options?: { forceUpdate?: boolean }): EntityState;
  /** Removes an entity; needs `state:write`. Returns false if it did not exist. */
  removeState(entityId: string): boolean;
  /** Calls a service; needs `service:call` for `domain.service`. Resolves to its response. */
  callService(domain: string, service: string, data?: Record<string, JsonValue>, options?: { returnResponse?: boolean }): Promise<unknown>;
  /** Registers `<plugin domain>.<service>`; the service must be listed in the manifest's `services`. */
  registerService(service: string, handler: ServiceHandler): () => void;
  /** Fires an event; needs `event:fire`. */
  fireEvent(eventType: string, data?: Record<string, JsonValue>): void;
  /** Adds subscriptions beyond the manifest's; needs `state:read` / `event:subscribe`. Returns an unsubscribe. */
  subscribe(subscription: Subscription): () => void;
  /**
   * Runs `callback` once after `ms` milliseconds of the host's clock (Home Assistant's
   * `async_call_later`), in the plugin's queue so it never overlaps its other hooks; a throw counts
   * as a handler failure. Returns a cancel function; pending timers die at teardown.
   */
  callLater(ms: number, callback: () => void | Promise<void>): () => void;
}

/**
 * A native plugin. Only `setup` is required. Each plugin receives its events in order, one at a
 * time; a throw or rejection counts against this plugin only. `Config` types its config entry's
 * `data` (the registry has checked it against the manifest's `config_schema`).
 */
export interface HomeCorePlugin<Config extends object = ConfigData> {
  /** Called once with the plugin's context; throw `ConfigEntryNotReady` to be retried with backoff. */
  setup(context: PluginContext<Config>): void | Promise<void>;
  /** Called before unload; always runs, even after errors. */
  teardown?(): void | Promise<void>;
  /** A subscribed entity's state changed. */
  onStateChanged?(event: StateChangedEvent): void | Promise<void>;
  /** A subscribed event (other than `state_changed`) was fired. */
  onEvent?(event: BusEvent): void | Promise<void>;
  /** A service listed in the manifest's `services` was called and no handler was registered for it. */
  onServiceCall?(call: ServiceCall): unknown | Promise<unknown>;
  /** The config entry's options changed; without this hook the plugin is reloaded instead. */
  onConfigUpdate?(entry: ConfigEntry<Config>): void | Promise<void>;
  /**
   * Optional, HA's `async_migrate_entry`: called before setup when the stored entry's
   * `version`/`minor_version` differ from the plugin's (manifest `config_entry_version` /
   * `config_entry_minor_version`, default 1). Return the migrated fields (`version` and
   * `minor_version` default to the plugin's), `true` to keep the data at the plugin's versions, or
   * `false` (or throw) when it cannot: the entry then stays `migration_error` with its stored data unchanged.
   * The stored data is of an older version, so it is not typed as `Config`.
   */
  migrateEntry?(entry: ConfigEntry):
    | boolean
    | { data?: Record<string, JsonValue>; options?: Record<string, JsonValue>; title?: string; version?: number; minor_version?: number }
    | Promise<boolean | { data?: Record<string, JsonValue>; options?: Record<string, JsonValue>; title?: string; version?: number; minor_version?: number }>;
}

/**
 * Types a native plugin object (an identity function that keeps authors honest).
 * `definePlugin<MyConfig>({ setup(ctx) { ctx.configEntry.data.sensor } })` types the config entry's
 * data in every hook; without a type argument the plugin's own type is kept as written.
 */
export function definePlugin<Config extends object = ConfigData, T extends HomeCorePlugin<Config> = HomeCorePlugin<Config>>(plugin: T & HomeCorePlugin<Config>): T {
  return plugin;
}

/** Thrown from `setup` when a device or service is not ready yet: the entry moves to `setup_retry` (HA's ConfigEntryNotReady). */
export class ConfigEntryNotReady extends HomecoreError {
  constructor(message: string) {
    super(ErrorCode.CONFIG_ENTRY_NOT_READY, message);
    this.name = 'ConfigEntryNotReady';
  }
}

/** Thrown from `setup` for a permanent failure: the entry moves to `setup_error` (HA's ConfigEntryError). */
export class ConfigEntryError extends HomecoreError {
  constructor(message: string) {
    super(ErrorCode.CONFIG_ENTRY_ERROR, message);
    this.name = 'ConfigEntryError';
  }
}
