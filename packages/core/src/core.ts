import {
  formatTimestamp,
  ErrorCode,
  EventType,
  HomecoreError,
  isHomecoreError,
  sealJson,
  systemClock,
  type BusEvent,
  type Clock,
  type EntityState,
  type EventContext,
  type HostCore,
  type JsonValue,
  type ServiceCall,
  type ServiceHandler,
} from '@homecore/core-traits';
import { ENTITY_ID_RULE, MAX_ENTITY_ID_LENGTH, isSlug, isValidEntityId } from './entity-id.js';
import { copyJsonObject, jsonEqual } from './json-copy.js';
import { createUlidGenerator } from './ulid.js';

/** Options for `InMemoryCore`. */
export interface InMemoryCoreOptions {
  /** Where timestamps and ULID times come from; defaults to the system clock. */
  clock?: Clock;
  /** Receives errors thrown by bus listeners; defaults to `console.error`. */
  onListenerError?: (error: unknown, event: BusEvent) => void;
}

const MAX_STATE_LENGTH = 255;
const MAX_EVENT_TYPE_LENGTH = 64;
// How many of a domain's services an unknown-service error lists before it stops.
const MAX_SERVICES_LISTED = 10;

interface ListenerEntry {
  readonly listener: (event: BusEvent) => void;
  active: boolean;
}

interface ServiceEntry {
  readonly handler: ServiceHandler;
}

type Attributes = Readonly<Record<string, JsonValue>>;

/**
 * A reference in-memory core with Home Assistant's semantics: a state machine, an event bus and
 * a service registry. Everything it hands out (states, events, service calls) is deeply frozen.
 *
 * Listeners run synchronously, in registration order. An event fired while listeners are running
 * (for example a listener that writes a state) is delivered once the current event has reached
 * every listener, so every listener sees all events in the order they were fired.
 */
export class InMemoryCore implements HostCore {
  readonly #clock: Clock;
  readonly #onListenerError: (error: unknown, event: BusEvent) => void;
  readonly #ulid: () => string;
  readonly #states = new Map<string, EntityState>();
  readonly #services = new Map<string, ServiceEntry>();
  #listeners: ListenerEntry[] = [];
  readonly #pending: BusEvent[] = [];
  #dispatching = false;

  constructor(options: InMemoryCoreOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#onListenerError = options.onListenerError ?? defaultListenerError;
    this.#ulid = createUlidGenerator(this.#clock);
  }

  /** One entity's state, or undefined. The id is matched case-insensitively, as in HA. */
  getState(entityId: string): EntityState | undefined {
    return typeof entityId === 'string' ? this.#states.get(entityId.toLowerCase()) : undefined;
  }

