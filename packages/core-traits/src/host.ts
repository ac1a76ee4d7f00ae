import type { BusEvent, EntityState, EventContext, JsonValue } from './json.js';
import type { ServiceHandler } from './plugin.js';

/**
 * The home-automation core the registry drives: a state machine, an event bus and a service
 * registry. `@homecore/core` is the reference implementation; a host builder may bring their own.
 *
 * What the registry relies on:
 * - Events reach `listen` listeners synchronously, in the order fired; an event fired from inside a
 *   listener must reach listeners after the current one has reached all of them.
 * - `state_changed` data is `{entity_id, old_state, new_state}` and every event has a
 *   `context.id` (it becomes the `parent_id` of plugin writes made while handling it).
 * - Events and the states inside them are treated as immutable once handed to listeners: the
 *   registry freezes them (deeply) before sharing them between plugins, so keep your own copies.
 * - Failures are thrown as `HomecoreError`s (any copy of `@homecore/errors`) with the codes the
 *   reference core uses (`HC_ERR_ENTITY_ID_INVALID`, `HC_ERR_SERVICE_NOT_FOUND`, ...): they are
 *   mapped to wasm statuses and attributed to the calling plugin by code.
 * - Ids need only be unique strings and timestamps ISO 8601 strings; the reference core uses ULIDs
 *   and Home Assistant's `+00:00` form.
 * - Nothing fires `time_changed` for you: the reference host (`createHomecore`) does, once a second.
 */
export interface HostCore {
  /** One entity's state. */
  getState(entityId: string): EntityState | undefined;
  /** Every state. */
  getStates(): EntityState[];
  /**
   * Writes a state with HA's semantics: validates the entity id, fires `state_changed` when the
   * state or attributes change and `state_reported` otherwise. Throws coded errors.
   */
  setState(
    entityId: string,
    state: string,
    attributes: Record<string, JsonValue> | undefined,
    options: { context: EventContext; forceUpdate?: boolean },
  ): EntityState;
  /** Removes an entity, firing `state_changed` with `new_state: null`. */
  removeState(entityId: string, context: EventContext): boolean;
  /** Fires an event on the bus. */
  fireEvent(eventType: string, data: Record<string, JsonValue>, context: EventContext): BusEvent;
  /** Registers a service; fires `service_registered`. Returns a function that removes it. */
  registerService(domain: string, service: string, handler: ServiceHandler): () => void;
  /** Calls a service; fires `call_service`. Rejects with `HC_ERR_SERVICE_NOT_FOUND` for an unknown one. */
  callService(
    domain: string,
    service: string,
    data: Record<string, JsonValue>,
    options: { context: EventContext; returnResponse?: boolean },
  ): Promise<unknown>;
  /** Listens to every event on the bus, synchronously as it is fired. Returns an unsubscribe. */
  listen(listener: (event: BusEvent) => void): () => void;
  /** A new context with a fresh ULID id. */
  createContext(init?: { parentId?: string | null; userId?: string | null }): EventContext;
}
