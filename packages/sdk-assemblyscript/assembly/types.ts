// Home Assistant's JSON shapes as AssemblyScript classes. Field names are HA's, so code reads like
// the JSON it came from. Each `fromJson` (from a tree) and `fromView` (lazy, from the payload's
// bytes) returns null when a required field is missing or mistyped.
import { JsonKind, JsonObject, JsonValue } from './json';
import { JsonView } from './view';

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

  /** Reads a context from a lazy view; a missing or malformed one gives an empty context. */
  static fromView(view: JsonView | null): Context {
    const ctx = new Context();
    if (view === null || !view.isObject()) return ctx;
    const id = view.getString('id');
    if (id !== null) ctx.id = id;
    ctx.parent_id = view.getString('parent_id');
    ctx.user_id = view.getString('user_id');
    return ctx;
  }
}

// Lazy fields read from a view on first access. `view` is null for objects built by hand or by
// `fromJson`, whose fields are all set up front.

function viewString(view: JsonView | null, key: string, fallback: string): string {
  if (view === null) return fallback;
  const s = view.getString(key);
  return s === null ? fallback : s;
}

function viewObject(view: JsonView | null, key: string): JsonObject {
  if (view !== null) {
    const v = view.get(key);
    if (v !== null && v.isObject()) {
      const tree = v.toValue();
      if (tree !== null) return changetype<JsonObject>(tree);
    }
  }
  return new JsonObject();
}

function viewContext(view: JsonView | null): Context {
  return Context.fromView(view === null ? null : view.get('context'));
}

/** A view of `object[key]` read from a tree (for objects not backed by bytes). */
function treeMember(object: JsonObject, key: string): JsonView | null {
  const v = object.get(key);
  return v === null ? null : JsonView.parse(v.toJson());
}

/**
 * HA's State object. From a hook, `state` is decoded up front and every other field on first
 * access; `attribute(key)` reads one attribute without building `attributes`.
 */
export class State {
  private view: JsonView | null = null;
  private _entity_id: string | null = null;
  private _state: string | null = null;
  private _attributes: JsonObject | null = null;
  private _last_changed: string | null = null;
  private _last_reported: string | null = null;
  private _last_updated: string | null = null;
  private _context: Context | null = null;

  /** The entity id, e.g. `sensor.kitchen`. */
  get entity_id(): string {
    let s = this._entity_id;
    if (s === null) {
      s = viewString(this.view, 'entity_id', '');
      this._entity_id = s;
    }
    return s;
  }
  set entity_id(value: string) {
    this._entity_id = value;
  }
  /** The state string, e.g. `26.5` or `on`. */
  get state(): string {
    let s = this._state;
    if (s === null) {
      s = viewString(this.view, 'state', '');
      this._state = s;
    }
    return s;
  }
  set state(value: string) {
    this._state = value;
  }
  /** All attributes as a tree (built on first access). */
  get attributes(): JsonObject {
    let a = this._attributes;
    if (a === null) {
      a = viewObject(this.view, 'attributes');
      this._attributes = a;
    }
    return a;
  }
  set attributes(value: JsonObject) {
    this._attributes = value;
  }
  /** When the state last changed (ISO 8601). */
  get last_changed(): string {
    let s = this._last_changed;
    if (s === null) {
      s = viewString(this.view, 'last_changed', '');
      this._last_changed = s;
    }
    return s;
  }
  set last_changed(value: string) {
    this._last_changed = value;
  }
  /** When the state was last reported (ISO 8601). */
  get last_reported(): string {
    let s = this._last_reported;
    if (s === null) {
      s = viewString(this.view, 'last_reported', '');
      this._last_reported = s;
    }
    return s;
  }
  set last_reported(value: string) {
    this._last_reported = value;
  }
  /** When the state or attributes were last updated (ISO 8601). */
  get last_updated(): string {
    let s = this._last_updated;
    if (s === null) {
      s = viewString(this.view, 'last_updated', '');
      this._last_updated = s;
    }
    return s;
  }
  set last_updated(value: string) {
    this._last_updated = value;
  }
  /** The context of the change. */
  get context(): Context {
    let c = this._context;
    if (c === null) {
      c = viewContext(this.view);
      this._context = c;
    }
    return c;
  }
  set context(value: Context) {
    this._context = value;
  }

