// The guest exports of host ABI v1. A plugin's entry file re-exports them all with
//   export * from '@homecore/sdk-assemblyscript/assembly/exports';
// Each hook reads the host's UTF-8 JSON payload and calls the handler registered in plugin.ts.
// Events are read lazily, in place (see payload.ts); setup and service calls are parsed to trees.
// `hc_on_config_update` lives in config-update.ts: a module without it is reloaded by the host on
// an options update (HA semantics), so only plugins that register onConfigUpdate export it.
import { Status } from './abi';
import { rememberConfig } from './host';
import { parseJson } from './json';
import { decodePayload, lendBlock, payloadView, returnBlock } from './payload';
import { Handlers } from './plugin';
import { ConfigEntry, Event, ServiceCall, StateChangedEvent } from './types';

// Larger requests would trip the allocator's own size assertion; answer 0 ("cannot allocate").
const MAX_ALLOC: i32 = 1 << 29;

/** The ABI v1 version marker; the host reads its name and never calls it. */
export function homecore_abi_version_1(): void {}

/** Allocates `size` bytes for the host: a pinned buffer the garbage collector neither moves nor frees until `hc_free`. */
export function hc_alloc(size: i32): usize {
  if (size < 0 || size > MAX_ALLOC) return 0;
  return lendBlock(size);
}

/** Releases memory from `hc_alloc`; it is freed once no event read from it is still referenced. */
export function hc_free(ptr: usize, size: i32): void {
  returnBlock(ptr);
}


/** Setup: decodes the config entry and runs the setup handler. */
export function hc_setup(ptr: usize, len: i32): i32 {
  const entry = ConfigEntry.fromJson(parseJson(decodePayload(ptr, len)).value);
  if (entry === null) return Status.INVALID_JSON;
  rememberConfig(entry);
  const handler = Handlers.setup;
  return handler === null ? Status.OK : handler(entry);
}

/** Teardown: runs the teardown handler. */
export function hc_teardown(): i32 {
  const handler = Handlers.teardown;
  return handler === null ? Status.OK : handler();
}

/** A `state_changed` event for a subscribed entity. */
export function hc_on_state_changed(ptr: usize, len: i32): i32 {
  const handler = Handlers.stateChanged;
  if (handler === null) return Status.OK;
  const event = StateChangedEvent.fromView(payloadView(ptr, len));
  if (event === null) return Status.INVALID_JSON;
  return handler(event);
}

/** Any other subscribed event. */
export function hc_on_event(ptr: usize, len: i32): i32 {
  const handler = Handlers.event;
  if (handler === null) return Status.OK;
  const event = Event.fromView(payloadView(ptr, len));
  if (event === null) return Status.INVALID_JSON;
  return handler(event);
}

/** A call to one of the plugin's services. */
export function hc_on_service_call(ptr: usize, len: i32): i32 {
  const handler = Handlers.serviceCall;
  if (handler === null) return Status.INVALID_ARGUMENT; // a listed service with no handler is a plugin bug
  const call = ServiceCall.fromJson(parseJson(decodePayload(ptr, len)).value);
  if (call === null) return Status.INVALID_JSON;
  return handler(call);
}
