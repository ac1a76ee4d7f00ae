// The motion light as a wasm plugin: the same behaviour as src/motion-light.ts. Wasm has no
// timers, so (in both versions) the off time is checked on HA's once-a-second `time_changed`.
import {
  ConfigEntry,
  Event,
  JsonNumber,
  JsonObject,
  ServiceCall,
  StateChangedEvent,
  Status,
  callService,
  log,
  now,
  onConfigUpdate,
  onEvent,
  onServiceCall,
  onSetup,
  onStateChanged,
  subscribeEntities,
} from '@homecore/sdk-assemblyscript/assembly';
import { numberSetting } from './numeric';
export * from '@homecore/sdk-assemblyscript/assembly/exports';
export { hc_on_config_update } from '@homecore/sdk-assemblyscript/assembly/config-update';

let motion = '';
let light = '';
let offAfterS: f64 = 120;
let motionOn = false;
let lightOn = false;
let offAt: f64 = 0;

/** Reads the settings; subscribes to the motion sensor when it is new. Returns a status. */
function apply(entry: ConfigEntry): i32 {
  const settings = entry.settings();
  const m = settings.getString('motion');
  const l = settings.getString('light');
  if (m === null || m.length == 0 || l === null || l.length == 0) {
    log.error('motion_light: set "motion" and "light" in the config entry data to entity id strings');
    return Status.INVALID_ARGUMENT;
  }
  const seconds = numberSetting(settings.getNumber('off_after_s'), settings.has('off_after_s'), 120);
  if (isNaN(seconds) || seconds <= 0) {
    log.error('motion_light: "off_after_s" must be a number above 0');
    return Status.INVALID_ARGUMENT;
  }
  if (m != motion) {
    const status = subscribeEntities(m);
    if (status != Status.OK) return status;
  }
  motion = m;
  light = l;
  offAfterS = seconds;
  return Status.OK;
}

function lightData(): JsonObject {
  return new JsonObject().setString('entity_id', light);
}

onSetup((entry: ConfigEntry): i32 => apply(entry));

onConfigUpdate((entry: ConfigEntry): i32 => apply(entry));

onStateChanged((event: StateChangedEvent): i32 => {
  // The event is read lazily from the payload: the id is compared in place, only the state decoded.
  if (!event.entityIs(motion)) return Status.OK;
  const next = event.new_state;
  motionOn = next !== null && next.state == 'on';
  if (!motionOn) return Status.OK;
  offAt = now() + offAfterS * 1000;
  if (!lightOn) {
    lightOn = true;
    callService('virtual_light', 'turn_on', lightData());
  }
  return Status.OK;
});

onEvent((event: Event): i32 => {
  if (event.event_type != 'time_changed') return Status.OK;
  if (lightOn && !motionOn && now() >= offAt) {
    lightOn = false;
    callService('virtual_light', 'turn_off', lightData());
  }
  return Status.OK;
});

onServiceCall((call: ServiceCall): i32 => {
  if (call.service != 'set_timeout') return Status.INVALID_ARGUMENT;
  const seconds = call.data.getNumber('seconds');
  if (!isFinite(seconds) || seconds <= 0) {
    log.error('motion_light.set_timeout needs data {"seconds": <number above 0>}');
    return Status.INVALID_ARGUMENT;
  }
  offAfterS = seconds;
  log.info('off_after_s is now ' + new JsonNumber(seconds).toJson());
  return Status.OK;
});