  /** One attribute as a lazy view, without building `attributes`; null when absent. */
  attribute(key: string): JsonView | null {
    const view = this.view;
    if (view !== null && this._attributes === null) {
      const attributes = view.get('attributes');
      return attributes === null ? null : attributes.get(key);
    }
    return treeMember(this.attributes, key);
  }

  /** Reads a State object; null when `entity_id` or `state` is missing. */
  static fromJson(value: JsonValue | null): State | null {
    if (value === null) return null;
    const obj = value.asObject();
    if (obj === null) return null;
    const entityId = obj.getString('entity_id');
    const state = obj.getString('state');
    if (entityId === null || state === null) return null;
    const s = new State();
    s._entity_id = entityId;
    s._state = state;
    const attributes = obj.getObject('attributes');
    s._attributes = attributes !== null ? attributes : new JsonObject();
    s._last_changed = stringOr(obj, 'last_changed', '');
    s._last_reported = stringOr(obj, 'last_reported', '');
    s._last_updated = stringOr(obj, 'last_updated', '');
    s._context = Context.fromJson(obj.get('context'));
    return s;
  }

  /** Reads a State lazily from a view (which must stay unchanged); null when `entity_id` or `state` is not a string. */
  static fromView(view: JsonView | null): State | null {
    if (view === null || view.kindOf('entity_id') != JsonKind.String) return null;
    // Nearly every handler reads the state, and the null check has to find it anyway.
    const state = view.getString('state');
    if (state === null) return null;
    const s = new State();
    s.view = view;
    s._state = state;
    return s;
  }

}

/**
 * A bus event other than `state_changed` (HA's Event). From a hook, `event_type` is decoded up
 * front and every other field on first access; `dataView` reads `data` without building a tree.
 */
export class Event {
  private view: JsonView | null = null;
  private _event_type: string = '';
  private _data: JsonObject | null = null;
  private _origin: string | null = null;
  private _time_fired: string | null = null;
  private _context: Context | null = null;

  /** The event type, e.g. `time_changed`. */
  get event_type(): string {
    return this._event_type;
  }
  set event_type(value: string) {
    this._event_type = value;
  }
  /** The event data as a tree (built on first access). */
  get data(): JsonObject {
    let d = this._data;
    if (d === null) {
      d = viewObject(this.view, 'data');
      this._data = d;
    }
    return d;
  }
  set data(value: JsonObject) {
    this._data = value;
  }
  /** The event data as a lazy view (`{}` when absent): read a few fields without building a tree. */
  get dataView(): JsonView {
    const view = this.view;
    if (view !== null && this._data === null) {
      const d = view.get('data');
      if (d !== null && d.isObject()) return d;
      return JsonView.parse('{}');
    }
    return JsonView.parse(this.data.toJson());
  }
  /** `LOCAL` or `REMOTE`. */
  get origin(): string {
    let s = this._origin;
    if (s === null) {
      s = viewString(this.view, 'origin', 'LOCAL');
      this._origin = s;
    }
    return s;
  }
  set origin(value: string) {
    this._origin = value;
  }
  /** When the event was fired (ISO 8601). */
  get time_fired(): string {
    let s = this._time_fired;
    if (s === null) {
      s = viewString(this.view, 'time_fired', '');
      this._time_fired = s;
    }
    return s;
  }
  set time_fired(value: string) {
    this._time_fired = value;
  }
  /** The context of the event. */
  get context(): Context {
    let c = this._context;
    if (c === null) {
      c = viewContext(this.view);
      this._context = c;
    }
    return c;
  }
  set context(value: Context) {
    this._context = value;
  }

  /** Reads an Event object; null when `event_type` is missing. */
  static fromJson(value: JsonValue | null): Event | null {
    if (value === null) return null;
    const obj = value.asObject();
    if (obj === null) return null;
    const type = obj.getString('event_type');
    if (type === null) return null;
    const e = new Event();
    e._event_type = type;
    const data = obj.getObject('data');
    e._data = data !== null ? data : new JsonObject();
    e._origin = stringOr(obj, 'origin', 'LOCAL');
    e._time_fired = stringOr(obj, 'time_fired', '');
    e._context = Context.fromJson(obj.get('context'));
    return e;
  }

