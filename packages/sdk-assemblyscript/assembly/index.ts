// @homecore/sdk-assemblyscript: write HOMECORE wasm plugins against host ABI v1 without pointers.
// Import from '@homecore/sdk-assemblyscript/assembly' and re-export the hooks:
//   export * from '@homecore/sdk-assemblyscript/assembly/exports';
export { HOST_ABI_VERSION, LogLevel, Status, SubscriptionKind } from './abi';
export {
  callService,
  config,
  fireEvent,
  getState,
  lastStatus,
  log,
  now,
  setState,
  subscribeEntities,
  subscribeEvents,
} from './host';
export {
  JSON_MAX_DEPTH,
  JsonArray,
  JsonBool,
  JsonKind,
  JsonNull,
  JsonNumber,
  JsonObject,
  JsonParseResult,
  JsonString,
  JsonStringBuilder,
  JsonValue,
  parseJson,
  parseJsonObject,
  quoteJsonString,
  stringifyJson,
} from './json';
export {
  ConfigUpdateHandler,
  EventHandler,
  ServiceCallHandler,
  SetupHandler,
  StateChangedHandler,
  TeardownHandler,
  onConfigUpdate,
  onEvent,
  onServiceCall,
  onSetup,
  onStateChanged,
  onTeardown,
} from './plugin';
export { ConfigEntry, Context, Event, ServiceCall, State, StateChangedEvent } from './types';
export { JSON_INVALID, JsonView } from './view';
