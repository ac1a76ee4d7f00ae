import type { PluginManifest } from '@homecore/core-traits';

// Manifests of the reference plugins. Permissions are exact: each plugin may touch only the
// entities its config names (deny by default applies to native plugins too).

const COMMON = {
  version: '1.0.0',
  documentation: 'https://github.com/homecore/homecore-plugins/tree/main/packages/plugin-example',
  codeowners: ['@homecore/maintainers'],
  iot_class: 'calculated',
} as const;

/** The settings of a temperature alert instance. */
export interface TemperatureAlertEntities {
  domain?: string;
  sensor: string;
  alert: string;
}

/** The settings of a motion light instance. */
export interface MotionLightEntities {
  domain?: string;
  motion: string;
}

const temperatureConfigSchema = {
  type: 'object',
  required: ['sensor', 'alert'],
  properties: {
    sensor: { type: 'string', pattern: '^sensor\\.[a-z0-9_]+$', description: 'The temperature sensor to watch.' },
    alert: { type: 'string', pattern: '^binary_sensor\\.[a-z0-9_]+$', description: 'The binary sensor to turn on and off.' },
    high: { type: 'number', default: 25, description: 'Above this the alert turns on.' },
    low: { type: 'number', default: 20, description: 'Below this the alert turns off.' },
  },
  additionalProperties: false,
};

const motionConfigSchema = {
  type: 'object',
  required: ['motion', 'light'],
  properties: {
    motion: { type: 'string', pattern: '^binary_sensor\\.[a-z0-9_]+$', description: 'The motion sensor.' },
    light: { type: 'string', pattern: '^light\\.[a-z0-9_]+$', description: 'The light, switched through virtual_light.' },
    off_after_s: { type: 'number', exclusiveMinimum: 0, default: 120, description: 'Seconds after motion before the light may turn off.' },
  },
  additionalProperties: false,
};

/** The manifest of a temperature alert watching `sensor` and writing `alert`. */
export function temperatureAlertManifest(runtime: 'native' | 'wasm', entities: TemperatureAlertEntities): PluginManifest {
  return {
    domain: entities.domain ?? 'temperature_alert',
    name: 'Temperature alert',
    ...COMMON,
    codeowners: [...COMMON.codeowners],
    runtime,
    entry: runtime === 'wasm' ? 'plugin.wasm' : 'index.js',
    permissions: [`state:read:${entities.sensor}`, `state:write:${entities.alert}`],
    config_schema: temperatureConfigSchema,
    ...(runtime === 'wasm'
      ? { host_imports_required: ['hc_log', 'hc_state_set', 'hc_subscribe'], limits: { memory_pages: 16 } }
      : {}),
  };
}

/** The manifest of a motion light watching `motion`. */
export function motionLightManifest(runtime: 'native' | 'wasm', entities: MotionLightEntities): PluginManifest {
  return {
    domain: entities.domain ?? 'motion_light',
    name: 'Motion light',
    ...COMMON,
    codeowners: [...COMMON.codeowners],
    runtime,
    entry: runtime === 'wasm' ? 'plugin.wasm' : 'index.js',
    dependencies: ['virtual_light'],
    permissions: [
      `state:read:${entities.motion}`,
      'service:call:virtual_light.turn_on',
      'service:call:virtual_light.turn_off',
      'event:subscribe:time_changed',
    ],
    subscriptions: { events: ['time_changed'] },
    services: [
      {
        name: 'set_timeout',
        description: 'Changes how many seconds after motion the light may turn off.',
        schema: { type: 'object', required: ['seconds'], properties: { seconds: { type: 'number', exclusiveMinimum: 0 } } },
      },
    ],
    config_schema: motionConfigSchema,
    ...(runtime === 'wasm'
      ? { host_imports_required: ['hc_clock_now', 'hc_log', 'hc_service_call', 'hc_subscribe'], limits: { memory_pages: 16 } }
      : {}),
  };
}

/** The manifest of the virtual light plugin (native only). */
export function virtualLightManifest(): PluginManifest {
  return {
    domain: 'virtual_light',
    name: 'Virtual light',
    ...COMMON,
    codeowners: [...COMMON.codeowners],
    runtime: 'native',
    entry: 'index.js',
    permissions: ['state:write:light.*'],
    services: [
      { name: 'turn_on', description: 'Turns a virtual light on.', schema: { type: 'object', required: ['entity_id'] } },
      { name: 'turn_off', description: 'Turns a virtual light off.', schema: { type: 'object', required: ['entity_id'] } },
    ],
  };
}

/** Config entry data for the living room temperature alert. */
export const temperatureAlertConfig = Object.freeze({
  sensor: 'sensor.living_room_temperature',
  alert: 'binary_sensor.living_room_heat_alert',
  high: 25,
  low: 20,
});

/** Config entry data for the hallway motion light. */
export const motionLightConfig = Object.freeze({
  motion: 'binary_sensor.hallway_motion',
  light: 'light.hallway',
  off_after_s: 120,
});
