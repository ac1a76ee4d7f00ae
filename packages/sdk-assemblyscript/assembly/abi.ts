// Host ABI v1: the raw `homecore` imports and the numbers shared with the host
// (docs/host-abi.md; the same values as `@homecore/core-traits` abi.ts). Plugin code should use
// the typed wrappers in host.ts instead of these.

/** Status codes of host imports and guest hooks. */
export namespace Status {
  export const OK: i32 = 0;
  /** From a setup handler only: HA's ConfigEntryNotReady, the host retries later. */
  export const NOT_READY: i32 = 1;
  export const BAD_POINTER: i32 = -1;
  export const NOT_FOUND: i32 = -2;
  export const DENIED: i32 = -3;
  export const INVALID_UTF8: i32 = -4;
  export const INVALID_JSON: i32 = -5;
  export const TOO_LARGE: i32 = -6;
  export const QUOTA_EXCEEDED: i32 = -7;
  export const INVALID_ARGUMENT: i32 = -8;
  export const FAILED: i32 = -10;
}

/** `hc_log` levels. */
export namespace LogLevel {
  export const DEBUG: i32 = 0;
  export const INFO: i32 = 1;
  export const WARN: i32 = 2;
  export const ERROR: i32 = 3;
}

/** `hc_subscribe` kinds. */
export namespace SubscriptionKind {
  export const ENTITY: i32 = 0;
  export const EVENT: i32 = 1;
}

/** The host ABI version this SDK speaks. */
export const HOST_ABI_VERSION: i32 = 1;

// @ts-ignore: decorator
@external('homecore', 'hc_log')
export declare function hc_log(level: i32, msgPtr: usize, msgLen: i32): i32;

// @ts-ignore: decorator
@external('homecore', 'hc_state_get')
export declare function hc_state_get(idPtr: usize, idLen: i32, outPtr: usize, outCap: i32): i32;

// @ts-ignore: decorator
@external('homecore', 'hc_state_set')
export declare function hc_state_set(
  idPtr: usize,
  idLen: i32,
  statePtr: usize,
  stateLen: i32,
  attrsPtr: usize,
  attrsLen: i32,
): i32;

// @ts-ignore: decorator
@external('homecore', 'hc_service_call')
export declare function hc_service_call(
  domainPtr: usize,
  domainLen: i32,
  servicePtr: usize,
  serviceLen: i32,
  dataPtr: usize,
  dataLen: i32,
): i32;

// @ts-ignore: decorator
@external('homecore', 'hc_event_fire')
export declare function hc_event_fire(typePtr: usize, typeLen: i32, dataPtr: usize, dataLen: i32): i32;

// @ts-ignore: decorator
@external('homecore', 'hc_subscribe')
export declare function hc_subscribe(kind: i32, patternPtr: usize, patternLen: i32): i32;

// @ts-ignore: decorator
@external('homecore', 'hc_config_get')
export declare function hc_config_get(outPtr: usize, outCap: i32): i32;

// @ts-ignore: decorator
@external('homecore', 'hc_clock_now')
export declare function hc_clock_now(): f64;
