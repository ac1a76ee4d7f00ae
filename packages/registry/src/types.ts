import type {
  Clock,
  ConfigEntryState,
  HomecoreError,
  HostCore,
  JsonValue,
  PluginCode,
  PluginId,
  PluginManifest,
  PluginRuntime,
  RuntimeKind,
  RuntimeStats,
} from '@homecore/core-traits';
import type { ManifestDifference } from '@homecore/manifest';
import type { ConfigEntryStore } from './entry-store.js';
import type { GrantReason, GrantStore } from './grants.js';

/** How a plugin's event handling is doing under the failure policy. */
export type PluginHealth = 'ok' | 'backoff' | 'quarantined';

/**
 * Why an event was not delivered to a plugin: its queue was full (`overflow`), it was backing off
 * or quarantined, the event was larger than its runtime accepts (`too_large`, not a failure), or it
 * belongs to a runaway causal chain this plugin already closed a loop of (`feedback_loop`: it could
 * only feed the loop again).
 */
export type DropReason = 'overflow' | 'backoff' | 'quarantined' | 'too_large' | 'feedback_loop';

/** When repeated handler failures lead to backoff, and repeated backoffs to quarantine. */
export interface FailurePolicy {
  /** Consecutive handler failures that start a backoff (default 3). */
  maxConsecutiveFailures?: number;
  /** The first backoff in ms; each further backoff without a success doubles it (default 1000). */
  backoffMs?: number;
  /** Backoffs without a success in between before the plugin is quarantined (default 3). */
  quarantineAfterBackoffs?: number;
}

/** Host caps; a manifest's `limits` may lower them, never raise them. */
export interface RegistryLimits {
  /** Longest a plugin's setup may take (default 30 000 ms). */
  setupTimeoutMs?: number;
  /** Longest a plugin's teardown may take (default 10 000 ms). */
  teardownTimeoutMs?: number;
  /**
   * Events queued per plugin before one is dropped (default 1024): the oldest event of the plugin
   * with the most events in the queue, so a flood costs its source; events from the host are kept.
   */
  queueCapacity?: number;
  /**
   * Longest an event handler, a service call routed to a plugin's queue or a config update may
   * take before it fails with HC_ERR_HANDLER_TIMEOUT and the queue moves on (default 30 000 ms;
   * `Infinity` turns it off).
   */
  handlerTimeoutMs?: number;
  /**
   * Longest causal chain (hops from the event that started it) a plugin action may extend: a
   * state write, fired event or service call made while handling an event (or a service call, or
   * in a timer started by either) is refused with HC_ERR_FEEDBACK_LOOP beyond it (default 32), and
   * the chain's further events are no longer delivered to the plugin that closed the loop.
   */
  loopDepth?: number;
  /** Most actions one root event may cause, through any number of plugins, attempts refused by a budget included (default 1000; HC_ERR_FEEDBACK_LOOP beyond). */
  loopActions?: number;
  /** State writes and removes per plugin per second (default 500; manifest `limits.writes_per_second`; HC_ERR_RATE_LIMITED). */
  writesPerSecond?: number;
  /** Fired events per plugin per second (default 200; manifest `limits.events_per_second`). */
  eventsPerSecond?: number;
  /** Service calls per plugin per second (default 100; manifest `limits.service_calls_per_second`). */
  serviceCallsPerSecond?: number;
  /** UTF-8 bytes of one write's state plus its attributes as JSON (default 16 KiB; manifest `limits.state_bytes`; HC_ERR_RESOURCE_LIMIT). */
  stateBytes?: number;
  /** Entities one plugin may have created and not removed (default 1000; manifest `limits.entities`). */
  entities?: number;
  /** Subscription patterns one plugin may add at run time (default 256; manifest `limits.subscriptions`). */
  subscriptions?: number;
  /** Bytes of those patterns (default 16 KiB; manifest `limits.subscription_bytes`). */
  subscriptionBytes?: number;
  /** ctx.callLater timers pending per plugin, waiting or due (default 256; manifest `limits.timers`). */
  timers?: number;
  /** Service calls one plugin may have in flight (default 64; manifest `limits.pending_service_calls`). */
  pendingServiceCalls?: number;
}

