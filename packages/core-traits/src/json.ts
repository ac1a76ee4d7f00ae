// Home Assistant's exact JSON shapes (reference: core.py `State._as_dict`, `Event._as_dict`).
import { RESERVED_EVENT_TYPE_NAMES } from '@homecore/manifest/reserved';

/** A JSON object, as plugins send and receive it. */
export type JsonObject = { [key: string]: JsonValue };
/** Any JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;

/**
 * HA's Context: who or what caused a change. A write made by a plugin has
 * `user_id: "plugin:<domain>"`, and `parent_id` names the context of the event it was handling.
 */
export interface EventContext {
  /** A ULID. */
  readonly id: string;
  /** The context that caused this one, if any. */
  readonly parent_id: string | null;
  /** The user, or `plugin:<domain>` for a plugin's writes. */
  readonly user_id: string | null;
}

/** HA's State object; timestamps are ISO 8601 strings with a `+00:00` offset. */
export interface EntityState {
  readonly entity_id: string;
  readonly state: string;
  readonly attributes: Readonly<Record<string, JsonValue>>;
  readonly last_changed: string;
  readonly last_reported: string;
  readonly last_updated: string;
  readonly context: EventContext;
}

/** Where an event came from (HA's EventOrigin). */
export type EventOrigin = 'LOCAL' | 'REMOTE';

/** HA's Event object. */
export interface BusEvent<Data = Record<string, unknown>> {
  readonly event_type: string;
  readonly data: Data;
  readonly origin: EventOrigin;
  readonly time_fired: string;
  readonly context: EventContext;
}

/** `state_changed` data; `old_state` is null for an added entity, `new_state` for a removed one. */
export interface StateChangedData {
  readonly entity_id: string;
  readonly old_state: EntityState | null;
  readonly new_state: EntityState | null;
}

/** `state_reported` data: a write that changed nothing but `last_reported`. */
export interface StateReportedData {
  readonly entity_id: string;
  readonly old_last_reported: string;
  readonly new_state: EntityState;
}

/** A `state_changed` event. */
export type StateChangedEvent = BusEvent<StateChangedData>;

/** A service call as a handler receives it (HA's ServiceCall). */
export interface ServiceCall {
  readonly domain: string;
  readonly service: string;
  readonly data: Readonly<Record<string, JsonValue>>;
  readonly context: EventContext;
  readonly return_response: boolean;
}

/** HA's 8 config entry states. */
export type ConfigEntryState =
  | 'not_loaded'
  | 'setup_in_progress'
  | 'loaded'
  | 'setup_error'
  | 'setup_retry'
  | 'migration_error'
  | 'unload_in_progress'
  | 'failed_unload';

/** Whether an entry in each state may be unloaded or reloaded (HA's `recoverable` flag). */
export const CONFIG_ENTRY_RECOVERABLE: Readonly<Record<ConfigEntryState, boolean>> = Object.freeze({
  not_loaded: true,
  setup_in_progress: false,
  loaded: true,
  setup_error: true,
  setup_retry: true,
  migration_error: false,
  unload_in_progress: false,
  failed_unload: false,
});

/** A config entry in HA's API shape (`as_dict` plus `state` and `reason`); `Data` types its `data`. */
export interface ConfigEntry<Data extends object = Record<string, JsonValue>> {
  readonly entry_id: string;
  readonly domain: string;
  readonly title: string;
  readonly data: Readonly<Data>;
  readonly options: Readonly<Record<string, JsonValue>>;
  readonly source: string;
  readonly unique_id: string | null;
  readonly version: number;
  readonly minor_version: number;
  readonly disabled_by: string | null;
  readonly pref_disable_new_entities: boolean;
  readonly pref_disable_polling: boolean;
  readonly created_at: string;
  readonly modified_at: string;
  readonly state: ConfigEntryState;
  readonly reason: string | null;
}

/** The event types HOMECORE itself fires (HA names where HA has one). */
export const EventType = {
  STATE_CHANGED: 'state_changed',
  STATE_REPORTED: 'state_reported',
  CALL_SERVICE: 'call_service',
  SERVICE_REGISTERED: 'service_registered',
  SERVICE_REMOVED: 'service_removed',
  COMPONENT_LOADED: 'component_loaded',
} as const;

/**
 * Event types only the core may fire (Home Assistant's core-owned events in `homeassistant.const`):
 * no permission grant covers them, not even `event:fire:*`, so a plugin cannot forge a state change,
 * a service call, a clock tick or a lifecycle signal.
 */
export const RESERVED_EVENT_TYPES: ReadonlySet<string> = new Set(RESERVED_EVENT_TYPE_NAMES);
