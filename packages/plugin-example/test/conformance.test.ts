// The same event sequences through the native and the wasm version of each plugin must produce
// the same actions. Reusable for plugins in other languages: build a house with the plugin under
// test, run the story, compare with the native actions.
import { describe, expect, it } from 'vitest';
import { WasmRuntime } from '@homecore/runtime-wasm';
import {
  loadWasmPlugin,
  motionLight,
  motionLightConfig,
  nativeManifests,
  temperatureAlert,
  temperatureAlertConfig,
  type WasmPluginName,
} from '@homecore/plugin-example';
import type { HomeCorePlugin, JsonValue } from '@homecore/core-traits';
import { buildHouse, type House } from './harness.js';
import { motionStory, temperatureStory } from './scenarios.js';

const stories: Record<WasmPluginName, { native: () => HomeCorePlugin; data: Record<string, JsonValue>; run: (house: House) => Promise<string[]> }> = {
  temperature_alert: { native: temperatureAlert, data: { ...temperatureAlertConfig }, run: temperatureStory },
  motion_light: { native: motionLight, data: { ...motionLightConfig, off_after_s: 2 }, run: motionStory },
};

async function nativeActions(name: WasmPluginName): Promise<string[]> {
  const story = stories[name];
  const house = await buildHouse([{ manifest: nativeManifests[name], code: story.native(), data: story.data }]);
  try {
    return await story.run(house);
  } finally {
    await house.close();
  }
}

async function wasmRun(name: WasmPluginName): Promise<{ actions: string[]; house: House }> {
  const story = stories[name];
  const { bytes, manifest } = await loadWasmPlugin(name);
  const runtime = new WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined });
  const house = await buildHouse([{ manifest, code: bytes, data: story.data }], [runtime]);
  return { actions: await story.run(house), house };
}

describe.each(['temperature_alert', 'motion_light'] as const)('%s: wasm and native agree', (name) => {
  it('takes the same actions on the same events', async () => {
    const expected = await nativeActions(name);
    expect(expected.length).toBeGreaterThan(0);
    const { actions, house } = await wasmRun(name);
    try {
      expect(actions).toEqual(expected);
      const summary = house.home.registry.get(name);
      expect(summary?.runtime).toBe('wasm');
      expect(summary?.state).toBe('loaded');
      expect(house.home.registry.audit(name)).toEqual([]);
      expect(house.home.registry.stats().plugins[name]?.errors).toBe(0);
    } finally {
      await house.close();
    }
  });
});

describe('wasm plugins refuse bad input like the native ones', () => {
  it('motion_light_wasm fails set_timeout without a positive number of seconds', async () => {
    const { house } = await wasmRun('motion_light');
    try {
      await expect(house.call('motion_light', 'set_timeout', { seconds: -1 })).rejects.toThrow();
      await expect(house.call('motion_light', 'set_timeout', {})).rejects.toThrow();
    } finally {
      await house.close();
    }
  });

  it('temperature_alert_wasm fails setup when low is above high', async () => {
    const { bytes, manifest } = await loadWasmPlugin('temperature_alert');
    const house = await buildHouse([], [new WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined })]);
    try {
      await expect(
        house.home.registry.load(manifest, bytes, { config: { data: { ...temperatureAlertConfig, high: 18, low: 22 } } }),
      ).rejects.toThrow();
    } finally {
      await house.close();
    }
  });
});