/** Options for `new PluginRegistry()`. */
export interface RegistryOptions {
  /** The core plugins act on. */
  core: HostCore;
  /** The runtimes, chosen by each manifest's `runtime` kind. */
  runtimes: readonly PluginRuntime[];
  /** Time source for timeouts, retries and backoff (default: the system clock). */
  clock?: Clock;
  /** Failure policy for event handlers. */
  failurePolicy?: FailurePolicy;
  /** Host caps on per-plugin limits. */
  limits?: RegistryLimits;
  /** The version `min_homecore_version` is checked against (default HOMECORE_VERSION). */
  homecoreVersion?: string;
  /** Random numbers in [0, 1) for retry jitter and entry ids (default Math.random); inject for deterministic tests. */
  random?: () => number;
  /**
   * Where the manifests the operator accepted are kept, per plugin: with a store, every new version
   * (a reload with a new manifest, a reload from disk, a load of a plugin seen before) is compared
   * with its grant, and one that asks for more is refused with HC_ERR_UPGRADE_NOT_ACCEPTED until it
   * is accepted (`acceptManifest`, `acceptUpgrade`). A plugin seen for the first time is trusted as
   * it is and its grant stored. `new MemoryStore()` keeps grants for the process, `fileGrantStore(dataDir)`
   * across restarts. Without a store (the default) versions are not compared.
   */
  grants?: GrantStore;
  /**
   * Where config entries are kept across restarts (`fileConfigEntryStore(dataDir)` writes Home
   * Assistant's `.storage/core.config_entries`; `new MemoryConfigEntryStore()` for tests). With a
   * store, a plugin loads with its stored entry (same `entry_id`, title, data, options, source,
   * unique_id, versions, disabled state and timestamps): a `config` passed to load (a folder's
   * `config.json`) is used only on the first start, when no entry of the domain is stored, and a
   * reload from disk no longer replaces the entry with `config.json`. A disabled entry is not set up.
   * A quarantine is stored too: the plugin comes back quarantined until `clearQuarantine(id)` or a
   * reload. Changes are saved after `entrySaveDelayMs`, together; `flush()` and `unloadAll()` save at once.
   * Without a store (the default) entries live as long as the process.
   */
  entries?: ConfigEntryStore;
  /** Delay of the debounced entry save, like HA's `async_delay_save` (default 1000 ms, registry clock). */
  entrySaveDelayMs?: number;
}

/** The config entry a plugin is loaded with; everything else is filled in. */
export interface ConfigEntryInit {
  /** Defaults to the manifest's `name`. */
  title?: string;
  /** Validated against the manifest's `config_schema`. */
  data?: Record<string, JsonValue>;
  /** User-changeable options. */
  options?: Record<string, JsonValue>;
  /** HA's `unique_id`: a second entry of the domain with the same one is refused (HC_ERR_ALREADY_CONFIGURED). Default null. */
  unique_id?: string | null;
  /** HA's `source` (`user`, `import`, `zeroconf`...; default `user`). */
  source?: string;
}

/** Options for `registry.load()`. */
export interface LoadOptions {
  /** The plugin's config entry. */
  config?: ConfigEntryInit;
  /** The plugin's folder, for resolving relative paths in the runtime. */
  baseDir?: string;
}

/** One plugin for `registry.loadAll()`. */
export interface LoadItem extends LoadOptions {
  /** The manifest, unvalidated. */
  manifest: unknown;
  /** The plugin's code. */
  code: PluginCode;
}

/** What `loadAll` and `loadDirectory` did. */
export interface LoadReport {
  /** Plugins set up and running, in the order their setup finished. */
  loaded: PluginId[];
  /** Plugins whose setup asked to be retried (entry state `setup_retry`). */
  retrying: PluginId[];
  /** One coded error per plugin (or folder) that failed; the others were not affected. */
  errors: HomecoreError[];
  /** Non-fatal findings, for example a folder whose name differs from its domain. */
  warnings: string[];
}

/** A plugin folder found by `registry.discover()`. */
export interface DiscoveredPlugin {
  /** The plugin's folder (absolute). */
  dir: string;
  /** The validated manifest. */
  manifest: PluginManifest;
  /** The absolute path of the entry file. */
  code: string;
  /** The folder's `config.json`, if any. */
  config: ConfigEntryInit | undefined;
}

/** What `registry.discover()` found. */
export interface DiscoveryReport {
  /** Valid plugin folders, sorted by domain. */
  plugins: DiscoveredPlugin[];
  /** One coded error per refused folder, naming the folder and file. */
  errors: HomecoreError[];
  /** Non-fatal findings. */
  warnings: string[];
}

/** One plugin as `list()` and `get()` show it. */
export interface PluginSummary {
  /** The plugin id (its domain). */
  readonly id: PluginId;
  /** The validated manifest. */
  readonly manifest: PluginManifest;
  /** The runtime kind running it. */
  readonly runtime: RuntimeKind;
  /** The config entry's state. */
  readonly state: ConfigEntryState;
  /** The failure policy's view of it. */
  readonly health: PluginHealth;
  /** Why it is not running normally (setup error, retry, backoff or quarantine), else null. */
  readonly reason: string | null;
  /** The config entry id (of the first entry). */
  readonly entryId: string;
  /** Every config entry of the plugin, the first one first, each set up as its own instance. */
  readonly entries: readonly EntrySummary[];
}

