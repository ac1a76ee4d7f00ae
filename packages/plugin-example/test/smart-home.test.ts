// Loads examples/smart-home as the demo does (discovery, config.json, the wasm gate under a strict
// trust policy with the demo key) and checks that native and wasm plugins run side by side. The
// test kit runs development trust only, so this host is built by hand, on the kit's clock.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WasmRuntime } from '@homecore/runtime-wasm';
import { createHomecore } from '@homecore/runtime-native';
import { ManualClock } from '@homecore/testing';

const HOME = fileURLToPath(new URL('../../../examples/smart-home/', import.meta.url));

describe('examples/smart-home', () => {
  it('loads every plugin under a strict trust policy and runs native and wasm side by side', async () => {
    const demoKey = readFileSync(`${HOME}keys/demo-publisher.pub`, 'utf8').trim();
    const clock = new ManualClock();
    const home = createHomecore({
      clock,
      runtimes: [new WasmRuntime({ trust: { mode: 'strict', trustedKeys: [demoKey] } })],
    });
    const report = await home.registry.loadDirectory(HOME);
    expect(report.errors.map((e) => e.message)).toEqual([]);
    expect([...report.loaded].sort()).toEqual(['motion_light', 'motion_light_wasm', 'temperature_alert', 'temperature_alert_wasm', 'virtual_light']);
    expect(home.registry.get('motion_light_wasm')?.runtime).toBe('wasm');

    const settle = async () => {
      for (let i = 0; i < 5; i++) {
        await home.registry.idle();
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const set = async (id: string, state: string) => {
      home.core.setState(id, state, {}, { context: home.core.createContext() });
      await settle();
    };
    const state = (id: string) => home.core.getState(id)?.state;

    await set('sensor.living_room_temperature', '26');
    await set('sensor.bedroom_temperature', '24.5');
    await set('binary_sensor.hallway_motion', 'on');
    await set('binary_sensor.porch_motion', 'on');
    expect(state('binary_sensor.living_room_heat_alert')).toBe('on');
    expect(state('binary_sensor.bedroom_heat_alert')).toBe('on');
    expect(state('light.hallway')).toBe('on');
    expect(state('light.porch')).toBe('on');

    await set('binary_sensor.hallway_motion', 'off');
    await set('binary_sensor.porch_motion', 'off');
    for (let second = 1; second <= 3; second++) {
      clock.advance(1000);
      home.core.fireEvent('time_changed', { now: new Date(clock.now()).toISOString() }, home.core.createContext());
      await settle();
      // The hallway times out after 2 s (native), the porch after 3 s (wasm).
      expect(state('light.hallway')).toBe(second >= 2 ? 'off' : 'on');
      expect(state('light.porch')).toBe(second >= 3 ? 'off' : 'on');
    }
    expect(home.registry.audit()).toEqual([]);
    await home.registry.unloadAll();
  });
});
