// The temperature alert written against Extism's ABI instead of HOMECORE's, as the peer for the
// wasm delivery benchmark. The handler is the one in
// packages/plugin-example/assembly/temperature_alert.ts: the SDK's lazy reader over the event bytes
// (JsonView.of, StateChangedEvent.fromView, entityIs, only new_state.state decoded), the same
// numeric rule and thresholds. Only the plumbing differs: the input is copied into guest memory
// once through Extism's kernel imports (HOMECORE's host copies it in through hc_alloc), and the
// state is written through a host function that takes three Extism memory blocks.
import { JsonObject, parseJson } from '../../../packages/sdk-assemblyscript/assembly/json';
import { ConfigEntry, StateChangedEvent } from '../../../packages/sdk-assemblyscript/assembly/types';
import { JsonView } from '../../../packages/sdk-assemblyscript/assembly/view';
import { numberSetting, parseNumericState } from '../../../packages/plugin-example/assembly/numeric';

// Extism kernel (extism:host/env). Addresses and lengths are u64.
@external('extism:host/env', 'input_length')
declare function input_length(): u64;
@external('extism:host/env', 'input_load_u8')
declare function input_load_u8(offset: u64): u8;
@external('extism:host/env', 'input_load_u64')
declare function input_load_u64(offset: u64): u64;
@external('extism:host/env', 'alloc')
declare function extism_alloc(length: u64): u64;
@external('extism:host/env', 'store_u8')
declare function store_u8(offset: u64, value: u8): void;
@external('extism:host/env', 'store_u64')
declare function store_u64(offset: u64, value: u64): void;

// The host function: set_state(entity_id, state, attributes JSON), each an Extism block address.
@external('extism:host/user', 'set_state')
declare function host_set_state(id: u64, state: u64, attributes: u64): i32;

/** The whole input, pulled 8 bytes per host call and the tail byte by byte (as Extism's PDKs do). */
function readInput(): ArrayBuffer {
  const length = <i32>input_length();
  const buffer = new ArrayBuffer(length);
  const base = changetype<usize>(buffer);
  let i = 0;
  for (; i + 8 <= length; i += 8) store<u64>(base + i, input_load_u64(<u64>i));
  for (; i < length; i++) store<u8>(base + i, input_load_u8(<u64>i));
  return buffer;
}

/** Copies a string into a fresh Extism block and returns its address. */
function toBlock(text: string): u64 {
  const bytes = String.UTF8.encode(text);
  const length = bytes.byteLength;
  const base = changetype<usize>(bytes);
  const block = extism_alloc(<u64>length);
  let i = 0;
  for (; i + 8 <= length; i += 8) store_u64(block + <u64>i, load<u64>(base + i));
  for (; i < length; i++) store_u8(block + <u64>i, load<u8>(base + i));
  return block;
}

function setState(entityId: string, state: string, attributes: JsonObject): i32 {
  return host_set_state(toBlock(entityId), toBlock(state), toBlock(attributes.toJson()));
}

let sensor = '';
let alert = '';
let high: f64 = 25;
let low: f64 = 20;

/** Input: the config entry JSON (parsed to a tree, as the HOMECORE SDK's hc_setup does). Returns 0, or 1 when the config is unusable. */
export function setup(): i32 {
  const entry = ConfigEntry.fromJson(parseJson(String.UTF8.decode(readInput())).value);
  if (entry === null) return 1;
  const settings = entry.settings();
  const s = settings.getString('sensor');
  const a = settings.getString('alert');
  if (s === null || s.length == 0 || a === null || a.length == 0) return 1;
  const h = numberSetting(settings.getNumber('high'), settings.has('high'), 25);
  const l = numberSetting(settings.getNumber('low'), settings.has('low'), 20);
  if (isNaN(h) || isNaN(l) || l > h) return 1;
  sensor = s;
  alert = a;
  high = h;
  low = l;
  return 0;
}

/** Input: a `state_changed` event JSON, read lazily in place. Returns 0, or 1 when the input is not one. */
export function on_state_changed(): i32 {
  const event = StateChangedEvent.fromView(JsonView.of(readInput()));
  if (event === null) return 1;
  if (!event.entityIs(sensor)) return 0;
  const next = event.new_state;
  if (next === null) return 0;
  const temperature = parseNumericState(next.state);
  if (isNaN(temperature)) return 0;
  if (temperature > high) {
    setState(alert, 'on', new JsonObject().setNumber('temperature', temperature).setNumber('threshold', high));
  } else if (temperature < low) {
    setState(alert, 'off', new JsonObject().setNumber('temperature', temperature).setNumber('threshold', low));
  }
  return 0;
}
