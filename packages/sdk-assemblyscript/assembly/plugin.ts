// Handler registration. AssemblyScript has first-class functions but no closures, so a plugin
// registers plain functions (or arrow functions that use only globals) at the top level of its
// entry file; the exports in exports.ts decode each payload and call them.
import { ConfigEntry, Event, ServiceCall, StateChangedEvent } from './types';

/** Runs once with the config entry; return `Status.OK`, `Status.NOT_READY` (retry later) or a negative error. */
export type SetupHandler = (entry: ConfigEntry) => i32;
/** Runs on unload or reload. */
export type TeardownHandler = () => i32;
/** Receives `state_changed` events for subscribed entities. */
export type StateChangedHandler = (event: StateChangedEvent) => i32;
/** Receives every other subscribed event. */
export type EventHandler = (event: Event) => i32;
/** Receives calls to the services listed in the manifest's `services`. */
export type ServiceCallHandler = (call: ServiceCall) => i32;
/** Receives the updated config entry; without one the host reloads the plugin instead. */
export type ConfigUpdateHandler = (entry: ConfigEntry) => i32;

/** The registered handlers; read by exports.ts. */
export namespace Handlers {
  export let setup: SetupHandler | null = null;
  export let teardown: TeardownHandler | null = null;
  export let stateChanged: StateChangedHandler | null = null;
  export let event: EventHandler | null = null;
  export let serviceCall: ServiceCallHandler | null = null;
  export let configUpdate: ConfigUpdateHandler | null = null;
}

/** Registers the setup handler. */
export function onSetup(handler: SetupHandler): void {
  Handlers.setup = handler;
}
/** Registers the teardown handler. */
export function onTeardown(handler: TeardownHandler): void {
  Handlers.teardown = handler;
}
/** Registers the `state_changed` handler. */
export function onStateChanged(handler: StateChangedHandler): void {
  Handlers.stateChanged = handler;
}
/** Registers the handler for other events. */
export function onEvent(handler: EventHandler): void {
  Handlers.event = handler;
}
/** Registers the service call handler (dispatch on `call.service`). */
export function onServiceCall(handler: ServiceCallHandler): void {
  Handlers.serviceCall = handler;
}
/**
 * Registers the config update handler. Also export the hook from the entry file, or the host
 * reloads the plugin instead: `export { hc_on_config_update } from '@homecore/sdk-assemblyscript/assembly/config-update';`
 */
export function onConfigUpdate(handler: ConfigUpdateHandler): void {
  Handlers.configUpdate = handler;
}
