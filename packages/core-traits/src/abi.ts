// Host ABI v1 constants, shared by the host (`@homecore/runtime-wasm`) and guests.
// The specification is docs/host-abi.md; these names and numbers are frozen for v1.

/** The host ABI version this runtime speaks. */
export const HOST_ABI_VERSION = 1;

/** A guest declares its ABI version by exporting a function with this prefix plus the version (never called). */
export const ABI_VERSION_EXPORT_PREFIX = 'homecore_abi_version_';

/** The marker export of ABI v1: `homecore_abi_version_1`. */
export const ABI_VERSION_EXPORT = `${ABI_VERSION_EXPORT_PREFIX}${HOST_ABI_VERSION}`;

/** The import module name of every host function. */
export const HOST_MODULE = 'homecore';

/** Host functions a guest may import from the `homecore` module. */
export const HostImport = {
  /** `(level, msg_ptr, msg_len) -> status` */
  LOG: 'hc_log',
  /** `(id_ptr, id_len, out_ptr, out_cap) -> size | error`; writes the State JSON only if it fits. */
  STATE_GET: 'hc_state_get',
  /** `(id_ptr, id_len, state_ptr, state_len, attrs_ptr, attrs_len) -> status`; `attrs_len` 0 means `{}`. */
  STATE_SET: 'hc_state_set',
  /** `(domain_ptr, domain_len, service_ptr, service_len, data_ptr, data_len) -> status`; runs after the call returns. */
  SERVICE_CALL: 'hc_service_call',
  /** `(type_ptr, type_len, data_ptr, data_len) -> status` */
  EVENT_FIRE: 'hc_event_fire',
  /** `(kind, pattern_ptr, pattern_len) -> status`; kind is a SubscriptionKind. */
  SUBSCRIBE: 'hc_subscribe',
  /** `(out_ptr, out_cap) -> size | error`; the config entry JSON. */
  CONFIG_GET: 'hc_config_get',
  /** `() -> f64` milliseconds since the epoch, from the host's clock. */
  CLOCK_NOW: 'hc_clock_now',
} as const;

/** One host import name. */
export type HostImportName = (typeof HostImport)[keyof typeof HostImport];

/** Exports the host calls; `memory`, `hc_alloc`, `hc_free` and the version marker are required. */
export const GuestExport = {
  MEMORY: 'memory',
  /** `(size) -> ptr`; 0 when it cannot allocate. */
  ALLOC: 'hc_alloc',
  /** `(ptr, size) -> void` */
  FREE: 'hc_free',
  /** `(entry_ptr, entry_len) -> status`; the config entry JSON. */
  SETUP: 'hc_setup',
  /** `() -> status` */
  TEARDOWN: 'hc_teardown',
  /** `(event_ptr, event_len) -> status`; a `state_changed` event JSON. */
  ON_STATE_CHANGED: 'hc_on_state_changed',
  /** `(event_ptr, event_len) -> status`; any other event JSON. */
  ON_EVENT: 'hc_on_event',
  /** `(call_ptr, call_len) -> status`; a ServiceCall JSON for a service the plugin registers. */
  ON_SERVICE_CALL: 'hc_on_service_call',
  /** `(entry_ptr, entry_len) -> status`; optional: without it an options update reloads the plugin. */
  ON_CONFIG_UPDATE: 'hc_on_config_update',
  /** `(entry_ptr, entry_len) -> i64`; optional (an addition to v1): migrates an older config entry (host-abi.md §5.1). */
  MIGRATE_ENTRY: 'hc_migrate_entry',
} as const;

/** Status codes returned by host imports (negative) and by guest exports. */
export const AbiStatus = {
  OK: 0,
  /** From `hc_setup` only: HA's ConfigEntryNotReady, retry later with backoff. */
  NOT_READY: 1,
  /** A (ptr, len) outside the guest's memory, negative, or overflowing. */
  BAD_POINTER: -1,
  /** No such entity (or no config). */
  NOT_FOUND: -2,
  /** The manifest does not grant this; the denial is audited. */
  DENIED: -3,
  /** A string argument is not valid UTF-8. */
  INVALID_UTF8: -4,
  /** A JSON argument does not parse, or is not the JSON type required. */
  INVALID_JSON: -5,
  /** A payload is larger than the plugin's `limits.payload_bytes`. */
  TOO_LARGE: -6,
  /** The per-event quota of host calls or bytes written is used up. */
  QUOTA_EXCEEDED: -7,
  /** Something else about an argument is wrong (bad entity id, unknown log level, bad kind). */
  INVALID_ARGUMENT: -8,
  /** Any other failure of the host call (for example the core refused the write). */
  FAILED: -10,
} as const;

/** `hc_log` levels. */
export const LogLevel = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 } as const;

/** `hc_subscribe` kinds. */
export const SubscriptionKind = { ENTITY: 0, EVENT: 1 } as const;

/** Default per-plugin limits; a manifest may lower them, a host may cap them. */
export const DEFAULT_LIMITS = Object.freeze({
  /** Linear memory cap in 64 KiB pages (16 MiB). */
  memoryPages: 256,
  /** Fuel units per guest call (about 15-20 ms of tight loop on a 2-core VM). */
  fuelPerCall: 10_000_000,
  /** Largest JSON payload in either direction, in bytes. */
  payloadBytes: 64 * 1024,
  /** Host calls a guest may make while handling one event. */
  hostCallsPerEvent: 1_000,
  /** Bytes a guest may write to the host (states, events, service data, logs) per event. */
  bytesWrittenPerEvent: 1024 * 1024,
  /** Time allowed for setup before it fails with HC_ERR_SETUP_TIMEOUT. */
  setupTimeoutMs: 30_000,
  /** Time allowed for teardown. */
  teardownTimeoutMs: 10_000,
  /** Events queued for one plugin before the overflow policy drops the oldest. */
  queueCapacity: 1_024,
});
