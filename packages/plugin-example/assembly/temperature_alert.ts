// The temperature alert as a wasm plugin: the same behaviour as src/temperature-alert.ts.
import {
  ConfigEntry,
  JsonNumber,
  JsonObject,
  StateChangedEvent,
  Status,
  log,
  onSetup,
  onStateChanged,
  setState,
  subscribeEntities,
} from '@homecore/sdk-assemblyscript/assembly';
import { numberSetting, parseNumericState } from './numeric';
export * from '@homecore/sdk-assemblyscript/assembly/exports';

let sensor = '';
let alert = '';
let high: f64 = 25;
let low: f64 = 20;

onSetup((entry: ConfigEntry): i32 => {
  const settings = entry.settings();
  const s = settings.getString('sensor');
  const a = settings.getString('alert');
  if (s === null || s.length == 0 || a === null || a.length == 0) {
    log.error('temperature_alert: set "sensor" and "alert" in the config entry data to entity id strings');
    return Status.INVALID_ARGUMENT;
  }
  const h = numberSetting(settings.getNumber('high'), settings.has('high'), 25);
  const l = numberSetting(settings.getNumber('low'), settings.has('low'), 20);
  if (isNaN(h) || isNaN(l) || l > h) {
    log.error('temperature_alert: "high" and "low" must be finite numbers with low <= high');
    return Status.INVALID_ARGUMENT;
  }
  sensor = s;
  alert = a;
  high = h;
  low = l;
  const status = subscribeEntities(sensor);
  if (status != Status.OK) return status;
  log.info('watching ' + sensor + ': on above ' + new JsonNumber(high).toJson() + ', off below ' + new JsonNumber(low).toJson());
  return Status.OK;
});

onStateChanged((event: StateChangedEvent): i32 => {
  // The event is read lazily from the payload: only these fields are decoded.
  if (!event.entityIs(sensor)) return Status.OK;
  const next = event.new_state;
  if (next === null) return Status.OK;
  const temperature = parseNumericState(next.state);
  if (isNaN(temperature)) return Status.OK;
  if (temperature > high) {
    setState(alert, 'on', new JsonObject().setNumber('temperature', temperature).setNumber('threshold', high));
  } else if (temperature < low) {
    setState(alert, 'off', new JsonObject().setNumber('temperature', temperature).setNumber('threshold', low));
  }
  return Status.OK;
});
