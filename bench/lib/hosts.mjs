// Hosts and plugins the benchmarks share: a registry with N temperature alerts (native or wasm),
// and the events they receive.
import { createHomecore } from '@homecore/runtime-native';
import { temperatureAlert, temperatureAlertConfig, temperatureAlertManifest } from '@homecore/plugin-example';

/** The sensor every benchmark plugin watches. */
export const SENSOR = temperatureAlertConfig.sensor;

/** In-band temperatures (between low 20 and high 25): the handler parses and compares, and writes nothing. */
export const IN_BAND = ['21.5', '22.5'];

/** The config of temperature alert number `i` (its own alert entity, the shared sensor). */
export function alertConfig(i) {
  return { sensor: SENSOR, alert: `binary_sensor.heat_alert_${i}`, high: 25, low: 20 };
}

/** The manifest of temperature alert number `i`. */
export function alertManifest(runtime, i, extra = {}) {
  const entities = { domain: `temperature_alert_${i}`, sensor: SENSOR, alert: alertConfig(i).alert };
  return { ...temperatureAlertManifest(runtime, entities), ...extra };
}

/** A host (core + registry) with `count` native temperature alerts loaded. */
export async function nativeHost(count, options = {}) {
  const host = createHomecore(options);
  const items = [];
  for (let i = 0; i < count; i++) {
    items.push({ manifest: alertManifest('native', i), code: temperatureAlert, config: { data: alertConfig(i) } });
  }
  if (items.length > 0) {
    const report = await host.registry.loadAll(items);
    if (report.errors.length > 0) throw report.errors[0];
  }
  return host;
}

/** A writer that alternates in-band values so every write is a real `state_changed`. */
export function sensorWriter(core, values = IN_BAND) {
  const context = core.createContext();
  let n = 0;
  return () => core.setState(SENSOR, values[n++ & 1 ? 1 : 0], { unit_of_measurement: '°C', device_class: 'temperature' }, { context });
}

/** Captures the next `state_changed` events the core fires for the sensor (after one priming write, so each has an old state). */
export function captureEvents(core, write, count) {
  if (core.getState(SENSOR) === undefined) write();
  const events = [];
  const stop = core.listen((e) => {
    if (e.event_type === 'state_changed' && e.data.entity_id === SENSOR) events.push(e);
  });
  for (let i = 0; i < count; i++) write();
  stop();
  return events;
}

/** A bare PluginContext for calling a native plugin's hooks directly, with no registry in between. */
export function directContext(core, config) {
  const context = core.createContext();
  return {
    pluginId: 'direct',
    manifest: {},
    configEntry: { entry_id: 'direct', domain: 'direct', title: 'direct', data: config, options: {}, version: 1, minor_version: 1, source: 'user', state: 'loaded', disabled_by: null, pref_disable_new_entities: false, pref_disable_polling: false, unique_id: null, discovery_keys: {}, created_at: '', modified_at: '' },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signal: new AbortController().signal,
    now: () => Date.now(),
    getState: (id) => core.getState(id),
    getStates: () => core.getStates(),
    setState: (id, state, attributes) => core.setState(id, state, attributes, { context }),
    removeState: (id) => core.removeState(id, context),
    callService: () => Promise.resolve(undefined),
    registerService: () => () => {},
    fireEvent: () => {},
    subscribe: () => () => {},
  };
}
