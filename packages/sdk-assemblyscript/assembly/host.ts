// Typed wrappers over the host imports: strings and JSON objects in, statuses and parsed objects
// out. No plugin code needs a pointer.
import {
  LogLevel,
  Status,
  SubscriptionKind,
  hc_clock_now,
  hc_config_get,
  hc_event_fire,
  hc_log,
  hc_service_call,
  hc_state_get,
  hc_state_set,
  hc_subscribe,
} from './abi';
import { JsonObject, parseJson } from './json';
import { ConfigEntry, State } from './types';
import { JsonView } from './view';

/** The status of the last host call a wrapper made (useful after a wrapper returned null). */
let lastHostStatus: i32 = Status.OK;

/** The status of the last host call made by `getState`, `config` or any other wrapper. */
export function lastStatus(): i32 {
  return lastHostStatus;
}

@inline function record(status: i32): i32 {
  lastHostStatus = status;
  return status;
}

// A reusable output buffer for host reads; grown to the size the host asks for.
let readBuffer: ArrayBuffer = new ArrayBuffer(1024);

function ensureReadBuffer(size: i32): void {
  if (readBuffer.byteLength < size) readBuffer = new ArrayBuffer(size);
}

/** The entity's current state, or null (not found, denied, or malformed: see `lastStatus()`). */
export function getState(entityId: string): State | null {
  const id = String.UTF8.encode(entityId);
  // Call with the buffer we have; if the host answers with a larger size, grow and call again.
  let size = hc_state_get(changetype<usize>(id), id.byteLength, changetype<usize>(readBuffer), readBuffer.byteLength);
  if (size > readBuffer.byteLength) {
    ensureReadBuffer(size);
    size = hc_state_get(changetype<usize>(id), id.byteLength, changetype<usize>(readBuffer), readBuffer.byteLength);
  }
  if (size < 0 || size > readBuffer.byteLength) {
    record(size < 0 ? size : Status.FAILED);
    return null;
  }
  // The read buffer is reused, so the lazy State gets its own copy of the bytes.
  const state = State.fromView(JsonView.of(readBuffer.slice(0, size)));
  record(state === null ? Status.INVALID_JSON : Status.OK);
  return state;
}

/** Writes a state; `attributes` null means `{}`. Returns a status (0 = written). */
export function setState(entityId: string, state: string, attributes: JsonObject | null = null): i32 {
  const id = String.UTF8.encode(entityId);
  const value = String.UTF8.encode(state);
  if (attributes === null) {
    return record(
      hc_state_set(changetype<usize>(id), id.byteLength, changetype<usize>(value), value.byteLength, 0, 0),
    );
  }
  const attrs = String.UTF8.encode(attributes.toJson());
  return record(
    hc_state_set(
      changetype<usize>(id),
      id.byteLength,
      changetype<usize>(value),
      value.byteLength,
      changetype<usize>(attrs),
      attrs.byteLength,
    ),
  );
}

/** Asks the host to call `domain.service` with `data` (null means `{}`) after the current handler returns. Returns a status (0 = accepted). */
export function callService(domain: string, service: string, data: JsonObject | null = null): i32 {
  const d = String.UTF8.encode(domain);
  const s = String.UTF8.encode(service);
  const body = String.UTF8.encode(data === null ? '{}' : data.toJson());
  return record(
    hc_service_call(
      changetype<usize>(d),
      d.byteLength,
      changetype<usize>(s),
      s.byteLength,
      changetype<usize>(body),
      body.byteLength,
    ),
  );
}

/** Fires an event of `eventType` with `data` (null means `{}`). Returns a status (0 = fired). */
export function fireEvent(eventType: string, data: JsonObject | null = null): i32 {
  const t = String.UTF8.encode(eventType);
  const body = String.UTF8.encode(data === null ? '{}' : data.toJson());
  return record(hc_event_fire(changetype<usize>(t), t.byteLength, changetype<usize>(body), body.byteLength));
}

/** Subscribes to `state_changed` for entity ids matching `pattern` (`sensor.*`). Needs `state:read`. */
export function subscribeEntities(pattern: string): i32 {
  const p = String.UTF8.encode(pattern);
  return record(hc_subscribe(SubscriptionKind.ENTITY, changetype<usize>(p), p.byteLength));
}

/** Subscribes to events whose type matches `pattern`. Needs `event:subscribe`. */
export function subscribeEvents(pattern: string): i32 {
  const p = String.UTF8.encode(pattern);
  return record(hc_subscribe(SubscriptionKind.EVENT, changetype<usize>(p), p.byteLength));
}

/** Milliseconds since the Unix epoch, from the host's clock (use this instead of Date.now). */
export function now(): f64 {
  return hc_clock_now();
}

let currentEntry: ConfigEntry | null = null;

/** Remembers the entry the host handed to setup or a config update. Called by the exports. */
export function rememberConfig(entry: ConfigEntry): void {
  currentEntry = entry;
}

/** The plugin's config entry: the one handed to setup (or the latest update), else fetched from the host. */
export function config(): ConfigEntry {
  const known = currentEntry;
  if (known !== null) return known;
  let size = hc_config_get(changetype<usize>(readBuffer), readBuffer.byteLength);
  if (size > readBuffer.byteLength) {
    ensureReadBuffer(size);
    size = hc_config_get(changetype<usize>(readBuffer), readBuffer.byteLength);
  }
  let entry: ConfigEntry | null = null;
  if (size >= 0 && size <= readBuffer.byteLength) {
    entry = ConfigEntry.fromJson(parseJson(String.UTF8.decodeUnsafe(changetype<usize>(readBuffer), <usize>size)).value);
    record(entry === null ? Status.INVALID_JSON : Status.OK);
  } else {
    record(size < 0 ? size : Status.FAILED);
  }
  if (entry === null) return new ConfigEntry(); // empty, so callers never need a null check
  currentEntry = entry;
  return entry;
}

function writeLog(level: i32, message: string): i32 {
  const m = String.UTF8.encode(message);
  return record(hc_log(level, changetype<usize>(m), m.byteLength));
}

/** Log lines through the host's logger, named after the plugin. */
export namespace log {
  /** Logs at debug level. */
  export function debug(message: string): i32 {
    return writeLog(LogLevel.DEBUG, message);
  }
  /** Logs at info level. */
  export function info(message: string): i32 {
    return writeLog(LogLevel.INFO, message);
  }
  /** Logs at warning level. */
  export function warn(message: string): i32 {
    return writeLog(LogLevel.WARN, message);
  }
  /** Logs at error level. */
  export function error(message: string): i32 {
    return writeLog(LogLevel.ERROR, message);
  }
}
