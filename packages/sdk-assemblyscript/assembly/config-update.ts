// The optional `hc_on_config_update` hook. Export it only when the plugin registers onConfigUpdate:
//   export { hc_on_config_update } from '@homecore/sdk-assemblyscript/assembly/config-update';
// Without this export the host reloads the plugin on an options update (teardown, new instance, setup).
import { Status } from './abi';
import { rememberConfig } from './host';
import { parseJson } from './json';
import { decodePayload } from './payload';
import { Handlers } from './plugin';
import { ConfigEntry } from './types';

/** An options update. */
export function hc_on_config_update(ptr: usize, len: i32): i32 {
  const entry = ConfigEntry.fromJson(parseJson(decodePayload(ptr, len)).value);
  if (entry === null) return Status.INVALID_JSON;
  rememberConfig(entry);
  const handler = Handlers.configUpdate;
  return handler === null ? Status.OK : handler(entry);
}