/** One config entry of a plugin, as `list()` and `get()` show it under the plugin. */
export interface EntrySummary {
  /** The config entry id. */
  readonly entryId: string;
  /** HA's `unique_id`, or null. (Titles, data and options: `entries(domain)`.) */
  readonly uniqueId: string | null;
  /** The entry's state. */
  readonly state: ConfigEntryState;
  /** The failure policy's view of this entry's instance. */
  readonly health: PluginHealth;
  /** Why it is not running normally, else null. */
  readonly reason: string | null;
  /** HA's `disabled_by` (`user`), or null. */
  readonly disabledBy: string | null;
}

/** A plugin's most recent failure, as `stats()` shows it. */
export interface PluginFailure {
  /** The error code, for example `HC_ERR_HANDLER_FAILED`. */
  readonly code: string;
  /** The error message (what went wrong and what to fix). */
  readonly message: string;
  /** The hook that failed (`setup`, `teardown`, `onStateChanged`, `onServiceCall`...), or null. */
  readonly hook: string | null;
  /** When, in ms since the epoch on the registry clock. */
  readonly time: number;
}

/** What a plugin holds in the host right now, each bounded by a host-side limit. */
export interface PluginHoldings {
  /** Subscription patterns it added at run time (ctx.subscribe, hc_subscribe); manifest ones are not counted. */
  readonly subscriptions: number;
  /** Bytes of those patterns. */
  readonly subscriptionBytes: number;
  /** Entities it created that still exist. */
  readonly entities: number;
  /** ctx.callLater timers waiting, or due and queued. */
  readonly timers: number;
  /** Service calls it made that have not settled. */
  readonly pendingServiceCalls: number;
}

/** Actions of a plugin the host-side limits refused, by cause. */
export interface PluginRefusals {
  /** Beyond `loopDepth` or `loopActions` (HC_ERR_FEEDBACK_LOOP): the plugin closed a loop. */
  readonly feedbackLoop: number;
  /** Beyond a per-second budget (HC_ERR_RATE_LIMITED). */
  readonly rateLimited: number;
  /** Beyond a size or holding cap (HC_ERR_RESOURCE_LIMIT). */
  readonly resourceLimit: number;
}

/** Per-plugin figures in `stats()`. */
export interface PluginStats {
  readonly id: PluginId;
  readonly state: ConfigEntryState;
  readonly health: PluginHealth;
  readonly reason: string | null;
  /** Events handed to the plugin's handlers. */
  readonly delivered: number;
  /** Events (and `ctx.callLater` callbacks) not delivered, by reason. */
  readonly dropped: Readonly<Record<DropReason, number>>;
  /**
   * The `dropped.overflow` events by their source: `plugin:<domain>` for events a plugin caused
   * (its writes, fired events and service calls), `external` for the rest.
   */
  readonly overflowBySource: Readonly<Record<string, number>>;
  /** Events this plugin caused that were dropped from full queues (its own or other plugins'). */
  readonly overflowCaused: number;
  /** Handler, service and config-update failures. */
  readonly errors: number;
  /** Calls to services the plugin registered. */
  readonly serviceCalls: number;
  /** State writes and removes the plugin made through its context. */
  readonly writes: number;
  /** Services the plugin called through its context (denied calls not counted). */
  readonly servicesCalled: number;
  /** Events the plugin fired through its context. */
  readonly eventsFired: number;
  /**
   * Event handler durations over the recent window (512 samples), in ms. Every one of a plugin's
   * first 64 deliveries is timed, then one in 8 (a clock read costs about as much as a small handler).
   */
  readonly handlerMs: { readonly p50: number; readonly p99: number; readonly samples: number };
  /** Events waiting in the plugin's queue. */
  readonly queueDepth: number;
  /** Context calls refused by its permissions (and events refused because the core owns their type). */
  readonly permissionDenials: number;
  /** Actions refused by the host-side limits. */
  readonly refused: PluginRefusals;
  /** What the plugin holds now. */
  readonly held: PluginHoldings;
  /** Figures from the runtime (`PluginInstance.stats()`), empty when no instance runs. */
  readonly runtime: RuntimeStats;
  /**
   * The most recent failure of the plugin's code: a handler, setup (including a failed reload or
   * a setup retry), teardown or service failure, timeouts included; null if none yet.
   */
  readonly lastError: PluginFailure | null;
  /** When the running version finished its setup (ms since the epoch, registry clock; a reload sets it anew), or null when none runs. */
  readonly loadedAt: number | null;
  /** The config entry these figures are of (the plugin's first entry at the top level). */
  readonly entryId: string;
  /** Every config entry of the plugin by entry id, the first one's figures included (its `entries` is empty). */
  readonly entries: Readonly<Record<string, PluginStats>>;
}