  /** Reads an Event lazily from a view (which must stay unchanged); null when `event_type` is missing. */
  static fromView(view: JsonView): Event | null {
    const type = view.getString('event_type');
    if (type === null) return null;
    const e = new Event();
    e.view = view;
    e._event_type = type;
    return e;
  }
}

/**
 * A `state_changed` event, with its data fields lifted to the top. From a hook, every field (and
 * every field of `old_state` / `new_state`) is decoded on first access, so a handler pays only for
 * what it reads; `entityIs(id)` compares the entity id in place.
 */
export class StateChangedEvent {
  private view: JsonView | null = null;
  private dataView: JsonView | null = null;
  private _entity_id: string | null = null;
  private _old_state: State | null = null;
  private oldRead: bool = true;
  private _new_state: State | null = null;
  private newRead: bool = true;
  private _time_fired: string | null = null;
  private _context: Context | null = null;

  /** The entity whose state changed. */
  get entity_id(): string {
    let s = this._entity_id;
    if (s === null) {
      s = viewString(this.dataView, 'entity_id', '');
      this._entity_id = s;
    }
    return s;
  }
  /** True when the event is about `entityId`; compares in place without decoding the id. */
  entityIs(entityId: string): bool {
    const data = this.dataView;
    if (this._entity_id !== null || data === null) return this.entity_id == entityId;
    return data.stringEqualsAt('entity_id', entityId);
  }
  set entity_id(value: string) {
    this._entity_id = value;
  }
  /** The previous state; null when the entity was just added. */
  get old_state(): State | null {
    if (!this.oldRead) {
      this.oldRead = true;
      const data = this.dataView;
      this._old_state = data === null ? null : State.fromView(data.get('old_state'));
    }
    return this._old_state;
  }
  set old_state(value: State | null) {
    this.oldRead = true;
    this._old_state = value;
  }
  /** The new state; null when the entity was removed. */
  get new_state(): State | null {
    if (!this.newRead) {
      this.newRead = true;
      const data = this.dataView;
      this._new_state = data === null ? null : State.fromView(data.get('new_state'));
    }
    return this._new_state;
  }
  set new_state(value: State | null) {
    this.newRead = true;
    this._new_state = value;
  }
  /** When the event was fired (ISO 8601). */
  get time_fired(): string {
    let s = this._time_fired;
    if (s === null) {
      s = viewString(this.view, 'time_fired', '');
      this._time_fired = s;
    }
    return s;
  }
  set time_fired(value: string) {
    this._time_fired = value;
  }
  /** The context of the change. */
  get context(): Context {
    let c = this._context;
    if (c === null) {
      c = viewContext(this.view);
      this._context = c;
    }
    return c;
  }
  set context(value: Context) {
    this._context = value;
  }

  /** Reads a `state_changed` event; null when it has no `data.entity_id`. */
  static fromJson(value: JsonValue | null): StateChangedEvent | null {
    const event = Event.fromJson(value);
    if (event === null) return null;
    const entityId = event.data.getString('entity_id');
    if (entityId === null) return null;
    const e = new StateChangedEvent();
    e._entity_id = entityId;
    e._old_state = State.fromJson(event.data.get('old_state'));
    e._new_state = State.fromJson(event.data.get('new_state'));
    e._time_fired = event.time_fired;
    e._context = event.context;
    return e;
  }

  /** Reads a `state_changed` event lazily from a view (which must stay unchanged); null when it has no `event_type` or `data.entity_id`. */
  static fromView(view: JsonView): StateChangedEvent | null {
    if (view.kindOf('event_type') != JsonKind.String) return null;
    const data = view.get('data');
    if (data === null || data.kindOf('entity_id') != JsonKind.String) return null;
    const e = new StateChangedEvent();
    e.view = view;
    e.dataView = data;
    e.oldRead = false;
    e.newRead = false;
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
