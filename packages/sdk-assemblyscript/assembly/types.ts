// Home Assistant's JSON shapes as AssemblyScript classes. Field names are HA's, so code reads like
// the JSON it came from. Each `fromJson` returns null when a required field is missing or mistyped.
import { JsonObject, JsonValue } from './json';

function smallInt(obj: JsonObject, key: string, fallback: i32): i32 {
  const n = obj.getNumber(key, <f64>fallback);
  return n >= -2147483648.0 && n <= 2147483647.0 ? <i32>n : fallback; // NaN fails both tests
}

function stringOr(obj: JsonObject, key: string, fallback: string): string {
  const s = obj.getString(key);
  return s === null ? fallback : s;
}

/** HA's Context: who or what caused a change. */
export class Context {
  id: string = '';
  parent_id: string | null = null;
  user_id: string | null = null;

  /** Reads a context object; a missing or malformed one gives an empty context. */
  static fromJson(value: JsonValue | null): Context {
    const ctx = new Context();
    if (value === null) return ctx;
    const obj = value.asObject();
    if (obj === null) return ctx;
    ctx.id = stringOr(obj, 'id', '');
    ctx.parent_id = obj.getString('parent_id');
    ctx.user_id = obj.getString('user_id');
    return ctx;
  }
}

/** HA's State object. */
export class State {
  entity_id: string = '';
  state: string = '';
  attributes: JsonObject = new JsonObject();
  last_changed: string = '';
  last_reported: string = '';
  last_updated: string = '';
  context: Context = new Context();

  /** Reads a State object; null when `entity_id` or `state` is missing. */
  static fromJson(value: JsonValue | null): State | null {
    if (value === null) return null;
    const obj = value.asObject();
    if (obj === null) return null;
    const entityId = obj.getString('entity_id');
    const state = obj.getString('state');
    if (entityId === null || state === null) return null;
    const s = new State();
    s.entity_id = entityId;
    s.state = state;
    const attributes = obj.getObject('attributes');
    if (attributes !== null) s.attributes = attributes;
    s.last_changed = stringOr(obj, 'last_changed', '');
    s.last_reported = stringOr(obj, 'last_reported', '');
    s.last_updated = stringOr(obj, 'last_updated', '');
    s.context = Context.fromJson(obj.get('context'));
    return s;
  }
}

/** A bus event other than `state_changed` (HA's Event). */
export class Event {
  event_type: string = '';
  data: JsonObject = new JsonObject();
  origin: string = 'LOCAL';
  time_fired: string = '';
  context: Context = new Context();

  /** Reads an Event object; null when `event_type` is missing. */
  static fromJson(value: JsonValue | null): Event | null {
    if (value === null) return null;
    const obj = value.asObject();
    if (obj === null) return null;
    const type = obj.getString('event_type');
    if (type === null) return null;
    const e = new Event();
    e.event_type = type;
    const data = obj.getObject('data');
    if (data !== null) e.data = data;
    e.origin = stringOr(obj, 'origin', 'LOCAL');
    e.time_fired = stringOr(obj, 'time_fired', '');
    e.context = Context.fromJson(obj.get('context'));
    return e;
  }
}

/** A `state_changed` event, with its data fields lifted to the top. */
export class StateChangedEvent {
  entity_id: string = '';
  /** Null when the entity was just added. */
  old_state: State | null = null;
  /** Null when the entity was removed. */
  new_state: State | null = null;
  time_fired: string = '';
  context: Context = new Context();

  /** Reads a `state_changed` event; null when it has no `data.entity_id`. */
  static fromJson(value: JsonValue | null): StateChangedEvent | null {
    const event = Event.fromJson(value);
    if (event === null) return null;
    const entityId = event.data.getString('entity_id');
    if (entityId === null) return null;
    const e = new StateChangedEvent();
    e.entity_id = entityId;
    e.old_state = State.fromJson(event.data.get('old_state'));
    e.new_state = State.fromJson(event.data.get('new_state'));
    e.time_fired = event.time_fired;
    e.context = event.context;
    return e;
  }
}

/** A call to one of the plugin's services (HA's ServiceCall). */
export class ServiceCall {
  domain: string = '';
  service: string = '';
  data: JsonObject = new JsonObject();
  context: Context = new Context();
  return_response: bool = false;

  /** Reads a ServiceCall object; null when `domain` or `service` is missing. */
  static fromJson(value: JsonValue | null): ServiceCall | null {
    if (value === null) return null;
    const obj = value.asObject();
    if (obj === null) return null;
    const domain = obj.getString('domain');
    const service = obj.getString('service');
    if (domain === null || service === null) return null;
    const c = new ServiceCall();
    c.domain = domain;
    c.service = service;
    const data = obj.getObject('data');
    if (data !== null) c.data = data;
    c.context = Context.fromJson(obj.get('context'));
    c.return_response = obj.getBool('return_response', false);
    return c;
  }
}

/** The plugin's config entry (HA's ConfigEntry, the fields a plugin needs). */
export class ConfigEntry {
  entry_id: string = '';
  domain: string = '';
  title: string = '';
  /** Set when the entry was created. */
  data: JsonObject = new JsonObject();
  /** Changed later by the user; overrides `data` in `settings()`. */
  options: JsonObject = new JsonObject();
  version: i32 = 1;
  minor_version: i32 = 1;
  state: string = '';

  /** `data` with `options` on top: what a plugin should read its settings from. */
  settings(): JsonObject {
    return this.data.merged(this.options);
  }

  /** Reads a ConfigEntry object; null when it is not an object. */
  static fromJson(value: JsonValue | null): ConfigEntry | null {
    if (value === null) return null;
    const obj = value.asObject();
    if (obj === null) return null;
    const c = new ConfigEntry();
    c.entry_id = stringOr(obj, 'entry_id', '');
    c.domain = stringOr(obj, 'domain', '');
    c.title = stringOr(obj, 'title', '');
    const data = obj.getObject('data');
    if (data !== null) c.data = data;
    const options = obj.getObject('options');
    if (options !== null) c.options = options;
    c.version = smallInt(obj, 'version', 1);
    c.minor_version = smallInt(obj, 'minor_version', 1);
    c.state = stringOr(obj, 'state', '');
    return c;
  }
}