/** What `registry.stats()` returns. */
export interface RegistryStats {
  /** Bus events the registry has seen. */
  readonly events: number;
  /** Per plugin, keyed by id. */
  readonly plugins: Readonly<Record<PluginId, PluginStats>>;
}

/** One refused context call, as `audit()` lists it. */
export interface PermissionDenial {
  /** Milliseconds since the epoch (registry clock). */
  readonly time: number;
  readonly plugin: PluginId;
  /** Why: `HC_ERR_PERMISSION_DENIED`, `HC_ERR_EVENT_TYPE_RESERVED` (a core-owned event type) or `HC_ERR_FEEDBACK_LOOP`. */
  readonly code: string;
  /** The permission action, for example `state:write`. */
  readonly action: string;
  /** What was asked for, for example `light.kitchen`. */
  readonly target: string;
  /** The hook that was running, or null (for example a timer). */
  readonly hook: string | null;
}

/** Log levels of `log` activity. */
export type ActivityLogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * A typed stream of what the registry and its plugins do; the CLI prints it as its live log.
 * `event_dropped` with `event_type: "callLater"` is a `ctx.callLater` callback dropped in backoff or
 * quarantine; an overflow names the `source` of the dropped event. `action_refused` is an action a
 * host-side limit refused (a rate limit is reported once per run of refusals, not per call).
 * With a grant store (`RegistryOptions.grants`): `grant_stored` is a grant stored on a first install,
 * for a narrower version (its `narrowings`) or on the operator's acceptance; `upgrade_refused` is a new
 * version refused because it asks for more than was accepted (its `differences`, the widenings).
 * With an entry store (`RegistryOptions.entries`): `store_failed` is a save of the config entries
 * that failed (`plugin` is empty; the next change or `flush()` tries again).
 */
export type RegistryActivity =
  | { type: 'plugin_loaded'; plugin: PluginId; runtime: RuntimeKind }
  | { type: 'plugin_unloaded'; plugin: PluginId }
  | { type: 'setup_failed'; plugin: PluginId; error: HomecoreError; retryInMs: number | null }
  | { type: 'entry_state'; plugin: PluginId; from: ConfigEntryState; to: ConfigEntryState; reason: string | null }
  | { type: 'state_written'; plugin: PluginId; entity_id: string; state: string }
  | { type: 'state_removed'; plugin: PluginId; entity_id: string }
  | { type: 'service_called'; plugin: PluginId; domain: string; service: string }
  | { type: 'service_handled'; plugin: PluginId; domain: string; service: string; ok: boolean }
  | { type: 'service_registered'; plugin: PluginId; domain: string; service: string }
  | { type: 'event_fired'; plugin: PluginId; event_type: string }
  | { type: 'log'; plugin: PluginId; level: ActivityLogLevel; message: string; data: Record<string, unknown> | undefined }
  | { type: 'warning'; plugin: PluginId; message: string }
  | { type: 'permission_denied'; plugin: PluginId; action: string; target: string; hook: string | null; code: string }
  | { type: 'action_refused'; plugin: PluginId; action: string; target: string; hook: string | null; code: string }
  | { type: 'handler_failed'; plugin: PluginId; hook: string; error: HomecoreError }
  | { type: 'event_dropped'; plugin: PluginId; event_type: string; reason: DropReason; source?: string }
  | { type: 'plugin_backoff'; plugin: PluginId; failures: number; backoffMs: number }
  | { type: 'plugin_resumed'; plugin: PluginId }
  | { type: 'plugin_quarantined'; plugin: PluginId; reason: string }
  | { type: 'plugin_reloaded'; plugin: PluginId }
  | { type: 'reload_failed'; plugin: PluginId; error: HomecoreError }
  | { type: 'teardown_failed'; plugin: PluginId; error: HomecoreError }
  | { type: 'grant_stored'; plugin: PluginId; version: string; reason: GrantReason; narrowings: readonly ManifestDifference[]; message: string }
  | { type: 'store_failed'; plugin: PluginId | ''; error: HomecoreError; message: string }
  | { type: 'upgrade_refused'; plugin: PluginId; version: string; differences: readonly ManifestDifference[]; error: HomecoreError };

/** Update for `registry.updateConfigEntry()`. */
export interface ConfigEntryUpdate {
  title?: string;
  data?: Record<string, JsonValue>;
  options?: Record<string, JsonValue>;
}

/** The new version for `registry.reload()`; omitted parts stay as they are (with none given, a plugin from a discovered folder is re-read from disk). */
export interface ReloadSource {
  manifest?: unknown;
  code?: PluginCode;
  /** The plugin's folder, if the code moved. */
  baseDir?: string;
}
