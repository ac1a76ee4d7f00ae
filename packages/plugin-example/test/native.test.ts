import { describe, expect, it } from 'vitest';
import { ErrorCode, isHomecoreError, type JsonObject } from '@homecore/core-traits';
import {
  motionLight,
  motionLightConfig,
  nativeManifests,
  parseNumericState,
  temperatureAlert,
  temperatureAlertConfig,
} from '@homecore/plugin-example';
import { buildHouse } from './harness.js';
import { motionStory, temperatureStory } from './scenarios.js';

const ALERT = 'binary_sensor.living_room_heat_alert';

describe('parseNumericState', () => {
  it.each([
    ['21', 21],
    ['-3.5', -3.5],
    ['+4', 4],
    [' 27.5\n', 27.5],
    ['1e1', 10],
    ['.5', 0.5],
    ['5.', 5],
  ])('reads %j as %d', (text, value) => {
    expect(parseNumericState(text)).toBe(value);
  });

  it.each(['unknown', 'unavailable', '', ' ', '25abc', 'inf', 'Infinity', 'NaN', '0x10', '1e400', '1e', '-', '.', '1,5', '١٢'])(
    'rejects %j',
    (text) => {
      expect(parseNumericState(text)).toBeUndefined();
    },
  );
});

describe('temperature_alert (native)', () => {
  it('turns the alert on above high and off below low, with a dead-band between', async () => {
    const home = await buildHouse([{ manifest: nativeManifests.temperature_alert, code: temperatureAlert(), data: { ...temperatureAlertConfig } }]);
    const actions = await temperatureStory(home);
    const alert = `temperature_alert: set ${ALERT}`;
    expect(actions).toEqual([
      `${alert} = "on" {"temperature":26.1,"threshold":25}`,
      `${alert} = "on" {"temperature":27.5,"threshold":25}`,
      `${alert} = "off" {"temperature":10,"threshold":20}`,
      `${alert} = "off" {"temperature":-3.25,"threshold":20}`,
      `${alert} = "on" {"temperature":25.0001,"threshold":25}`,
      `${alert} = "on" {"temperature":31,"threshold":30}`,
    ]);
    expect(home.registry.audit('temperature_alert')).toEqual([]);
    await home.close();
  });

  it('refuses a config without a sensor, or with low above high', async () => {
    const home = await buildHouse();
    await expect(home.load({ ...nativeManifests.temperature_alert }, temperatureAlert(), { data: { alert: ALERT } })).rejects.toSatisfy(
      (error: unknown) => isHomecoreError(error) && error.code === ErrorCode.CONFIG_INVALID,
    );
    await home.registry.unload('temperature_alert').catch(() => undefined);
    await expect(home.load({ ...nativeManifests.temperature_alert }, temperatureAlert(), { data: { ...temperatureAlertConfig, high: 18, low: 22 } })).rejects.toThrow(
      /"low" \(22\) must not be above "high" \(18\)/,
    );
    // The schema refuses the first before any plugin code runs; the plugin's setup refuses the second.
    home.expectLines(['temperature_alert: error in setup: HC_ERR_CONFIG_ENTRY_ERROR']);
    await home.close();
  });
});

describe('virtual_light (native)', () => {
  it('turns lights on and off through its services', async () => {
    const home = await buildHouse();
    await home.call('virtual_light', 'turn_on', { entity_id: 'light.kitchen' });
    await home.call('virtual_light', 'turn_off', { entity_id: ['light.kitchen', 'light.porch'] });
    home.expectLines(['virtual_light: set light.kitchen = "on" {}', 'virtual_light: set light.kitchen = "off" {}', 'virtual_light: set light.porch = "off" {}']);
    await home.close();
  });

  it('rejects data that does not name lights, with a coded error', async () => {
    const home = await buildHouse();
    // Missing entity_id: the registry refuses it against the manifest's services[].schema.
    await expect(home.call('virtual_light', 'turn_on', {})).rejects.toSatisfy(
      (error: unknown) => isHomecoreError(error) && error.code === ErrorCode.SERVICE_INVALID && /virtual_light\.turn_on .*entity_id/.test(error.message),
    );
    // Present but not a light: the plugin's own check refuses it.
    for (const data of [{ entity_id: 'switch.kettle' }, { entity_id: [] }, { entity_id: 5 }] as JsonObject[]) {
      await expect(home.call('virtual_light', 'turn_on', data)).rejects.toSatisfy(
        (error: unknown) => isHomecoreError(error) && error.code === ErrorCode.SERVICE_INVALID && /light\.<name>/.test(error.message),
      );
    }
    // The schema refusal never reaches the plugin; its own three refusals are recorded, nothing written.
    home.expectLines(Array(3).fill('virtual_light: error in onServiceCall: HC_ERR_SERVICE_INVALID'));
    await home.close();
  });
});

describe('motion_light (native)', () => {
  const config = { ...motionLightConfig, off_after_s: 2 };

  it('switches the light through virtual_light and turns it off on time_changed after the timeout', async () => {
    const home = await buildHouse([{ manifest: nativeManifests.motion_light, code: motionLight(), data: config }]);
    const actions = await motionStory(home);
    const on = ['motion_light: call virtual_light.turn_on {"entity_id":"light.hallway"}', 'virtual_light: set light.hallway = "on" {}'];
    const off = ['motion_light: call virtual_light.turn_off {"entity_id":"light.hallway"}', 'virtual_light: set light.hallway = "off" {}'];
    expect(actions).toEqual([...on, ...off, ...on, ...off, ...on, ...off]);
    expect(home.registry.audit('motion_light')).toEqual([]);
    await home.close();
  });

  it('rejects set_timeout without a positive number of seconds', async () => {
    const home = await buildHouse([{ manifest: nativeManifests.motion_light, code: motionLight(), data: config }]);
    for (const data of [{}, { seconds: 0 }, { seconds: -1 }, { seconds: '5' }] as JsonObject[]) {
      await expect(home.call('motion_light', 'set_timeout', data)).rejects.toSatisfy(
        (error: unknown) => isHomecoreError(error) && error.code === ErrorCode.SERVICE_INVALID,
      );
    }
    await home.close();
  });

  it('is refused when virtual_light is missing', async () => {
    const home = await buildHouse();
    await home.registry.unload('virtual_light');
    await expect(home.load({ ...nativeManifests.motion_light }, motionLight(), { data: config })).rejects.toSatisfy(
      (error: unknown) => isHomecoreError(error) && error.code === ErrorCode.DEPENDENCY_MISSING,
    );
    await home.close();
  });
});