  /** Every state, in the order the entities were first written. */
  getStates(): EntityState[] {
    return [...this.#states.values()];
  }

  /** Writes a state; fires `state_changed`, or `state_reported` when nothing but the report time changed. */
  setState(
    entityId: string,
    state: string,
    attributes: Record<string, JsonValue> | undefined,
    options: { context: EventContext; forceUpdate?: boolean },
  ): EntityState {
    const id = checkEntityId(entityId);
    checkState(id, state);
    const attrs = copyAttributes(id, attributes);
    const context = this.#ownContext(options?.context);
    const forceUpdate = options?.forceUpdate === true;

    const now = formatTimestamp(this.#clock.now());
    const old = this.#states.get(id);
    const sameState = old !== undefined && old.state === state && !forceUpdate;
    if (old !== undefined && sameState && jsonEqual(old.attributes, attrs)) {
      // HA keeps the state's context and only moves last_reported; the event carries the writer's context.
      const reported = freezeState({ ...old, last_reported: now });
      const event = makeEvent(EventType.STATE_REPORTED, { entity_id: id, old_last_reported: old.last_reported, new_state: reported }, now, context);
      this.#states.set(id, reported);
      this.#pending.push(event); // inline, not in a helper: see #drainAfterChange
      this.#drainAfterChange();
      return reported;
    }
    const next = freezeState({
      entity_id: id,
      state,
      attributes: attrs,
      last_changed: sameState ? old.last_changed : now,
      last_reported: now,
      last_updated: now,
      context,
    });
    const event = makeEvent(EventType.STATE_CHANGED, { entity_id: id, old_state: old ?? null, new_state: next }, now, context);
    this.#states.set(id, next);
    this.#pending.push(event);
    this.#drainAfterChange();
    return next;
  }

  /** Removes an entity and fires `state_changed` with `new_state: null`; false (and no event) if it did not exist. */
  removeState(entityId: string, context: EventContext): boolean {
    if (typeof entityId !== 'string') return false;
    const id = entityId.toLowerCase();
    const old = this.#states.get(id);
    if (old === undefined) return false;
    const ctx = this.#ownContext(context);
    const now = formatTimestamp(this.#clock.now());
    const event = makeEvent(EventType.STATE_CHANGED, { entity_id: id, old_state: old, new_state: null }, now, ctx);
    this.#states.delete(id);
    this.#pending.push(event);
    this.#drainAfterChange();
    return true;
  }

  /** Fires an event to every listener; the data is copied and frozen. */
  fireEvent(eventType: string, data: Record<string, JsonValue>, context: EventContext): BusEvent {
    checkEventType(eventType);
    const copy = copyJsonObject(data ?? {}, 'data', (path, problem) => {
      throw new HomecoreError(ErrorCode.EVENT_DATA_INVALID, `Event ${eventType}: ${path} ${problem}`, {
        details: { event_type: eventType, path },
      });
    });
    const event = makeEvent(eventType, copy, formatTimestamp(this.#clock.now()), this.#ownContext(context));
    this.#dispatch(event);
    return event;
  }

  /** Registers `domain.service`; fires `service_registered`. Returns a function that removes it. */
  registerService(domain: string, service: string, handler: ServiceHandler): () => void {
    const [d, s] = serviceNames(domain, service);
    if (typeof handler !== 'function') {
      throw new HomecoreError(ErrorCode.SERVICE_INVALID, `Service ${d}.${s}: the handler must be a function, got ${typeof handler}`, {
        details: { domain: d, service: s },
      });
    }
    const key = `${d}.${s}`;
    if (this.#services.has(key)) {
      throw new HomecoreError(
        ErrorCode.SERVICE_EXISTS,
        `Service ${key} is already registered; remove the existing one first or pick another name`,
        { details: { domain: d, service: s } },
      );
    }
    const entry: ServiceEntry = { handler };
    this.#services.set(key, entry);
    this.fireEvent(EventType.SERVICE_REGISTERED, { domain: d, service: s }, this.createContext());
    return () => {
      // A stale remover must not remove a later registration of the same name.
      if (this.#services.get(key) !== entry) return;
      this.#services.delete(key);
      this.fireEvent(EventType.SERVICE_REMOVED, { domain: d, service: s }, this.createContext());
    };
  }

  /** True when `domain.service` is registered (case-insensitive). */
  hasService(domain: string, service: string): boolean {
    return typeof domain === 'string' && typeof service === 'string' && this.#services.has(`${domain.toLowerCase()}.${service.toLowerCase()}`);
  }

  /**
   * Calls a service: fires `call_service` with the caller's context, then runs the handler.
   * Resolves to the handler's response when `returnResponse` is set, otherwise to undefined.
   */
  async callService(
    domain: string,
    service: string,
    data: Record<string, JsonValue>,
    options: { context: EventContext; returnResponse?: boolean },
  ): Promise<unknown> {
    const [d, s] = serviceNames(domain, service);
    const key = `${d}.${s}`;
    const entry = this.#services.get(key);
    if (entry === undefined) {
      throw new HomecoreError(ErrorCode.SERVICE_NOT_FOUND, `Service ${key} is not registered; ${this.#knownServicesHint(d)}`, {
        details: { domain: d, service: s },
      });
    }
    const serviceData = copyJsonObject(data ?? {}, 'service_data', (path, problem) => {
      throw new HomecoreError(ErrorCode.SERVICE_INVALID, `Service ${key}: ${path} ${problem}`, { details: { domain: d, service: s, path } });
    });
    const context = this.#ownContext(options?.context);
    const returnResponse = options?.returnResponse === true;
    this.#dispatch(
      makeEvent(EventType.CALL_SERVICE, { domain: d, service: s, service_data: serviceData }, formatTimestamp(this.#clock.now()), context),
    );
    const call: ServiceCall = Object.freeze({ domain: d, service: s, data: serviceData, context, return_response: returnResponse });
    let response: unknown;
    try {
      response = await entry.handler(call);
    } catch (error) {
      if (isHomecoreError(error)) throw error;
      const text = error instanceof Error ? error.message : String(error);
      throw new HomecoreError(ErrorCode.HANDLER_FAILED, `Service ${key} failed: ${text}`, {
        details: { domain: d, service: s },
        cause: error,
      });
    }
    if (!returnResponse) return undefined;
    if (response === undefined || response === null) return null;
    return copyJsonObject(response, 'response', (path, problem) => {
      throw new HomecoreError(
        ErrorCode.SERVICE_INVALID,
        `Service ${key} was called with returnResponse, and its ${path} ${problem}; return a plain object, null or nothing`,
        { details: { domain: d, service: s, path } },
      );
    });
  }

  /** Listens to every event, synchronously as it is fired. Returns an unsubscribe that works even during dispatch. */
  listen(listener: (event: BusEvent) => void): () => void {
    if (typeof listener !== 'function') {
      throw new HomecoreError(ErrorCode.INTERNAL, `listen() needs a function, got ${typeof listener}`);
    }
    const entry: ListenerEntry = { listener, active: true };
    // Copy on write: a dispatch in progress keeps iterating its own snapshot.
    this.#listeners = [...this.#listeners, entry];
    return () => {
      if (!entry.active) return;
      entry.active = false;
      this.#listeners = this.#listeners.filter((e) => e !== entry);
    };
  }

  /** A new frozen context with a fresh ULID id. */
  createContext(init: { parentId?: string | null; userId?: string | null } = {}): EventContext {
    return Object.freeze({ id: this.#ulid(), parent_id: init.parentId ?? null, user_id: init.userId ?? null });
  }

  #dispatch(event: BusEvent): void {
    this.#pending.push(event);
    this.#drain();
  }

  // Writes build their event before changing anything and queue it right after the change, with no
  // call in between: if delivery cannot even start (the writer exhausted the stack), the write still
  // succeeds and its event waits in #pending to go out with the next one, late but never lost.
  #drainAfterChange(): void {
    try {
      this.#drain();
    } catch {
      // Delivered with the next event.
    }
  }

  #drain(): void {
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      for (let next = this.#pending.shift(); next !== undefined; next = this.#pending.shift()) {
        // The call is inline, not in a helper: a listener that throws (even a stack overflow on entry,
        // when a plugin recursed deep before writing) costs that listener the event, never the others.
        for (const entry of this.#listeners) {
          if (!entry.active) continue;
          try {
            const result: unknown = entry.listener(next);
            // An async listener's rejection is isolated like a throw.
            if (result instanceof Promise) result.catch(this.#rejected(next));
          } catch (error) {
            this.#reportListenerError(error, next);
          }
        }
      }
    } finally {
      this.#dispatching = false;
    }
  }

  #rejected(event: BusEvent): (error: unknown) => void {
    return (error) => this.#reportListenerError(error, event);
  }

  #reportListenerError(error: unknown, event: BusEvent): void {
    try {
      this.#onListenerError(error, event);
    } catch (reportError) {
      try {
        defaultListenerError(reportError, event);
      } catch {
        // Nothing is left to report with (the stack is exhausted): the other listeners still run.
      }
    }
  }

  /** Uses the caller's context as is when frozen, otherwise a frozen copy; a missing one gets a fresh id. */
  #ownContext(context: EventContext | undefined): EventContext {
    if (context === undefined || context === null) return this.createContext();
    if (typeof context !== 'object' || typeof context.id !== 'string' || context.id === '') {
      throw new HomecoreError(ErrorCode.INTERNAL, 'A context must be an object with a string id; create one with createContext()');
    }
    // Kept as is only when it cannot change (frozen, nothing but string or null ids): states cache their JSON.
    if (Object.isFrozen(context) && isIdOrNull(context.parent_id) && isIdOrNull(context.user_id) && Object.keys(context).length === 3) return context;
    return Object.freeze({ id: context.id, parent_id: idOrNull(context.parent_id), user_id: idOrNull(context.user_id) });
  }

  #knownServicesHint(domain: string): string {
    const names: string[] = [];
    for (const key of this.#services.keys()) {
      if (key.startsWith(`${domain}.`)) names.push(key.slice(domain.length + 1));
    }
    if (names.length === 0) return `no service is registered in domain ${domain}; check the domain or load the plugin that provides it`;
    const listed = names.slice(0, MAX_SERVICES_LISTED).join(', ');
    const more = names.length > MAX_SERVICES_LISTED ? ` and ${names.length - MAX_SERVICES_LISTED} more` : '';
    return `services in domain ${domain}: ${listed}${more}`;
  }
}

function isIdOrNull(value: unknown): boolean {
  return value === null || typeof value === 'string';
}

/** A context's parent or user id: a string, else null (never an object a caller could change later). */
function idOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function defaultListenerError(error: unknown, event: BusEvent): void {
  console.error(`[homecore/core] A bus listener threw while handling ${event.event_type}; other listeners still ran:`, error);
}

function checkEntityId(entityId: unknown): string {
  if (typeof entityId !== 'string') {
    throw new HomecoreError(ErrorCode.ENTITY_ID_INVALID, `An entity id must be a string, got ${typeof entityId}; ${ENTITY_ID_RULE}`);
  }
  if (entityId.length > MAX_ENTITY_ID_LENGTH) {
    throw new HomecoreError(
      ErrorCode.ENTITY_ID_INVALID,
      `Invalid entity id ${JSON.stringify(`${entityId.slice(0, 40)}…`)}: it is ${entityId.length} characters long, the limit is ${MAX_ENTITY_ID_LENGTH}; ${ENTITY_ID_RULE}`,
      { details: { entity_id: entityId.slice(0, MAX_ENTITY_ID_LENGTH), limit: MAX_ENTITY_ID_LENGTH } },
    );
  }
  if (!isValidEntityId(entityId)) {
    throw new HomecoreError(ErrorCode.ENTITY_ID_INVALID, `Invalid entity id ${JSON.stringify(entityId)}: ${ENTITY_ID_RULE}`, {
      details: { entity_id: entityId },
    });
  }
  return entityId.toLowerCase();
}

function checkState(entityId: string, state: unknown): void {
  if (typeof state !== 'string') {
    throw new HomecoreError(
      ErrorCode.STATE_INVALID,
      `The state of ${entityId} must be a string, got ${typeof state}; convert it with String(value)`,
      { details: { entity_id: entityId } },
    );
  }
  // HA counts code points; UTF-16 length is an upper bound, so only count when it might matter.
  if (state.length > MAX_STATE_LENGTH && [...state].length > MAX_STATE_LENGTH) {
    throw new HomecoreError(
      ErrorCode.STATE_INVALID,
      `The state of ${entityId} is ${[...state].length} characters long; the limit is ${MAX_STATE_LENGTH}. Put long values in attributes`,
      { details: { entity_id: entityId, limit: MAX_STATE_LENGTH } },
    );
  }
}

function copyAttributes(entityId: string, attributes: unknown): Attributes {
  return copyJsonObject(attributes ?? {}, 'attributes', (path, problem) => {
    throw new HomecoreError(ErrorCode.STATE_INVALID, `Cannot write ${entityId}: ${path} ${problem}`, { details: { entity_id: entityId, path } });
  });
}

function checkEventType(eventType: unknown): void {
  const valid =
    typeof eventType === 'string' && eventType.length > 0 && eventType.length <= MAX_EVENT_TYPE_LENGTH && !/\s/.test(eventType);
  if (!valid) {
    throw new HomecoreError(
      ErrorCode.EVENT_TYPE_INVALID,
      `Invalid event type ${JSON.stringify(eventType) ?? String(eventType)}: use a non-empty string of at most ${MAX_EVENT_TYPE_LENGTH} characters without whitespace (for example my_plugin_alert)`,
    );
  }
}

function serviceNames(domain: unknown, service: unknown): [string, string] {
  const d = typeof domain === 'string' ? domain.toLowerCase() : '';
  const s = typeof service === 'string' ? service.toLowerCase() : '';
  if (!isSlug(d) || !isSlug(s)) {
    throw new HomecoreError(
      ErrorCode.SERVICE_INVALID,
      `Invalid service name ${String(domain)}.${String(service)}: domain and service must be lowercase letters, digits and single inner underscores (for example light.turn_on)`,
      { details: { domain: String(domain), service: String(service) } },
    );
  }
  return [d, s];
}

// A state is deeply frozen (attributes by copyJsonObject, the context by #ownContext) and sealed:
// its JSON is made once, when first needed, and reused as new_state, old_state and in get_states.
function freezeState(state: EntityState): EntityState {
  return sealJson({
    entity_id: state.entity_id,
    state: state.state,
    attributes: state.attributes,
    last_changed: state.last_changed,
    last_reported: state.last_reported,
    last_updated: state.last_updated,
    context: state.context,
  });
}

function makeEvent(eventType: string, data: Record<string, unknown>, timeFired: string, context: EventContext): BusEvent {
  return Object.freeze({ event_type: eventType, data: Object.freeze(data), origin: 'LOCAL', time_fired: timeFired, context });
}
